"""The proposals demo: every state this area knows, a lively consultation, idempotent."""
from portal.extensions import db
from portal.issues.demo import seed_issues
from portal.issues.models import IssueEvent
from portal.moderation.models import Flag
from portal.proposals.demo import LIFT_COMMENTS, seed_proposals
from portal.proposals.models import (
    Comment,
    CommentLike,
    CommentRevision,
    Proposal,
    ProposalEvent,
    ProposalSupport,
    ProposalVersion,
)
from portal.residents.demo import seed_people
from tests.residents.test_demo import demo_places

LATER_STATES = {"voting", "decided", "notice", "implementing", "evaluated"}


def counts():
    return {model.__name__: db.session.scalar(db.select(db.func.count(model.id)))
            for model in (Proposal, ProposalEvent, ProposalSupport, ProposalVersion, Comment, CommentLike,
                          CommentRevision, Flag)}


def test_the_demo_shows_every_state_of_this_area_and_is_idempotent(app):
    demo_places()
    seed_people()
    seed_issues()
    lines = seed_proposals()
    assert len(lines) == 1 and "proposals" in lines[0]
    proposals = db.session.scalars(db.select(Proposal)).all()
    assert {p.status for p in proposals} == {"draft", "collecting", "deliberation", "withdrawn", "archived"}
    assert not {p.status for p in proposals} & LATER_STATES
    assert {p.withdrawn_reason for p in proposals if p.status == "withdrawn"} == {
        "duplicate", "already_done", "no_longer_needed", "other"}
    assert any(p.created_by_id for p in proposals if p.status == "draft")  # written at the counter
    assert any(p.source_issue_id for p in proposals)
    assert db.session.scalar(db.select(IssueEvent).where(IssueEvent.kind == "escalated")) is not None
    collecting = [p for p in proposals if p.status == "collecting"]
    assert any(p.support_count == p.support_threshold - 1 for p in collecting)
    assert any(p.version > 1 for p in collecting)
    consultations = [p for p in proposals if p.status == "deliberation"]
    assert any(p.comments_closed_at for p in consultations)
    assert any(p.comments_closed_at is None for p in consultations)
    assert any(p.summary_for for p in consultations)
    lift = max(consultations, key=lambda p: p.comment_count)
    comments = db.session.scalars(db.select(Comment).where(Comment.proposal_id == lift.id)).all()
    assert len(comments) == len(LIFT_COMMENTS)
    assert {c.hidden_state for c in comments} == {None, "pending", "hidden"}
    assert any(c.deleted_at for c in comments) and any(c.edited_at for c in comments)
    assert {c.stance for c in comments} == {"for", "against", "neutral"}
    assert lift.comment_count == sum(1 for c in comments if c.deleted_at is None and c.hidden_state is None)
    assert any(c.like_count for c in comments)
    before = counts()
    assert seed_proposals() == [lines[0].split(":")[0] + ": proposals already seeded"]
    seed_people()
    assert counts() == before


def test_the_demo_does_nothing_without_places(app):
    assert seed_proposals() == []
    assert counts()["Proposal"] == 0
