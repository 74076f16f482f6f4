"""Moderation services: flags and the automatic hide, each moderator's action and each refusal, the audit
trail, what authors and moderators are told, and that hidden words do not travel in notices."""
import pytest

from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.moderation import services
from portal.moderation.models import Flag
from portal.proposals.models import ProposalEvent
from tests.moderation import (
    audit_actions,
    events_of,
    gen_comment,
    gen_flags,
    gen_in_deliberation,
    gen_issue,
    gen_proposal,
    notices_of,
    public_update,
)


def open_flags(item_type, item):
    return db.session.scalars(db.select(Flag).where(Flag.item_type == item_type, Flag.item_id == item.id,
                                                    Flag.resolved_at.is_(None))).all()


# --- the registry ------------------------------------------------------------------------------------------

def test_registry_knows_each_kind_its_community_author_and_link(app, world):
    issue = gen_issue(world)
    update = public_update(world, issue)
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    db.session.flush()
    with app.test_request_context():
        for item_type, item, author in (("issue", issue, world.reporter), ("issue_update", update, world.property_x),
                                        ("proposal", proposal, world.reporter), ("comment", comment, world.neighbour)):
            kind = services.ITEMS[item_type]
            assert kind.community(item) == world.x and kind.community_id(item) == world.x.id
            assert kind.author_id(item) == author.id
            assert services.item(item_type, item.id) is item
        assert services.link_for("issue", issue) == f"/c/x/issues/{issue.id}"
        assert services.link_for("issue_update", update) == f"/c/x/issues/{issue.id}#update-{update.id}"
        assert services.link_for("comment", comment).endswith(f"#comment-{comment.id}")
    assert services.item("nonsense", issue.id) is None
    assert services.item("issue", 999999) is None


def test_internal_notes_are_not_items(world):
    issue = gen_issue(world)
    note = public_update(world, issue)
    note.is_public = False
    db.session.flush()
    assert services.item("issue_update", note.id) is None


# --- flags -------------------------------------------------------------------------------------------------

def test_a_verified_resident_flags_an_issue_and_it_is_audited(world):
    issue = gen_issue(world)
    row = services.flag(world.neighbour, "issue", issue, "offensive", "  rude words  ")
    assert (row.reason, row.note, row.community_id, row.user_id) == ("offensive", "rude words", world.x.id,
                                                                       world.neighbour.id)
    assert issue.hidden_state is None
    assert audit_actions(issue) == ["moderation.flag"]


@pytest.mark.parametrize("who", ["stranger", "resident_y", "pending", "member_y", "official_a"])
def test_people_not_verified_in_the_community_cannot_flag(world, who):
    issue = gen_issue(world)
    with pytest.raises(NotAllowed):
        services.flag(getattr(world, who), "issue", issue, "spam")
    assert open_flags("issue", issue) == []


@pytest.mark.parametrize("who", ["neighbour", "member_x", "property_x"])
def test_residents_committee_and_property_staff_of_the_community_may_flag(world, who):
    issue = gen_issue(world)
    services.flag(getattr(world, who), "issue", issue, "spam")
    assert len(open_flags("issue", issue)) == 1


def test_nobody_flags_their_own_words(world):
    issue = gen_issue(world)
    update = public_update(world, issue)
    with pytest.raises(NotAllowed):
        services.flag(world.reporter, "issue", issue, "spam")
    with pytest.raises(NotAllowed):
        services.flag(world.property_x, "issue_update", update, "spam")


def test_a_flag_needs_a_known_reason_and_a_short_note(world):
    issue = gen_issue(world)
    with pytest.raises(DomainError) as error:
        services.flag(world.neighbour, "issue", issue, "boring")
    assert error.value.field == "reason"
    with pytest.raises(DomainError) as error:
        services.flag(world.neighbour, "issue", issue, "spam", "x" * 501)
    assert error.value.field == "note"
    assert open_flags("issue", issue) == []


def test_flagging_twice_is_refused_as_already_flagged(world):
    issue = gen_issue(world)
    services.flag(world.neighbour, "issue", issue, "spam")
    with pytest.raises(DomainError, match="already flagged"):
        services.flag(world.neighbour, "issue", issue, "offensive")
    assert len(open_flags("issue", issue)) == 1


def test_the_unique_constraint_backs_up_the_already_flagged_check(world, monkeypatch):
    issue = gen_issue(world)
    services.flag(world.neighbour, "issue", issue, "spam")
    monkeypatch.setattr(services.flagging, "has_flagged", lambda *a: False)  # as if two requests raced
    with pytest.raises(DomainError, match="already flagged"):
        services.flag(world.neighbour, "issue", issue, "spam")
    assert issue.hidden_state is None and len(open_flags("issue", issue)) == 1  # the session is still usable


def test_drafts_and_deleted_comments_cannot_be_flagged(world):
    from portal.proposals import services as proposals
    draft = gen_proposal(world, publish=False)
    with pytest.raises(NotAllowed):  # a draft is not even visible to others
        services.flag(world.neighbour, "proposal", draft, "spam")
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    proposals.delete_comment(world.neighbour, comment)
    with pytest.raises(DomainError, match="deleted"):
        services.flag(world.supporters[0], "comment", comment, "spam")


def test_two_flags_do_not_hide(world):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 2)
    assert issue.hidden_state is None
    assert "moderation.pending" not in events_of(world.reporter)


def test_three_flags_from_different_people_hide_pending_review(world):
    issue = gen_issue(world, title="Neighbour in 0301 is a thief")
    gen_flags(world, "issue", issue, 3, reason="personal_info")
    assert issue.hidden_state == "pending" and issue.hidden_reason is None
    assert audit_actions(issue) == ["moderation.flag"] * 3 + ["moderation.auto_hide"]
    assert events_of(world.reporter)[-1] == "moderation.pending"
    for moderator in (world.chair_x, world.member_x):
        assert events_of(moderator)[-1] == "moderation.flags_waiting"
    assert "moderation.flags_waiting" not in events_of(world.member_y)
    # Nobody is told the hidden words.
    for person in (world.reporter, world.chair_x, world.member_x):
        assert not any("thief" in message for message in notices_of(person))


def test_a_fourth_flag_on_a_pending_item_is_counted_without_telling_anyone_again(world):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 4)
    assert issue.hidden_state == "pending"
    assert events_of(world.reporter).count("moderation.pending") == 1
    assert audit_actions(issue).count("moderation.auto_hide") == 1


def test_a_hidden_item_is_not_flagged_again(world):
    issue = gen_issue(world)
    services.hide(world.chair_x, "issue", issue, "Abusive.")
    with pytest.raises(DomainError, match="already hidden"):
        services.flag(world.neighbour, "issue", issue, "spam")


# --- restore -----------------------------------------------------------------------------------------------

def test_restore_shows_the_item_again_and_resolves_its_flags(world):
    issue = gen_issue(world)
    flags = gen_flags(world, "issue", issue, 3)
    services.restore(world.chair_x, "issue", issue, note="Fair criticism.")
    assert issue.hidden_state is None
    assert open_flags("issue", issue) == []
    assert {(f.resolution, f.resolved_by_id) for f in flags} == {("restored", world.chair_x.id)}
    assert audit_actions(issue)[-1] == "moderation.restore"
    assert events_of(world.reporter)[-1] == "moderation.restored"


def test_restoring_a_reported_but_visible_item_dismisses_the_reports_quietly(world):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 1)
    services.restore(world.member_x, "issue", issue)
    assert open_flags("issue", issue) == []
    assert "moderation.restored" not in events_of(world.reporter)  # it was never hidden


def test_restore_with_nothing_to_restore_is_refused(world):
    issue = gen_issue(world)
    with pytest.raises(DomainError, match="nothing to restore"):
        services.restore(world.chair_x, "issue", issue)


def test_a_restored_flagger_cannot_flag_the_same_item_again(world):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 1)
    services.restore(world.chair_x, "issue", issue)
    with pytest.raises(DomainError, match="already flagged"):
        services.flag(world.supporters[0], "issue", issue, "spam")


# --- hide --------------------------------------------------------------------------------------------------

def test_hide_with_a_reason_resolves_flags_and_tells_the_author_why(world):
    issue = gen_issue(world)
    flags = gen_flags(world, "issue", issue, 2)
    services.hide(world.chair_x, "issue", issue, "  Names a neighbour \n and their phone.  ")
    assert issue.hidden_state == "hidden"
    assert issue.hidden_reason == "Names a neighbour and their phone."
    assert {f.resolution for f in flags} == {"hidden"}
    assert audit_actions(issue)[-1] == "moderation.hide"
    assert notices_of(world.reporter)[-1].endswith("Names a neighbour and their phone.")


def test_hide_needs_a_reason_of_at_most_500_characters(world):
    issue = gen_issue(world)
    for reason in ("", "   ", "x" * 501):
        with pytest.raises(DomainError) as error:
            services.hide(world.chair_x, "issue", issue, reason)
        assert error.value.field == "reason"
    assert issue.hidden_state is None


def test_a_pending_item_can_be_hidden_for_good(world):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 3)
    services.hide(world.member_x, "issue", issue, "Spam.")
    assert (issue.hidden_state, issue.hidden_reason) == ("hidden", "Spam.")
    services.restore(world.chair_x, "issue", issue)
    assert (issue.hidden_state, issue.hidden_reason) == (None, None)


# --- who moderates -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["neighbour", "property_x", "member_y", "official_a", "stranger"])
def test_only_the_communitys_committee_and_admins_moderate(world, who):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 3)
    for action in (lambda u: services.restore(u, "issue", issue), lambda u: services.hide(u, "issue", issue, "No.")):
        with pytest.raises(NotAllowed):
            action(getattr(world, who))
    assert issue.hidden_state == "pending"


def test_an_administrator_moderates_any_community(world):
    issue = gen_issue(world)
    services.hide(world.admin, "issue", issue, "Spam.")
    assert issue.hidden_state == "hidden"


def test_members_cannot_moderate_their_own_content(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=world.member_x)
    for action in (lambda: services.hide(world.member_x, "comment", comment, "Mine."),
                   lambda: services.lock(world.member_x, "comment", comment)):
        with pytest.raises(NotAllowed, match="own"):
            action()
    gen_flags(world, "comment", comment, 3)
    with pytest.raises(NotAllowed, match="own"):
        services.restore(world.member_x, "comment", comment)
    services.restore(world.chair_x, "comment", comment)  # another member decides
    assert comment.hidden_state is None


def test_a_member_who_wrote_for_a_resident_does_not_moderate_it(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    comment.created_by_id = world.member_x.id  # written at the counter by member_x for the neighbour
    db.session.flush()
    with pytest.raises(NotAllowed):
        services.hide(world.member_x, "comment", comment, "No.")


# --- lock --------------------------------------------------------------------------------------------------

def test_lock_and_unlock_a_proposal_discussion(world):
    proposal = gen_in_deliberation(world)
    services.lock(world.chair_x, "proposal", proposal)
    assert proposal.locked_at is not None and not proposal.consultation_open
    services.unlock(world.chair_x, "proposal", proposal)
    assert proposal.locked_at is None and proposal.consultation_open
    assert audit_actions(proposal)[-2:] == ["moderation.lock", "moderation.unlock"]
    kinds = db.session.scalars(db.select(ProposalEvent.kind).where(ProposalEvent.proposal_id == proposal.id)
                               .order_by(ProposalEvent.id)).all()
    assert kinds[-2:] == ["locked", "unlocked"]
    assert events_of(world.reporter)[-2:] == ["moderation.locked", "moderation.unlocked"]


def test_lock_a_comment_thread_stops_replies(world):
    from portal.proposals import services as proposals
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal)
    services.lock(world.member_x, "comment", top)
    assert top.locked_at is not None
    with pytest.raises(DomainError, match="locked"):
        gen_comment(world, proposal, author=world.reporter, parent=top)
    services.unlock(world.member_x, "comment", top)
    assert proposals.add_comment(world.reporter, proposal, stance="for", body="Agreed.", parent=top)


def test_only_proposals_and_top_level_comments_lock(world):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal)
    reply = gen_comment(world, proposal, author=world.reporter, parent=top)
    issue = gen_issue(world)
    with pytest.raises(DomainError, match="first comment"):
        services.lock(world.chair_x, "comment", reply)
    with pytest.raises(DomainError, match="can be locked"):
        services.lock(world.chair_x, "issue", issue)
    services.lock(world.chair_x, "comment", top)
    with pytest.raises(DomainError, match="already locked"):
        services.lock(world.chair_x, "comment", top)
    with pytest.raises(DomainError, match="not locked"):
        services.unlock(world.chair_x, "proposal", proposal)


def test_a_resident_cannot_lock(world):
    proposal = gen_in_deliberation(world)
    with pytest.raises(NotAllowed):
        services.lock(world.neighbour, "proposal", proposal)
    assert proposal.locked_at is None


# --- proposals and comments --------------------------------------------------------------------------------

def test_hiding_a_comment_takes_it_out_of_the_count_and_restoring_puts_it_back(world):
    from portal.proposals import services as proposals
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    gen_comment(world, proposal, author=world.reporter, stance="against", body="Too expensive.")
    assert proposal.comment_count == 2
    gen_flags(world, "comment", comment, 3)
    assert comment.hidden_state == "pending" and proposal.comment_count == 1
    services.hide(world.chair_x, "comment", comment, "Insults.")
    assert proposal.comment_count == 1  # already out
    assert proposals.stance_tally(proposal) == {"for": 0, "against": 1, "neutral": 0}
    services.restore(world.chair_x, "comment", comment)
    assert proposal.comment_count == 2


def test_hiding_a_proposal_is_on_its_timeline(world):
    proposal = gen_proposal(world)
    services.hide(world.chair_x, "proposal", proposal, "Advertising.")
    event = db.session.scalars(db.select(ProposalEvent).where(ProposalEvent.proposal_id == proposal.id)
                               .order_by(ProposalEvent.id.desc())).first()
    assert (event.kind, event.body, event.actor_id) == ("hidden", "Advertising.", world.chair_x.id)


# --- hidden words do not travel in notices -----------------------------------------------------------------

def test_notices_about_a_hidden_issue_name_it_by_number(world):
    from portal.issues import services as issues
    issue = gen_issue(world, title="Mr Wang of 0301 steals parcels")
    issues.support_issue(world.neighbour, issue)
    update = public_update(world, issue, body="We asked Mr Wang about it.")
    assert any("steals parcels" in m for m in notices_of(world.neighbour))
    services.hide(world.chair_x, "issue", issue, "Accuses a named neighbour.")
    assert not any("steals parcels" in m for m in notices_of(world.neighbour))
    assert any(f"#{issue.id}" in m for m in notices_of(world.neighbour))
    issues.post_update(world.property_x, issue, "Still looking.")  # later notices too
    assert not any("steals parcels" in m for m in notices_of(world.neighbour))
    services.hide(world.chair_x, "issue_update", update, "Names a neighbour.")
    assert not any("asked Mr Wang" in m for m in notices_of(world.neighbour))
    services.restore(world.chair_x, "issue", issue)
    services.restore(world.chair_x, "issue_update", update)
    messages = notices_of(world.neighbour)
    assert any("steals parcels" in m for m in messages)
    assert not any("asked Mr Wang" in m for m in messages)  # an update's words are never quoted (#9)


def test_notices_already_sent_about_a_hidden_proposal_stop_quoting_its_title(world):
    gen_in_deliberation(world, title="Evict the family in 0301")  # the committee is told the threshold is reached
    proposal = gen_in_deliberation(world, title="Evict the family in 0302")
    assert any("0302" in m for m in notices_of(world.member_x))
    services.hide(world.chair_x, "proposal", proposal, "Targets a family.")
    messages = notices_of(world.member_x)
    assert not any("0302" in m for m in messages) and any("0301" in m for m in messages)
    services.restore(world.chair_x, "proposal", proposal)
    assert any("0302" in m for m in notices_of(world.member_x))


def test_notices_sent_after_a_proposal_is_hidden_do_not_quote_its_title(world):
    from portal.proposals import services as proposals
    proposal = gen_proposal(world, title="Evict the family in 0301")
    proposals.support(world.neighbour, proposal)
    services.hide(world.chair_x, "proposal", proposal, "Targets a family.")
    proposals.withdraw(world.reporter, proposal, "other", "Sorry.")
    assert not any("Evict" in m for m in notices_of(world.neighbour))


# --- the queue ---------------------------------------------------------------------------------------------

def test_the_queue_lists_reported_items_newest_flag_first_with_counts_and_reasons(world):
    from datetime import timedelta

    from portal.clock import utcnow
    now = utcnow()
    old = gen_issue(world, title="Old")
    new = gen_issue(world, title="New")
    proposal = gen_proposal(world)
    gen_flags(world, "issue", old, 2, reason="spam", now=now - timedelta(hours=3))
    services.flag(world.supporters[5], "issue", old, "offensive", "mean", now=now - timedelta(hours=2))
    gen_flags(world, "proposal", proposal, 1, now=now - timedelta(hours=1))
    gen_flags(world, "issue", new, 1, reason="off_topic", now=now)
    page = services.queue(world.member_x)
    assert [(r.item_type, r.item.id) for r in page.items] == [("issue", new.id), ("proposal", proposal.id),
                                                               ("issue", old.id)]
    row = page.items[2]
    assert row.flag_count == 3 and row.item.hidden_state == "pending"
    assert [(str(label), n) for label, n in row.reasons] == [("Spam or advertising", 2),
                                                               ("Offensive or abusive", 1)]
    assert [note for _, note in row.notes] == ["mean"]
    assert page.total == 3 and services.queue_count(world.member_x) == 3


def test_the_queue_holds_only_the_communities_the_person_moderates(world):
    issue_x = gen_issue(world)
    issue_y = gen_issue(world, reporter=world.resident_y, community=world.y)
    gen_flags(world, "issue", issue_x, 1)
    from tests.factories import gen_residency
    flagger_y = world.supporters[11]
    gen_residency(flagger_y, household=world.hy)
    services.flag(flagger_y, "issue", issue_y, "spam")
    assert [r.item.id for r in services.queue(world.member_x).items] == [issue_x.id]
    assert [r.item.id for r in services.queue(world.member_y).items] == [issue_y.id]
    assert services.queue(world.member_z).items == [] and services.queue_count(world.member_z) == 0
    assert {r.item.id for r in services.queue(world.admin).items} == {issue_x.id, issue_y.id}
    assert services.queue_count(world.admin) == 2


def test_resolved_items_leave_the_queue(world):
    issue = gen_issue(world)
    gen_flags(world, "issue", issue, 3)
    services.hide(world.chair_x, "issue", issue, "Spam.")
    assert services.queue(world.chair_x).items == [] and services.queue_count(world.chair_x) == 0


def test_the_queue_marks_a_moderators_own_words(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=world.member_x)
    gen_flags(world, "comment", comment, 1)
    assert services.queue(world.member_x).items[0].own
    assert not services.queue(world.chair_x).items[0].own


def test_residents_have_no_queue(world):
    assert services.queue_count(world.neighbour) == 0
    with pytest.raises(NotAllowed):
        services.queue(world.neighbour)


# --- who sees hidden words ---------------------------------------------------------------------------------

def test_hidden_words_are_for_the_author_moderators_and_handlers(world):
    from flask_login import AnonymousUserMixin
    issue = gen_issue(world)
    assert not services.is_hidden_for(AnonymousUserMixin(), "issue", issue)
    services.hide(world.chair_x, "issue", issue, "Spam.")
    assert services.is_hidden_for(AnonymousUserMixin(), "issue", issue)
    assert services.is_hidden_for(world.neighbour, "issue", issue)
    assert services.is_hidden_for(world.member_y, "issue", issue)
    for person in (world.reporter, world.chair_x, world.admin, world.property_x):  # property_x handles it
        assert not services.is_hidden_for(person, "issue", issue)
