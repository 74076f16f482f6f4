"""Issue #9 §1: each event reaches exactly the people it concerns, once, in the right group."""
from datetime import timedelta

from portal.extensions import db
from portal.notifications.models import Notification
from portal.notifications.services import EVENTS, message_for
from tests.issues import T0, gen_issue
from tests.issues.conftest import world as issues_world  # noqa: F401  (the worlds the tests build on)
from tests.proposals import gen_comment, gen_in_deliberation, gen_proposal, gen_supports
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes import gen_ballot, vote
from tests.votes.conftest import world as votes_world  # noqa: F401

H = timedelta(hours=1)


def rows(event, obj=None):
    query = db.select(Notification).where(Notification.event == event)
    if obj is not None:
        query = query.where(Notification.object_type == type(obj).__tablename__, Notification.object_id == obj.id)
    return db.session.scalars(query.order_by(Notification.id)).all()


def told(event, obj=None) -> set[int]:
    found = rows(event, obj)
    ids = [n.recipient_id for n in found]
    assert len(ids) == len(set(ids)), f"someone heard of {event} twice"
    return set(ids)


def ids(*people) -> set[int]:
    return {p.id for p in people}


# --- issues --------------------------------------------------------------------------------------------------

def test_a_new_issue_reaches_the_handling_organization_only(issues_world):
    w = issues_world
    issue = gen_issue(w, category="leak", now=T0)
    assert told("issue_reported", issue) == ids(w.property_x)
    assert EVENTS["issue_reported"]["group"] == "handling"
    assert "urgent" not in rows("issue_reported")[0].payload


def test_handler_facing_events_of_an_emergency_issue_are_urgent(issues_world):
    w = issues_world
    lift = gen_issue(w, category="lift", now=T0)  # deadline class "emergency"
    [note] = rows("issue_reported", lift)
    assert note.payload["urgent"] is True
    from portal.issues import services
    services.hand_over(w.property_x, lift, w.dept_a, "Needs the department", now=T0 + H)
    assert all(n.payload.get("urgent") is True for n in rows("issue_handed_over", lift))
    services.apply_due(lift, now=T0 + 2 * H)
    assert all(n.payload.get("urgent") is True for n in rows("issue_deadline_missed", lift))
    # What the reporter hears is not urgent: quiet hours apply to it.
    services.accept_issue(w.property_x, lift, now=T0 + 3 * H)
    assert all("urgent" not in n.payload for n in rows("issue_accepted", lift))


def test_reporter_and_me_too_supporters_hear_accept_update_resolve_but_not_internal_notes(issues_world):
    w = issues_world
    from portal.issues import services
    issue = gen_issue(w, category="leak", now=T0)
    services.support_issue(w.neighbour, issue, now=T0)
    services.accept_issue(w.property_x, issue, now=T0 + H)
    assert told("issue_accepted", issue) == ids(w.reporter, w.neighbour)
    services.post_update(w.property_x, issue, "Plumber booked for Tuesday, call 138 0000 0000", now=T0 + 2 * H)
    assert told("issue_update", issue) == ids(w.reporter, w.neighbour)
    [update] = rows("issue_update", issue)[:1]
    assert "Plumber" not in message_for(update)  # words that moderators may hide are never quoted
    services.post_update(w.property_x, issue, "Internal: key at the guard house", public=False, now=T0 + 3 * H)
    assert told("issue_internal_note", issue) == set()  # the only handler wrote it
    services.resolve_issue(w.property_x, issue, "Pipe replaced", now=T0 + 4 * H)
    assert told("issue_resolved", issue) == ids(w.reporter, w.neighbour)
    for event in ("issue_accepted", "issue_update", "issue_resolved"):
        assert w.property_x.id not in told(event, issue)
        assert EVENTS[event]["group"] == "my_issues"


def test_a_merged_issue_tells_its_reporter_and_supporters(issues_world):
    w = issues_world
    from portal.issues import services
    first = gen_issue(w, category="leak", title="Leak in the basement", now=T0)
    again = gen_issue(w, category="leak", reporter=w.neighbour, title="Water in the basement", now=T0 + H)
    services.merge_duplicate(w.property_x, again, first, now=T0 + 2 * H)
    assert told("issue_merged", again) == ids(w.neighbour)


def test_a_handover_reaches_the_receiver_then_the_reporter_and_the_previous_handler(issues_world):
    w = issues_world
    from portal.issues import services
    issue = gen_issue(w, category="parking", now=T0)  # routed to the department
    assert told("issue_reported", issue) == ids(w.department_a)
    services.hand_over(w.department_a, issue, w.pc_x, "Inside the compound", now=T0 + H)
    assert told("issue_handed_over", issue) == ids(w.property_x)
    services.accept_handover(w.property_x, issue, now=T0 + 2 * H)
    assert told("issue_handover_accepted", issue) == ids(w.reporter)
    assert told("issue_taken_over", issue) == ids(w.department_a)
    assert EVENTS["issue_handed_over"]["group"] == EVENTS["issue_taken_over"]["group"] == "handling"


def test_deadline_warning_goes_to_the_handler_and_a_missed_deadline_also_to_the_officials(issues_world):
    w = issues_world
    from portal.issues import services
    issue = gen_issue(w, category="leak", now=T0)  # ordinary: respond within 24 h
    services.apply_due(issue, now=T0 + 18 * H)
    assert told("issue_deadline_warning", issue) == ids(w.property_x)
    assert told("issue_deadline_missed", issue) == set()
    services.apply_due(issue, now=T0 + 24 * H)
    assert told("issue_deadline_missed", issue) == ids(w.property_x, w.official_a)
    services.apply_due(issue, now=T0 + 25 * H)  # once each
    assert len(rows("issue_deadline_missed", issue)) == 2
    assert w.official_b.id not in told("issue_deadline_missed") and w.reporter.id not in told("issue_deadline_missed")


def test_the_due_step_warns_through_run_due(issues_world):
    w = issues_world
    from portal.due import run_due
    issue = gen_issue(w, category="leak", now=T0)
    db.session.commit()
    run_due(T0 + 25 * H)
    assert told("issue_deadline_missed", issue) == ids(w.property_x, w.official_a)
    run_due(T0 + 26 * H)
    assert len(rows("issue_deadline_missed", issue)) == 2


# --- proposals -------------------------------------------------------------------------------------------------

def test_threshold_reaches_committee_author_and_supporters(proposals_world):
    w = proposals_world
    proposal = gen_in_deliberation(w)
    assert told("proposals.threshold_reached", proposal) == \
        ids(w.chair_x, w.member_x, w.reporter, *w.supporters[:3])


def test_moving_to_consultation_and_withdrawing_tell_author_and_supporters_once(proposals_world):
    w = proposals_world
    from portal.proposals import services
    proposal = gen_proposal(w)
    gen_supports(w, proposal, 2)
    services.move_to_deliberation(w.chair_x, proposal, "Urgent for the elderly")
    assert told("proposals.deliberation", proposal) == ids(w.reporter, *w.supporters[:2])
    services.withdraw(w.reporter, proposal, "other", "We found another way")
    assert told("proposals.withdrawn", proposal) == ids(*w.supporters[:2])


def test_an_unsupported_proposal_archived_tells_author_and_its_few_supporters(proposals_world):
    w = proposals_world
    from portal.proposals import services
    proposal = gen_proposal(w, now=T0)
    gen_supports(w, proposal, 1, now=T0 + H)
    services.apply_due(proposal, now=T0 + timedelta(days=31))
    assert proposal.status == "archived"
    assert told("proposals.archived", proposal) == ids(w.reporter, w.supporters[0])


def test_a_committee_ballot_tells_followers_it_goes_to_a_vote_and_how_it_ended(votes_world):
    w = votes_world
    from portal.votes import services
    ballot = gen_ballot(w, "committee")
    proposal = ballot.proposal
    followers = ids(w.reporter, *w.supporters[:3])
    assert told("votes.opened", ballot) == ids(w.chair_x, w.member_x)  # the electorate
    assert told("proposals.voting", proposal) == followers  # not in the electorate: told by the proposal
    vote(w.chair_x, ballot, "yes")
    vote(w.member_x, ballot, "yes")
    services.close(w.chair_x, ballot, "Everyone voted")
    assert told("votes.closed", ballot) == ids(w.chair_x, w.member_x)
    assert told("proposals.passed", proposal) == followers
    assert told("proposals.rejected", proposal) == set()


def test_a_residents_ballot_reaches_followers_through_the_ballot_only(votes_world):
    w = votes_world
    ballot = gen_ballot(w, "residents")
    proposal = ballot.proposal
    electorate = told("votes.opened", ballot)
    assert ids(w.reporter, *w.supporters[:3]) <= electorate
    assert w.child.id not in electorate and w.resident_y.id not in electorate
    assert told("proposals.voting", proposal) == set()  # no second notice of the same step


def test_a_notice_period_starting_reaches_the_communitys_residents_once(votes_world):
    w = votes_world
    from portal.notices.models import Notice
    from portal.votes import services
    ballot = gen_ballot(w, "committee")
    vote(w.chair_x, ballot, "yes")
    vote(w.member_x, ballot, "yes")
    services.close(w.chair_x, ballot, "Everyone voted")
    notice = db.session.scalar(db.select(Notice).where(Notice.proposal_id == ballot.proposal_id))
    reached = told("notices.started", notice)
    residents = ids(w.reporter, w.neighbour, w.child, *w.supporters)
    assert residents <= reached
    assert ids(w.chair_x, w.member_x) <= reached  # they voted on it
    assert w.resident_y.id not in reached and w.pending.id not in reached and w.member_y.id not in reached
    assert not rows("notices.started", ballot)  # about the notice, not the ballot


def test_evaluated_tells_author_and_supporters(votes_world):
    w = votes_world
    from portal.proposals import services
    proposal = gen_in_deliberation(w)
    proposal.status = "implementing"
    services.mark_evaluated(proposal, T0)
    assert told("proposals.evaluated", proposal) == ids(w.reporter, *w.supporters[:3])


def test_a_reply_reaches_the_comment_author_and_points_at_the_reply(proposals_world):
    w = proposals_world
    proposal = gen_in_deliberation(w)
    parent = gen_comment(w, proposal, author=w.neighbour)
    reply = gen_comment(w, proposal, author=w.supporters[5], parent=parent, body="I agree, and the stairs…")
    assert told("proposals.reply", reply) == ids(w.neighbour)
    gen_comment(w, proposal, author=w.neighbour, parent=parent, body="Thanks")  # own thread: nobody told
    assert len(rows("proposals.reply")) == 1


# --- moderation, meetings ---------------------------------------------------------------------------------------

def test_moderators_hear_of_the_first_report_and_the_author_of_hiding_with_the_reason(proposals_world, app):
    w = proposals_world
    from portal.moderation import services as moderation
    proposal = gen_in_deliberation(w)
    comment = gen_comment(w, proposal, author=w.neighbour)
    moderation.flag(w.supporters[0], "comment", comment, "spam")
    moderation.flag(w.supporters[1], "comment", comment, "spam")
    assert told("moderation.reported", comment) == ids(w.chair_x, w.member_x)
    moderation.hide(w.chair_x, "comment", comment, "Personal attack")
    [hidden] = rows("moderation.hidden", comment)
    assert hidden.recipient_id == w.neighbour.id
    with app.test_request_context():
        assert "Personal attack" in message_for(hidden)
    moderation.restore(w.member_x, "comment", comment)
    assert told("moderation.restored", comment) == ids(w.neighbour)


def test_a_meeting_scheduled_reaches_the_committee_but_not_the_one_who_scheduled_it(issues_world):
    w = issues_world
    from portal.clock import utcnow
    from portal.committees import meetings
    meeting = meetings.schedule_meeting(w.chair_x, w.rc_x, title="Monthly meeting",
                                        starts_at=utcnow() + timedelta(days=3), place="Community hall")
    assert told("meetings.scheduled", meeting) == ids(w.member_x)


def test_every_event_has_a_known_group_and_a_message(app):
    from portal.notifications.services import GROUPS
    assert "votes.closing_soon" in EVENTS and "actions.overdue" in EVENTS  # the reminders' events are there
    for event, spec in EVENTS.items():
        assert spec["group"] in GROUPS, event
        assert str(spec["message"]), event


def test_a_reply_notice_stops_quoting_a_proposal_once_it_is_hidden(proposals_world, app):
    w = proposals_world
    from portal.moderation import services as moderation
    proposal = gen_in_deliberation(w, title="Evict the family in 0302")
    parent = gen_comment(w, proposal, author=w.neighbour)
    reply = gen_comment(w, proposal, author=w.supporters[5], parent=parent)
    moderation.hide(w.chair_x, "proposal", proposal, "Targets a family.")
    [row] = rows("proposals.reply", reply)
    with app.test_request_context():
        assert "0302" not in message_for(row) and f"#{proposal.id}" in message_for(row)
