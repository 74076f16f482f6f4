"""Every proposals and moderation rule for every role: someone not signed in, a person whose residency is
still pending, a verified resident, the proposal's author, committee members of x and y, property staff
of x, an official of the sub-district and an admin."""
import pytest
from flask_login import AnonymousUserMixin

from portal.auth import permissions as can
from portal.clock import utcnow
from portal.extensions import db
from portal.proposals import services
from tests.factories import gen_membership, gen_residency, gen_user
from tests.proposals import gen_comment, gen_in_deliberation, gen_proposal

ROLES = {
    "anonymous": None,
    "unverified": "pending",
    "resident": "neighbour",
    "author": "reporter",
    "member_x": "member_x",
    "member_y": "member_y",
    "property": "property_x",
    "official": "official_a",
    "admin": "admin",
}
EVERYONE = set(ROLES)
NOBODY = set()
COMMITTEE = {"member_x", "admin"}
RESIDENTS = {"resident", "author"}


def person(world, role):
    return AnonymousUserMixin() if ROLES[role] is None else getattr(world, ROLES[role])


def allowed(world, rule, obj):
    return {role for role in ROLES if rule(person(world, role), obj)}


def test_who_proposes(world):
    assert allowed(world, can.can_create_proposal, world.x) == RESIDENTS | {"member_x"}
    assert allowed(world, can.can_create_proposal, world.y) == {"member_y"}


def test_a_draft_is_seen_by_its_author_and_admins_only(world):
    draft = gen_proposal(world, publish=False)
    assert allowed(world, can.can_view_proposal, draft) == {"author", "admin"}


def test_a_published_proposal_is_seen_by_everyone_in_a_public_community(world):
    assert allowed(world, can.can_view_proposal, gen_proposal(world)) == EVERYONE


def test_a_members_only_community_shows_its_proposals_to_members(world):
    world.x.members_only = True
    assert allowed(world, can.can_view_proposal, gen_proposal(world)) == {
        "unverified", "resident", "author", "member_x", "property", "official", "admin"}


@pytest.mark.parametrize("state", ["draft", "collecting", "deliberation"])
def test_the_author_edits_and_withdraws_until_the_consultation_closes(world, state):
    proposal = gen_in_deliberation(world) if state == "deliberation" else gen_proposal(world, publish=state != "draft")
    assert allowed(world, can.can_edit_proposal, proposal) == {"author"}
    assert allowed(world, can.can_withdraw_proposal, proposal) == {"author"}
    assert allowed(world, can.can_publish_proposal, proposal) == ({"author"} if state == "draft" else NOBODY)


def test_nobody_edits_after_the_consultation_closed_or_the_proposal_ended(world):
    closed = gen_in_deliberation(world)
    services.close_deliberation(world.member_x, closed)
    assert allowed(world, can.can_edit_proposal, closed) == NOBODY
    assert allowed(world, can.can_withdraw_proposal, closed) == {"author"}
    withdrawn = gen_proposal(world)
    services.withdraw(world.reporter, withdrawn, "duplicate")
    for rule in (can.can_edit_proposal, can.can_withdraw_proposal, can.can_publish_proposal,
                 can.can_support_proposal, can.can_move_to_deliberation):
        assert allowed(world, rule, withdrawn) == NOBODY


def test_the_member_who_wrote_it_at_the_counter_works_on_it_while_they_may_act(world):
    world.reporter.consent_in_person = True
    draft = gen_proposal(world, author=world.member_x, on_behalf_of=world.reporter, publish=False)
    assert draft.author_id == world.reporter.id and draft.created_by_id == world.member_x.id
    assert allowed(world, can.can_edit_proposal, draft) == {"author", "member_x"}
    assert allowed(world, can.can_view_proposal, draft) == {"author", "member_x", "admin"}
    world.reporter.consent_in_person = False
    assert allowed(world, can.can_edit_proposal, draft) == {"author"}


def test_who_supports(world):
    assert allowed(world, can.can_support_proposal, gen_proposal(world)) == {"resident"}
    assert allowed(world, can.can_support_proposal, gen_proposal(world, publish=False)) == NOBODY
    assert allowed(world, can.can_support_proposal, gen_in_deliberation(world)) == NOBODY


def test_the_committee_moves_to_and_closes_the_consultation(world):
    collecting = gen_proposal(world)
    assert allowed(world, can.can_move_to_deliberation, collecting) == COMMITTEE
    assert allowed(world, can.can_close_deliberation, collecting) == NOBODY
    consultation = gen_in_deliberation(world)
    assert allowed(world, can.can_move_to_deliberation, consultation) == NOBODY
    assert allowed(world, can.can_close_deliberation, consultation) == COMMITTEE
    services.close_deliberation(world.member_x, consultation)
    assert allowed(world, can.can_close_deliberation, consultation) == NOBODY


def test_who_comments_while_the_consultation_is_open(world):
    proposal = gen_proposal(world)
    assert allowed(world, can.can_comment, proposal) == NOBODY
    consultation = gen_in_deliberation(world)
    assert allowed(world, can.can_comment, consultation) == RESIDENTS | {"member_x"}
    consultation.locked_at = utcnow()
    assert allowed(world, can.can_comment, consultation) == NOBODY
    consultation.locked_at = None
    services.close_deliberation(world.member_x, consultation)
    assert allowed(world, can.can_comment, consultation) == NOBODY


def test_comment_rules(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=world.reporter)
    assert allowed(world, can.can_edit_comment, comment) == {"author"}
    assert allowed(world, can.can_delete_comment, comment) == {"author"}
    assert allowed(world, can.can_like_comment, comment) == {"resident", "member_x"}


def test_a_hidden_or_locked_comment_cannot_be_edited_or_liked_but_can_be_deleted(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=world.reporter)
    reply = gen_comment(world, proposal, author=world.reporter, parent=comment)
    comment.locked_at = utcnow()
    assert allowed(world, can.can_edit_comment, comment) == NOBODY
    assert allowed(world, can.can_edit_comment, reply) == NOBODY
    comment.locked_at = None
    comment.hidden_state = "pending"
    assert allowed(world, can.can_edit_comment, comment) == NOBODY
    assert allowed(world, can.can_like_comment, comment) == NOBODY
    assert allowed(world, can.can_delete_comment, comment) == {"author"}


def test_after_the_consultation_closed_comments_can_be_deleted_not_edited(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, author=world.reporter)
    services.close_deliberation(world.member_x, proposal)
    assert allowed(world, can.can_edit_comment, comment) == NOBODY
    assert allowed(world, can.can_delete_comment, comment) == {"author"}
    services.delete_comment(world.reporter, comment)
    assert allowed(world, can.can_delete_comment, comment) == NOBODY
    assert allowed(world, can.can_like_comment, comment) == NOBODY


def test_the_committee_writes_the_summary_from_the_consultation_on(world):
    assert allowed(world, can.can_write_summary, gen_proposal(world)) == NOBODY
    assert allowed(world, can.can_write_summary, gen_in_deliberation(world)) == COMMITTEE


def test_the_committee_manages_the_settings(world):
    assert allowed(world, can.can_manage_proposal_settings, world.x) == COMMITTEE
    assert allowed(world, can.can_manage_proposal_settings, world.y) == {"member_y", "admin"}


def test_anyone_verified_in_the_community_flags(world):
    assert allowed(world, can.can_flag, world.x) == RESIDENTS | {"member_x", "property"}
    assert allowed(world, can.can_flag, world.y) == {"member_y"}


def test_the_committee_moderates(world):
    assert allowed(world, can.can_moderate, world.x) == COMMITTEE
    assert allowed(world, can.can_moderate, world.y) == {"member_y", "admin"}
    assert allowed(world, lambda user, _none: can.can_view_moderation_queue(user), None) == {
        "member_x", "member_y", "admin"}


def test_a_deactivated_account_may_do_nothing(world):
    proposal = gen_in_deliberation(world)
    world.neighbour.is_active_account = False
    db.session.flush()
    assert not can.can_comment(world.neighbour, proposal)
    assert not can.can_flag(world.neighbour, world.x)


def test_a_committee_member_living_elsewhere_is_not_a_resident_here(world):
    member = gen_user(display_name="Member lives in y")
    gen_membership(member, world.rc_x)
    gen_residency(member, household=world.hy)
    proposal = gen_proposal(world)
    assert not can.can_support_proposal(member, proposal)
    assert can.can_move_to_deliberation(member, proposal)
