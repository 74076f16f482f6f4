"""Issue services: categories, reporting, "me too", every handling transition and refusal, rating, time
steps and the lists."""
from datetime import timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.due import DUE_STEPS, run_due
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import services
from portal.issues.models import (
    DESCRIPTION_MAX,
    MAX_PHOTOS,
    TITLE_MAX,
    Issue,
    IssueEvent,
    IssueSupport,
)
from tests.factories import gen_residency, gen_user
from tests.issues import T0, gen_issue
from tests.queries import count_statements
from tests.records import audit, count, notices

H = timedelta(hours=1)


def kinds(issue):
    return [e.kind for e in db.session.scalars(db.select(IssueEvent).where(IssueEvent.issue_id == issue.id)
                                               .order_by(IssueEvent.id))]


# --- categories ------------------------------------------------------------------------------------------

def test_default_categories_follow_the_hotline_deadlines(world):
    c = world.categories
    assert (c["lift"].respond_hours, c["lift"].resolve_hours) == (2, 24)
    assert (c["water"].respond_hours, c["water"].resolve_hours) == (24, 24)
    assert (c["heating"].respond_hours, c["heating"].resolve_hours) == (24, 24)
    assert (c["rubbish"].respond_hours, c["rubbish"].resolve_hours) == (24, 7 * 24)
    assert (c["facilities"].respond_hours, c["facilities"].resolve_hours) == (24, 15 * 24)


def test_default_categories_go_to_the_property_company_department_or_committee(world):
    c = world.categories
    assert c["lift"].default_org == world.pc_x
    assert c["noise"].default_org == world.dept_a
    assert c["neighbours"].default_org == world.rc_x


def test_default_categories_are_created_once_and_keep_their_edits(world):
    services.update_category(world.admin, world.categories["lift"], name="Elevators", deadline_class="emergency",
                             respond_hours=1, resolve_hours=12, default_org=world.pc_x, is_active=True)
    again = services.ensure_default_categories(world.x)
    assert len(again) == len(services.DEFAULT_CATEGORIES) == len(services.categories_for(world.x))
    assert again[0].name == "Elevators" and again[0].respond_hours == 1


def test_a_community_without_a_property_company_sends_its_issues_to_the_committee(world):
    lift = next(c for c in services.ensure_default_categories(world.y) if c.code == "lift")
    assert lift.default_org == world.rc_y


def test_category_labels_are_translated_for_defaults_and_named_for_custom_ones(world):
    assert services.category_label(world.categories["lift"]) == "Lift"
    custom = services.create_category(world.admin, world.x, code="bikes", name="Bicycle shed",
                                      deadline_class="ordinary")
    assert services.category_label(custom) == "Bicycle shed"
    assert (custom.respond_hours, custom.resolve_hours) == (24, 168)
    assert audit("issue_category.created")


@pytest.mark.parametrize("who", ["chair_x", "property_x", "official_a", "reporter"])
def test_only_admins_manage_categories(world, who):
    with pytest.raises(NotAllowed):
        services.create_category(getattr(world, who), world.x, code="bikes", name="Bikes", deadline_class="ordinary")
    with pytest.raises(NotAllowed):
        services.update_category(getattr(world, who), world.categories["lift"], name="L", deadline_class="ordinary",
                                 respond_hours=None, resolve_hours=None, default_org=None, is_active=True)


@pytest.mark.parametrize("kwargs, field", [
    ({"code": ""}, "code"),
    ({"code": "lift"}, "code"),
    ({"code": "二手"}, "code"),
    ({"name": " "}, "name"),
    ({"deadline_class": "whenever"}, "deadline_class"),
    ({"respond_hours": 0}, "respond_hours"),
    ({"respond_hours": "soon"}, "respond_hours"),
    ({"respond_hours": 48, "resolve_hours": 24}, "resolve_hours"),
])
def test_bad_categories_are_refused(world, kwargs, field):
    data = {"code": "bikes", "name": "Bikes", "deadline_class": "ordinary"} | kwargs
    with pytest.raises(DomainError) as error:
        services.create_category(world.admin, world.x, **data)
    assert error.value.field == field


def test_a_category_cannot_default_to_an_organization_elsewhere(world):
    with pytest.raises(DomainError) as error:
        services.create_category(world.admin, world.x, code="bikes", name="Bikes", deadline_class="ordinary",
                                 default_org=world.rc_z)
    assert error.value.field == "default_org"


def test_an_inactive_category_cannot_be_reported_under(world):
    lift = world.categories["lift"]
    services.update_category(world.admin, lift, name=lift.name, deadline_class="emergency", respond_hours=None,
                             resolve_hours=None, default_org=world.pc_x, is_active=False)
    assert lift not in services.categories_for(world.x)
    assert lift in services.categories_for(world.x, active_only=False)
    with pytest.raises(DomainError) as error:
        gen_issue(world, category=lift)
    assert error.value.field == "category"


# --- reporting -------------------------------------------------------------------------------------------

def test_reporting_sets_deadlines_from_the_category_and_tells_the_handling_organization(world):
    issue = gen_issue(world, title="  电梯停运  ", description="3号楼电梯停在5层", building=world.bx,
                      household=world.hx, location_text="east lift", latitude="39.98", longitude="116.47",
                      now=T0)
    assert issue.title == "电梯停运" and issue.status == "submitted" and issue.source == "portal"
    assert issue.submitted_at == T0 and issue.respond_by == T0 + 2 * H and issue.resolve_by == T0 + 24 * H
    assert issue.handling_org == world.pc_x and issue.reporter == world.reporter and not issue.show_name
    assert str(issue.latitude) == "39.980000"
    assert kinds(issue) == ["reported"]
    assert notices(world.property_x, "issue_reported")
    assert not notices(world.chair_x, "issue_reported")
    assert audit("issue.reported")[0].actor_id == world.reporter.id


def test_a_unit_sets_its_building(world):
    issue = gen_issue(world, household=world.hx)
    assert issue.building == world.bx


@pytest.mark.parametrize("kwargs, field", [
    ({"title": "   "}, "title"),
    ({"title": "x" * (TITLE_MAX + 1)}, "title"),
    ({"description": "x" * 20000}, "description"),
    ({"building": "by"}, "building"),
    ({"household": "hy"}, "household"),
    ({"building": "bx", "household": "hz"}, "household"),
    ({"location_text": "x" * 121}, "location_text"),
    ({"latitude": "91", "longitude": "116"}, "latitude"),
    ({"latitude": "39", "longitude": "-181"}, "longitude"),
    ({"latitude": "north", "longitude": "116"}, "latitude"),
    ({"latitude": "39"}, "longitude"),
    ({"photos": [b"x"] * (MAX_PHOTOS + 1)}, "photos"),
])
def test_bad_reports_are_refused_and_write_nothing(world, kwargs, field):
    kwargs = {k: getattr(world, v) if k in ("building", "household") else v for k, v in kwargs.items()}
    with pytest.raises(DomainError) as error:
        gen_issue(world, **kwargs)
    assert error.value.field == field
    assert str(error.value.message)
    assert count(Issue) == 0 and count(IssueEvent) == 0 and not audit("issue.reported")


def test_a_description_at_the_limit_is_accepted(world):
    assert len(gen_issue(world, description="x" * DESCRIPTION_MAX).description) == DESCRIPTION_MAX


def test_a_category_of_another_community_is_refused(world):
    other = services.ensure_default_categories(world.y)[0]
    with pytest.raises(DomainError) as error:
        gen_issue(world, category=other)
    assert error.value.field == "category"


@pytest.mark.parametrize("who", ["resident", "stranger", "chair_x", "property_x", "official_a", "admin",
                                 "resident_y"])
def test_only_verified_residents_of_the_community_report(world, who):
    with pytest.raises(NotAllowed):
        gen_issue(world, reporter=getattr(world, who))
    assert count(Issue) == 0


def test_a_pending_resident_cannot_report(world):
    gen_residency(world.resident, household=world.hx2, status="pending")
    with pytest.raises(NotAllowed):
        gen_issue(world, reporter=world.resident)


def test_a_committee_member_reports_on_behalf_of_a_resident_registered_at_the_counter(world):
    world.reporter.consent_in_person = True
    issue = gen_issue(world, reporter=world.chair_x, on_behalf_of=world.reporter)
    assert issue.reporter == world.reporter
    entry = audit("issue.reported")[0]
    assert entry.actor_id == world.chair_x.id and entry.on_behalf_of_id == world.reporter.id
    assert issue.events[0].on_behalf_of_id == world.reporter.id


def test_acting_for_someone_without_their_consent_is_refused(world):
    with pytest.raises(NotAllowed):
        gen_issue(world, reporter=world.member_y, on_behalf_of=world.reporter)


def test_a_hotline_issue_has_contact_fields_and_no_account(world):
    issue = services.report_from_hotline(world.x, category=world.categories["water"], title="停水",
                                         description="整栋楼停水", reporter_name="王先生",
                                         reporter_phone="13512345678", now=T0)
    assert issue.reporter is None and issue.source == "hotline" and issue.reporter_name == "王先生"
    assert issue.resolve_by == T0 + 24 * H
    assert notices(world.property_x, "issue_reported")
    assert audit("issue.hotline_received")
    with pytest.raises(DomainError) as error:
        services.report_from_hotline(world.x, category=world.categories["water"], title="停水", description="",
                                     reporter_name="", reporter_phone="1")
    assert error.value.field == "reporter_name"


# --- me too ----------------------------------------------------------------------------------------------

def test_me_too_counts_once_per_person(world):
    issue = gen_issue(world)
    assert services.support_issue(world.neighbour, issue) is True
    assert services.support_issue(world.neighbour, issue) is False
    assert issue.support_count == 1 and services.has_supported(world.neighbour, issue)
    assert services.supported_issue_ids(world.neighbour, [issue.id, 999]) == {issue.id}
    assert count(IssueSupport) == 1


def test_a_double_click_racing_past_the_check_is_a_no_op(world, monkeypatch):
    issue = gen_issue(world)
    services.support_issue(world.neighbour, issue)
    monkeypatch.setattr(services.reporting, "has_supported", lambda user, issue: False)
    assert services.support_issue(world.neighbour, issue) is False
    assert issue.support_count == 1 and count(IssueSupport) == 1
    db.session.commit()  # the transaction survived the failed insert
    assert db.session.get(Issue, issue.id).support_count == 1


@pytest.mark.parametrize("who", ["reporter", "resident", "resident_y", "property_x", "chair_x", "admin"])
def test_me_too_refusals(world, who):
    gen_residency(world.chair_x, household=world.hy)  # a committee member of x living in y
    issue = gen_issue(world)
    with pytest.raises(NotAllowed):
        services.support_issue(getattr(world, who), issue)
    assert issue.support_count == 0


def test_no_me_too_on_a_closed_issue(world):
    issue = gen_issue(world)
    services.reject_issue(world.property_x, issue, "Not ours")
    with pytest.raises(NotAllowed):
        services.support_issue(world.neighbour, issue)


# --- handling --------------------------------------------------------------------------------------------

def test_accepting_is_the_first_response_and_tells_the_reporter_and_supporters(world):
    issue = gen_issue(world, now=T0)
    services.support_issue(world.neighbour, issue)
    services.accept_issue(world.property_x, issue, note="师傅马上到", now=T0 + H)
    assert issue.status == "accepted" and issue.first_response_at == T0 + H
    assert notices(world.reporter, "issue_accepted") and notices(world.neighbour, "issue_accepted")
    assert audit("issue.accepted")[0].actor_id == world.property_x.id
    assert issue.events[-1].body == "师傅马上到" and issue.events[-1].organization_id == world.pc_x.id


def test_the_whole_loop_records_exact_metrics(world):
    issue = gen_issue(world, now=T0)
    services.accept_issue(world.property_x, issue, now=T0 + H)
    services.start_work(world.property_x, issue, now=T0 + 2 * H)
    services.post_update(world.property_x, issue, "配件已订", now=T0 + 3 * H)
    services.resolve_issue(world.property_x, issue, "已修好", now=T0 + 5 * H)
    assert issue.status == "resolved" and issue.resolved_at == T0 + 5 * H
    assert issue.first_response_at == T0 + H
    assert notices(world.reporter, "issue_resolved")
    services.rate_issue(world.reporter, issue, resolved=True, satisfaction="basically_satisfied", comment="还行",
                        now=T0 + 6 * H)
    assert issue.status == "closed" and issue.closed_at == T0 + 6 * H and issue.rated_at == T0 + 6 * H
    assert (issue.rating_resolved, issue.rating_satisfaction, issue.rating_comment) == \
        (True, "basically_satisfied", "还行")
    assert kinds(issue) == ["reported", "accepted", "started", "update", "resolved", "rated"]
    assert {a.action for a in db.session.scalars(db.select(AuditEntry))} >= {
        "issue.reported", "issue.accepted", "issue.started", "issue.updated", "issue.resolved", "issue.rated"}


def test_a_public_update_is_a_first_response_but_an_internal_note_is_not(world):
    issue = gen_issue(world, now=T0)
    services.support_issue(world.neighbour, issue)
    note = services.post_update(world.property_x, issue, "内部：等配件", public=False, now=T0 + H)
    assert issue.first_response_at is None and not note.is_public
    assert not notices(world.reporter, "issue_update")
    services.post_update(world.property_x, issue, "正在联系维保单位", now=T0 + 2 * H)
    services.post_update(world.property_x, issue, "again", now=T0 + 3 * H)
    assert issue.first_response_at == T0 + 2 * H and issue.status == "submitted"
    assert notices(world.reporter, "issue_update") and notices(world.neighbour, "issue_update")
    assert [e.body for e in services.public_events(issue, world.neighbour)] == [None, "正在联系维保单位", "again"]
    assert len(services.public_events(issue, world.property_x)) == 4


def test_an_update_needs_words(world):
    issue = gen_issue(world)
    with pytest.raises(DomainError) as error:
        services.post_update(world.property_x, issue, "  ")
    assert error.value.field == "body"


def test_rejecting_is_a_first_response_with_a_reason(world):
    issue = gen_issue(world, now=T0)
    with pytest.raises(DomainError) as error:
        services.reject_issue(world.property_x, issue, "")
    assert error.value.field == "reason"
    services.reject_issue(world.property_x, issue, "属于市政管网，已转自来水公司", now=T0 + H)
    assert issue.status == "rejected" and issue.first_response_at == T0 + H
    assert notices(world.reporter, "issue_rejected")[0].payload["reason"].startswith("属于")
    with pytest.raises(DomainError):
        services.accept_issue(world.property_x, issue)


def test_first_response_is_stored_once(world):
    issue = gen_issue(world, now=T0)
    services.post_update(world.property_x, issue, "收到", now=T0 + H)
    services.accept_issue(world.property_x, issue, now=T0 + 2 * H)
    services.reject_issue(world.property_x, issue, "误报", now=T0 + 3 * H)
    assert issue.first_response_at == T0 + H


def test_a_handover_keeps_the_first_receiver_accountable_until_accepted(world):
    issue = gen_issue(world, category="parking", now=T0)
    assert issue.handling_org == world.dept_a
    with pytest.raises(DomainError) as error:
        services.hand_over(world.department_a, issue, world.pc_x, " ")
    assert error.value.field == "reason"
    services.hand_over(world.department_a, issue, world.pc_x, "小区内部道路归物业管理", now=T0 + H)
    assert issue.handling_org == world.dept_a and issue.handover_org == world.pc_x
    assert notices(world.property_x, "issue_handed_over")
    assert issue.first_response_at is None
    assert services.due_for(world.property_x)[0] == [issue]
    assert services.due_for(world.department_a)[0] == [issue]
    with pytest.raises(NotAllowed):
        services.accept_handover(world.department_a, issue)
    services.accept_handover(world.property_x, issue, now=T0 + 2 * H)
    assert issue.handling_org == world.pc_x and issue.handover_org is None
    assert notices(world.department_a, "issue_taken_over") and notices(world.reporter, "issue_handover_accepted")
    assert services.due_for(world.department_a)[0] == []
    assert not services.permissions.can_handle_issue(world.department_a, issue)
    assert kinds(issue) == ["reported", "handed_over", "handover_accepted"]
    assert audit("issue.handover_accepted")


def test_a_handover_goes_only_to_another_organization_nearby(world):
    issue = gen_issue(world)
    for org in (world.pc_x, world.rc_z, world.office_b, None):
        with pytest.raises(DomainError) as error:
            services.hand_over(world.property_x, issue, org, "why")
        assert error.value.field == "organization"
    targets = services.handover_targets(issue)
    assert world.rc_x in targets and world.dept_a in targets and world.office_a in targets
    assert world.pc_x not in targets and world.rc_z not in targets and world.rc_y not in targets


def test_no_handover_to_accept_is_refused(world):
    issue = gen_issue(world)
    with pytest.raises(NotAllowed):
        services.accept_handover(world.property_x, issue)


def test_resolving_needs_an_accepted_issue_and_a_note(world):
    issue = gen_issue(world)
    with pytest.raises(DomainError) as error:
        services.resolve_issue(world.property_x, issue, "done")
    assert error.value.field == "status"
    services.accept_issue(world.property_x, issue)
    with pytest.raises(DomainError) as error:
        services.resolve_issue(world.property_x, issue, "")
    assert error.value.field == "note"


@pytest.mark.parametrize("step", ["start", "update", "resolve", "reject", "hand_over", "accept", "merge"])
def test_closed_issues_take_no_more_handling(world, step):
    issue = gen_issue(world)
    other = gen_issue(world, title="other")
    services.reject_issue(world.property_x, issue, "no")
    call = {
        "start": lambda: services.start_work(world.property_x, issue),
        "update": lambda: services.post_update(world.property_x, issue, "x"),
        "resolve": lambda: services.resolve_issue(world.property_x, issue, "x"),
        "reject": lambda: services.reject_issue(world.property_x, issue, "x"),
        "hand_over": lambda: services.hand_over(world.property_x, issue, world.rc_x, "x"),
        "accept": lambda: services.accept_issue(world.property_x, issue),
        "merge": lambda: services.merge_duplicate(world.property_x, issue, other),
    }[step]
    with pytest.raises(DomainError):
        call()
    assert issue.status == "rejected"


def test_starting_work_needs_an_accepted_issue(world):
    issue = gen_issue(world)
    with pytest.raises(DomainError):
        services.start_work(world.property_x, issue)
    services.accept_issue(world.property_x, issue)
    services.start_work(world.property_x, issue)
    with pytest.raises(DomainError):
        services.start_work(world.property_x, issue)
    with pytest.raises(DomainError):
        services.accept_issue(world.property_x, issue)


def test_merging_moves_supporters_once_and_points_the_reporter_to_the_original(world):
    original = gen_issue(world, title="地下室漏水", reporter=world.neighbour)
    copy = gen_issue(world, title="地下室又漏水了")
    third = gen_user()
    gen_residency(third, household=world.hx)
    fourth = gen_user()
    gen_residency(fourth, household=world.hx2)
    services.support_issue(third, original)
    services.support_issue(third, copy)
    services.support_issue(fourth, copy)
    services.merge_duplicate(world.property_x, copy, original)
    assert copy.status == "duplicate" and copy.duplicate_of == original and copy.support_count == 0
    supporters = {s.user_id for s in db.session.scalars(db.select(IssueSupport))}
    assert supporters == {third.id, fourth.id, world.reporter.id}
    assert original.support_count == 3
    note = notices(world.reporter, "issue_merged")[0]
    assert note.payload["issue_id"] == original.id and note.payload["into_title"] == "地下室漏水"
    assert notices(fourth, "issue_merged")
    assert copy.first_response_at is not None


def test_merging_into_itself_another_community_or_a_closed_issue_is_refused(world):
    issue = gen_issue(world)
    elsewhere = gen_issue(world, reporter=world.resident_y, community=world.y)
    closed = gen_issue(world, title="closed")
    services.reject_issue(world.property_x, closed, "no")
    for into in (issue, elsewhere, closed, None):
        with pytest.raises(DomainError) as error:
            services.merge_duplicate(world.property_x, issue, into)
        assert error.value.field == "into"


HANDLING = {
    "accept": lambda w, i: services.accept_issue(w.actor, i),
    "start": lambda w, i: services.start_work(w.actor, i),
    "update": lambda w, i: services.post_update(w.actor, i, "x"),
    "resolve": lambda w, i: services.resolve_issue(w.actor, i, "x"),
    "reject": lambda w, i: services.reject_issue(w.actor, i, "x"),
    "hand_over": lambda w, i: services.hand_over(w.actor, i, w.rc_x, "x"),
    "merge": lambda w, i: services.merge_duplicate(w.actor, i, w.other),
}


@pytest.mark.parametrize("who", ["reporter", "neighbour", "member_x", "member_y", "official_b", "department_a",
                                 "stranger", "anonymous"])
def test_handling_is_refused_to_everyone_but_handlers(world, who):
    from flask_login import AnonymousUserMixin
    issue = gen_issue(world)
    accepted = gen_issue(world, title="accepted")
    services.accept_issue(world.property_x, accepted)
    world.other = gen_issue(world, title="other")
    world.actor = AnonymousUserMixin() if who == "anonymous" else getattr(world, who)
    for step, act in HANDLING.items():
        target = accepted if step in ("start", "resolve") else issue
        with pytest.raises(NotAllowed):
            act(world, target)
    assert (issue.status, accepted.status) == ("submitted", "accepted") and issue.handover_org is None
    assert len(issue.events) == 1 and [n.event for n in notices(world.reporter)] == ["issue_accepted"]


@pytest.mark.parametrize("who", ["property_x", "official_a", "admin"])
def test_handlers_officials_of_the_sub_district_and_admins_handle(world, who):
    world.actor = getattr(world, who)
    for step, act in HANDLING.items():
        issue = gen_issue(world, title=step)
        world.other = gen_issue(world, title=f"{step} other")
        if step in ("start", "resolve"):
            services.accept_issue(world.property_x, issue)
        act(world, issue)
        assert issue.events[-1].actor_id == world.actor.id


def test_a_former_member_of_the_handling_organization_no_longer_handles(world):
    from datetime import date

    from portal.committees.models import OrgMembership
    issue = gen_issue(world)
    membership = db.session.scalar(db.select(OrgMembership).where(OrgMembership.user_id == world.property_x.id))
    membership.end_date = date(2000, 1, 1)
    membership.start_date = date(1999, 1, 1)
    with pytest.raises(NotAllowed):
        services.accept_issue(world.property_x, issue)


# --- rating ----------------------------------------------------------------------------------------------

def resolved_issue(world, now=T0):
    issue = gen_issue(world, category="rubbish", now=now)
    services.accept_issue(world.property_x, issue, now=now + H)
    services.resolve_issue(world.property_x, issue, "已清运", now=now + 2 * H)
    return issue


def test_dissatisfied_reopens_once_with_a_new_resolve_by_then_closes(world):
    issue = resolved_issue(world)
    services.rate_issue(world.reporter, issue, resolved=False, satisfaction="dissatisfied", comment="还是很脏",
                        now=T0 + 10 * H)
    assert issue.status == "reopened" and issue.reopen_count == 1 and issue.closed_at is None
    assert issue.resolve_by == T0 + 10 * H + 7 * 24 * H and issue.resolve_warned == 0
    assert issue.respond_by == T0 + 24 * H and issue.first_response_at == T0 + H
    assert issue.handling_org == world.pc_x and notices(world.property_x, "issue_reopened")
    assert not services.permissions.can_rate_issue(world.reporter, issue)
    services.accept_issue(world.property_x, issue, now=T0 + 11 * H)
    assert issue.first_response_at == T0 + H
    services.resolve_issue(world.property_x, issue, "再次清运", now=T0 + 20 * H)
    assert issue.resolved_at == T0 + 20 * H
    services.rate_issue(world.reporter, issue, resolved=True, satisfaction="dissatisfied", now=T0 + 21 * H)
    assert issue.status == "closed" and issue.reopen_count == 1 and issue.closed_at == T0 + 21 * H
    assert issue.rating_satisfaction == "dissatisfied" and issue.rating_resolved is True
    with pytest.raises(NotAllowed):
        services.rate_issue(world.reporter, issue, resolved=True, satisfaction="satisfied")


@pytest.mark.parametrize("satisfaction", ["satisfied", "basically_satisfied"])
def test_satisfied_answers_close_the_issue(world, satisfaction):
    issue = resolved_issue(world)
    services.rate_issue(world.reporter, issue, resolved=True, satisfaction=satisfaction, now=T0 + 3 * H)
    assert issue.status == "closed" and issue.rating_satisfaction == satisfaction


@pytest.mark.parametrize("who", ["neighbour", "property_x", "admin", "official_a", "chair_x"])
def test_only_the_reporter_rates(world, who):
    issue = resolved_issue(world)
    with pytest.raises(NotAllowed):
        services.rate_issue(getattr(world, who), issue, resolved=True, satisfaction="satisfied")
    assert issue.rated_at is None


def test_an_unresolved_issue_cannot_be_rated(world):
    issue = gen_issue(world)
    with pytest.raises(NotAllowed):
        services.rate_issue(world.reporter, issue, resolved=True, satisfaction="satisfied")


@pytest.mark.parametrize("kwargs, field", [
    ({"resolved": None}, "resolved"),
    ({"satisfaction": "meh"}, "satisfaction"),
    ({"comment": "x" * 501}, "comment"),
])
def test_bad_ratings_are_refused(world, kwargs, field):
    issue = resolved_issue(world)
    with pytest.raises(DomainError) as error:
        services.rate_issue(world.reporter, issue, **({"resolved": True, "satisfaction": "satisfied"} | kwargs))
    assert error.value.field == field and issue.status == "resolved" and issue.rated_at is None


# --- time ------------------------------------------------------------------------------------------------

def test_an_unrated_issue_closes_seven_days_after_resolution(world):
    issue = resolved_issue(world)
    resolved_at = issue.resolved_at
    assert not services.apply_due(issue, now=resolved_at + 7 * 24 * H - timedelta(seconds=1))
    assert services.apply_due(issue, now=resolved_at + 8 * 24 * H)
    assert issue.status == "closed" and issue.closed_at == resolved_at + 7 * 24 * H and issue.rated_at is None
    assert not services.apply_due(issue, now=resolved_at + 9 * 24 * H)
    assert kinds(issue)[-1] == "closed_unrated" and audit("issue.closed_unrated")


def test_respond_warnings_at_75_percent_and_at_the_deadline_each_once(world):
    issue = gen_issue(world, now=T0)  # lift: respond within 2 h, resolve within 24 h
    assert not services.apply_due(issue, now=T0 + timedelta(minutes=89))
    assert services.apply_due(issue, now=T0 + timedelta(minutes=90))
    assert issue.respond_warned == 1 and issue.resolve_warned == 0
    assert not services.apply_due(issue, now=T0 + timedelta(minutes=100))
    assert services.apply_due(issue, now=T0 + 2 * H)
    assert issue.respond_warned == 2 and services.is_overdue(issue, now=T0 + 2 * H + timedelta(seconds=1))
    # 75 %: the handlers; the deadline itself: the handlers and the sub-district's officials (#9).
    warnings = notices(world.property_x, "issue_deadline_warning") + notices(world.property_x, "issue_deadline_missed")
    assert len(warnings) == 2 and {w.payload["deadline"] for w in warnings} == {"respond"}
    assert not notices(world.official_a, "issue_deadline_warning")
    assert len(notices(world.official_a, "issue_deadline_missed")) == 1
    assert not notices(world.official_b, "issue_deadline_missed")
    assert not notices(world.reporter, "issue_deadline_warning")
    assert not notices(world.reporter, "issue_deadline_missed")
    assert all(not e.is_public for e in issue.events if e.kind == "deadline_warning")


def test_resolve_warnings_follow_the_first_response(world):
    issue = gen_issue(world, now=T0)
    services.accept_issue(world.property_x, issue, now=T0 + H)
    assert services.next_deadline(issue) == T0 + 24 * H
    assert not services.apply_due(issue, now=T0 + 17 * H)
    assert services.apply_due(issue, now=T0 + 18 * H) and issue.resolve_warned == 1 and issue.respond_warned == 0
    assert services.apply_due(issue, now=T0 + 30 * H) and issue.resolve_warned == 2
    assert not services.apply_due(issue, now=T0 + 40 * H)


def test_a_late_check_sends_one_warning_for_the_deadline_not_two(world):
    issue = gen_issue(world, now=T0)
    services.apply_due(issue, now=T0 + 100 * H)
    assert issue.respond_warned == 2 and issue.resolve_warned == 2
    assert len(notices(world.property_x, "issue_deadline_missed")) == 2  # one per deadline


def test_a_reopened_issue_is_warned_again_on_its_new_resolve_by(world):
    issue = resolved_issue(world)
    services.apply_due(issue, now=T0 + 3 * H)
    services.rate_issue(world.reporter, issue, resolved=False, satisfaction="dissatisfied", now=T0 + 3 * H)
    new_start = T0 + 3 * H
    assert not services.apply_due(issue, now=new_start + 125 * H)
    assert services.apply_due(issue, now=new_start + 126 * H) and issue.resolve_warned == 1


def test_run_due_applies_the_same_steps_to_every_issue(world):
    assert {"issues_close_unrated", "issues_deadline_warnings"} <= set(DUE_STEPS)
    fresh = gen_issue(world, now=T0)
    old = resolved_issue(world, now=T0 - 30 * 24 * H)
    calm = gen_issue(world, category="facilities", title="长期问题", now=T0)
    results = run_due(T0 + 90 * timedelta(minutes=1))
    assert results["issues_close_unrated"] == 1 and results["issues_deadline_warnings"] == 1
    fresh, old, calm = (db.session.get(Issue, i.id) for i in (fresh, old, calm))
    assert old.status == "closed" and fresh.respond_warned == 1 and calm.respond_warned == 0
    # Every step is idempotent: run again at the same moment, none finds anything left to do (the month's
    # forecasts and the night's category models included).
    again = run_due(T0 + 90 * timedelta(minutes=1))
    assert set(again) == set(results) and {name: n for name, n in again.items() if n} == {}


def test_overdue_and_next_deadline(world):
    issue = gen_issue(world, now=T0)
    assert services.next_deadline(issue) == T0 + 2 * H
    assert not services.is_overdue(issue, now=T0 + H)
    assert services.is_overdue(issue, now=T0 + 3 * H)
    services.accept_issue(world.property_x, issue, now=T0 + 3 * H)
    assert not services.is_overdue(issue, now=T0 + 4 * H)
    services.reject_issue(world.property_x, issue, "no", now=T0 + 30 * H)
    assert services.next_deadline(issue) is None and not services.is_overdue(issue, now=T0 + 40 * H)


# --- lists -----------------------------------------------------------------------------------------------

def test_the_community_list_filters_sorts_and_pages(world):
    issues = [gen_issue(world, title=f"问题{n}", category="rubbish" if n % 2 else "lift",
                        building=world.bx if n % 3 == 0 else None, now=T0 + n * H) for n in range(7)]
    services.support_issue(world.neighbour, issues[2])
    services.accept_issue(world.property_x, issues[1], now=T0 + 8 * H)
    seen, after = [], None
    while True:
        page, after = services.community_issues(world.x, None, limit=3, after=after)
        seen += page
        if after is None:
            break
    assert seen == issues[::-1]
    assert services.community_issues(world.x, None, sort="supported", limit=1)[0] == [issues[2]]
    assert services.community_issues(world.x, None, status="accepted")[0] == [issues[1]]
    assert len(services.community_issues(world.x, None, status="open")[0]) == 7
    assert services.community_issues(world.x, None, category=world.categories["lift"])[0] == issues[6::-2]
    assert services.community_issues(world.x, None, building=world.bx.id)[0] == [issues[6], issues[3], issues[0]]
    overdue = services.community_issues(world.x, None, overdue=True, now=T0 + 5 * H)[0]
    assert set(overdue) == {issues[0], issues[2]}  # lifts respond within 2 h; issues[1] is a rubbish one
    due = services.community_issues(world.x, None, sort="due", limit=100, now=T0)[0]
    assert due[0] == issues[0] and due[-1] == issues[1]  # issues[1] responded: its next deadline is 7 days off
    page1, cursor = services.community_issues(world.x, None, sort="due", limit=4)
    page2, cursor2 = services.community_issues(world.x, None, sort="due", limit=4, after=cursor)
    assert page1 + page2 == due and cursor2 is None
    assert services.community_issues(world.y, None)[0] == []


def test_bad_list_arguments_are_refused(world):
    for kwargs in ({"status": "lost"}, {"sort": "random"}, {"after": "not-a-cursor"}):
        with pytest.raises(DomainError):
            services.community_issues(world.x, None, **kwargs)


def test_a_members_only_community_list_is_closed_to_strangers(world):
    world.x.members_only = True
    with pytest.raises(NotAllowed):
        services.community_issues(world.x, None)
    with pytest.raises(NotAllowed):
        services.community_issues(world.x, world.stranger)
    assert services.community_issues(world.x, world.reporter)[0] == []


def test_my_issues_are_those_i_reported_or_support(world):
    mine = gen_issue(world, now=T0)
    theirs = gen_issue(world, reporter=world.neighbour, title="their", now=T0 + H)
    gen_issue(world, reporter=world.neighbour, title="not mine", now=T0 + 2 * H)
    services.support_issue(world.reporter, theirs)
    assert services.my_issues(world.reporter)[0] == [theirs, mine]
    page, cursor = services.my_issues(world.reporter, limit=1)
    assert page == [theirs] and services.my_issues(world.reporter, limit=1, after=cursor) == ([mine], None)
    assert services.my_issues(None) == ([], None)


def test_due_for_me_lists_open_issues_of_my_organizations_by_deadline(world):
    lift = gen_issue(world, now=T0)
    rubbish = gen_issue(world, category="rubbish", title="垃圾", now=T0 - H)
    noise = gen_issue(world, category="noise", title="噪音", now=T0)
    elsewhere = gen_issue(world, reporter=world.resident_y, community=world.y, category="lift", now=T0)
    done = gen_issue(world, title="done", now=T0)
    services.reject_issue(world.property_x, done, "no")
    assert services.due_for(world.property_x)[0] == [lift, rubbish]
    assert services.due_for(world.department_a)[0] == [noise]
    assert services.due_for(world.official_a)[0] == [lift, elsewhere, rubbish, noise]
    assert services.due_for(world.official_b)[0] == []
    assert services.due_for(world.reporter) == ([], None)
    _page, cursor = services.due_for(world.official_a, limit=2)
    assert services.due_for(world.official_a, limit=2, after=cursor) == ([rubbish, noise], None)


def list_pages(world):
    db.session.expire_all()
    items, _ = services.community_issues(world.x, world.reporter, limit=50)
    shown = [(i.category.name, i.building and i.building.name, i.handling_org and i.handling_org.name,
              i.reporter and i.reporter.display_name, i.community.slug) for i in items]  # what a list row shows
    services.supported_issue_ids(world.reporter, [i.id for i in items])
    items, _ = services.due_for(world.property_x, limit=50)
    shown += [(i.category.name, i.building and i.building.name, i.handling_org.name, i.reporter.display_name)
              for i in items]
    return shown


def test_the_lists_run_a_constant_number_of_queries(world):
    def make(n):
        for k in range(n):
            gen_issue(world, title=f"问题{k}", building=world.bx if k % 2 else None,
                      reporter=world.reporter if k % 3 else world.neighbour, category="lift" if k % 2 else "leak")
        db.session.commit()
    make(5)
    few = count_statements(lambda: list_pages(world))
    make(35)
    many = count_statements(lambda: list_pages(world))
    assert few == many
    assert len(services.community_issues(world.x, None, limit=50)[0]) == 40


def test_handlers_see_who_reported_and_the_public_only_when_allowed(world):
    issue = gen_issue(world)
    assert services.reporter_name_for(None, issue) is None
    assert services.reporter_name_for(world.neighbour, issue) is None
    assert services.reporter_name_for(world.property_x, issue) == "Reporter P"
    assert services.reporter_phone_for(world.property_x, issue) == "138****0001"
    assert services.reporter_phone_for(world.reporter, issue) == "13811110001"
    assert services.reporter_phone_for(world.neighbour, issue) == ""
    issue.show_name = True
    assert services.reporter_name_for(None, issue) == "Reporter P"
    hotline = services.report_from_hotline(world.x, category=world.categories["water"], title="停水",
                                           description="", reporter_name="王先生", reporter_phone="13512345678")
    assert services.reporter_phone_for(world.property_x, hotline) == "135****5678"  # in full: issues.caller
    assert services.reporter_name_for(world.neighbour, hotline) is None


def test_issue_in_finds_only_the_communitys_own(world):
    issue = gen_issue(world)
    assert services.issue_in(world.x, issue.id) == issue
    assert services.issue_in(world.y, issue.id) is None


def test_notification_links_point_at_the_issue(app, world):
    from portal.notifications.services import link_for, message_for
    issue = gen_issue(world)
    note = notices(world.property_x, "issue_reported")[0]
    with app.test_request_context():
        assert message_for(note) == "New issue in Huajiadi: “Lift stuck on floor 3”."
        assert link_for(note).endswith(f"/c/x/issues/{issue.id}")


# --- photos and search terms (helper B's modules) -----------------------------------------------------------

def tiny_png() -> bytes:
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_report_with_a_tiny_png_stores_a_photo(world):
    from portal.issues import photos
    from portal.issues.models import IssuePhoto
    issue = gen_issue(world, photos=[tiny_png()])
    photo = db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.issue_id == issue.id))
    assert photo.event == issue.events[0] and photo.uploaded_by_id == world.reporter.id
    assert (photo.width, photo.height) == (8, 6)
    assert photos.path_for(photo, 400).exists()


def test_a_renamed_pdf_among_the_photos_refuses_the_whole_report(world):
    from portal.issues.models import IssuePhoto
    with pytest.raises(DomainError) as error:
        gen_issue(world, photos=[tiny_png(), b"%PDF-1.4 not a photo"])
    assert error.value.field == "photos"
    assert count(Issue) == 0 and count(IssuePhoto) == 0


def test_updates_and_resolutions_carry_photos(world):
    from portal.issues.models import IssuePhoto
    issue = gen_issue(world)
    services.accept_issue(world.property_x, issue)
    update = services.post_update(world.property_x, issue, "施工中", photos=[tiny_png()])
    services.resolve_issue(world.property_x, issue, "修好了", photos=[tiny_png(), tiny_png()])
    assert len(update.photos) == 1
    assert count(IssuePhoto) == 3 and issue.events[-1].kind == "resolved" and len(issue.events[-1].photos) == 2


def test_reported_issues_are_indexed_for_similar_lookups(world):
    from portal.issues import similar
    issue = gen_issue(world, title="地下室漏水")
    assert similar.similar_open_issues(world.x, "地下室又漏水了") == [issue]
