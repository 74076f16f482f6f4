"""Tallies and results: the full count by the database, and what a viewer may see of it — nothing of a
hidden result before close, no small counts of a secret ballot's voters."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from portal.auth import permissions
from portal.extensions import db
from portal.votes import counting
from portal.votes.models import BallotVote, BallotVoter
from portal.votes.totals import running_figures

if TYPE_CHECKING:
    from flask_login import AnonymousUserMixin

    from portal.auth.models import User
    from portal.votes.models import Ballot


def tally(ballot: Ballot) -> counting.Figures:
    """The full count, by the database: the electorate's sums in one query, the live votes per option in
    one GROUP BY over the frozen weights. Closing counts with it; pages of an open ballot read the running
    totals instead (`running_figures`, always equal to this, which verification checks)."""
    electorate_count, electorate_area = db.session.execute(
        select(func.coalesce(func.sum(BallotVoter.headcount), 0), func.coalesce(func.sum(BallotVoter.area_cm), 0))
        .where(BallotVoter.ballot_id == ballot.id)).one()
    rows = db.session.execute(
        select(BallotVote.option_id, func.sum(BallotVoter.headcount), func.sum(BallotVoter.area_cm))
        .join(BallotVoter, BallotVoter.id == BallotVote.voter_id)
        .where(BallotVote.ballot_id == ballot.id).group_by(BallotVote.option_id)).all()
    by_option = {int(option_id): (int(count), int(area)) for option_id, count, area in rows}
    return counting.Figures(
        electorate_count=int(electorate_count),
        electorate_area=int(electorate_area),  # 0 but for owners: only their voters carry an area
        voted_count=sum(c for c, _ in by_option.values()),
        voted_area=sum(a for _, a in by_option.values()),
        by_option=by_option)


SECRET_PARTICIPATION_MIN = 3  # a secret ballot names no count of voters below this: two voters would know


def results_visible(ballot: Ballot) -> bool:
    """Whether anyone may see numbers per option now: closed, or open with live results. A secret ballot
    never shows running totals: with two voters each could deduce the other's choice from them."""
    if ballot.status == "closed":
        return True
    return ballot.status == "open" and not ballot.results_hidden and not ballot.secret


def visible_tally(viewer: User | AnonymousUserMixin, ballot: Ballot) -> counting.Figures | None:
    """The figures this viewer may see: the stored ones after close, the live count of an open ballot
    whose results are live, None otherwise (hidden until close — for everyone, admins included)."""
    if not permissions.can_view_ballot(viewer, ballot) or not results_visible(ballot):
        return None
    if ballot.status == "closed":
        return counting.Figures.from_json(ballot.figures)
    return running_figures(ballot)


def result_details(viewer: User | AnonymousUserMixin, ballot: Ballot) -> dict | None:
    """What counting.decide said at close (percentages, the rule, the winner), for the result page."""
    if ballot.status != "closed" or not permissions.can_view_ballot(viewer, ballot):
        return None
    return (ballot.figures or {}).get("details")


def participation(ballot: Ballot) -> tuple[int, int]:
    """(voted, electorate) by headcount: how many have voted may always be shown, hidden results or not."""
    if ballot.status == "closed" and ballot.figures:
        return ballot.figures["voted_count"], ballot.figures["electorate_count"]
    if ballot.status != "open":
        return 0, 0
    # The running totals on the ballot's row (kept by every cast): nothing counted per page view.
    return ballot.voted_count, ballot.electorate_count


def participation_shown(ballot: Ballot) -> bool:
    """Whether pages may say how many have voted: always, but on an open secret ballot only once at least
    SECRET_PARTICIPATION_MIN have (with one or two voters, the count tells who voted)."""
    return not (ballot.secret and ballot.status == "open" and ballot.voted_count < SECRET_PARTICIPATION_MIN)
