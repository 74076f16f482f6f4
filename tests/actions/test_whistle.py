"""Whistle-blowing on agreed actions and the joint handling as sub-actions (吹哨报到, issue #20): the office
summons organizations to an action; a report-in with a date becomes a sub-action of the reporting
organization; a missing report-in is warned once; an issue's report-in files its commitment under the
issue's joint-handling action through the signal (once, however often it is delivered); every rule for every
role; the pages; the dashboard's report-in rate over issue and action summonses. SQLite and PostgreSQL."""
from datetime import timedelta

import pytest

from portal.actions import services
from portal.actions.models import Action, ActionSummons, ActionUpdate
from portal.auth import permissions as can
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.events import issue_reported_in
from portal.extensions import db
from portal.issues import services as issues
from portal.notifications.models import Notification
from tests.actions import gen_action, local_today
from tests.issues import gen_issue
from tests.issues.test_permissions import allowed
from tests.records import audit
from tests.residents import post

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)


def kinds(action):
    return [u.kind for u in db.session.scalars(db.select(ActionUpdate).where(ActionUpdate.action_id == action.id)
                                               .order_by(ActionUpdate.id))]


def notified(event, person=None):
    stmt = db.select(db.func.count(Notification.id)).where(Notification.event == event)
    if person is not None:
        stmt = stmt.where(Notification.recipient_id == person.id)
    return db.session.scalar(stmt)


def whistled(world, now, *, action=None, within=""):
    action = action or gen_action(world, now=now)
    made = services.blow_whistle_on_action(world.official_a, action, [world.dept_a, world.pc_x],
                                           report_within=within, reason="需要部门联合推进", now=now)
    return action, made


def test_the_office_summons_organizations_to_an_action(world):
    now = utcnow()
    action, made = whistled(world, now)
    assert [s.organization for s in made] == [world.dept_a, world.pc_x]
    assert all(s.report_by == now + 24 * H and s.reported_at is None for s in made)  # a proposal: 24 hours
    assert kinds(action)[-1] == "whistle" and audit("action.whistle")[-1].details["reason"] == "需要部门联合推进"
    assert notified("actions.summoned", world.department_a) == 1 and notified("actions.summoned", world.property_x) == 1
    # An action from an issue takes its category's own time to report in; a summons may set its own.
    lift = world.categories["lift"]
    lift.report_minutes = 45
    from_issue = gen_action(world, source="issue", now=now)
    assert services.default_report_within(from_issue) == 45
    [one] = services.blow_whistle_on_action(world.official_a, from_issue, [world.dept_a], report_within="90",
                                            reason="再派", now=now)
    assert one.report_by == now + 90 * M


def test_a_report_in_with_a_date_becomes_a_sub_action(world):
    now = utcnow()
    action, (dept, pc) = whistled(world, now)
    due = now + 3 * D
    services.report_in_to_action(world.department_a, dept, attendee="李科长", action="清理楼道堆物",
                                 action_due=due, now=now + H)
    sub = dept.sub_action
    assert sub is not None and sub.parent is action and sub.responsible_org is world.dept_a and sub.owner is None
    assert sub.due_date == local_today(world.x, due) and sub.status == "planned"
    assert sub.title.startswith(world.dept_a.name) and "清理楼道堆物" in sub.title
    assert not dept.is_late(dept.reported_at) and audit("action.reported_in")[-1].details["late"] is False
    assert kinds(action)[-1] == "reported_in"
    # without a date: reported in, no sub-action
    services.report_in_to_action(world.property_x, pc, attendee="张经理", action="配合", now=now + 2 * H)
    assert pc.sub_action is None and [c.id for c in action.children] == [sub.id]
    with pytest.raises(NotAllowed):  # once only
        services.report_in_to_action(world.property_x, pc, attendee="张经理", action="再来", now=now + 3 * H)


def test_refusals_leave_nothing_written(world):
    now = utcnow()
    action = gen_action(world, now=now)
    with pytest.raises(NotAllowed):
        services.blow_whistle_on_action(world.property_x, action, [world.dept_a], report_within="", reason="x",
                                        now=now)
    for orgs, within, reason, field in (([], "", "x", "organizations"), ([world.dept_a], "0", "x", "report_within"),
                                        ([world.dept_a], "abc", "x", "report_within"),
                                        ([world.dept_a], "99999999999", "x", "report_within"),
                                        ([world.dept_a], "", " ", "reason"),
                                        ([world.rc_y], "", "x", "organizations")):
        with pytest.raises(DomainError) as caught:
            services.blow_whistle_on_action(world.official_a, action, orgs, report_within=within, reason=reason,
                                            now=now)
        assert caught.value.field == field
    assert db.session.scalar(db.select(db.func.count(ActionSummons.id))) == 0
    _action, (dept, _pc) = whistled(world, now, action=action)
    with pytest.raises(DomainError) as caught:  # still waiting for the department's report
        services.blow_whistle_on_action(world.official_a, action, [world.dept_a], report_within="60", reason="再次",
                                        now=now)
    assert caught.value.field == "organizations"
    for attendee, will_do, due, field in ((" ", "x", None, "attendee"), ("李", "", None, "action"),
                                          ("李", "x", now - H, "action_due")):
        with pytest.raises(DomainError) as caught:
            services.report_in_to_action(world.department_a, dept, attendee=attendee, action=will_do,
                                         action_due=due, now=now)
        assert caught.value.field == field
    with pytest.raises(NotAllowed):  # not the summoned organization
        services.report_in_to_action(world.property_x, dept, attendee="张", action="x", now=now)
    assert dept.reported_at is None and dept.sub_action is None and action.children == []


def test_a_missing_report_in_is_warned_once(world):
    now = utcnow()
    action, (dept, pc) = whistled(world, now, within="60")
    services.report_in_to_action(world.department_a, dept, attendee="李科长", action="清理", now=now + 10 * M)
    from portal.due import DUE_STEPS
    from portal.outbox import message_for
    step = DUE_STEPS["actions_summons_late"]  # run by run-due
    assert step(now + 30 * M) == 0  # not yet
    assert step(now + 61 * M) == 1
    assert pc.late_warned_at == now + 61 * M and dept.late_warned_at is None
    assert notified("actions.summons_late", world.property_x) == 1
    assert notified("actions.summons_late", world.official_a) == 1
    assert notified("actions.summons_late", world.department_a) == 0
    assert step(now + 2 * H) == 0  # once
    assert notified("actions.summons_late") == 2
    warned = db.session.scalar(db.select(Notification).where(Notification.event == "actions.summons_late"))
    assert world.pc_x.name in str(message_for(warned)) and action.title in str(message_for(warned))
    services.report_in_to_action(world.property_x, pc, attendee="张经理", action="配合", now=now + 3 * H)
    assert pc.is_late(pc.reported_at) and audit("action.reported_in")[-1].details["late"] is True


def test_an_issue_report_in_files_a_sub_action_of_the_joint_action(world):
    now = utcnow()
    issue = gen_issue(world, now=now - H)
    issues.accept_issue(world.property_x, issue, now=now - 30 * M)
    dept, pc = issues.blow_whistle(world.official_a, issue, [world.dept_a, world.pc_x], report_within="60",
                                   reason="占道问题需要联合处置", now=now)
    assert services.joint_action_of(issue) is None
    due = now + 2 * D
    issues.report_in(world.department_a, dept, attendee="李科长", action="清理占道", action_due=due, now=now + 10 * M)
    joint = services.joint_action_of(issue)
    assert joint is not None and joint.source == "issue" and joint.issue_id == issue.id
    assert joint.responsible_org is world.pc_x and joint.title == f"Joint handling: {issue.title}"
    assert joint.status == "planned" and issue.status != "resolved"
    [sub] = joint.children
    assert sub.responsible_org is world.dept_a and sub.issue_summons_id == dept.id and sub.issue_id == issue.id
    assert sub.due_date == local_today(world.x, due)
    assert audit("action.joint_created")[-1].details["issue_id"] == issue.id
    # Delivered twice: nothing new.
    issue_reported_in.send(dept, issue=issue, member=world.department_a, now=now + 11 * M)
    assert db.session.scalar(db.select(db.func.count(Action.id)).where(Action.issue_id == issue.id)) == 2
    # The second report-in (no date) joins the same joint action without a sub-action; a dated one adds one.
    issues.report_in(world.property_x, pc, attendee="张经理", action="配合清理", now=now + 20 * M)
    assert services.joint_action_of(issue) is joint and len(joint.children) == 1
    [again] = issues.blow_whistle(world.official_a, issue, [world.pc_x], report_within="60", reason="再次", now=now + H)
    issues.report_in(world.property_x, again, attendee="张经理", action="安装隔离栏", action_due=now + 4 * D,
                     now=now + H + M)
    db.session.expire(joint, ["children"])
    assert [c.responsible_org for c in joint.children] == [world.dept_a, world.pc_x]
    assert services.actions_for_source("issue", issue) == [joint]  # the issue lists the joint action


def test_every_role(world):
    now = utcnow()
    action, (dept, pc) = whistled(world, now)
    assert allowed(world, can.can_blow_whistle_on_action, action) == {"official_a", "admin"}
    assert allowed(world, can.can_report_in, dept) == {"department_a", "admin"}
    assert allowed(world, can.can_report_in, pc) == {"property_x", "admin"}
    services.report_in_to_action(world.department_a, dept, attendee="李科长", action="清理", action_due=now + D,
                                 now=now)
    assert allowed(world, can.can_report_in, dept) == set()
    assert allowed(world, can.can_blow_whistle_on_action, dept.sub_action) == set()  # not on a step
    action.status, action.progress_set_by_hand = "done", True
    assert allowed(world, can.can_blow_whistle_on_action, action) == set()


def url(action, tail=""):
    return f"/c/{action.community.slug}/actions/{action.id}{tail}"


def test_the_pages(client, auth, world):
    action = gen_action(world)
    db.session.commit()
    auth.login(world.official_a)
    page = client.get(url(action)).get_data(as_text=True)
    assert "Blow the whistle" in page
    response = post(client, url(action, "/whistle"), data={"whistle-organizations": [str(world.dept_a.id)],
                                                           "whistle-report_within": "", "whistle-reason": ""})
    assert response.status_code == 400 and "Say why the organizations are summoned." in response.get_data(as_text=True)
    response = post(client, url(action, "/whistle"), data={"whistle-organizations": [str(world.dept_a.id)],
                                                           "whistle-report_within": "60", "whistle-reason": "联合推进"})
    assert response.status_code == 302
    summons = db.session.scalar(db.select(ActionSummons))
    auth.logout()
    auth.login(world.property_x)
    assert post(client, url(action, f"/summons/{summons.id}/report-in"),
                data={"reportin-attendee": "张", "reportin-action": "来"}).status_code == 403
    auth.logout()
    auth.login(world.department_a)
    page = client.get(url(action)).get_data(as_text=True)
    assert "Report in for" in page and "waiting for the report" in page
    response = post(client, url(action, f"/summons/{summons.id}/report-in"),
                    data={"reportin-attendee": "", "reportin-action": "清理堆物"})
    assert response.status_code == 400 and "清理堆物" in response.get_data(as_text=True)
    response = post(client, url(action, f"/summons/{summons.id}/report-in"),
                    data={"reportin-attendee": "李科长", "reportin-action": "清理堆物",
                          "reportin-action_due": "2099-01-02"})
    assert response.status_code == 302
    page = client.get(url(action)).get_data(as_text=True)
    assert "Who comes: 李科长" in page and "reported in" in page and world.dept_a.name in page
    sub = db.session.scalar(db.select(Action).where(Action.parent_id == action.id))
    assert sub.due_date.isoformat() == "2099-01-02" and f"/actions/{sub.id}" in page


def test_the_issue_page_links_to_its_joint_action(client, world):
    now = utcnow()
    issue = gen_issue(world, now=now - H)
    [dept] = issues.blow_whistle(world.official_a, issue, [world.dept_a], report_within="60", reason="联合",
                                 now=now - 30 * M)
    issues.report_in(world.department_a, dept, attendee="李", action="清理", action_due=now + D, now=now - 20 * M)
    joint = services.joint_action_of(issue)
    db.session.commit()
    page = client.get(f"/c/{world.x.slug}/issues/{issue.id}").get_data(as_text=True)
    assert f"/actions/{joint.id}" in page
    page = client.get(url(joint)).get_data(as_text=True)
    assert world.dept_a.name in page and joint.children[0].title in page


def test_the_dashboard_rate_combines_issue_and_action_summonses(world):
    from portal.dashboard import services as S
    now = utcnow()
    # The issue side: the department on time once.
    issue = gen_issue(world, now=now - 2 * H)
    [i_dept] = issues.blow_whistle(world.official_a, issue, [world.dept_a], report_within="60", reason="联合",
                                   now=now - 2 * H)
    issues.report_in(world.department_a, i_dept, attendee="李", action="清理", now=now - 2 * H + 10 * M)
    # The action side: the department missing (report-by passed), the company late, another not yet due.
    action, (a_dept, a_pc) = whistled(world, now - 3 * H, within="60")
    services.report_in_to_action(world.property_x, a_pc, attendee="张", action="配合", now=now - H)
    services.blow_whistle_on_action(world.official_a, gen_action(world), [world.pc_x], report_within="600",
                                    reason="未到时限", now=now - H)
    db.session.commit()
    def month(at):
        return S.parse_month(local_today(world.x, at).strftime("%Y-%m"))
    f = S.Filters(sub_district=world.sd_a, month_from=month(now - 3 * H), month_to=month(now))
    rows = {r["org_id"]: r["rate"] for r in S.report_in_on_time(f, now=now)}
    assert (rows[world.dept_a.id].numerator, rows[world.dept_a.id].denominator) == (1, 2)
    assert (rows[world.pc_x.id].numerator, rows[world.pc_x.id].denominator) == (0, 1)
    # The organization filter reads the actions' responsible organization (and the issues' handling one), the
    # category filter the action's issue or hotspot category: none of these summonses is of the residents'
    # committee's or of the noise category.
    from dataclasses import replace
    assert S.report_in_on_time(replace(f, org_id=world.rc_x.id), now=now) == []
    assert S.report_in_on_time(replace(f, category_code="noise"), now=now) == []
    with_pc = {r["org_id"]: r["rate"].denominator for r in S.report_in_on_time(replace(f, org_id=world.pc_x.id),
                                                                               now=now)}
    assert with_pc[world.pc_x.id] >= 1 and with_pc[world.dept_a.id] >= 1  # the actions' summonses
    # Another month sees none of them.
    other = S.Filters(sub_district=world.sd_a, month_from=S.parse_month("2020-01"),
                      month_to=S.parse_month("2020-01"))
    assert S.report_in_on_time(other, now=now) == []
