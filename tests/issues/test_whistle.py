"""Whistle-blowing (吹哨报到, issue #20) and the public responsibility list (责任清单): the sub-district
office summons organizations with a time to report by; each reports in (on time or late); a non-summoned
organization is refused; every rule for every role; the pages. Runs on SQLite and PostgreSQL."""
from datetime import timedelta

import pytest

from portal.auth import permissions as can
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import services
from portal.issues.models import IssueEvent, IssueSummons
from tests.issues import T0, gen_issue
from tests.issues.test_permissions import allowed
from tests.records import audit
from tests.residents import post

M = timedelta(minutes=1)
H = timedelta(hours=1)
OFFICE = {"official_a", "admin"}


def kinds(issue):
    return [e.kind for e in db.session.scalars(db.select(IssueEvent).where(IssueEvent.issue_id == issue.id)
                                               .order_by(IssueEvent.id))]


def whistled(world, *, at=T0):
    issue = gen_issue(world, now=at)
    made = services.blow_whistle(world.official_a, issue, [world.dept_a, world.pc_x], report_within="",
                                 reason="占道问题需要联合处置", now=at + H)
    return issue, made


def test_the_office_summons_with_the_default_times(world):
    issue, made = whistled(world)
    assert [s.organization for s in made] == [world.dept_a, world.pc_x]
    default = services.default_report_within(issue)
    assert default == (30 if issue.category.deadline_class == "emergency" else 24 * 60)
    assert all(s.report_by == T0 + H + default * M and s.reported_at is None for s in made)
    assert kinds(issue)[-1] == "whistle" and audit("issue.whistle")[0].details["reason"] == "占道问题需要联合处置"
    emergency = gen_issue(world, category="lift", now=T0)
    assert services.default_report_within(emergency) == 30


def test_reporting_in_on_time_and_late(world):
    issue, (dept, pc) = whistled(world)
    services.report_in(world.department_a, dept, attendee="李科长", action="清理占道", action_due=T0 + 30 * H,
                       now=T0 + H + 20 * M)  # a lift is an emergency: 30 minutes
    assert dept.reported_at == T0 + H + 20 * M and not dept.is_late(dept.reported_at)
    assert audit("issue.reported_in")[0].details["late"] is False
    assert not pc.is_late(T0 + H + 20 * M) and pc.is_late(pc.report_by + M)  # missing once report-by has passed
    services.report_in(world.property_x, pc, attendee="张经理", action="配合清理", now=pc.report_by + H)
    assert pc.is_late(pc.reported_at) and audit("issue.reported_in")[-1].details["late"] is True
    assert kinds(issue)[-2:] == ["reported_in", "reported_in"]
    with pytest.raises(NotAllowed):  # once only
        services.report_in(world.property_x, pc, attendee="张经理", action="再来", now=pc.report_by + 2 * H)


def test_a_non_summoned_organization_is_refused(world):
    issue, (dept, pc) = whistled(world)
    with pytest.raises(NotAllowed):
        services.report_in(world.property_x, dept, attendee="张经理", action="我们来", now=T0 + 2 * H)
    assert dept.reported_at is None


def test_refusals_leave_nothing_written(world):
    issue = gen_issue(world, now=T0)
    with pytest.raises(NotAllowed):
        services.blow_whistle(world.property_x, issue, [world.dept_a], report_within="", reason="x", now=T0 + H)
    for orgs, within, reason, field in (([], "", "x", "organizations"), ([world.dept_a], "0", "x", "report_within"),
                                        ([world.dept_a], "abc", "x", "report_within"),
                                        ([world.dept_a], "99999999999", "x", "report_within"),
                                        ([world.dept_a], "", " ", "reason"),
                                        ([world.rc_y], "", "x", "organizations")):
        with pytest.raises(DomainError) as caught:
            services.blow_whistle(world.official_a, issue, orgs, report_within=within, reason=reason, now=T0 + H)
        assert caught.value.field == field
    assert db.session.scalar(db.select(db.func.count(IssueSummons.id))) == 0
    _issue, (dept, _pc) = whistled(world)
    with pytest.raises(DomainError) as caught:  # still waiting for dept's report
        services.blow_whistle(world.official_a, _issue, [world.dept_a], report_within="60", reason="再次", now=T0 + H)
    assert caught.value.field == "organizations"
    with pytest.raises(DomainError) as caught:
        services.report_in(world.department_a, dept, attendee=" ", action="x", now=T0 + 2 * H)
    assert caught.value.field == "attendee" and dept.reported_at is None


def test_every_role(world):
    issue, (dept, pc) = whistled(world)
    assert allowed(world, can.can_blow_whistle, issue) == OFFICE
    assert allowed(world, can.can_report_in, dept) == {"department_a", "admin"}
    assert allowed(world, can.can_report_in, pc) == {"property_x", "admin"}
    services.report_in(world.department_a, dept, attendee="李科长", action="清理", now=T0 + 2 * H)
    assert allowed(world, can.can_report_in, dept) == set()


def url(issue, tail=""):
    return f"/c/{issue.community.slug}/issues/{issue.id}{tail}"


def test_the_pages(client, auth, world):
    from portal.clock import utcnow
    issue = gen_issue(world, now=utcnow() - H)
    db.session.commit()
    auth.login(world.official_a)
    page = client.get(url(issue)).get_data(as_text=True)
    assert "Blow the whistle" in page
    response = post(client, url(issue, "/whistle"), data={"whistle-organizations": [str(world.dept_a.id)],
                                                          "whistle-report_within": "", "whistle-reason": ""})
    assert response.status_code == 200 and "Say why the organizations are summoned." in response.get_data(as_text=True)
    response = post(client, url(issue, "/whistle"), data={"whistle-organizations": [str(world.dept_a.id)],
                                                          "whistle-report_within": "60", "whistle-reason": "联合处置"})
    assert response.status_code == 302
    summons = db.session.scalar(db.select(IssueSummons))
    auth.logout()
    auth.login(world.property_x)
    assert post(client, url(issue, f"/summons/{summons.id}/report-in"),
                data={"reportin-attendee": "张", "reportin-action": "来"}).status_code == 403
    auth.logout()
    auth.login(world.department_a)
    page = client.get(url(issue)).get_data(as_text=True)
    assert "Report in for" in page and "waiting for the report" in page
    response = post(client, url(issue, f"/summons/{summons.id}/report-in"),
                    data={"reportin-attendee": "", "reportin-action": "清理占道"})
    assert response.status_code == 200 and "清理占道" in response.get_data(as_text=True)
    response = post(client, url(issue, f"/summons/{summons.id}/report-in"),
                    data={"reportin-attendee": "李科长", "reportin-action": "清理占道",
                          "reportin-action_due": "2099-01-02"})
    assert response.status_code == 302
    page = client.get(url(issue)).get_data(as_text=True)
    assert "Who comes: 李科长" in page and "reported in" in page


def test_the_responsibility_list(client, auth, world):
    lift = world.categories["lift"]
    services.update_category(world.admin, lift, name=lift.name, deadline_class=lift.deadline_class,
                             respond_hours=lift.respond_hours, resolve_hours=lift.resolve_hours,
                             default_org=world.pc_x, is_active=True, basis="《特种设备安全法》第三十九条")
    db.session.commit()
    assert audit("issue_category.updated")[0].details["basis"] == "《特种设备安全法》第三十九条"
    page = client.get(f"/c/{world.x.slug}/responsibilities").get_data(as_text=True)
    assert "《特种设备安全法》第三十九条" in page and world.pc_x.name in page
    auth.login(world.reporter)
    assert f"/c/{world.x.slug}/responsibilities" in client.get(f"/c/{world.x.slug}/issues/new").get_data(as_text=True)


def test_the_dashboard_report_in_rate_per_organization(world):
    from portal.dashboard import services as S
    issue, (dept, pc) = whistled(world)
    services.report_in(world.department_a, dept, attendee="李科长", action="清理", now=T0 + H + 10 * M)
    services.report_in(world.property_x, pc, attendee="张经理", action="配合", now=T0 + 3 * H)  # late
    late_one = services.blow_whistle(world.official_a, gen_issue(world, now=T0), [world.dept_a], report_within="60",
                                     reason="再次", now=T0 + H)[0]
    early_one = services.blow_whistle(world.official_a, gen_issue(world, now=T0), [world.pc_x], report_within="600",
                                      reason="未到时限", now=T0 + H)[0]
    assert late_one.reported_at is None and early_one.reported_at is None
    db.session.commit()
    f = S.Filters(sub_district=world.sd_a, month_from=S.parse_month("2025-03"), month_to=S.parse_month("2025-03"))
    rows = {r["org_id"]: r["rate"] for r in S.report_in_on_time(f, now=T0 + 4 * H)}
    # the department: on time once, missing once (report-by passed) → 1 of 2; the property company: late once,
    # the other not yet due → 0 of 1
    assert (rows[world.dept_a.id].numerator, rows[world.dept_a.id].denominator) == (1, 2)
    assert (rows[world.pc_x.id].numerator, rows[world.pc_x.id].denominator) == (0, 1)


def _set_report_time(world, category, value):
    return services.update_category(world.admin, category, name=category.name,
                                    deadline_class=category.deadline_class, respond_hours=category.respond_hours,
                                    resolve_hours=category.resolve_hours, default_org=category.default_org,
                                    is_active=True, report_within=value)


def test_a_category_has_its_own_time_to_report_in(world):
    """The admin sets a category's report time (here 2 hours for lifts instead of the emergency's 30
    minutes): a summons on its issues defaults to it, the responsibility list shows it, and clearing it
    brings back the default by deadline class."""
    lift = world.categories["lift"]
    _set_report_time(world, lift, "120")
    assert audit("issue_category.updated")[-1].details["report_minutes"] == 120
    issue = gen_issue(world, category="lift", now=T0)
    [summons] = services.blow_whistle(world.official_a, issue, [world.dept_a], report_within="",
                                      reason="电梯困人需要联合处置", now=T0 + H)
    assert summons.report_by == T0 + H + 120 * M
    _set_report_time(world, lift, "")
    assert lift.report_minutes is None and services.default_report_within(issue) == 30


@pytest.mark.parametrize("value", ["abc", "0", "20000", "99999999999999999999"])
def test_a_bad_report_time_is_refused_and_nothing_changes(world, value):
    lift = world.categories["lift"]
    before = (lift.report_minutes, lift.basis)
    with pytest.raises(DomainError) as refused:
        _set_report_time(world, lift, value)
    assert refused.value.field == "report_minutes"
    assert (lift.report_minutes, lift.basis) == before


def test_the_category_form_keeps_a_bad_report_time_with_a_message(client, auth, world):
    lift = world.categories["lift"]
    db.session.commit()
    auth.login(world.admin)
    prefix = f"cat{lift.id}"
    response = post(client, f"/c/{world.x.slug}/issues/categories", {
        "category_id": str(lift.id), f"{prefix}-name": lift.name, f"{prefix}-deadline_class": lift.deadline_class,
        f"{prefix}-respond_hours": str(lift.respond_hours), f"{prefix}-resolve_hours": str(lift.resolve_hours),
        f"{prefix}-is_active": "y", f"{prefix}-report_minutes": "半小时"},
        token_from=f"/c/{world.x.slug}/issues/categories")
    page = response.get_data(as_text=True)
    assert "whole number of minutes" in page and 'value="半小时"' in page
    db.session.expire_all()
    assert db.session.get(type(lift), lift.id).report_minutes is None


def test_a_missing_report_in_is_warned_once_to_the_organization_and_the_office(world):
    """The run-due step: once report-by has passed with no report, the summoned organization's members and
    the official who summoned are told, once; an organization that reported in is not."""
    from portal.due import DUE_STEPS
    from portal.outbox import Notification, message_for
    issue, (dept, pc) = whistled(world)
    services.report_in(world.property_x, pc, attendee="张经理", action="配合清理", now=T0 + H + 10 * M)
    step = DUE_STEPS["issues_summons_late"]
    assert step(dept.report_by - M) == 0  # not yet
    assert step(dept.report_by + M) == 1 and dept.late_warned_at == dept.report_by + M
    assert step(dept.report_by + 2 * H) == 0  # once
    warned = db.session.scalars(db.select(Notification).where(Notification.event == "issue_summons_late")).all()
    recipients = {n.recipient_id for n in warned}
    assert world.official_a.id in recipients and world.department_a.id in recipients
    assert world.property_x.id not in recipients
    assert dept.organization.name in str(message_for(warned[0]))
    message = str(message_for(warned[0]))
    assert dept.report_by.isoformat(timespec="minutes")[:16] not in message  # report-by in words, not ISO
