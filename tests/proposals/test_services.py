"""Proposal services: settings, drafting and publishing, versions, supports and the threshold, the
committee's steps, archiving, comments, likes, the summary, escalation from an issue, and the lists."""
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_login import AnonymousUserMixin
from PIL import Image

from portal.audit.models import AuditEntry
from portal.due import DUE_STEPS, run_due
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues.models import IssueEvent
from portal.proposals import services
from portal.proposals.models import (
    BODY_MAX,
    COMMENT_MAX,
    SUMMARY_TEXT_MAX,
    TITLE_MAX,
    Comment,
    CommentLike,
    CommentRevision,
    Proposal,
    ProposalAttachment,
    ProposalEvent,
    ProposalSupport,
    ProposalTerm,
    ProposalVersion,
)
from tests.factories import gen_community
from tests.proposals import (
    T0,
    THRESHOLD,
    gen_comment,
    gen_in_deliberation,
    gen_issue,
    gen_proposal,
    gen_supports,
)
from tests.queries import recorded_statements
from tests.records import audit, count, notices

H = timedelta(hours=1)
M = timedelta(minutes=1)
D = timedelta(days=1)


def kinds(proposal):
    return [e.kind for e in db.session.scalars(db.select(ProposalEvent).where(
        ProposalEvent.proposal_id == proposal.id).order_by(ProposalEvent.id))]


def fields(**kw):
    base = {"title": "垃圾分类亭改造", "summary": "北门垃圾分类亭需要加顶棚。", "body": "", "category": "environment"}
    base.update(kw)
    return base


def edit(proposal, editor, **kw):
    values = {"title": proposal.title, "summary": proposal.summary, "body": proposal.body,
              "category": proposal.category, "building_ids": [b.id for b in proposal.buildings],
              "estimated_cost": proposal.estimated_cost}
    values.update(kw)
    return services.update_proposal(editor, proposal, **values)


def png():
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 120, 20)).save(out, "PNG")
    return out.getvalue()


# --- settings --------------------------------------------------------------------------------------------

def test_a_community_starts_with_ten_supports_in_thirty_days(app):
    assert services.settings_for(gen_community()) == (10, 30)


def test_the_committee_changes_the_threshold_and_the_window(world):
    services.update_settings(world.member_x, world.x, threshold="25", days=14)
    assert services.settings_for(world.x) == (25, 14)
    assert audit("proposal_settings.updated")[0].details["previous_threshold"] == THRESHOLD


@pytest.mark.parametrize("threshold, days, field", [
    (0, 30, "threshold"), (10001, 30, "threshold"), ("ten", 30, "threshold"), (10, 0, "days"), (10, 366, "days"),
    (10, "", "days")])
def test_settings_out_of_range_are_refused(world, threshold, days, field):
    with pytest.raises(DomainError) as error:
        services.update_settings(world.member_x, world.x, threshold=threshold, days=days)
    assert error.value.field == field
    assert services.settings_for(world.x) == (THRESHOLD, 30)


@pytest.mark.parametrize("who", ["neighbour", "member_y", "property_x", "official_a"])
def test_only_the_committee_changes_the_settings(world, who):
    with pytest.raises(NotAllowed):
        services.update_settings(getattr(world, who), world.x, threshold=5, days=10)


# --- drafting and publishing -----------------------------------------------------------------------------

def test_a_draft_is_rendered_indexed_and_audited_but_has_no_version(world):
    draft = gen_proposal(world, publish=False, body="**重要**<script>alert(1)</script>", estimated_cost="1,200.5")
    assert draft.status == "draft" and draft.published_at is None and draft.support_threshold is None
    assert "<strong>重要</strong>" in draft.body_html and "<script>" not in draft.body_html
    assert draft.estimated_cost == Decimal("1200.50") and draft.whole_community
    assert count(ProposalVersion) == 0 and kinds(draft) == ["created"]
    assert {"电梯", "lift"} <= set(db.session.scalars(db.select(ProposalTerm.term)))
    assert audit("proposal.created")[0].object_id == draft.id


def test_publishing_freezes_the_threshold_and_window_and_keeps_version_one(world):
    draft = gen_proposal(world, publish=False, building_ids=[world.bx.id])
    services.publish(world.reporter, draft, now=T0)
    assert draft.status == "collecting" and draft.published_at == T0
    assert (draft.support_threshold, draft.support_deadline) == (THRESHOLD, T0 + 30 * D)
    assert not draft.whole_community and draft.buildings == [world.bx]
    version = db.session.scalar(db.select(ProposalVersion))
    assert (version.version, version.title, version.building_ids) == (1, draft.title, [world.bx.id])
    assert kinds(draft) == ["created", "published"]
    world.x.proposal_support_threshold = 50
    assert draft.support_threshold == THRESHOLD


def test_publish_at_once(world):
    proposal = gen_proposal(world)
    assert proposal.status == "collecting" and proposal.version == 1 and count(ProposalVersion) == 1


@pytest.mark.parametrize("who", ["neighbour", "member_x", "admin"])
def test_only_the_author_publishes_a_draft(world, who):
    draft = gen_proposal(world, publish=False)
    with pytest.raises(NotAllowed):
        services.publish(getattr(world, who), draft)


def test_a_published_proposal_cannot_be_published_again(world):
    proposal = gen_proposal(world)
    with pytest.raises(NotAllowed):
        services.publish(world.reporter, proposal)


@pytest.mark.parametrize("changes, field", [
    ({"title": "  "}, "title"),
    ({"title": "长" * (TITLE_MAX + 1)}, "title"),
    ({"summary": ""}, "summary"),
    ({"summary": "长" * 501}, "summary"),
    ({"body": "x" * (BODY_MAX + 1)}, "body"),
    ({"category": "weather"}, "category"),
    ({"estimated_cost": "-1"}, "estimated_cost"),
    ({"estimated_cost": "很多"}, "estimated_cost"),
    ({"estimated_cost": "NaN"}, "estimated_cost"),
    ({"building_ids": ["x"]}, "buildings"),
])
def test_bad_input_is_refused_before_anything_is_written(world, changes, field):
    entries = count(AuditEntry)
    with pytest.raises(DomainError) as error:
        services.create_proposal(world.reporter, world.x, **fields(**changes), publish=True)
    assert error.value.field == field
    assert count(Proposal) == count(ProposalTerm) == 0 and count(AuditEntry) == entries


def test_an_oversized_text_is_refused_with_the_limit_and_its_length(world):
    with pytest.raises(DomainError) as error:
        services.create_proposal(world.reporter, world.x, **fields(body="字" * 20001))
    assert "20000" in str(error.value.message) and "20001" in str(error.value.message)


def test_buildings_must_be_the_communitys(world):
    with pytest.raises(DomainError) as error:
        services.create_proposal(world.reporter, world.x, **fields(building_ids=[world.bx.id, world.by.id]))
    assert error.value.field == "buildings"


@pytest.mark.parametrize("who", ["pending", "resident_y", "property_x", "official_a", "admin", "stranger"])
def test_only_verified_residents_and_the_committee_propose(world, who):
    with pytest.raises(NotAllowed):
        services.create_proposal(getattr(world, who), world.x, **fields())


def test_a_committee_member_proposes_too(world):
    assert services.create_proposal(world.member_x, world.x, **fields()).author == world.member_x


def test_a_member_writes_for_a_resident_at_the_counter(world):
    world.reporter.consent_in_person = True
    proposal = services.create_proposal(world.member_x, world.x, **fields(), on_behalf_of=world.reporter,
                                        publish=True)
    assert proposal.author == world.reporter and proposal.created_by == world.member_x
    entry = audit("proposal.published")[0]
    assert (entry.actor_id, entry.on_behalf_of_id) == (world.member_x.id, world.reporter.id)


def test_acting_for_someone_without_consent_is_refused(world):
    with pytest.raises(NotAllowed):
        services.create_proposal(world.member_x, world.x, **fields(), on_behalf_of=world.reporter)


def test_attachments_are_checked_before_anything_is_written(world, upload_dir):
    with pytest.raises(DomainError) as error:
        services.create_proposal(world.reporter, world.x, **fields(),
                                 attachments=[("plan.png", png()), ("notes.txt", b"just text")])
    assert error.value.field == "attachments" and count(Proposal) == 0
    proposal = services.create_proposal(world.reporter, world.x, **fields(), attachments=[("plan.png", png())])
    assert [a.kind for a in proposal.attachments] == ["image"]


def test_at_most_six_attachments(world, upload_dir):
    with pytest.raises(DomainError) as error:
        services.create_proposal(world.reporter, world.x, **fields(), attachments=[("p.png", png())] * 7)
    assert error.value.field == "attachments"


# --- editing and versions --------------------------------------------------------------------------------

def test_a_draft_changes_in_place(world):
    draft = gen_proposal(world, publish=False)
    edit(draft, world.reporter, title="北门垃圾分类亭改造", note="ignored")
    assert draft.title == "北门垃圾分类亭改造" and draft.version == 1
    assert count(ProposalVersion) == 0 and "edited" not in kinds(draft)


def test_an_edit_after_publishing_is_a_new_version_with_its_note(world):
    proposal = gen_proposal(world)
    edit(proposal, world.reporter, body="新的正文 *强调*", estimated_cost="500", note="补充了费用")
    assert proposal.version == 2 and "<em>强调</em>" in proposal.body_html
    latest = services.versions(proposal)
    assert [v.version for v in latest] == [2, 1]
    assert (latest[0].body, latest[0].note, latest[0].estimated_cost) == ("新的正文 *强调*", "补充了费用", Decimal("500"))  # noqa: E501
    assert latest[1].body != latest[0].body
    assert kinds(proposal)[-1] == "edited"


def test_sending_the_same_text_makes_no_version(world):
    proposal = gen_proposal(world)
    edit(proposal, world.reporter, title=f"  {proposal.title} ", note="nothing really")
    assert proposal.version == 1 and count(ProposalVersion) == 1 and not audit("proposal.edited")


def test_a_new_title_is_searchable_and_the_old_one_is_not(world):
    proposal = gen_proposal(world)
    edit(proposal, world.reporter, title="停车位规划", summary="重新划线")
    assert services.community_proposals(world.x, None, q="停车")[0] == [proposal]
    assert services.community_proposals(world.x, None, q="电梯")[0] == []


def test_attachments_are_added_and_removed_by_an_edit(world, upload_dir):
    proposal = gen_proposal(world, attachments=[("a.png", png())])
    first = proposal.attachments[0]
    edit(proposal, world.reporter, add_attachments=[("b.png", png())], remove_attachment_ids=[first.id])
    db.session.expire(proposal, ["attachments"])
    assert [a.filename[0] for a in proposal.attachments] == ["b"] and count(ProposalAttachment) == 1
    assert kinds(proposal)[-1] == "attachments" and proposal.version == 1
    with pytest.raises(DomainError):
        edit(proposal, world.reporter, remove_attachment_ids=[first.id])


@pytest.mark.parametrize("who", ["neighbour", "member_x", "admin"])
def test_only_the_author_edits(world, who):
    with pytest.raises(NotAllowed):
        edit(gen_proposal(world), getattr(world, who), title="改")


def test_no_edits_once_the_consultation_closed(world):
    proposal = gen_in_deliberation(world)
    edit(proposal, world.reporter, title="3号楼加装电梯（修订）")
    services.close_deliberation(world.member_x, proposal)
    with pytest.raises(NotAllowed):
        edit(proposal, world.reporter, title="再改")


# --- withdrawing -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["duplicate", "already_done", "no_longer_needed"])
def test_the_author_withdraws_with_a_reason_and_supporters_are_told(world, reason):
    proposal = gen_proposal(world)
    gen_supports(world, proposal, 2)
    services.withdraw(world.reporter, proposal, reason, now=T0)
    assert proposal.status == "withdrawn" and proposal.withdrawn_reason == reason and proposal.ended_at == T0
    assert all(notices(p, "proposals.withdrawn") for p in world.supporters[:2])
    assert not notices(world.reporter, "proposals.withdrawn")
    assert kinds(proposal)[-1] == "withdrawn"


def test_other_needs_a_note(world):
    proposal = gen_proposal(world)
    with pytest.raises(DomainError) as error:
        services.withdraw(world.reporter, proposal, "other", " ")
    assert error.value.field == "note" and proposal.status == "collecting"
    services.withdraw(world.reporter, proposal, "other", "和舞蹈队谈妥了")
    assert proposal.withdrawn_note == "和舞蹈队谈妥了"


def test_an_unknown_reason_is_refused(world):
    with pytest.raises(DomainError) as error:
        services.withdraw(world.reporter, gen_proposal(world), "bored")
    assert error.value.field == "reason"


def test_a_draft_and_a_consultation_can_be_withdrawn(world):
    draft = gen_proposal(world, publish=False)
    services.withdraw(world.reporter, draft, "no_longer_needed")
    consultation = gen_in_deliberation(world)
    services.withdraw(world.reporter, consultation, "already_done")
    assert draft.status == consultation.status == "withdrawn"


def test_withdrawing_is_for_the_author_and_only_once(world):
    proposal = gen_proposal(world)
    for who in (world.neighbour, world.member_x, world.admin):
        with pytest.raises(NotAllowed):
            services.withdraw(who, proposal, "duplicate")
    services.withdraw(world.reporter, proposal, "duplicate")
    with pytest.raises(NotAllowed):
        services.withdraw(world.reporter, proposal, "duplicate")


# --- supports --------------------------------------------------------------------------------------------

def test_a_support_counts_once(world):
    proposal = gen_proposal(world)
    assert services.support(world.neighbour, proposal) is True
    assert services.support(world.neighbour, proposal) is False
    assert proposal.support_count == 1 and count(ProposalSupport) == 1
    assert services.has_supported(world.neighbour, proposal) and not services.has_supported(world.reporter, proposal)
    assert len(audit("proposal.supported")) == 1


def test_a_double_click_racing_past_the_check_is_a_no_op(world, monkeypatch):
    proposal = gen_proposal(world)
    services.support(world.neighbour, proposal)
    monkeypatch.setattr(services.supports, "has_supported", lambda user, proposal: False)
    assert services.support(world.neighbour, proposal) is False
    assert proposal.support_count == 1 and count(ProposalSupport) == 1
    db.session.commit()  # the transaction survived the failed insert
    assert db.session.get(Proposal, proposal.id).support_count == 1


@pytest.mark.parametrize("who", ["reporter", "pending", "resident_y", "member_x", "property_x", "admin"])
def test_support_refusals(world, who):
    with pytest.raises(NotAllowed):
        services.support(getattr(world, who), gen_proposal(world))


def test_no_support_for_a_draft(world):
    with pytest.raises(NotAllowed):
        services.support(world.neighbour, gen_proposal(world, publish=False))


def test_reaching_the_threshold_opens_the_consultation_and_tells_the_committee(world):
    proposal = gen_proposal(world, now=T0)
    gen_supports(world, proposal, THRESHOLD - 1, now=T0 + H)
    assert proposal.status == "collecting" and not notices(world.member_x)
    services.support(world.supporters[THRESHOLD - 1], proposal, now=T0 + 2 * H)
    assert proposal.status == "deliberation" and proposal.deliberation_at == T0 + 2 * H
    assert proposal.consultation_open
    event = db.session.scalars(db.select(ProposalEvent).where(ProposalEvent.kind == "threshold")).one()
    assert (event.from_state, event.to_state, event.actor_id) == ("collecting", "deliberation", None)
    for member in (world.chair_x, world.member_x):
        [notice] = notices(member, "proposals.threshold_reached")
        assert notice.payload["supports"] == THRESHOLD
    assert not notices(world.member_y)
    assert notices(world.reporter, "proposals.threshold_reached")  # the author hears of each step (#9)
    with pytest.raises(NotAllowed):
        services.support(world.supporters[THRESHOLD], proposal, now=T0 + 3 * H)


def test_a_support_is_taken_back_while_collecting(world):
    proposal = gen_proposal(world)
    services.support(world.neighbour, proposal)
    assert services.withdraw_support(world.neighbour, proposal) is True
    assert services.withdraw_support(world.neighbour, proposal) is False
    assert proposal.support_count == 0 and count(ProposalSupport) == 0
    assert services.support(world.neighbour, proposal) is True


def test_supports_cannot_be_taken_back_after_the_threshold(world):
    proposal = gen_in_deliberation(world)
    with pytest.raises(NotAllowed):
        services.withdraw_support(world.supporters[0], proposal)
    assert proposal.support_count == THRESHOLD


def test_no_support_after_the_window_even_before_run_due(world):
    proposal = gen_proposal(world, now=T0)
    with pytest.raises(DomainError):
        services.support(world.neighbour, proposal, now=T0 + 31 * D)
    assert proposal.support_count == 0


def test_supported_ids_for_a_list(world):
    first, second, third = (gen_proposal(world) for _ in range(3))
    services.support(world.neighbour, first)
    services.support(world.neighbour, third)
    assert services.supported_ids(world.neighbour, [first.id, second.id, third.id]) == {first.id, third.id}
    assert services.supported_ids(None, [first.id]) == set()


# --- the committee's steps -------------------------------------------------------------------------------

def test_a_member_moves_a_proposal_to_consultation_with_a_reason(world):
    proposal = gen_proposal(world)
    services.support(world.neighbour, proposal)
    services.move_to_deliberation(world.member_x, proposal, "雨季前必须决定", now=T0)
    assert proposal.status == "deliberation" and proposal.deliberation_at == T0
    event = db.session.scalars(db.select(ProposalEvent).where(ProposalEvent.kind == "moved")).one()
    assert (event.body, event.actor_id) == ("雨季前必须决定", world.member_x.id)
    assert notices(world.reporter, "proposals.deliberation") and notices(world.neighbour, "proposals.deliberation")
    assert not notices(world.member_x)


def test_moving_needs_a_reason(world):
    proposal = gen_proposal(world)
    with pytest.raises(DomainError) as error:
        services.move_to_deliberation(world.member_x, proposal, "  ")
    assert error.value.field == "reason" and proposal.status == "collecting"


@pytest.mark.parametrize("who", ["reporter", "neighbour", "member_y", "property_x", "official_a"])
def test_only_the_committee_moves_to_consultation(world, who):
    with pytest.raises(NotAllowed):
        services.move_to_deliberation(getattr(world, who), gen_proposal(world), "理由")


def test_a_draft_cannot_be_moved_to_consultation(world):
    with pytest.raises(NotAllowed):
        services.move_to_deliberation(world.member_x, gen_proposal(world, publish=False), "理由")


def test_closing_the_consultation_makes_comments_read_only(world):
    proposal = gen_in_deliberation(world)
    services.close_deliberation(world.member_x, proposal, "意见已充分收集", now=T0)
    assert proposal.status == "deliberation" and proposal.comments_closed_at == T0
    assert not proposal.consultation_open and kinds(proposal)[-1] == "closed"
    with pytest.raises(NotAllowed):
        gen_comment(world, proposal)
    with pytest.raises(NotAllowed):
        services.close_deliberation(world.member_x, proposal)


@pytest.mark.parametrize("who", ["reporter", "neighbour", "member_y"])
def test_only_the_committee_closes_the_consultation(world, who):
    with pytest.raises(NotAllowed):
        services.close_deliberation(getattr(world, who), gen_in_deliberation(world))


def test_a_collecting_proposal_cannot_be_closed(world):
    with pytest.raises(NotAllowed):
        services.close_deliberation(world.member_x, gen_proposal(world))


# --- archiving -------------------------------------------------------------------------------------------

def test_run_due_archives_what_did_not_reach_the_threshold_in_time(world):
    assert "archive_unsupported_proposals" in DUE_STEPS
    proposal = gen_proposal(world, now=T0)
    gen_supports(world, proposal, 1, now=T0 + H)
    consultation = gen_in_deliberation(world, now=T0)
    assert run_due(T0 + 30 * D - M)["archive_unsupported_proposals"] == 0
    assert run_due(T0 + 30 * D)["archive_unsupported_proposals"] == 1
    assert proposal.status == "archived" and proposal.ended_at == T0 + 30 * D
    assert consultation.status == "deliberation"
    assert notices(world.reporter, "proposals.archived")
    assert kinds(proposal)[-1] == "archived" and audit("proposal.archived")
    assert run_due(T0 + 31 * D)["archive_unsupported_proposals"] == 0


def test_a_page_archives_lazily(world):
    proposal = gen_proposal(world, now=T0)
    assert services.apply_due(proposal, T0 + 29 * D) is False
    assert services.apply_due(proposal, T0 + 40 * D) is True
    assert proposal.status == "archived" and proposal.ended_at == T0 + 30 * D
    assert services.apply_due(proposal, T0 + 41 * D) is False
    assert len(notices(world.reporter, "proposals.archived")) == 1


# --- comments --------------------------------------------------------------------------------------------

def test_a_comment_has_a_stance_and_counts(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, stance="against", body="  一楼采光受影响  ")
    assert (comment.stance, comment.body, comment.author) == ("against", "一楼采光受影响", world.neighbour)
    assert proposal.comment_count == 1 and audit("proposal.commented")


def test_no_comments_while_collecting(world):
    with pytest.raises(NotAllowed):
        gen_comment(world, gen_proposal(world))


@pytest.mark.parametrize("who", ["pending", "resident_y", "property_x", "official_a", "admin", "member_y"])
def test_comment_refusals(world, who):
    with pytest.raises(NotAllowed):
        gen_comment(world, gen_in_deliberation(world), author=getattr(world, who))


@pytest.mark.parametrize("stance, body, field", [
    ("maybe", "嗯", "stance"), ("for", "   ", "body"), ("for", "字" * (COMMENT_MAX + 1), "body")])
def test_bad_comments_are_refused(world, stance, body, field):
    proposal = gen_in_deliberation(world)
    with pytest.raises(DomainError) as error:
        gen_comment(world, proposal, stance=stance, body=body)
    assert error.value.field == field and count(Comment) == 0


def test_a_reply_tells_the_parents_author(world):
    proposal = gen_in_deliberation(world)
    parent = gen_comment(world, proposal, author=world.reporter)
    reply = gen_comment(world, proposal, parent=parent, stance="against")
    assert reply.parent == parent
    [notice] = notices(world.reporter, "proposals.reply")
    assert notice.payload["comment_id"] == reply.id and notice.payload["name"] == world.neighbour.display_name
    gen_comment(world, proposal, author=world.reporter, parent=parent)
    assert len(notices(world.reporter, "proposals.reply")) == 1  # not for replying to oneself


def test_a_reply_to_a_reply_joins_the_thread(world):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal)
    reply = gen_comment(world, proposal, author=world.reporter, parent=top)
    again = gen_comment(world, proposal, author=world.member_x, parent=reply)
    assert again.parent_id == top.id
    threads, _pager = services.comment_page(proposal, None)
    assert threads == [(top, [reply, again], 0)]


def test_a_reply_to_another_proposals_comment_is_refused(world):
    first, second = gen_in_deliberation(world), gen_in_deliberation(world)
    with pytest.raises(DomainError) as error:
        gen_comment(world, second, parent=gen_comment(world, first))
    assert error.value.field == "parent_id"


def test_no_replies_in_a_locked_thread(world):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal)
    reply = gen_comment(world, proposal, parent=top)
    top.locked_at = T0
    with pytest.raises(DomainError):
        gen_comment(world, proposal, parent=reply)
    gen_comment(world, proposal)  # the rest of the consultation stays open


def test_a_member_comments_for_a_resident(world):
    world.reporter.consent_in_person = True
    proposal = gen_in_deliberation(world)
    comment = services.add_comment(world.member_x, proposal, stance="for", body="刘奶奶口述：支持",
                                   on_behalf_of=world.reporter)
    assert comment.author == world.reporter and comment.created_by_id == world.member_x.id
    services.edit_comment(world.member_x, comment, stance="for", body="刘奶奶口述：非常支持")


def test_an_edit_within_ten_minutes_is_silent(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, now=T0)
    services.edit_comment(world.neighbour, comment, stance="neutral", body="改个错字", now=T0 + 10 * M)
    assert (comment.stance, comment.body, comment.edited_at) == ("neutral", "改个错字", None)
    assert count(CommentRevision) == 0


def test_a_later_edit_shows_and_keeps_what_it_said(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, body="第一版", now=T0)
    services.edit_comment(world.neighbour, comment, stance="against", body="第二版", now=T0 + 11 * M)
    assert comment.edited_at == T0 + 11 * M and comment.body == "第二版"
    services.edit_comment(world.neighbour, comment, stance="against", body="第三版", now=T0 + 2 * H)
    revisions = services.comment_revisions(comment)
    assert [(r.body, r.stance, r.written_at, r.replaced_at) for r in revisions] == [
        ("第一版", "for", T0, T0 + 11 * M), ("第二版", "against", T0 + 11 * M, T0 + 2 * H)]
    assert [e.details["silent"] for e in audit("proposal.comment_edited")] == [False, False]


def test_an_unchanged_edit_changes_nothing(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal, now=T0)
    services.edit_comment(world.neighbour, comment, stance=comment.stance, body=f" {comment.body} ", now=T0 + H)
    assert comment.edited_at is None and count(CommentRevision) == 0


def test_edits_are_refused_to_others_and_after_the_consultation(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    with pytest.raises(NotAllowed):
        services.edit_comment(world.reporter, comment, stance="for", body="冒名")
    services.close_deliberation(world.member_x, proposal)
    with pytest.raises(NotAllowed):
        services.edit_comment(world.neighbour, comment, stance="for", body="晚了")


def test_a_deleted_comment_leaves_a_placeholder_and_its_replies(world):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal, now=T0)
    reply = gen_comment(world, proposal, author=world.reporter, parent=top, now=T0 + M)
    services.edit_comment(world.neighbour, top, stance="for", body="改过", now=T0 + H)
    services.delete_comment(world.neighbour, top, now=T0 + 2 * H)
    assert (top.body, top.deleted_at) == ("", T0 + 2 * H)
    assert proposal.comment_count == 1 and count(CommentRevision) == 0
    threads, _pager = services.comment_page(proposal, None)
    assert threads == [(top, [reply], 0)]
    assert services.stance_tally(proposal) == {"for": 1, "against": 0, "neutral": 0}
    with pytest.raises(NotAllowed):
        services.delete_comment(world.neighbour, top)


def test_only_the_author_deletes_and_may_do_so_after_the_consultation(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    for who in (world.reporter, world.member_x, world.admin):
        with pytest.raises(NotAllowed):
            services.delete_comment(who, comment)
    services.close_deliberation(world.member_x, proposal)
    services.delete_comment(world.neighbour, comment)
    assert comment.deleted_at is not None


def test_deleting_a_hidden_comment_does_not_count_it_twice(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    comment.hidden_state = "hidden"
    proposal.comment_count = 0  # as the moderation area leaves it
    services.delete_comment(world.neighbour, comment)
    assert proposal.comment_count == 0


def test_likes(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    assert services.like_comment(world.reporter, comment) is True
    assert services.like_comment(world.reporter, comment) is False
    assert services.like_comment(world.member_x, comment) is True
    assert comment.like_count == 2 and count(CommentLike) == 2
    assert services.liked_ids(world.reporter, [comment.id]) == {comment.id}
    assert services.unlike_comment(world.reporter, comment) is True
    assert services.unlike_comment(world.reporter, comment) is False
    assert comment.like_count == 1 and services.liked_ids(world.reporter, [comment.id]) == set()


def test_a_like_racing_past_the_check_is_a_no_op(world, monkeypatch):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    services.like_comment(world.reporter, comment)
    monkeypatch.setattr(services.consultation, "liked_ids", lambda user, ids: set())
    assert services.like_comment(world.reporter, comment) is False
    assert comment.like_count == 1


def test_like_refusals(world):
    proposal = gen_in_deliberation(world)
    comment = gen_comment(world, proposal)
    for who in (world.neighbour, world.pending, world.resident_y, world.property_x, world.admin):
        with pytest.raises(NotAllowed):
            services.like_comment(who, comment)
    services.delete_comment(world.neighbour, comment)
    with pytest.raises(NotAllowed):
        services.like_comment(world.reporter, comment)


def test_the_stance_tally_counts_visible_comments_and_replies(world):
    proposal = gen_in_deliberation(world)
    top = gen_comment(world, proposal, stance="for")
    gen_comment(world, proposal, author=world.reporter, stance="against", parent=top)
    gen_comment(world, proposal, author=world.member_x, stance="neutral")
    gen_comment(world, proposal, author=world.supporters[0], stance="against").hidden_state = "pending"
    assert services.stance_tally(proposal) == {"for": 1, "against": 1, "neutral": 1}


# --- the summary -----------------------------------------------------------------------------------------

def test_a_member_writes_the_summary(world):
    proposal = gen_in_deliberation(world)
    services.write_summary(world.member_x, proposal, arguments_for=" 老人多，刚需 ", arguments_against="", now=T0)
    assert (proposal.summary_for, proposal.summary_against) == ("老人多，刚需", None)
    assert (proposal.summary_by_id, proposal.summary_at) == (world.member_x.id, T0)
    assert kinds(proposal)[-1] == "summary" and audit("proposal.summary_written")
    services.write_summary(world.member_x, proposal, arguments_for="", arguments_against="采光受影响")
    assert (proposal.summary_for, proposal.summary_against) == (None, "采光受影响")


@pytest.mark.parametrize("arguments_for, arguments_against, field", [
    ("", " ", "arguments_for"), ("x" * (SUMMARY_TEXT_MAX + 1), "", "arguments_for"),
    ("", "x" * (SUMMARY_TEXT_MAX + 1), "arguments_against")])
def test_a_bad_summary_is_refused(world, arguments_for, arguments_against, field):
    proposal = gen_in_deliberation(world)
    with pytest.raises(DomainError) as error:
        services.write_summary(world.member_x, proposal, arguments_for=arguments_for,
                               arguments_against=arguments_against)
    assert error.value.field == field and proposal.summary_at is None


def test_the_summary_is_the_committees_and_comes_with_the_consultation(world):
    with pytest.raises(NotAllowed):
        services.write_summary(world.member_x, gen_proposal(world), arguments_for="早了", arguments_against="")
    for who in (world.reporter, world.neighbour, world.member_y):
        with pytest.raises(NotAllowed):
            services.write_summary(who, gen_in_deliberation(world), arguments_for="x", arguments_against="")


# --- from an issue ---------------------------------------------------------------------------------------

def test_an_issue_becomes_a_draft_linked_both_ways(world):
    issue = gen_issue(world, title="外墙瓷砖脱落", description="5号楼南面外墙有瓷砖掉落。\n\n楼下是出入口。",
                      building=world.bx, category="facilities")
    proposal = services.escalate_issue(world.member_x, issue, now=T0)
    assert (proposal.status, proposal.author, proposal.source_issue) == ("draft", world.member_x, issue)
    assert (proposal.title, proposal.category, proposal.buildings) == ("外墙瓷砖脱落", "facilities", [world.bx])
    assert proposal.summary == "5号楼南面外墙有瓷砖掉落。 楼下是出入口。"
    assert f"/c/x/issues/{issue.id}" in proposal.body and "> 楼下是出入口。" in proposal.body
    assert f'href="https://yishi.test/c/x/issues/{issue.id}"' in proposal.body_html
    event = db.session.scalars(db.select(IssueEvent).where(IssueEvent.kind == "escalated")).one()
    assert event.is_public and event.details == {"proposal_id": proposal.id} and event.at == T0
    assert kinds(proposal) == ["escalated"] and audit("issue.escalated")


@pytest.mark.parametrize("issue_category, category", [
    ("lift", "lift"), ("parking", "parking"), ("greenery", "environment"), ("rubbish", "environment"),
    ("security", "safety"), ("noise", "other")])
def test_the_issue_category_suggests_the_proposal_category(world, issue_category, category):
    issue = gen_issue(world, category=issue_category)
    assert services.escalate_issue(world.member_x, issue).category == category


def test_a_long_description_is_cut_for_the_summary(world):
    issue = gen_issue(world, description="很长" * 400)
    proposal = services.escalate_issue(world.member_x, issue)
    assert len(proposal.summary) == 500 and proposal.summary.endswith("…")


def test_an_issue_is_escalated_once_unless_that_proposal_was_withdrawn(world):
    issue = gen_issue(world)
    first = services.escalate_issue(world.member_x, issue)
    with pytest.raises(DomainError) as error:
        services.escalate_issue(world.chair_x, issue)
    assert first.title in str(error.value.message)
    services.withdraw(world.member_x, first, "duplicate")
    assert services.escalate_issue(world.chair_x, issue).id != first.id


@pytest.mark.parametrize("who", ["reporter", "neighbour", "property_x", "member_y", "admin"])
def test_only_the_committee_escalates(world, who):
    with pytest.raises(NotAllowed):
        services.escalate_issue(getattr(world, who), gen_issue(world))


# --- lists -----------------------------------------------------------------------------------------------

def test_the_list_shows_published_proposals_newest_first_never_drafts(world):
    gen_proposal(world, publish=False)
    old = gen_proposal(world, title="旧提案", now=T0)
    new = gen_proposal(world, title="新提案")
    new.hidden_state = "pending"
    assert services.community_proposals(world.x, None) == ([new, old], None)
    assert services.my_drafts(world.reporter, world.x)[0].status == "draft"
    assert services.my_drafts(world.neighbour, world.x) == [] and services.my_drafts(None, world.x) == []


def test_filters_by_status_and_category(world):
    collecting = gen_proposal(world, category="parking")
    consultation = gen_in_deliberation(world)
    withdrawn = gen_proposal(world)
    services.withdraw(world.reporter, withdrawn, "duplicate")
    rows = lambda **kw: services.community_proposals(world.x, None, **kw)[0]  # noqa: E731
    assert rows(status="collecting") == [collecting]
    assert rows(status="open") == [consultation, collecting]
    assert rows(status="withdrawn") == [withdrawn]
    assert rows(category="parking") == [collecting]
    assert rows(status="deliberation", category="lift") == [consultation]


@pytest.mark.parametrize("kwargs, field", [
    ({"status": "draft"}, "status"), ({"status": "lost"}, "status"), ({"category": "weather"}, "category"),
    ({"after": "not-a-cursor"}, "after")])
def test_unknown_filters_are_refused(world, kwargs, field):
    with pytest.raises(DomainError) as error:
        services.community_proposals(world.x, None, **kwargs)
    assert error.value.field == field


def test_search_in_chinese_and_english_needs_every_term(world):
    lift = gen_proposal(world, title="3号楼加装电梯 Add a lift", summary="老人上下楼困难")
    parking = gen_proposal(world, title="停车位规划 Parking spaces", summary="重新划线，增加车位")
    gen_proposal(world, title="其他小区的电梯", community=world.y, author=world.resident_y)
    search = lambda q: services.community_proposals(world.x, None, q=q)[0]  # noqa: E731
    assert search("电梯") == [lift]
    assert search("加装电梯") == [lift]
    assert search("lifts") == [lift] and search("LIFT") == [lift]
    assert search("parking space") == [parking]
    assert search("划线") == [parking]  # the summary counts too
    assert search("电梯 停车") == []
    assert search("the") == [] and search("   ") == [parking, lift]


def test_i_supported_and_needs_my_support(world):
    supported = gen_proposal(world, title="我支持的")
    waiting = gen_proposal(world, title="等支持的")
    own = gen_proposal(world, author=world.neighbour, title="我自己的")
    gen_in_deliberation(world)
    expired = gen_proposal(world, now=T0)
    services.support(world.neighbour, supported)
    assert services.community_proposals(world.x, world.neighbour, supported_by=world.neighbour)[0] == [supported]
    assert services.community_proposals(world.x, world.neighbour, needs_support_of=world.neighbour)[0] == [waiting]
    assert own.id and expired.id
    assert services.community_proposals(world.x, None, supported_by=AnonymousUserMixin()) == ([], None)


def test_keyset_pages_hold_together_when_times_tie(world):
    made = [gen_proposal(world, title=f"提案{n}", now=T0 + (n // 3) * H) for n in range(8)]
    expected = sorted(made, key=lambda p: (p.published_at, p.id), reverse=True)
    seen, after = [], None
    while True:
        page, after = services.community_proposals(world.x, None, limit=3, after=after)
        seen += page
        if after is None:
            break
    assert seen == expected


def test_a_members_only_list_is_closed_to_strangers(world):
    world.x.members_only = True
    with pytest.raises(NotAllowed):
        services.community_proposals(world.x, world.stranger)
    assert services.community_proposals(world.x, world.neighbour) == ([], None)


def test_the_feed_has_published_visible_proposals(world):
    gen_proposal(world, publish=False)
    shown = gen_proposal(world)
    gen_proposal(world).hidden_state = "hidden"
    assert services.new_proposals_feed(world.x) == [shown]


def test_comment_pages_sort_and_page(world):
    proposal = gen_in_deliberation(world)
    first = gen_comment(world, proposal, body="一")
    second = gen_comment(world, proposal, author=world.reporter, body="二")
    third = gen_comment(world, proposal, author=world.member_x, body="三")
    services.like_comment(world.reporter, third)
    services.like_comment(world.member_x, first)
    services.like_comment(world.neighbour, third)
    top = lambda **kw: [t.top for t in services.comment_page(proposal, None, **kw)[0]]  # noqa: E731
    assert top() == [first, second, third]
    assert top(sort="newest") == [third, second, first]
    assert top(sort="liked") == [third, first, second]
    assert top(per_page=2, page=2) == [third]
    _threads, pager = services.comment_page(proposal, None, per_page=2)
    assert (pager.pages, pager.total) == (2, 3)
    with pytest.raises(DomainError):
        services.comment_page(proposal, None, sort="random")


def test_a_comment_page_takes_three_queries_whatever_its_size(world):
    proposal = gen_in_deliberation(world)
    people = [world.neighbour, world.reporter, world.member_x] + world.supporters
    for n in range(30):
        top = gen_comment(world, proposal, author=people[n % len(people)], body=f"意见{n}")
        gen_comment(world, proposal, author=people[(n + 1) % len(people)], parent=top, body=f"回复{n}")
    db.session.commit()
    db.session.expire_all()
    proposal = db.session.get(Proposal, proposal.id)
    with recorded_statements() as statements:
        threads, _pager = services.comment_page(proposal, None, per_page=20)
        names = {c.author.display_name for t, replies, _more in threads for c in [t, *replies]}
    assert len(threads) == 20 and len(names) > 5
    assert len(statements) == 3


def test_step_dates_timeline_and_versions(world):
    proposal = gen_proposal(world, publish=False, now=T0)
    services.publish(world.reporter, proposal, now=T0 + H)
    gen_supports(world, proposal, THRESHOLD, now=T0 + 2 * H)
    assert services.step_dates(proposal) == {"draft": T0, "collecting": T0 + H, "deliberation": T0 + 2 * H}
    labels = [services.event_label(e) for e in services.timeline(proposal, None)]
    assert len(labels) == 3 and all(isinstance(label, str) for label in labels)
    assert [v.version for v in services.versions(proposal)] == [1]


def test_proposal_in_and_comment_in_stay_in_their_place(world):
    proposal = gen_in_deliberation(world)
    other = gen_proposal(world, community=world.y, author=world.resident_y)
    comment = gen_comment(world, proposal)
    assert services.proposal_in(world.x, proposal.id) == proposal
    assert services.proposal_in(world.x, other.id) is None and services.proposal_in(world.x, "abc") is None
    assert services.comment_in(proposal, comment.id) == comment and services.comment_in(other, comment.id) is None
