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


def board_notices(world, ended_count, open_count=0, *, now=None):
    """`ended_count` ended notices in community x (a day apart, the last two on the same day, to show a tie
    on the start broken by id) and `open_count` open ones (ending a day apart, the last two together), on
    the proposal of one decided now (whose own notice is open too): the board does not mind whose.
    (ended ones, open ones with the decided one)"""
    now = now or utcnow()
    decided = notice_of(decide(world, now=now))
    proposal = decided.proposal
    ended, opened = [], [decided]
    for n in range(ended_count):
        starts = now - timedelta(days=300 - min(n, ended_count - 2))
        ended.append(Notice(proposal=proposal, community=world.x, outcome="passed", statement="s",
                            how_to_object="h", starts_at=starts, ends_at=starts + timedelta(days=7),
                            status="ended", ended_at=starts))
    for n in range(open_count):
        ends = now + timedelta(days=30 + min(n, open_count - 2))
        opened.append(Notice(proposal=proposal, community=world.x, outcome="passed", statement="s",
                             how_to_object="h", starts_at=now, ends_at=ends, status="open"))
    db.session.add_all(ended + opened[1:])
    db.session.flush()
    return ended, opened


def walk_board(world, per_page):
    """Every page of community x's board: (the notices' ids in order, the pages' (open, ended) sizes)."""
    seen, sizes, after = [], [], None
    while True:
        page = services.community_notices(world.x, world.stranger, after=after, per_page=per_page)
        seen += [n.id for n in page.notices]
        sizes.append((len(page.open), len(page.ended)))
        if page.next_after is None:
            return seen, sizes
        after = page.next_after


@pytest.mark.parametrize("ended_count, open_count, per_page", [(45, 0, 20), (45, 25, 20), (10, 19, 20),
                                                               (3, 40, 20), (0, 30, 7), (5, 2, 1)])
def test_the_board_runs_open_notices_then_ended_ones_a_page_at_a_time(world, ended_count, open_count, per_page):
    now = utcnow()
    board_notices(world, ended_count, open_count, now=now)
    everything = db.session.scalars(db.select(Notice).where(Notice.community_id == world.x.id)).all()
    opened = sorted((n for n in everything if n.status == "open"), key=lambda n: (n.ends_at, n.id))
    ended = sorted((n for n in everything if n.status == "ended"), key=lambda n: (n.starts_at, n.id), reverse=True)
    seen, sizes = walk_board(world, per_page)
    assert seen == [n.id for n in opened + ended]
    assert all(o + e == per_page for o, e in sizes[:-1]) and 0 < sum(sizes[-1]) <= per_page


def test_a_board_page_is_a_few_statements_whatever_the_number_of_notices(world):
    from tests.queries import count_statements
    board_notices(world, 45, 25)
    first = services.community_notices(world.x, world.stranger)
    second = services.community_notices(world.x, world.stranger, after=first.next_after)
    third = services.community_notices(world.x, world.stranger, after=second.next_after)
    assert (len(first.open), len(second.open), len(second.ended), len(third.ended)) == (20, 6, 14, 20)
    # The cursor's notice, the open page and its proposals, the ended page and its proposals.
    for after in (None, first.next_after, second.next_after):
        db.session.expire_all()
        world.x.members_only, world.stranger.id  # noqa: B018 (loaded again before counting)
        assert count_statements(lambda: services.community_notices(world.x, world.stranger, after=after)) <= 5


@pytest.mark.parametrize("after", ["abc", "-1", "0", "e0", "o-1", "e99999999999999999999", "e4\x00", "x1", "e١"])
def test_a_bad_board_link_is_refused_with_a_message(world, after):
    board_notices(world, 3)
    with pytest.raises(DomainError):
        services.community_notices(world.x, world.stranger, after=after)


def test_a_board_link_to_a_notice_that_changed_part_or_of_another_community_is_refused(world):
    ended, opened = board_notices(world, 3, 2)
    for after in (f"e{opened[0].id}", f"o{ended[0].id}"):
        with pytest.raises(DomainError):
            services.community_notices(world.x, world.stranger, after=after)
    with pytest.raises(DomainError):
        services.community_notices(world.y, world.stranger, after=f"e{ended[0].id}")
