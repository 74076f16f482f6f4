"""The meetings demo: every meeting state for 花家地, minutes v1 and a correction v2, each follow-up; idempotent."""
from portal.committees import meetings
from portal.committees.meetings_demo import seed_meetings
from portal.committees.models import Decision, Meeting
from portal.extensions import db
from portal.issues.demo import seed_issues
from portal.proposals.demo import seed_proposals
from portal.residents.demo import seed_people
from portal.votes.demo import seed_votes
from tests.residents.test_demo import demo_places


def test_the_demo_has_a_meeting_in_every_state_and_is_idempotent(app):
    demo_places()
    seed_people()
    seed_issues()
    seed_proposals()
    seed_votes()
    lines = seed_meetings()
    assert len(lines) == 1 and "4 meetings" in lines[0], lines
    all_meetings = db.session.scalars(db.select(Meeting).order_by(Meeting.id)).all()
    assert sorted(m.status for m in all_meetings) == ["cancelled", "held", "scheduled", "scheduled"]
    assert any(not m.is_public for m in all_meetings)
    held = next(m for m in all_meetings if m.status == "held")
    present, members, met = meetings.quorum(held)
    assert met and (present, members) == (4, 5)
    versions = meetings.minutes_versions(held)
    assert [(v.version, v.status) for v in versions] == [(1, "published"), (2, "published")]
    assert versions[1].correction_note and versions[0].items != versions[1].items
    follow_ups = {d.follow_up for d in db.session.scalars(db.select(Decision))}
    assert follow_ups == {"open_ballot", "create_action", "refer_subdistrict", "none"}
    upcoming = next(m for m in all_meetings if m.status == "scheduled" and m.is_public)
    assert any(i.proposal_id for i in upcoming.agenda) and any(i.issue_id for i in upcoming.agenda)
    db.session.commit()
    assert seed_meetings() == [f"{held.community.name}: meetings already seeded"]
    assert db.session.scalar(db.select(db.func.count(Meeting.id))) == 4
