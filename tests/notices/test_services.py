"""Notices through real ballots: a decision starts the notice; objections inside the period (once each),
refused outside it; answers by the committee only, once; the end after the period only when every
objection has an answer (passed → implementing, rejected → archived), through run-due and lazily."""
from datetime import timedelta

import pytest

from portal.clock import utcnow
from portal.due import run_due
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notices import services
from portal.notices.models import Notice, Objection
from portal.notifications.models import Notification
from tests.notices import decide


def notice_of(ballot) -> Notice:
    return db.session.scalar(db.select(Notice).where(Notice.ballot_id == ballot.id))


def events(kind):
    return db.session.scalars(db.select(Notification).where(Notification.event == kind)).all()


def test_a_passed_ballot_starts_the_notice(world):
    now = utcnow()
    ballot = decide(world, now=now)
    notice = notice_of(ballot)
    assert notice is not None and notice.status == "open" and notice.outcome == "passed"
    assert notice.proposal.status == "notice" and notice.proposal.outcome == "passed"
    assert notice.ends_at - notice.starts_at == timedelta(days=7)
    assert notice.organization_id == world.rc_x.id
    assert notice.statement.startswith(ballot.question)
    assert world.rc_x.name in notice.how_to_object
    started = {n.recipient_id for n in events("notices.started")}
    assert world.reporter.id in started  # the author
    assert world.chair_x.id in started  # a voter
    assert [e.to_state for e in notice.proposal.events][-2:] == ["decided", "notice"]


def test_the_period_follows_the_community_setting(world):
    world.x.notice_days = 3
    notice = notice_of(decide(world))
    assert notice.ends_at - notice.starts_at == timedelta(days=3)


def test_a_ballot_that_does_not_decide_starts_no_notice(world):
    from portal.votes import services as votes
    from tests.votes import gen_ballot
    ballot = gen_ballot(world, "committee")
    votes.close(world.chair_x, ballot, "无人投票")
    assert ballot.result == "no_quorum" and notice_of(ballot) is None
    assert ballot.proposal.status == "deliberation"


def test_objection_inside_the_period_once_each(world):
    now = utcnow()
    notice = notice_of(decide(world, now=now))
    objection = services.lodge_objection(world.neighbour, notice, "  电梯井占用绿地，请重新论证。 ", now=now + timedelta(days=1))  # noqa: E501
    assert objection.body == "电梯井占用绿地，请重新论证。"
    assert {n.recipient_id for n in events("notices.objection")} == {world.chair_x.id, world.member_x.id}
    with pytest.raises(DomainError) as second:
        services.lodge_objection(world.neighbour, notice, "再说一次", now=now + timedelta(days=2))
    assert second.value.field == "body"
    assert db.session.scalar(db.select(db.func.count()).select_from(Objection)) == 1


def test_objection_outside_the_period_is_refused(world):
    now = utcnow()
    notice = notice_of(decide(world, now=now))
    with pytest.raises(DomainError):
        services.lodge_objection(world.neighbour, notice, "太晚了", now=notice.ends_at)
    with pytest.raises(DomainError):
        services.lodge_objection(world.neighbour, notice, "太早了", now=now - timedelta(minutes=1))
    assert not notice.objections


@pytest.mark.parametrize("body", ["", "   ", "x" * (services.OBJECTION_MAX + 1), None])
def test_objection_text_is_checked(world, body):
    notice = notice_of(decide(world))
    with pytest.raises(DomainError) as refused:
        services.lodge_objection(world.neighbour, notice, body)
    assert refused.value.field == "body"


@pytest.mark.parametrize("who", ["pending", "member_y", "resident_y", "stranger", "official_a"])
def test_only_verified_residents_of_the_community_object(world, who):
    notice = notice_of(decide(world))
    with pytest.raises(NotAllowed):
        services.lodge_objection(getattr(world, who), notice, "我反对")


def test_answers_by_the_committee_once(world):
    now = utcnow()
    notice = notice_of(decide(world, now=now))
    objection = services.lodge_objection(world.neighbour, notice, "噪音怎么办？", now=now)
    for who in ("neighbour", "reporter", "member_y", "stranger"):
        with pytest.raises(NotAllowed):
            services.answer_objection(getattr(world, who), objection, "答复")
    with pytest.raises(DomainError):
        services.answer_objection(world.chair_x, objection, "  ")
    services.answer_objection(world.chair_x, objection, "施工时间限定在白天。", now=now + timedelta(hours=1))
    assert objection.answer == "施工时间限定在白天。" and objection.answered_by_id == world.chair_x.id
    assert [n.recipient_id for n in events("notices.answered")] == [world.neighbour.id]
    with pytest.raises(DomainError):
        services.answer_objection(world.member_x, objection, "再答一次")
    assert objection.answer == "施工时间限定在白天。"


def test_moves_to_implementing_only_when_every_objection_is_answered(world):
    now = utcnow()
    notice = notice_of(decide(world, now=now))
    first = services.lodge_objection(world.neighbour, notice, "反对一", now=now + timedelta(days=1))
    second = services.lodge_objection(world.supporters[0], notice, "反对二", now=now + timedelta(days=2))
    services.answer_objection(world.chair_x, first, "答复一", now=now + timedelta(days=3))
    assert not services.apply_due(notice, now + timedelta(days=6))  # the period is still running
    after = notice.ends_at + timedelta(hours=1)
    assert not services.apply_due(notice, after)  # one objection waits for its answer
    assert notice.status == "open" and notice.proposal.status == "notice"
    with pytest.raises(DomainError):  # the period is over for new objections all the same
        services.lodge_objection(world.reporter, notice, "反对三", now=after)
    services.answer_objection(world.member_x, second, "答复二", now=after + timedelta(hours=1))
    assert notice.status == "ended" and notice.proposal.status == "implementing"
    assert notice.ended_at == after + timedelta(hours=1)
    assert not services.apply_due(notice, after + timedelta(days=1))  # idempotent
    assert {n.recipient_id for n in events("notices.implementing")} >= {world.reporter.id, world.neighbour.id}


def test_a_rejected_proposal_is_archived_after_its_notice(world):
    now = utcnow()
    notice = notice_of(decide(world, "rejected", now=now))
    assert notice.outcome == "rejected" and notice.proposal.outcome == "rejected"
    assert services.apply_due(notice, notice.ends_at)
    assert notice.proposal.status == "archived" and notice.proposal.ended_at == notice.ends_at
    assert notice.proposal.events[-1].kind == "archived_after_notice"


def test_run_due_ends_notices_whose_time_has_come(world):
    now = utcnow()
    due = notice_of(decide(world, now=now - timedelta(days=8)))
    running = notice_of(decide(world, now=now))
    waiting = notice_of(decide(world, now=now - timedelta(days=9)))
    db.session.add(Objection(notice=waiting, user_id=world.neighbour.id, body="反对",
                             created_at=now - timedelta(days=8)))  # lodged in its period, never answered
    db.session.commit()
    results = run_due(now)
    assert results["end_public_notices"] == 1
    db.session.expire_all()
    assert (db.session.get(Notice, due.id).status, db.session.get(Notice, due.id).proposal.status) == \
        ("ended", "implementing")
    assert db.session.get(Notice, running.id).status == "open"
    assert db.session.get(Notice, waiting.id).status == "open"
    assert run_due(now)["end_public_notices"] == 0


def test_lists_open_first(world):
    now = utcnow()
    ended = notice_of(decide(world, now=now - timedelta(days=10)))
    services.apply_due(ended, now)
    soon = notice_of(decide(world, now=now - timedelta(days=5)))
    later = notice_of(decide(world, now=now))
    assert [n.id for n in services.community_notices(world.x, world.stranger).notices] == \
        [soon.id, later.id, ended.id]
    assert services.notice_in(world.y, soon.id) is None
    assert services.notice_in(world.x, "abc") is None and services.notice_in(world.x, 2**40) is None


def ended_notices(world, count, *, now=None):
    """`count` ended notices in community x (one a day back from `now`, two on the same day at the end, to
    show the tie on the start broken by id), on the proposal of one decided now (whose notice is open): the
    board does not mind whose. (made, the open notice)"""
    now = now or utcnow()
    open_one = notice_of(decide(world, now=now))
    proposal = open_one.proposal
    made = []
    for n in range(count):
        starts = now - timedelta(days=300 - min(n, count - 2))
        made.append(Notice(proposal=proposal, community=world.x, outcome="passed", statement="s", how_to_object="h",
                           starts_at=starts, ends_at=starts + timedelta(days=7), status="ended", ended_at=starts))
    db.session.add_all(made)
    db.session.flush()
    return made, open_one


def test_the_board_pages_ended_notices_latest_first_and_shows_open_ones_on_the_first_page(world):
    from tests.queries import count_statements
    now = utcnow()
    made, open_one = ended_notices(world, 45, now=now)
    everything = db.session.scalars(db.select(Notice).where(Notice.community_id == world.x.id,
                                                            Notice.status == "ended")).all()
    expected = [n.id for n in sorted(everything, key=lambda n: (n.starts_at, n.id), reverse=True)]
    assert len(expected) == 45 and made[-1].starts_at == made[-2].starts_at
    seen, before, pages = [], None, 0
    while True:
        page = services.community_notices(world.x, world.stranger, before=before, per_page=20)
        assert [n.id for n in page.open] == ([open_one.id] if before is None else [])
        seen += [n.id for n in page.ended]
        pages += 1
        if page.older_than is None:
            break
        assert page.older_than == page.ended[-1].id
        before = str(page.older_than)
    assert seen == expected and pages == 3
    # A page is a fixed number of statements whatever the number of notices: the open notices and their
    # proposals (first page) or the cursor's notice (later pages), then the page and its proposals.
    for before, most in ((None, 4), (expected[19], 3)):
        db.session.expire_all()
        world.x.members_only, world.stranger.id  # noqa: B018 (loaded again before counting)
        assert count_statements(lambda: services.community_notices(world.x, world.stranger, before=before)) <= most


@pytest.mark.parametrize("before", ["abc", "-1", "0", "99999999999999999999", "4\x00"])
def test_a_bad_board_link_is_refused_with_a_message(world, before):
    ended_notices(world, 3)
    with pytest.raises(DomainError):
        services.community_notices(world.x, world.stranger, before=before)


def test_a_board_link_to_an_open_notice_or_another_communitys_is_refused(world):
    made, open_one = ended_notices(world, 3)
    for notice in (open_one,):
        with pytest.raises(DomainError):
            services.community_notices(world.x, world.stranger, before=notice.id)
    with pytest.raises(DomainError):
        services.community_notices(world.y, world.stranger, before=made[0].id)
