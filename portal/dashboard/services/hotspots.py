"""Hotspots (a building × category whose issues this month stand above its own recent baseline,
compared by squares of integers), issues by category and the monthly trend of the rates."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from sqlalchemy import and_, case, false, func, or_, select

from portal.dashboard.models import IssueBuildingRollup
from portal.dashboard.services.rates import RateRow, category_name, three_rates
from portal.dashboard.services.scope import (
    HOTSPOT_BASELINE_MONTHS,
    Filters,
    _issue_where,
    _month_number,
    _Scope,
    add_months,
    month_key,
)
from portal.extensions import db
from portal.issues.models import Issue, IssueCategory
from portal.places.models import Building


@dataclass(frozen=True)
class Hotspot:
    community_id: int
    community_name: str
    building_id: int
    building_name: str
    category_id: int
    category_code: str
    category_name: str
    month: str  # "2026-11"
    count: int  # issues this month
    baseline: tuple  # counts of the previous 6 months, oldest first
    reason: str  # "above_baseline" (count > mean + 2·SD) or "new" (≥ 3 where the 6 months had none)

    @property
    def mean(self) -> Fraction:
        return Fraction(sum(self.baseline), len(self.baseline))


def hotspots(filters: Filters, month: date) -> list[Hotspot]:
    """As `hotspots_direct`, from the building rollups (IssueBuildingRollup, kept exact with the issues by
    portal.dashboard.rollups): reads a few thousand counts instead of every issue of seven months."""
    scope = _Scope(filters, need_months=False)
    month = date(month.year, month.month, 1)
    n = HOTSPOT_BASELINE_MONTHS
    months = [add_months(month, -i) for i in range(n, -1, -1)]  # oldest first, `month` last
    first = _month_number(months[0])
    t = IssueBuildingRollup.__table__
    conds = [t.c.community_id.in_(scope.ids) if scope.ids else false(),
             t.c.month >= first, t.c.month <= _month_number(months[-1])]
    if filters.category_id is not None:
        conds.append(t.c.category_id == filters.category_id)
    if filters.category_code is not None:
        conds.append(t.c.category_id.in_(select(IssueCategory.id).where(IssueCategory.code == filters.category_code)))
    if filters.org_id is not None:
        conds.append(t.c.org_key == filters.org_id)
    # Rollup rows per building × category (one per organization and month), folded into a column per month
    # (its index in `months`); a building belongs to one community, so building × category is the key.
    per_month = (
        select(t.c.building_id.label("b"), t.c.category_id.label("k"),
               *[func.coalesce(func.sum(case((t.c.month == first + i, t.c.issues), else_=0)), 0).label(f"m{i}")
                 for i in range(len(months))])
        .where(*conds)
        .group_by(t.c.building_id, t.c.category_id)
    ).subquery()
    return _flagged(scope, per_month, [month_key(m) for m in months])


def hotspots_direct(filters: Filters, month: date) -> list[Hotspot]:
    """Building × category hotspots for local `month` (first day): this month's issue count c against the
    previous 6 months' counts (zeros included): S = Σ counts, Q = Σ counts². With mean = S/6 and population
    variance (6Q − S²)/36, "c > mean + 2·SD" is exactly `6c − S > 0 and (6c − S)² > 4·(6Q − S²)` in
    integers, and c ≥ 2 (one issue is never a hotspot). When S = 0 the deviation test is replaced by c ≥ 3
    ("3+ issues where there were none").
    Issues without a building are not counted. Ordered by count desc, then community, building, category.
    Category / org filters apply. One statement (+1 for the communities)."""
    scope = _Scope(filters, need_months=False)
    month = date(month.year, month.month, 1)
    n = HOTSPOT_BASELINE_MONTHS
    months = [add_months(month, -i) for i in range(n, -1, -1)]  # oldest first, `month` last
    keys = [month_key(m) for m in months]
    # Issues per building × category × month (the month as its index in `months`: integers group faster
    # than text; `n` is this month), then one row per building × category with a column per month. S and Q
    # are sums of those few columns.
    rows = (
        select(Issue.building_id.label("b"), Issue.category_id.label("k"),
               scope.month_index(Issue.submitted_at, Issue.community_id, months).label("m"))
        .where(_issue_where(filters, scope, months), Issue.building_id.is_not(None))
    ).subquery()
    counts = (select(rows.c.b, rows.c.k, rows.c.m, func.count().label("n"))
              .group_by(rows.c.b, rows.c.k, rows.c.m)).subquery()
    per_month = (
        select(counts.c.b, counts.c.k,
               *[func.coalesce(func.sum(case((counts.c.m == i, counts.c.n), else_=0)), 0).label(f"m{i}")
                 for i in range(len(keys))])
        .group_by(counts.c.b, counts.c.k)
    ).subquery()
    return _flagged(scope, per_month, keys)


def _flagged(scope, per_month, keys) -> list[Hotspot]:
    """The hotspots among `per_month` (b, k, m0 … m6 for the months `keys`, this month last)."""
    n = len(keys) - 1
    baseline = [per_month.c[f"m{i}"] for i in range(n)]
    c = per_month.c[f"m{n}"]
    s = sum(baseline[1:], baseline[0])
    q = sum((m * m for m in baseline[1:]), baseline[0] * baseline[0])
    d = n * c - s
    # A single issue is never a hotspot: with one issue in six months, one this month is "above mean + 2·SD".
    flagged = or_(and_(s > 0, c >= 2, d > 0, d * d > 4 * (n * q - s * s)), and_(s == 0, c >= 3))
    stmt = (select(per_month, Building.community_id, Building.name, IssueCategory.code, IssueCategory.name)
            .join(Building, Building.id == per_month.c.b).join(IssueCategory, IssueCategory.id == per_month.c.k)
            .where(c >= 2, flagged))
    out = []
    for row in db.session.execute(stmt):
        m = row._mapping
        baseline = tuple(int(m[f"m{i}"]) for i in range(n))
        out.append(Hotspot(community_id=m["community_id"], community_name=scope.names[m["community_id"]],
                           building_id=m["b"], building_name=row[-3], category_id=m["k"],
                           category_code=row[-2], category_name=category_name(row[-2], row[-1]), month=keys[-1],
                           count=int(m[f"m{n}"]),
                           baseline=baseline, reason="above_baseline" if sum(baseline) else "new"))
    out.sort(key=lambda h: (-h.count, h.community_name, h.building_name, h.category_name, h.building_id,
                            h.category_id))
    return out


def issues_by_category(filters: Filters) -> list[dict]:
    """Issues submitted in the period per category code across the communities in scope, ordered by count
    desc then name: {"code", "name", "count"}. One statement (+1 for the communities)."""
    rates = three_rates(filters)
    return _by_category(rates)


def _by_category(rates):
    return [{"code": r.key, "name": r.label, "count": r.issues}
            for r in sorted(rates["category"], key=lambda r: (-r.issues, r.label))]


def monthly_trend(filters: Filters, *, now: datetime | None = None) -> list[RateRow]:
    """The three rates per month of the range (the "month" rows of three_rates), for the chart."""
    return three_rates(filters, now=now)["month"]
