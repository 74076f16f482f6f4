"""Demo ballots in every budget round that is voting (the rounds demo in portal/funds/demo.py opens one): the
verified adult residents of the round's community cast through the casting service, so the projects' counts,
the round's log and the receipts are real, and the first of them changes their mind once, so one receipt reads
"replaced". The selections differ from voter to voter and always keep the round's rule (within the total, or
within the number of approvals), so some projects lead and one trails.

Runs after the funds demo. Idempotent: a round that has ballots already is left alone."""
from sqlalchemy import select

from portal.auth.models import User
from portal.clock import utcnow
from portal.extensions import db
from portal.funds.budget_ballot import VOTING, ballot_projects, cast_ballot, voter_key
from portal.funds.rounds import round_phase
from portal.funds.rounds_models import BudgetRound
from portal.places.models import Residency
from portal.votes.electorate import verified_adults

MAX_VOTERS = 60


def seed_budget_ballots(now=None) -> list[str]:
    now = now or utcnow()
    lines = []
    for round_ in db.session.scalars(select(BudgetRound).order_by(BudgetRound.id)).all():
        if round_phase(round_, now) != VOTING or round_.log_length:
            continue
        selections = _selections(round_, ballot_projects(round_))
        voters = [u for u in _residents(round_) if voter_key(u, round_) is not None]
        if not selections or not voters:
            continue
        for k, person in enumerate(voters):
            cast_ballot(person, round_, [str(p.id) for p in selections[k % len(selections)]], now=now)
        cast_ballot(voters[0], round_, [str(p.id) for p in selections[-1]], now=now)  # a change of mind
        db.session.flush()
        lines.append(f"{round_.title}: {len(voters)} budget ballots cast, one changed ({round_.log_length} log "
                     f"entries, head {round_.log_head[:12]}…)")
    return lines


def _residents(round_) -> list[User]:
    """The verified adult residents of the round's community, in the order they were verified (at most
    MAX_VOTERS)."""
    return list(db.session.scalars(
        select(User).join(Residency, Residency.user_id == User.id)
        .where(verified_adults(round_.fund.community_id))
        .group_by(User.id).order_by(User.id).limit(MAX_VOTERS)))


def _selections(round_, projects) -> list[list]:
    """One selection per project: starting from it, the next ones in turn while they keep the rule. The
    first projects start more of them, so they lead."""
    selections = []
    for start in range(len(projects)):
        turn = projects[start:] + projects[:start]
        chosen, spent = [], 0
        for project in turn:
            if round_.ballot_kind == "approval":
                if len(chosen) < max(1, min(round_.max_approvals, 1 + start % round_.max_approvals)):
                    chosen.append(project)
            elif spent + project.reviewed_cost_fen <= round_.total_fen:
                chosen.append(project)
                spent += project.reviewed_cost_fen
        if chosen:
            selections.append(chosen)
    return selections + selections[: len(selections) // 2]
