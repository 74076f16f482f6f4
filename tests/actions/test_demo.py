"""The actions demo: an action in every state through the services (planned, in progress with reports and a
photo, blocked, done and rated, evaluated with its proposal, overdue and chased, split into steps, from each
source), evidence files on disk. Idempotent."""
from portal.actions import services
from portal.actions.demo import seed_actions
from portal.actions.models import Action, ActionEvidence, ActionRating, ActionSummons, ActionUpdate, Chase
from portal.clock import utcnow
from portal.committees.meetings_demo import seed_meetings
from portal.extensions import db
from portal.issues.demo import seed_issues
from portal.issues.models import IssueEvent
from portal.notices.demo import seed_notices
from portal.proposals.demo import seed_proposals
from portal.residents.demo import seed_people
from portal.votes.demo import seed_votes
from tests.residents.test_demo import demo_places


def _count(model):
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_the_demo_shows_actions_in_every_state_and_is_idempotent(app):
    demo_places()
    seed_people()
    seed_issues()
    seed_proposals()
    seed_votes()
    seed_meetings()
    seed_notices()
    lines = seed_actions()
    db.session.commit()
    assert "actions" in lines[0] and "already" not in lines[0]
    actions = db.session.scalars(db.select(Action).order_by(Action.id)).all()
    assert {"planned", "in_progress", "blocked", "done"} <= {a.status for a in actions}
    assert {a.source for a in actions} == {"proposal", "decision", "issue", "hotspot"}
    now = utcnow()
    top = [a for a in actions if a.parent_id is None]
    assert sum(services.overdue_now(a, now) for a in top) >= 2

    running = next(a for a in top if a.source == "decision")
    assert running.status == "in_progress"
    assert len([u for u in running.updates if u.kind == "progress"]) == 2 and running.evidence

    blocked = next(a for a in top if a.status == "blocked")
    assert blocked.blocked_reason and blocked.unblock_by

    evaluated = next(a for a in top if a.evaluated_at is not None)
    assert evaluated.proposal is not None and evaluated.proposal.status == "evaluated"
    done = next(a for a in top if a.status == "done" and a.evaluated_at is None)
    summary = services.rating_summary(done)
    assert done.completion_note and done.evidence and summary["total"] >= 3
    assert len([s for s in ("satisfied", "basically_satisfied", "dissatisfied") if summary[s]]) >= 2

    parent = next(a for a in top if a.children and a.source == "hotspot")
    assert len(parent.children) == 3
    assert parent.progress == services.progress_of(parent) == 50
    assert parent.status == "in_progress"  # its first step is done: it follows its steps

    # One of each organization of the community framework, each with a member; the volunteer team owns an
    # action residents signed up for (one of them counted only).
    from portal.committees.models import Organization
    kinds = {o.kind: o for o in db.session.scalars(db.select(Organization))}
    for kind in ("party_committee", "service_station", "social_organization", "volunteer_team"):
        assert kinds[kind].community.slug == "huajiadi" and kinds[kind].current_memberships()
    guarded = next(a for a in top if a.responsible_org.kind == "volunteer_team")
    assert guarded.volunteer_count == 4 == services.count_volunteers(guarded)
    assert len(services.named_volunteers(guarded)) == 3 and "4 volunteers" in lines[0]

    assert {c.item_type for c in db.session.scalars(db.select(Chase))} == {"action", "issue"}
    assert db.session.scalar(db.select(db.func.count(IssueEvent.id)).where(IssueEvent.kind == "chased")) == 1
    evidence = db.session.scalars(db.select(ActionEvidence)).all()
    assert evidence and all(services.evidence_path(e, 1600).is_file() and services.evidence_path(e, 400).is_file()
                            for e in evidence)

    # Whistle-blowing: the blocked action summoned both departments, one reported in late (after the
    # warning); each commitment is a step of its department. The whistle-blown work orders of the issues demo
    # have their joint-handling actions, the dated commitments as steps.
    summonses = db.session.scalars(db.select(ActionSummons).order_by(ActionSummons.id)).all()
    assert len(summonses) == 2 and blocked.id == summonses[0].action_id
    assert [s.is_late(s.reported_at) for s in summonses] == [False, True] and summonses[1].late_warned_at
    assert {s.sub_action.responsible_org.kind for s in summonses} == {"department"}
    assert {c.id for c in blocked.children} == {s.sub_action_id for s in summonses}
    joints = [a for a in top if a.joint_issue_id is not None]
    assert joints and all(a.source == "issue" and a.children for a in joints)
    assert "2 organizations summoned to actions" in lines[0]

    before = {m: _count(m) for m in (Action, ActionUpdate, ActionEvidence, ActionRating, Chase, ActionSummons)}
    assert "already seeded" in seed_actions()[0]
    db.session.commit()
    assert {m: _count(m) for m in before} == before
