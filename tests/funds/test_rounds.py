"""Budget rounds: the phase from the dates, opening a round, proposing and reviewing projects, the result's
funding order (a skipped project, ties by each printed rule), and publishing — winners become agreed actions
with their allocation in the ledger, exactly in fen, and every decided project gets its public notice."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.clock import local_today
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.funds import rounds, services
from portal.funds.rounds import Entry, rank_projects
from portal.funds.rounds_models import BudgetBallot, BudgetBallotChoice, BudgetRound

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _entry(pid, cost, votes, minutes=0):
    return Entry(pid, cost, votes, T0 + timedelta(minutes=minutes))


def _funded(lines):
    return [line.project_id for line in lines if line.funded]


# --- the result, pure --------------------------------------------------------------------------------------

def test_funded_in_order_of_votes_skipping_one_that_no_longer_fits():
    entries = [_entry(1, 600_00, 90), _entry(2, 500_00, 80), _entry(3, 300_00, 70), _entry(4, 100_00, 10)]
    lines = rank_projects(1000_00, "lower_cost", entries)
    assert [line.project_id for line in lines] == [1, 2, 3, 4]
    assert _funded(lines) == [1, 3, 4]  # 2 no longer fits after 1 (400 left); 3 and then 4 do
    skipped = lines[1]
    assert not skipped.funded and skipped.remaining_fen == 400_00
    assert [line.remaining_fen for line in lines] == [400_00, 400_00, 100_00, 0]


def test_ties_by_lower_cost():
    entries = [_entry(1, 500_00, 50, minutes=0), _entry(2, 400_00, 50, minutes=5), _entry(3, 300_00, 10)]
    lines = rank_projects(800_00, "lower_cost", entries)
    assert [line.project_id for line in lines] == [2, 1, 3]
    assert _funded(lines) == [2, 3]


def test_ties_by_earlier_proposed():
    entries = [_entry(1, 500_00, 50, minutes=0), _entry(2, 400_00, 50, minutes=5), _entry(3, 300_00, 10)]
    lines = rank_projects(800_00, "earlier_proposed", entries)
    assert [line.project_id for line in lines] == [1, 2, 3]
    assert _funded(lines) == [1, 3]


def test_nothing_fits_and_no_projects():
    assert _funded(rank_projects(100, "lower_cost", [_entry(1, 101, 5)])) == []
    assert rank_projects(100, "lower_cost", []) == []
    with pytest.raises(ValueError):
        rank_projects(100, "coin", [])


# --- a round in the database -------------------------------------------------------------------------------

def _days(start):
    return {"proposing_from": start, "review_from": start + timedelta(days=10),
            "voting_from": start + timedelta(days=20), "voting_until": start + timedelta(days=30),
            "results_from": start + timedelta(days=31)}


def _at(round_, column, hours=1):
    return getattr(round_, column) + timedelta(hours=hours)


@pytest.fixture
def money(world):
    services.record_income(world.keeper, world.fund, 2_000_000_00, source="Sub-district grant")
    db.session.commit()
    return world


def _round(w, total="10000", tie_rule="lower_cost", **kw):
    round_ = rounds.create_round(w.keeper, w.fund, title="Small projects 2027", total=total,
                                 ballot_kind=kw.pop("ballot_kind", "knapsack"), tie_rule=tie_rule,
                                 dates=_days(local_today(w.fund.time_zone)), **kw)
    db.session.commit()
    return round_


def _propose(w, round_, title, cost, author=None):
    project = rounds.propose_project(author or w.resident, round_, title=title, summary=f"{title}, please",
                                     location="Building 3", estimated_cost=cost, now=_at(round_, "proposing_from"))
    db.session.commit()
    return project


def _accept(w, project, cost):
    rounds.review_project(w.keeper, project, decision="accept", reviewed_cost=cost,
                          now=_at(project.round, "review_from"))
    db.session.commit()


def _vote(round_, project_ids_per_voter):
    for n, chosen in enumerate(project_ids_per_voter):
        ballot = BudgetBallot(round_id=round_.id, voter_key=f"u{n}", user_id=round_.created_by_id,
                              cast_at=_at(round_, "voting_from"), receipt=f"r{n}")
        db.session.add(ballot)
        db.session.flush()
        db.session.add_all(BudgetBallotChoice(ballot_id=ballot.id, project_id=pid) for pid in chosen)
    db.session.commit()


def test_phase_follows_the_dates_and_publication(money):
    round_ = _round(money)
    assert rounds.round_phase(round_, round_.proposing_from - timedelta(seconds=1)) == "announced"
    for phase, column in rounds.PHASE_STARTS:
        assert rounds.round_phase(round_, getattr(round_, column)) == phase
        assert rounds.round_phase(round_, _at(round_, column)) == phase
    round_.results_published_at = _at(round_, "results_from")
    assert rounds.round_phase(round_, _at(round_, "results_from")) == "implementing"
    steps = rounds.phase_steps(round_, _at(round_, "results_from"))
    assert [s.name for s in steps if s.current] == ["implementing"] and all(s.past for s in steps[:-1])


def test_phase_dates_start_at_local_midnight(money):
    round_ = _round(money)
    local = rounds.local_time(round_, round_.voting_from)
    assert (local.hour, local.minute) == (0, 0)


def test_opening_a_round_checks_money_dates_and_rules(money):
    w = money
    with pytest.raises(NotAllowed):
        rounds.create_round(w.resident, w.fund, title="X", total="10", ballot_kind="knapsack", tie_rule="lower_cost",
                            dates=_days(local_today()))
    with pytest.raises(DomainError) as refused:
        _round(w, total="2000000.01")
    assert refused.value.field == "total"
    _round(w, total="1500000")
    with pytest.raises(DomainError) as refused:  # the first round holds 1.5 million back
        _round(w, total="500000.01")
    assert refused.value.field == "total"
    db.session.rollback()
    days = _days(local_today())
    days["voting_until"] = days["voting_from"]
    with pytest.raises(DomainError) as refused:
        rounds.create_round(w.keeper, w.fund, title="X", total="10", ballot_kind="knapsack", tie_rule="lower_cost",
                            dates=days)
    assert refused.value.field == "voting_until"
    with pytest.raises(DomainError) as refused:
        rounds.create_round(w.keeper, w.fund, title="X", total="10", ballot_kind="approval", tie_rule="lower_cost",
                            max_approvals="0", dates=_days(local_today()))
    assert refused.value.field == "max_approvals"
    with pytest.raises(DomainError) as refused:
        rounds.create_round(w.keeper, w.maintenance, title="X", total="10", ballot_kind="knapsack",
                            tie_rule="coin", dates=_days(local_today()))
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(BudgetRound)) == 1


def test_proposing_makes_a_project_proposal_with_exact_fen(money):
    w = money
    round_ = _round(w)
    project = _propose(w, round_, "Benches by the pond", "1234.56")
    assert project.estimated_cost_fen == 123456 and project.review_state == "pending"
    proposal = project.proposal
    assert proposal.kind == "project" and proposal.status == "deliberation" and proposal.published_at is not None
    assert str(proposal.estimated_cost) == "1234.56"
    with pytest.raises(NotAllowed):
        _propose(w, round_, "From outside", "10", author=w.outsider)
    with pytest.raises(NotAllowed):
        _propose(w, round_, "From next door", "10", author=w.resident_y)
    with pytest.raises(DomainError) as refused:
        rounds.propose_project(w.resident, round_, title="Late", summary="s", location="here", estimated_cost="10",
                               now=_at(round_, "review_from"))
    assert refused.value.field == "title"
    with pytest.raises(DomainError) as refused:
        _propose(w, round_, "Too dear", "10000.01")
    assert refused.value.field == "estimated_cost"


def test_review_accept_merge_reject(money):
    w = money
    round_ = _round(w)
    a, b, c = (_propose(w, round_, name, "800") for name in ("Lights", "More lights", "A pool"))
    with pytest.raises(NotAllowed):
        rounds.review_project(w.resident, a, decision="accept", reviewed_cost="1", now=_at(round_, "review_from"))
    with pytest.raises(DomainError) as refused:
        rounds.review_project(w.keeper, c, decision="reject", reason="", now=_at(round_, "review_from"))
    assert refused.value.field == "reason"
    _accept(w, a, "950.50")
    assert a.reviewed_cost_fen == 95050 and a.review_state == "accepted"
    rounds.review_project(w.official, b, decision="merge", merge_into=a, reason="Same lights",
                          now=_at(round_, "review_from"))
    rounds.review_project(w.keeper, c, decision="reject", reason="No room for a pool", now=_at(round_, "review_from"))
    db.session.commit()
    assert (b.review_state, b.merged_into_id, b.proposal.status) == ("merged", a.id, "archived")
    assert (c.review_state, c.review_reason, c.proposal.status) == ("rejected", "No room for a pool", "archived")
    with pytest.raises(DomainError):  # reviewed once
        rounds.review_project(w.keeper, a, decision="reject", reason="x", now=_at(round_, "review_from"))
    from portal.notifications.models import Notification
    assert db.session.scalar(db.select(db.func.count()).select_from(Notification).where(
        Notification.event == "budget.reviewed", Notification.recipient_id == w.resident.id)) == 3
    from portal.audit.models import AuditEntry
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "budget_project.reviewed")) == 3


def test_review_closes_when_voting_opens(money):
    w = money
    round_ = _round(w)
    a = _propose(w, round_, "Lights", "800")
    with pytest.raises(DomainError):
        rounds.review_project(w.keeper, a, decision="accept", reviewed_cost="1", now=_at(round_, "voting_from"))


@pytest.mark.parametrize("role, allowed", [("keeper", True), ("official", True), ("hoa_member", True),
                                           ("resident", False), ("property", False), ("outsider", False),
                                           ("admin", True), ("resident_y", False)])
def test_review_permission_per_role(money, role, allowed):
    from portal.auth import permissions
    round_ = _round(money)
    assert permissions.can_review_budget_project(getattr(money, role), round_) is allowed


@pytest.mark.parametrize("role, manage, propose", [("keeper", True, True), ("official", False, False),
                                                   ("hoa_member", False, True), ("resident", False, True),
                                                   ("property", False, False), ("outsider", False, False),
                                                   ("admin", True, False), ("resident_y", False, False)])
def test_manage_and_propose_permission_per_role(money, role, manage, propose):
    from portal.auth import permissions
    round_ = _round(money)
    user = getattr(money, role)
    assert permissions.can_manage_budget_round(user, money.fund) is manage
    assert permissions.can_propose_budget_project(user, round_) is propose
    assert permissions.can_view_budget_round(user, round_)
    assert not permissions.can_manage_budget_round(money.hoa_member, money.maintenance)  # not a community's


def test_publishing_funds_winners_as_actions_with_allocations(money):
    w = money
    round_ = _round(w, total="10000")
    a, b, c, d = (_propose(w, round_, name, "100") for name in ("Lights", "Benches", "Garden", "Mural"))
    for project, cost in ((a, "6000"), (b, "5000.01"), (c, "3999.99"), (d, "0.01")):
        _accept(w, project, cost)
    _vote(round_, [[a.id, c.id], [a.id, b.id], [a.id, b.id, d.id], [b.id], [c.id]])  # a 3, b 3, c 2, d 1
    available_before = w.fund.available_fen
    with pytest.raises(DomainError):
        rounds.publish_results(w.keeper, round_, now=_at(round_, "voting_until"))
    db.session.rollback()
    with pytest.raises(NotAllowed):
        rounds.publish_results(w.resident, round_, now=_at(round_, "results_from"))
    lines = rounds.publish_results(w.keeper, round_, now=_at(round_, "results_from"))
    db.session.commit()
    # a and b tie on 3 votes: the lower cost first → b (5000.01), then a (6000), which no longer fits
    assert [line.project_id for line in lines] == [b.id, a.id, c.id, d.id]
    assert [(p.result_rank, p.funded, p.vote_count) for p in (b, a, c, d)] == \
        [(1, True, 3), (2, False, 3), (3, True, 2), (4, True, 1)]
    assert "Skipped" in a.result_note and "4,999.99" in a.result_note
    assert rounds.round_phase(round_, _at(round_, "results_from")) == "implementing"
    for project in (b, c, d):
        action, allocation = project.action, project.allocation
        assert action.source == "budget" and action.proposal_id == project.proposal_id
        assert action.responsible_org_id == w.rc_x.id and action.status == "planned"
        assert allocation.action_id == action.id and allocation.allocated_fen == project.reviewed_cost_fen
        assert project.proposal.status == "notice" and project.proposal.outcome == "passed"
    assert a.action_id is None and a.allocation_id is None and a.proposal.outcome == "rejected"
    assert a.proposal.status == "archived"
    db.session.refresh(w.fund)
    assert available_before - w.fund.available_fen == 500001 + 399999 + 1
    assert w.fund.allocated_fen == 900001
    services.rebuild_figures(w.fund)
    assert w.fund.allocated_fen == 900001
    with pytest.raises(DomainError):  # once
        rounds.publish_results(w.keeper, round_, now=_at(round_, "results_from", hours=2))


def test_ties_by_earlier_proposed_in_the_database(money):
    w = money
    round_ = _round(w, total="100", tie_rule="earlier_proposed")
    first = rounds.propose_project(w.resident, round_, title="First", summary="s", location="here",
                                   estimated_cost="60", now=_at(round_, "proposing_from", hours=1))
    second = rounds.propose_project(w.resident, round_, title="Second", summary="s", location="here",
                                    estimated_cost="50", now=_at(round_, "proposing_from", hours=2))
    db.session.commit()
    _accept(w, first, "60")
    _accept(w, second, "50")
    _vote(round_, [[first.id], [second.id]])
    rounds.publish_results(w.keeper, round_, now=_at(round_, "results_from"))
    db.session.commit()
    assert (first.funded, second.funded) == (True, False)


def test_run_due_publishes_once(money):
    w = money
    round_ = _round(w, total="100")
    project = _propose(w, round_, "Lights", "10")
    _accept(w, project, "10")
    assert rounds.publish_due(_at(round_, "voting_until")) == 0
    assert rounds.publish_due(_at(round_, "results_from")) == 1
    db.session.commit()
    assert rounds.publish_due(_at(round_, "results_from", hours=2)) == 0
    assert project.funded is True and project.action.created_by_id == w.keeper.id
    from portal.notices.models import Notice
    from portal.notifications.models import Notification
    assert db.session.scalar(db.select(Notice).where(Notice.proposal_id == project.proposal_id)) is not None
    told = db.session.scalars(db.select(Notification.recipient_id).where(Notification.event == "budget.results")).all()
    assert told == [w.resident.id]  # the community's verified residents, once
