"""The 12345 work order (issue #20): sign for (late too), send back within the response time (refused
after), re-route or return to the hotline, extensions (approved moves resolve-by), the closure report, the
return visit (three failed attempts; reached: the rating), appeals (upheld leaves the denominators), the
rates on hand-made hotline issues against known answers and against the rollups, and the signal the hotline
integration hears, with the right event for each transition. Runs on SQLite and PostgreSQL."""
from datetime import timedelta

import pytest

from portal.dashboard import services as S
from portal.errors import DomainError, NotAllowed
from portal.events import work_order_changed
from portal.extensions import db
from portal.issues import services
from portal.issues.models import IssueEvent, ReturnVisitAttempt
from tests.issues import T0, gen_issue
from tests.records import audit

H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture
def heard():
    """The events work_order_changed carried, as (issue id, event, public_text)."""
    got = []

    def receiver(issue, **kw):
        got.append((issue.id, kw["event"], kw["public_text"]))
        assert kw["now"].tzinfo is not None
    work_order_changed.connect(receiver)
    yield got
    work_order_changed.disconnect(receiver)


def hotline(world, *, at=T0, category="lift", title="电梯停运"):
    return services.report_from_hotline(world.x, category=world.categories[category], title=title,
                                        description="12345 来电", reporter_name="王先生",
                                        reporter_phone="13512345678", now=at)


def kinds(issue):
    return [e.kind for e in db.session.scalars(db.select(IssueEvent).where(IssueEvent.issue_id == issue.id)
                                               .order_by(IssueEvent.id))]


def resolved_hotline(world, at=T0):
    issue = hotline(world, at=at)
    services.sign_for(world.property_x, issue, now=at + H)
    services.resolve_issue(world.property_x, issue, "修好了", caller_contacted=True, contact_method="phone",
                           now=at + 5 * H)
    return issue


# --- sign for ------------------------------------------------------------------------------------------

def test_signing_in_time_is_the_response(world, heard):
    issue = hotline(world)
    services.sign_for(world.property_x, issue, now=T0 + H)
    assert issue.status == "accepted" and issue.signed_at == T0 + H and issue.first_response_at == T0 + H
    assert kinds(issue)[-1] == "signed_for" and audit("issue.signed_for")[0].details["late"] is False
    assert heard == [(issue.id, "signed_for", "Signed for by " + world.pc_x.name + ".")]


def test_signing_late_is_allowed_and_counts_as_a_late_response(world, heard):
    issue = hotline(world)
    late = issue.respond_by + H
    assert services.apply_due(issue, late)  # the deadline warning and the chase, as for any issue
    assert issue.respond_warned == 2
    services.sign_for(world.property_x, issue, now=late)
    assert issue.first_response_at == late and audit("issue.signed_for")[0].details["late"] is True
    db.session.commit()
    f = S.Filters(sub_district=world.sd_a, month_from=S.parse_month("2025-03"), month_to=S.parse_month("2025-03"))
    overall = S.three_rates(f, now=late + H)["overall"][0]
    assert (overall.response.numerator, overall.response.denominator) == (0, 1)
    assert S.three_rates(f, now=late + H) == S.three_rates_direct(f, now=late + H)


def test_only_the_receiving_organization_signs_and_only_once(world):
    issue = hotline(world)
    for person in (world.official_a, world.department_a, world.reporter, world.chair_x):
        with pytest.raises(NotAllowed):
            services.sign_for(person, issue, now=T0 + H)
    services.sign_for(world.property_x, issue, now=T0 + H)
    with pytest.raises(NotAllowed):
        services.sign_for(world.property_x, issue, now=T0 + 2 * H)
    portal_issue = gen_issue(world, now=T0)
    with pytest.raises(NotAllowed):
        services.sign_for(world.property_x, portal_issue, now=T0 + H)


def test_accepting_an_unsigned_hotline_issue_signs_for_it(world, heard):
    issue = hotline(world)
    services.accept_issue(world.property_x, issue, note="马上到", now=T0 + H)
    assert issue.signed_at == T0 + H and heard == [(issue.id, "signed_for", "马上到")]


# --- send back, re-route, return to the hotline ---------------------------------------------------------

def test_send_back_within_the_response_time_goes_to_the_office(world, heard):
    issue = hotline(world)
    services.send_back(world.property_x, issue, "not_our_area", "这是市政道路，不归物业", now=T0 + H)
    assert issue.work_order_state == "sent_back" and issue.send_back_reason == "not_our_area"
    assert issue.first_response_at is None and issue.status == "submitted"
    assert heard == [(issue.id, "sent_back", "Not our area of responsibility: 这是市政道路，不归物业")]
    assert audit("issue.sent_back")[0].details["reason"] == "not_our_area"
    with pytest.raises(NotAllowed):  # nobody signs for it while it waits for the office
        services.sign_for(world.property_x, issue, now=T0 + 2 * H)
    with pytest.raises(NotAllowed):  # only the office routes it
        services.reroute(world.property_x, issue, world.dept_a, now=T0 + 2 * H)
    services.reroute(world.official_a, issue, world.dept_a, now=T0 + 2 * H)
    assert issue.handling_org_id == world.dept_a.id and issue.work_order_state is None
    assert heard[-1][:2] == (issue.id, "rerouted")
    services.sign_for(world.department_a, issue, now=T0 + 3 * H)
    assert issue.signed_at == T0 + 3 * H


def test_send_back_after_the_response_time_is_refused(world, heard):
    issue = hotline(world)
    with pytest.raises(DomainError) as refused:
        services.send_back(world.property_x, issue, "wrong_address", "地址不对", now=issue.respond_by + H)
    assert "response deadline" in str(refused.value.message)
    assert issue.work_order_state is None and heard == [] and not audit("issue.sent_back")


def test_send_back_needs_a_reason_from_the_list_and_words(world):
    issue = hotline(world)
    with pytest.raises(DomainError) as e:
        services.send_back(world.property_x, issue, "because", "x", now=T0 + H)
    assert e.value.field == "reason"
    with pytest.raises(DomainError) as e:
        services.send_back(world.property_x, issue, "other", "  ", now=T0 + H)
    assert e.value.field == "text" and issue.work_order_state is None


def test_the_office_returns_it_to_the_hotline_with_the_reason(world, heard):
    issue = hotline(world)
    services.send_back(world.property_x, issue, "not_government", "民事纠纷", now=T0 + H)
    services.return_to_hotline(world.official_a, issue, "属于民事纠纷，建议诉讼", now=T0 + 2 * H)
    assert issue.work_order_state == "returned" and issue.status == "rejected"
    assert heard[-1] == (issue.id, "returned_to_hotline", "属于民事纠纷，建议诉讼")
    assert kinds(issue)[-1] == "returned_to_hotline"


# --- extensions ----------------------------------------------------------------------------------------

def test_an_approved_extension_moves_resolve_by(world, heard):
    issue = hotline(world)
    services.sign_for(world.property_x, issue, now=T0 + H)
    before = issue.resolve_by
    ext = services.request_extension(world.property_x, issue, "需要等配件", before + 2 * D, now=T0 + 2 * H)
    assert ext.status == "pending" and issue.resolve_by == before
    with pytest.raises(NotAllowed):
        services.decide_extension(world.property_x, issue, approve=True, now=T0 + 3 * H)
    services.decide_extension(world.official_a, issue, approve=True, now=T0 + 3 * H)
    assert ext.status == "approved" and issue.resolve_by == before + 2 * D
    assert issue.original_resolve_by == before and issue.next_deadline == before + 2 * D
    assert "extension_approved" in kinds(issue)
    assert [h[1] for h in heard] == ["signed_for", "extension_requested", "extension_decided"]
    # Resolved after the first resolve-by, within the extended one: on time only where the setting says so.
    services.resolve_issue(world.property_x, issue, "换了配件", caller_contacted=True, contact_method="visit",
                           now=before + D)
    assert services.resolved_on_time(issue) is False
    from flask import current_app
    current_app.config["WORK_ORDER_EXTENSION_ON_TIME"] = True
    try:
        assert services.resolved_on_time(issue) is True
    finally:
        current_app.config["WORK_ORDER_EXTENSION_ON_TIME"] = False


def test_extension_refusals(world):
    issue = hotline(world)
    with pytest.raises(NotAllowed):  # not signed yet
        services.request_extension(world.property_x, issue, "r", issue.resolve_by + D, now=T0 + H)
    services.sign_for(world.property_x, issue, now=T0 + H)
    with pytest.raises(DomainError) as e:
        services.request_extension(world.property_x, issue, "r", issue.resolve_by - H, now=T0 + 2 * H)
    assert e.value.field == "proposed"
    with pytest.raises(DomainError):  # after resolve-by
        services.request_extension(world.property_x, issue, "r", issue.resolve_by + D, now=issue.resolve_by + H)
    services.request_extension(world.property_x, issue, "r", issue.resolve_by + D, now=T0 + 2 * H)
    with pytest.raises(DomainError):  # one at a time
        services.request_extension(world.property_x, issue, "r", issue.resolve_by + 2 * D, now=T0 + 3 * H)
    with pytest.raises(DomainError) as e:  # a refusal says why
        services.decide_extension(world.official_a, issue, approve=False, reason="", now=T0 + 3 * H)
    before = issue.resolve_by
    ext = services.decide_extension(world.official_a, issue, approve=False, reason="不合理", now=T0 + 3 * H)
    assert ext.status == "refused" and issue.resolve_by == before and issue.original_resolve_by is None


# --- closure report ------------------------------------------------------------------------------------

def test_resolving_a_hotline_issue_needs_the_closure_report(world, heard):
    issue = hotline(world)
    services.sign_for(world.property_x, issue, now=T0 + H)
    with pytest.raises(DomainError) as e:
        services.resolve_issue(world.property_x, issue, "修好了", now=T0 + 2 * H)
    assert e.value.field == "caller_contacted"
    with pytest.raises(DomainError) as e:
        services.resolve_issue(world.property_x, issue, "修好了", caller_contacted=True, contact_method="fax",
                               now=T0 + 2 * H)
    assert e.value.field == "contact_method" and issue.status == "accepted"
    services.resolve_issue(world.property_x, issue, "修好了", caller_contacted=True, contact_method="phone",
                           now=T0 + 2 * H)
    event = db.session.scalars(db.select(IssueEvent).where(IssueEvent.issue_id == issue.id,
                                                           IssueEvent.kind == "resolved")).one()
    assert event.details == {"caller_contacted": True, "contact_method": "phone"}
    assert heard[-1] == (issue.id, "resolved", "修好了")


# --- return visits -------------------------------------------------------------------------------------

def test_three_failed_attempts_close_the_issue_unrated(world, heard):
    issue = resolved_hotline(world)
    for n in range(3):
        services.record_return_visit(world.official_a, issue, contacted=False, now=T0 + (6 + n) * H)
    assert issue.status == "closed" and issue.rated_at is None and issue.rating_resolved is None
    assert [a.contacted for a in services.attempts_of(issue)] == [False, False, False]
    assert kinds(issue)[-1] == "return_visit_failed" and heard[-1][1] == "return_visit"
    with pytest.raises(NotAllowed):  # closed: no fourth attempt
        services.record_return_visit(world.official_a, issue, contacted=False, now=T0 + 10 * H)


def test_a_reached_caller_is_the_rating(world, heard):
    issue = resolved_hotline(world)
    services.record_return_visit(world.official_a, issue, contacted=False, now=T0 + 6 * H)
    services.record_return_visit(world.official_a, issue, contacted=True, solved=True,
                                 satisfaction="basically_satisfied", words="还行", now=T0 + 7 * H)
    assert issue.status == "closed" and issue.rating_resolved is True
    assert issue.rating_satisfaction == "basically_satisfied" and issue.rating_comment == "还行"
    assert heard[-1] == (issue.id, "return_visit", "Basically satisfied")
    assert db.session.scalar(db.select(db.func.count(ReturnVisitAttempt.id))) == 2


def test_a_dissatisfied_caller_reopens_it_once(world, heard):
    issue = resolved_hotline(world)
    services.record_return_visit(world.official_a, issue, contacted=True, solved=False, satisfaction="dissatisfied",
                                 now=T0 + 6 * H)
    assert issue.status == "reopened" and [h[1] for h in heard][-2:] == ["return_visit", "reopened"]


def test_return_visit_refusals(world):
    issue = resolved_hotline(world)
    with pytest.raises(NotAllowed):  # the handler's own staff do not call back for the rating
        services.record_return_visit(world.property_x, issue, contacted=False, now=T0 + 6 * H)
    with pytest.raises(NotAllowed):  # another sub-district's official
        services.record_return_visit(world.official_b, issue, contacted=False, now=T0 + 6 * H)
    with pytest.raises(DomainError) as e:
        services.record_return_visit(world.official_a, issue, contacted=True, satisfaction="satisfied",
                                     now=T0 + 6 * H)
    assert e.value.field == "solved"
    with pytest.raises(DomainError) as e:
        services.record_return_visit(world.official_a, issue, contacted=True, solved=True, satisfaction="",
                                     now=T0 + 6 * H)
    assert e.value.field == "satisfaction"
    with pytest.raises(DomainError):  # too late
        services.record_return_visit(world.official_a, issue, contacted=False,
                                     now=issue.resolved_at + (services.return_visit_days() + 1) * D)
    assert services.attempts_of(issue) == []


# --- appeals -------------------------------------------------------------------------------------------

def test_an_upheld_appeal_leaves_the_denominators(world, heard):
    fine = resolved_hotline(world)
    services.record_return_visit(world.official_a, fine, contacted=True, solved=True, satisfaction="satisfied",
                                 now=T0 + 6 * H)
    bad = resolved_hotline(world, at=T0 + D)
    bad.reopen_count = 1  # already redone once: a dissatisfied answer closes it
    services.record_return_visit(world.official_a, bad, contacted=True, solved=False, satisfaction="dissatisfied",
                                 now=T0 + D + 6 * H)
    db.session.commit()
    f = S.Filters(sub_district=world.sd_a, month_from=S.parse_month("2025-03"), month_to=S.parse_month("2025-03"))
    now = T0 + 3 * D
    overall = S.three_rates(f, now=now)["overall"][0]
    assert (overall.resolution, overall.satisfaction) == (S.Rate(1, 2), S.Rate(1, 2))
    with pytest.raises(NotAllowed):  # a satisfied rating is not appealed
        services.appeal_rating(world.property_x, fine, "x", now=now)
    with pytest.raises(NotAllowed):  # only the handling organization appeals
        services.appeal_rating(world.official_a, bad, "x", now=now)
    appeal = services.appeal_rating(world.property_x, bad, "诉求超出职权范围，已书面答复", now=now)
    with pytest.raises(DomainError):
        services.appeal_rating(world.property_x, bad, "again", now=now)
    with pytest.raises(NotAllowed):
        services.decide_appeal(world.property_x, bad, upheld=True, reason="r", now=now)
    with pytest.raises(DomainError) as e:
        services.decide_appeal(world.official_a, bad, upheld=True, reason="", now=now)
    assert e.value.field == "reason"
    services.decide_appeal(world.official_a, bad, upheld=True, reason="核实属实", now=now + H)
    assert appeal.status == "upheld" and bad.rating_excluded is True
    assert heard[-1] == (bad.id, "appeal_decided", "")
    db.session.commit()
    overall = S.three_rates(f, now=now)["overall"][0]
    assert (overall.resolution, overall.satisfaction) == (S.Rate(1, 1), S.Rate(1, 1))
    assert S.three_rates(f, now=now) == S.three_rates_direct(f, now=now)
    assert S.removed_by_appeal_count(f) == 1
    assert [i.id for i in db.session.scalars(S.removed_by_appeal(f))] == [bad.id]


def test_a_rejected_appeal_keeps_the_rating(world):
    issue = resolved_hotline(world)
    issue.reopen_count = 1
    services.record_return_visit(world.official_a, issue, contacted=True, solved=False,
                                 satisfaction="dissatisfied", now=T0 + 6 * H)
    services.appeal_rating(world.property_x, issue, "证据", now=T0 + 7 * H)
    services.decide_appeal(world.official_a, issue, upheld=False, reason="证据不足", now=T0 + 8 * H)
    assert issue.rating_excluded is False
    with pytest.raises(DomainError):  # one appeal per rating
        services.appeal_rating(world.property_x, issue, "再来", now=T0 + 9 * H)


# --- the rates -----------------------------------------------------------------------------------------

def test_rates_on_a_hand_made_set_with_hotline_issues_and_appeals(world):
    """Known answers. Residents: r1 resolved yes/satisfied; r2 reopened by "dissatisfied" with "resolved: yes"
    (being redone: not resolved yes). Hotline: h1 basically satisfied; h2 unsolved/dissatisfied, appeal upheld
    (out of both); h3 three failed attempts (unrated: out); h4 still waiting, signed late (response late).
    Response: r1, r2, h1, h2, h3 in time, h4 late → 5/6. Resolution: r1, h1 yes of r1, r2, h1 → 2/3.
    Satisfaction: r1, h1 of r1, r2, h1 → 2/3."""
    r1 = gen_issue(world, now=T0)
    services.accept_issue(world.property_x, r1, now=T0 + H)
    services.resolve_issue(world.property_x, r1, "done", now=T0 + 2 * H)
    services.rate_issue(world.reporter, r1, resolved=True, satisfaction="satisfied", now=T0 + 3 * H)
    r2 = gen_issue(world, now=T0, title="Lamp out")
    services.accept_issue(world.property_x, r2, now=T0 + H)
    services.resolve_issue(world.property_x, r2, "done", now=T0 + 2 * H)
    services.rate_issue(world.reporter, r2, resolved=True, satisfaction="dissatisfied", now=T0 + 3 * H)
    assert r2.status == "reopened"
    h1 = resolved_hotline(world)
    services.record_return_visit(world.official_a, h1, contacted=True, solved=True,
                                 satisfaction="basically_satisfied", now=T0 + 6 * H)
    h2 = resolved_hotline(world)
    h2.reopen_count = 1
    services.record_return_visit(world.official_a, h2, contacted=True, solved=False, satisfaction="dissatisfied",
                                 now=T0 + 6 * H)
    services.appeal_rating(world.property_x, h2, "超出职权", now=T0 + 7 * H)
    services.decide_appeal(world.official_a, h2, upheld=True, reason="属实", now=T0 + 8 * H)
    h3 = resolved_hotline(world)
    for n in range(3):
        services.record_return_visit(world.official_a, h3, contacted=False, now=T0 + (6 + n) * H)
    h4 = hotline(world)
    services.sign_for(world.property_x, h4, now=h4.respond_by + H)
    db.session.commit()
    f = S.Filters(sub_district=world.sd_a, month_from=S.parse_month("2025-03"), month_to=S.parse_month("2025-03"))
    now = T0 + 2 * D
    overall = S.three_rates(f, now=now)["overall"][0]
    assert overall.issues == 6
    assert overall.response == S.Rate(5, 6)
    assert overall.resolution == S.Rate(2, 3)
    assert overall.satisfaction == S.Rate(2, 3)
    assert S.three_rates(f, now=now) == S.three_rates_direct(f, now=now)
    assert S.removed_by_appeal_count(f) == 1
    # Redone and resolved again: now "resolved: yes" counts (the rating from before stays until a new one).
    services.start_work(world.property_x, r2, now=T0 + 4 * H)
    services.resolve_issue(world.property_x, r2, "redone", now=T0 + 5 * H)
    db.session.commit()
    assert S.three_rates(f, now=now)["overall"][0].resolution == S.Rate(3, 3)
    assert S.three_rates(f, now=now) == S.three_rates_direct(f, now=now)
    ids = S.issue_ids_behind(f, "resolution", "denominator", now=now)
    assert sorted(ids) == sorted([r1.id, r2.id, h1.id])


# --- the signal ----------------------------------------------------------------------------------------

def test_portal_issues_send_nothing(world, heard):
    issue = gen_issue(world, now=T0)
    services.accept_issue(world.property_x, issue, now=T0 + H)
    services.resolve_issue(world.property_x, issue, "done", now=T0 + 2 * H)
    services.rate_issue(world.reporter, issue, resolved=False, satisfaction="dissatisfied", now=T0 + 3 * H)
    assert heard == []


def test_the_whole_work_order_is_heard_in_order(world, heard):
    issue = hotline(world)
    services.sign_for(world.property_x, issue, now=T0 + H)
    services.request_extension(world.property_x, issue, "等配件", issue.resolve_by + 2 * D, now=T0 + 2 * H)
    services.decide_extension(world.official_a, issue, approve=True, now=T0 + 3 * H)
    services.resolve_issue(world.property_x, issue, "修好了", caller_contacted=False, now=T0 + 4 * H)
    services.record_return_visit(world.official_a, issue, contacted=True, solved=False,
                                 satisfaction="dissatisfied", now=T0 + 5 * H)
    services.resolve_issue(world.property_x, issue, "再修", caller_contacted=True, contact_method="message",
                           now=T0 + 6 * H)
    services.record_return_visit(world.official_a, issue, contacted=True, solved=False,
                                 satisfaction="dissatisfied", now=T0 + 7 * H)
    services.appeal_rating(world.property_x, issue, "已答复", now=T0 + 8 * H)
    services.decide_appeal(world.official_a, issue, upheld=False, reason="不属实", now=T0 + 9 * H)
    assert [h[1] for h in heard] == ["signed_for", "extension_requested", "extension_decided", "resolved",
                                     "return_visit", "reopened", "resolved", "return_visit", "appeal_decided"]
    assert {h[0] for h in heard} == {issue.id}


def test_work_orders_on_time_follow_the_extension_setting(world):
    """Two resolved work orders: one in its first time, one after it but within an approved extension."""
    from flask import current_app
    quick = resolved_hotline(world)
    slow = hotline(world, title="慢的工单")
    services.sign_for(world.property_x, slow, now=T0 + H)
    first = slow.resolve_by
    services.request_extension(world.property_x, slow, "等配件", first + 2 * D, now=T0 + 2 * H)
    services.decide_extension(world.official_a, slow, approve=True, now=T0 + 3 * H)
    services.resolve_issue(world.property_x, slow, "修好了", caller_contacted=False, now=first + D)
    db.session.commit()
    f = S.Filters(sub_district=world.sd_a, month_from=S.parse_month("2025-03"), month_to=S.parse_month("2025-03"))
    assert S.work_orders_on_time(f) == {"resolved": 2, "on_time": 1, "extended": 1}
    current_app.config["WORK_ORDER_EXTENSION_ON_TIME"] = True
    try:
        assert S.work_orders_on_time(f) == {"resolved": 2, "on_time": 2, "extended": 1}
    finally:
        current_app.config["WORK_ORDER_EXTENSION_ON_TIME"] = False
    assert services.resolved_on_time(quick) is True
