"""Budget rounds (participatory budgeting): opening a round on a community's fund, residents proposing
projects, the committee's and the departments' review, and the results — ranked by votes, funded in order
while the money lasts — which make each winner an agreed action with its allocation in the ledger and start
the public notice of every winner, as for any other decision.

The phase is never stored: `round_phase(round, now)` reads it from the dates and the clock. The ballots
(casting, changing, the log, receipts) belong to the voting pages; the results count the ballots' choices
themselves, so what decides is what the voters chose, not a running tally.

As the other areas: functions that change something take the acting person first, check the named rule in
`portal.auth.permissions`, validate everything before writing anything, write an audit entry and notify the
people concerned. Callers commit; a DomainError leaves nothing written. `now=None` means utcnow()."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import joinedload

from portal.actions.services import create_action, local_date
from portal.audit.services import record
from portal.auth import permissions
from portal.clock import in_zone, utcnow
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.funds import services as funds
from portal.funds.rounds_models import (
    BALLOT_KINDS,
    TIE_RULES,
    VOTER_UNITS,
    BudgetBallotChoice,
    BudgetProject,
    BudgetRound,
)
from portal.notices.services import start_notice
from portal.outbox import notify, register_event
from portal.proposals import services as proposals
from portal.proposals.models import CATEGORIES, Proposal

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.funds.models import Fund

log = logging.getLogger(__name__)

PHASES = ("announced", "proposing", "review", "voting", "counting", "results", "implementing")
PHASE_LABELS = {
    "announced": _l("Announced"),
    "proposing": _l("Proposing projects"),
    "review": _l("Feasibility review"),
    "voting": _l("Voting"),
    "counting": _l("Voting closed"),
    "results": _l("Results"),
    "implementing": _l("Implementing"),
}
# The date each phase starts at, by the round's column (implementing starts when the results are published).
PHASE_STARTS = (("proposing", "proposing_from"), ("review", "review_from"), ("voting", "voting_from"),
                ("counting", "voting_until"), ("results", "results_from"))
TITLE_MAX, DESCRIPTION_MAX, LOCATION_MAX, REASON_MAX = 120, 4000, 200, 1000
MAX_APPROVALS = 100
ACTION_DAYS = 180  # a winner's action is due this many days after the results, until its owner changes it
LIST_SIZE = 50


def _round_link(notification):
    from flask import url_for
    return url_for("funds.round_detail", round_id=notification.object_id) + "#results"


def _link(notification):
    from flask import url_for
    payload = notification.payload or {}
    round_id = payload.get("round_id")
    return url_for("funds.round_detail", round_id=round_id) + f"#project-{notification.object_id}" \
        if round_id else None


register_event("budget.results", _l("The results of “%(title)s” are published: %(funded)s projects funded, "
                                     "each with its public notice."), _round_link, group="proposals")
register_event("budget.reviewed", _l("Your project “%(title)s” was reviewed: %(outcome)s."), _link,
               group="proposals")


def _now(now):
    return now or utcnow()


# --- phases ------------------------------------------------------------------------------------------------

def round_phase(round_: BudgetRound, now: datetime | None = None) -> str:
    """The phase at `now`: from the dates, and implementing once the results are published."""
    now = _now(now)
    if round_.results_published_at is not None:
        return "implementing"
    phase = "announced"
    for name, column in PHASE_STARTS:
        if now >= getattr(round_, column):
            phase = name
    return phase


@dataclass(frozen=True)
class PhaseStep:
    name: str
    label: str
    starts_at: datetime | None
    current: bool
    past: bool


def phase_steps(round_: BudgetRound, now: datetime | None = None) -> list[PhaseStep]:
    """The step bar of the round page: each phase with its start, the current one marked."""
    current = round_phase(round_, now)
    at = PHASES.index(current)
    starts = {name: getattr(round_, column) for name, column in PHASE_STARTS}
    starts["implementing"] = round_.results_published_at
    return [PhaseStep(name, PHASE_LABELS[name], starts.get(name), name == current, i < at)
            for i, name in enumerate(PHASES[1:], start=1)]


# --- reading -----------------------------------------------------------------------------------------------

def round_or_none(round_id: int) -> BudgetRound | None:
    return db.session.get(BudgetRound, round_id, options=[joinedload(BudgetRound.fund)])


def fund_rounds(fund: Fund) -> list[BudgetRound]:
    return db.session.scalars(db.select(BudgetRound).where(BudgetRound.fund_id == fund.id)
                              .order_by(BudgetRound.id.desc()).limit(LIST_SIZE)).all()


def community_rounds(community) -> list[BudgetRound]:
    from portal.funds.models import Fund
    return db.session.scalars(db.select(BudgetRound).join(Fund, Fund.id == BudgetRound.fund_id)
                              .where(Fund.community_id == community.id)
                              .options(joinedload(BudgetRound.fund))
                              .order_by(BudgetRound.id.desc()).limit(LIST_SIZE)).all()


def round_projects(round_: BudgetRound) -> list[BudgetProject]:
    """The round's projects with their proposals: by result rank once published, else in proposing order."""
    order = (BudgetProject.result_rank.is_(None), BudgetProject.result_rank, BudgetProject.id)
    return db.session.scalars(db.select(BudgetProject).where(BudgetProject.round_id == round_.id)
                              .options(joinedload(BudgetProject.proposal), joinedload(BudgetProject.action),
                                       joinedload(BudgetProject.allocation))
                              .order_by(*order)).all()


def project_in(round_: BudgetRound, project_id: int | None) -> BudgetProject | None:
    if project_id is None:
        return None
    project = db.session.get(BudgetProject, project_id)
    return project if project is not None and project.round_id == round_.id else None


def reserved_fen(fund: Fund, leaving_out: int | None = None) -> int:
    """What the fund's rounds whose results are not yet published hold back: their totals. (A published
    round's winners are allocations in the ledger, counted in the fund's figures.)"""
    query = db.select(func.coalesce(func.sum(BudgetRound.total_fen), 0)).where(
        BudgetRound.fund_id == fund.id, BudgetRound.results_published_at.is_(None))
    if leaving_out is not None:
        query = query.where(BudgetRound.id != leaving_out)
    return int(db.session.scalar(query))


def free_for_rounds(fund: Fund) -> int:
    return max(0, fund.available_fen - reserved_fen(fund))


# --- opening a round ---------------------------------------------------------------------------------------

def _text(value, limit, field, required_message=None):
    return funds._text(value, limit, field, required_message)


def _day_start(day: date, zone: str) -> datetime:
    """The start of a day in the community's zone, in UTC: a phase begins at local midnight."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _dates(fund: Fund, days: dict[str, str | date | None]) -> dict[str, datetime]:
    found = {}
    for column in ("proposing_from", "review_from", "voting_from", "voting_until", "results_from"):
        value = days.get(column)
        day = value if isinstance(value, date) else funds.parse_day(value, column)
        if day is None:
            raise DomainError(_l("Give the date."), column)
        if not date(2000, 1, 1) <= day <= date(2999, 12, 31):
            raise DomainError(_l("Enter the date as year-month-day, for example 2026-12-06."), column)
        found[column] = _day_start(day, fund.time_zone)
    order = ("proposing_from", "review_from", "voting_from", "voting_until", "results_from")
    for before, after in zip(order, order[1:], strict=False):
        if found[after] < found[before] or (after == "voting_until" and found[after] == found[before]):
            raise DomainError(_l("The phases go in order: proposing, review, voting, its end, then the results."),
                              after)
    return found


def create_round(user: User, fund: Fund, *, title: str, description: str = "", total: str, ballot_kind: str,
                 max_approvals: str | int | None = None, voter_unit: str = "resident", tie_rule: str,
                 dates: dict[str, str | date | None], now: datetime | None = None) -> BudgetRound:
    """The committee opens a round on its community's fund: the total (yuan as typed) must be free in the
    fund, beside what its other open rounds hold back; the phases' dates go in order; the tie rule is printed
    on the round page from the start."""
    now = _now(now)
    if not permissions.can_manage_budget_round(user, fund):
        raise NotAllowed(_l("Only the fund's managing organization can open a budget round."))
    title = _text(title, TITLE_MAX, "title", _l("Give the round a title."))
    description = _text(description, DESCRIPTION_MAX, "description") or ""
    total_fen = funds.parse_yuan(total, "total")
    if ballot_kind not in BALLOT_KINDS:
        raise DomainError(_l("Choose the kind of ballot."), "ballot_kind")
    approvals = None
    if ballot_kind == "approval":
        approvals = _whole(max_approvals, "max_approvals")
    if voter_unit not in VOTER_UNITS:
        raise DomainError(_l("Choose who votes: each resident or each household."), "voter_unit")
    if tie_rule not in TIE_RULES:
        raise DomainError(_l("Choose the rule for equal votes."), "tie_rule")
    found = _dates(fund, dates)
    funds._lock(fund)
    free = free_for_rounds(fund)
    if total_fen > free:
        raise DomainError(_l("Only %(free)s yuan of this fund is free for a round (what is not allocated "
                             "nor held by its other open rounds).", free=funds.format_fen(free)), "total")
    round_ = BudgetRound(fund_id=fund.id, title=title, description=description, total_fen=total_fen,
                         ballot_kind=ballot_kind, max_approvals=approvals, voter_unit=voter_unit,
                         tie_rule=tie_rule, created_by_id=user.id, created_at=now, **found)
    db.session.add(round_)
    db.session.flush()
    record(user, "budget_round.created", round_, fund_id=fund.id, total_fen=total_fen, title=title)
    return round_


def _whole(value, field) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_APPROVALS:
        raise DomainError(_l("A whole number from 1 to %(max)d.", max=MAX_APPROVALS), field)
    return number


# --- proposing ---------------------------------------------------------------------------------------------

def propose_project(user: User, round_: BudgetRound, *, title: str, summary: str, location: str,
                    estimated_cost: str, category: str = "other", body: str = "",
                    now: datetime | None = None) -> BudgetProject:
    """A resident proposes a project during the proposing phase: a proposal of kind "project" (public at
    once, open for comments), with where and its estimated cost (yuan as typed, kept exactly in fen)."""
    now = _now(now)
    if not permissions.can_propose_budget_project(user, round_):
        raise NotAllowed(_l("Only verified residents and the committee of this community can propose projects."))
    if round_phase(round_, now) != "proposing":
        raise DomainError(_l("Projects are proposed during the proposing phase only."), "title")
    location = _text(location, LOCATION_MAX, "location", _l("Say where the project would be."))
    cost_fen = funds.parse_yuan(estimated_cost, "estimated_cost")
    if cost_fen > round_.total_fen:
        raise DomainError(_l("The round's total is %(total)s yuan: a project cannot cost more.",
                             total=funds.format_fen(round_.total_fen)), "estimated_cost")
    if category not in CATEGORIES:
        category = "other"
    proposal = proposals.create_proposal(user, round_.community, title=title, summary=summary, body=body,
                                         category=category, estimated_cost=Decimal(cost_fen) / 100, now=now)
    proposals.enter_budget_round(proposal, user, now=now, round_id=round_.id)
    project = BudgetProject(round_id=round_.id, proposal=proposal, location=location, estimated_cost_fen=cost_fen,
                            review_state="pending", vote_count=0)
    db.session.add(project)
    db.session.flush()
    record(user, "budget_project.proposed", project, round_id=round_.id, proposal_id=proposal.id,
           amount_fen=cost_fen)
    return project


# --- review ------------------------------------------------------------------------------------------------

REVIEW_DECISIONS = ("accept", "merge", "reject")


def review_project(user: User, project: BudgetProject, *, decision: str, reviewed_cost: str | None = None,
                   merge_into: BudgetProject | None = None, reason: str = "",
                   now: datetime | None = None) -> BudgetProject:
    """The committee or a department concerned reviews a pending project, once, before voting opens:
    accepted with a reviewed cost (within the round's total), merged into another project of the round, or
    rejected with a public reason. A merged or rejected project's proposal is archived. The author is told."""
    now = _now(now)
    round_ = project.round
    if not permissions.can_review_budget_project(user, round_):
        raise NotAllowed(_l("Only the committee and the sub-district's departments review projects."))
    if round_phase(round_, now) not in ("proposing", "review"):
        raise DomainError(_l("Projects are reviewed before voting opens."), "decision")
    if project.review_state != "pending":
        raise DomainError(_l("This project has been reviewed already."), "decision")
    if decision not in REVIEW_DECISIONS:
        raise DomainError(_l("Choose accept, merge or reject."), "decision")
    reason = _text(reason, REASON_MAX, "reason",
                   _l("Give the public reason for rejecting it.") if decision == "reject" else None)
    if decision == "accept":
        cost = funds.parse_yuan(reviewed_cost, "reviewed_cost")
        if cost > round_.total_fen:
            raise DomainError(_l("The round's total is %(total)s yuan: a project cannot cost more.",
                                 total=funds.format_fen(round_.total_fen)), "reviewed_cost")
        project.reviewed_cost_fen, project.review_state = cost, "accepted"
    elif decision == "merge":
        if merge_into is None or merge_into.round_id != round_.id or merge_into.id == project.id \
                or merge_into.review_state in ("merged", "rejected"):
            raise DomainError(_l("Choose another project of this round, not merged nor rejected."), "merge_into")
        project.review_state, project.merged_into_id = "merged", merge_into.id
    else:
        project.review_state = "rejected"
    project.review_reason = reason
    project.reviewed_by_id, project.reviewed_at = user.id, now
    if decision != "accept":
        proposals.end_budget_project(project.proposal, user, now=now, round_id=round_.id, body=reason,
                                     review=project.review_state)
    db.session.flush()
    record(user, "budget_project.reviewed", project, round_id=round_.id, decision=project.review_state,
           reason=reason, amount_fen=project.reviewed_cost_fen, merged_into=project.merged_into_id)
    notify([project.proposal.author], "budget.reviewed", project, title=project.proposal.title,
           outcome=str(project.review_state_label), round_id=round_.id)
    return project


# --- results -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """What the result is computed from, for one accepted project."""
    project_id: int
    cost_fen: int
    votes: int
    proposed_at: datetime


@dataclass(frozen=True)
class ResultLine:
    project_id: int
    rank: int
    cost_fen: int
    votes: int
    funded: bool
    remaining_fen: int  # what is left after this line (funded: after paying it; skipped: unchanged)


def _order_key(tie_rule: str):
    if tie_rule == "lower_cost":
        return lambda e: (-e.votes, e.cost_fen, e.proposed_at, e.project_id)
    return lambda e: (-e.votes, e.proposed_at, e.cost_fen, e.project_id)


def rank_projects(total_fen: int, tie_rule: str, entries: Iterable[Entry]) -> list[ResultLine]:
    """Rank by votes (equal votes by the printed tie rule), then fund in that order while the money lasts:
    a project that no longer fits is skipped and the next one taken. Pure: no database, no clock."""
    if tie_rule not in TIE_RULES:
        raise ValueError(f"unknown tie rule {tie_rule!r}")
    remaining = total_fen
    lines = []
    for rank, entry in enumerate(sorted(entries, key=_order_key(tie_rule)), start=1):
        funded = entry.cost_fen <= remaining
        if funded:
            remaining -= entry.cost_fen
        lines.append(ResultLine(entry.project_id, rank, entry.cost_fen, entry.votes, funded, remaining))
    return lines


def vote_counts(round_: BudgetRound) -> dict[int, int]:
    """Each project's votes, counted from the ballots' choices (one GROUP BY)."""
    rows = db.session.execute(
        db.select(BudgetBallotChoice.project_id, func.count())
        .join(BudgetProject, BudgetProject.id == BudgetBallotChoice.project_id)
        .where(BudgetProject.round_id == round_.id).group_by(BudgetBallotChoice.project_id)).all()
    return {project_id: int(n) for project_id, n in rows}


def compute_results(round_: BudgetRound) -> list[ResultLine]:
    """The round's result from its accepted projects (reviewed cost, votes counted from the choices, when
    proposed): rank_projects over them. Writes nothing."""
    counts = vote_counts(round_)
    rows = db.session.execute(
        db.select(BudgetProject.id, BudgetProject.reviewed_cost_fen, Proposal.published_at)
        .join(Proposal, Proposal.id == BudgetProject.proposal_id)
        .where(BudgetProject.round_id == round_.id, BudgetProject.review_state == "accepted")).all()
    entries = [Entry(pid, int(cost), counts.get(pid, 0), published) for pid, cost, published in rows]
    return rank_projects(round_.total_fen, round_.tie_rule, entries)


def money_left(round_: BudgetRound, projects: Iterable[BudgetProject]) -> dict[int, int]:
    """For each ranked project, what was left of the total after its line (funded: after paying it; skipped:
    what was left, too little), from the stored ranks: the page says it in the reader's language."""
    left, found = round_.total_fen, {}
    for project in sorted((p for p in projects if p.result_rank), key=lambda p: p.result_rank):
        if project.funded:
            left -= project.reviewed_cost_fen
        found[project.id] = left
    return found


def _default_locale():
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


def _note(line: ResultLine) -> str:
    """The result in words, stored in the portal's own language as printed on the notice."""
    with force_locale(_default_locale()):
        if line.funded:
            return str(_l("Funded: %(cost)s yuan; %(left)s yuan left after it.", cost=funds.format_fen(line.cost_fen),
                          left=funds.format_fen(line.remaining_fen)))
        return str(_l("Skipped: it costs %(cost)s yuan and only %(left)s yuan was left; the next project that "
                      "fits was taken.", cost=funds.format_fen(line.cost_fen),
                      left=funds.format_fen(line.remaining_fen)))


def publish_results(actor: User | None, round_: BudgetRound, *, now: datetime | None = None) -> list[ResultLine]:
    """Once results_from has passed: store each accepted project's rank, votes and whether it is funded;
    make each winner an agreed action (source "budget", the fund's managing organization responsible) with
    its reviewed cost allocated in the ledger, and start its public notice (objections welcome as for any
    decision: a notice is per proposal, so objections to the outcome are lodged on the winners' notices; the
    projects not funded are archived with their result, not given a notice each, which would tell every
    resident once per project). `actor` None: the run-due step, acting as the member who opened the round."""
    now = _now(now)
    if actor is not None and not permissions.can_manage_budget_round(actor, round_.fund):
        raise NotAllowed(_l("Only the fund's managing organization publishes the results."))
    # The round's row lock: of two publishers at once, the second finds it done.
    db.session.execute(db.select(BudgetRound.id).where(BudgetRound.id == round_.id).with_for_update())
    db.session.refresh(round_)
    if round_.results_published_at is not None:
        raise DomainError(_l("The results are published already."), "round")
    if round_phase(round_, now) != "results":
        raise DomainError(_l("The results are published once voting has closed and the results date has come."),
                          "round")
    doer = actor or round_.created_by
    lines = compute_results(round_)
    projects = {p.id: p for p in db.session.scalars(
        db.select(BudgetProject).where(BudgetProject.id.in_([line.project_id for line in lines]))
        .options(joinedload(BudgetProject.proposal))).all()}
    fund, community = round_.fund, round_.community
    due = local_date(community, now) + timedelta(days=ACTION_DAYS)
    for line in lines:
        project = projects[line.project_id]
        project.result_rank, project.funded, project.vote_count = line.rank, line.funded, line.votes
        project.result_note = _note(line)
        if line.funded:
            proposals.record_budget_result(project.proposal, "passed", now=now, round_id=round_.id,
                                           votes=line.votes, rank=line.rank)
            _fund_winner(doer, round_, project, line, due, now)
            start_notice(project.proposal, None, now=now, tell_community=False)
        else:
            project.proposal.outcome = "rejected"
            proposals.end_budget_project(project.proposal, None, now=now, round_id=round_.id, body=project.result_note,
                                         votes=line.votes, rank=line.rank)
    round_.results_published_at = now
    db.session.flush()
    _tell_community(round_, sum(1 for x in lines if x.funded), now)
    record(actor, "budget_round.published", round_, fund_id=fund.id, funded=sum(1 for x in lines if x.funded),
           amount_fen=sum(x.cost_fen for x in lines if x.funded))
    return lines


def _tell_community(round_, funded, now):
    """The community's verified residents hear of the results once (one INSERT … SELECT), not once per
    winner's notice."""
    from portal.auth.models import User
    from portal.places.models import Residency
    from portal.votes import services as votes
    ids = db.select(Residency.user_id.label("user_id")).join(User, User.id == Residency.user_id).where(
        Residency.community_id == round_.fund.community_id, Residency.status == "verified",
        User.is_active_account.is_(True)).distinct()
    votes._notify_all(ids, "budget.results", round_, {"title": round_.title, "funded": funded,
                                                        "round_id": round_.id}, now)


def _fund_winner(doer, round_, project, line, due, now):
    proposal = project.proposal
    action = create_action(doer, round_.community, source="budget", proposal=proposal, title=proposal.title,
                           description=proposal.summary, responsible_org=round_.fund.managing_org, due_date=due,
                           budget=Decimal(line.cost_fen) / 100, funding_source=round_.fund.name[:120], now=now)
    entry = funds.allocate(doer, round_.fund, line.cost_fen, action=action,
                           description=f"{round_.title} #{line.rank}"[:funds.DESCRIPTION_MAX])
    project.action_id, project.allocation_id = action.id, entry.allocation_id


def apply_due(round_: BudgetRound, now: datetime | None = None) -> bool:
    """Publish the results when their date has come (a page showing the round applies this too)."""
    now = _now(now)
    if round_.results_published_at is not None or round_phase(round_, now) != "results":
        return False
    try:
        with db.session.begin_nested():
            publish_results(None, round_, now=now)
    except (DomainError, NotAllowed) as error:
        log.warning("budget round %s: results not published: %s", round_.id, error)
        return False
    return True


@due_step("publish_budget_results")
def publish_due(now: datetime) -> int:
    rounds = db.session.scalars(db.select(BudgetRound).where(BudgetRound.results_published_at.is_(None),
                                                             BudgetRound.results_from <= now)
                                .order_by(BudgetRound.id)).all()
    return sum(apply_due(r, now) for r in rounds)


# --- implementing ------------------------------------------------------------------------------------------

def ratings_of(action_ids: list[int]) -> dict[int, dict[str, int]]:
    """Each winner's action's ratings by satisfaction (one query)."""
    from portal.actions.models import ActionRating
    if not action_ids:
        return {}
    rows = db.session.execute(db.select(ActionRating.action_id, ActionRating.satisfaction, func.count())
                              .where(ActionRating.action_id.in_(action_ids))
                              .group_by(ActionRating.action_id, ActionRating.satisfaction)).all()
    found: dict[int, dict[str, int]] = {}
    for action_id, satisfaction, n in rows:
        found.setdefault(action_id, {})[satisfaction] = int(n)
    return found


def local_time(round_: BudgetRound, moment: datetime | None) -> datetime | None:
    return in_zone(moment, round_.fund.time_zone) if moment is not None else None
