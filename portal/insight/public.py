"""A community's public statistics (居务公开, issue #22): its issues by category for each of the last twelve
local months, the three rates over those months, the actions it has done and the proactive share. Only
figures: counts and rates of what the public pages already show (issue titles, status and categories,
actions and their results), never a person.

Read from the kept counts (IssueMonthCount, the dashboard's rollups), so the page costs a fixed few
statements however many issues the community has."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portal.actions.models import Action
from portal.dashboard.services import Filters, RateRow, three_rates
from portal.extensions import db
from portal.insight.models import IssueMonthCount
from portal.insight.services import Share, current_month, month_start, proactive_share
from portal.issues.models import IssueCategory
from portal.issues.services import category_label
from portal.places.models import Community

STAT_MONTHS = 12
RECENT_ACTIONS = 10


@dataclass(frozen=True)
class CommunityStatistics:
    community: Community
    months: list[int]  # oldest first, the current month last
    categories: list[tuple[int, str]]  # (category id, label) of the categories with issues in the months
    counts: dict[tuple[int, int], int]  # (category id, month) → issues
    totals: dict[int, int]  # month → issues
    rates: RateRow  # the three rates over the months
    rates_by_month: list[RateRow]
    shares: dict[int, Share]  # month → proactive share
    done_count: int
    recent_done: list[Action]

    @property
    def last_change_key(self) -> str:
        """What the page's ETag is made of: every figure it shows."""
        parts = [str(self.months[-1]), repr(sorted(self.counts.items())), repr(self.rates),
                 repr([(m, s.proactive, s.issues) for m, s in sorted(self.shares.items())]),
                 str(self.done_count), repr([(a.id, a.title, a.done_at) for a in self.recent_done])]
        return "|".join(parts)


def issues_by_category_and_month(community: Community, months: list[int]) -> dict[tuple[int, int], int]:
    """{(category id, month): issues} of the community in the months (zero buckets left out), one statement."""
    rows = db.session.execute(db.select(IssueMonthCount.category_id, IssueMonthCount.month, IssueMonthCount.issues)
                              .where(IssueMonthCount.community_id == community.id,
                                     IssueMonthCount.month.between(months[0], months[-1]),
                                     IssueMonthCount.issues > 0))
    return {(category_id, month): int(issues) for category_id, month, issues in rows}


def done_actions(community: Community, *, limit: int = RECENT_ACTIONS) -> tuple[int, list[Action]]:
    """(how many of the community's actions are done, the latest `limit` of them); steps of an action are
    counted with their action, not on their own."""
    where = (Action.community_id == community.id, Action.status == "done", Action.parent_id.is_(None))
    count = db.session.scalar(db.select(db.func.count(Action.id)).where(*where))
    latest = db.session.scalars(db.select(Action).where(*where)
                                .order_by(Action.done_at.desc(), Action.id.desc()).limit(limit)).all()
    return int(count or 0), latest


def community_statistics(community: Community, *, now: datetime | None = None) -> CommunityStatistics:
    """The public figures of the community over the last STAT_MONTHS local months (the current one last)."""
    latest = current_month(community, now)
    months = list(range(latest - STAT_MONTHS + 1, latest + 1))
    counts = issues_by_category_and_month(community, months)
    category_ids = sorted({c for c, _m in counts})
    found = {c.id: c for c in db.session.scalars(db.select(IssueCategory).where(IssueCategory.id.in_(category_ids)))} \
        if category_ids else {}
    categories = sorted(((i, category_label(found[i])) for i in category_ids if i in found), key=lambda c: c[1])
    totals = {m: sum(n for (_c, month), n in counts.items() if month == m) for m in months}
    rates = three_rates(Filters(sub_district=community.sub_district, communities=[community],
                                month_from=month_start(months[0]), month_to=month_start(months[-1])), now=now)
    shares = proactive_share([community.id], months)
    done_count, recent = done_actions(community)
    return CommunityStatistics(community, months, categories, counts, totals, rates["overall"][0], rates["month"],
                               {m: shares[(community.id, m)] for m in months}, done_count, recent)
