"""The notices demo: the decided ballots' notices, one with answered objections and one waiting; the others
ended (proposal carried out or archived). Idempotent."""
from portal.extensions import db
from portal.issues.demo import seed_issues
from portal.notices.demo import seed_notices
from portal.notices.models import Notice, Objection
from portal.proposals.demo import seed_proposals
from portal.residents.demo import seed_people
from portal.votes.demo import seed_votes
from tests.residents.test_demo import demo_places


def test_the_demo_shows_notices_with_objections_and_is_idempotent(app):
    demo_places()
    seed_people()
    seed_issues()
    seed_proposals()
    seed_votes()
    seed_notices()
    db.session.commit()
    notices = db.session.scalars(db.select(Notice).order_by(Notice.id)).all()
    assert notices
    objections = db.session.scalars(db.select(Objection)).all()
    assert len([o for o in objections if o.answered_at]) == 2 and len([o for o in objections if not o.answered_at]) == 1
    waiting = objections[0].notice
    assert waiting.status == "open" and waiting.proposal.status == "notice"
    for n in notices:
        if n.id != waiting.id and n.status == "ended":
            assert n.proposal.status == ("implementing" if n.outcome == "passed" else "archived")
    before = len(objections)
    assert "already seeded" in seed_notices()[0]
    assert db.session.scalar(db.select(db.func.count()).select_from(Objection)) == before
