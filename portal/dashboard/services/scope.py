"""What every dashboard figure is computed over: the filters (period, community, category,
organization) and their errors, local calendar months and the UTC boundaries of each zone's months, the
scope of communities and zones a query covers, the one dialect switch (whole seconds since the epoch),
and the issue conditions and counting helpers the figures share."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, case, false, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from portal.clock import DEFAULT_TIME_ZONE, in_zone
from portal.extensions import db
from portal.issues.models import Issue, IssueCategory
from portal.places.models import Community

RATES = ("response", "resolution", "satisfaction")
PARTS = ("numerator", "denominator")
GROUPS = ("overall", "community", "category", "org", "month")
MEDIAN_KINDS = ("first_response", "resolution")
HOTSPOT_BASELINE_MONTHS = 6
MAX_MONTHS = 120
SATISFIED = ("satisfied", "basically_satisfied")


class FilterError(ValueError):
    """Bad filter input (e.g. month_from after month_to, a community of another sub-district)."""


@dataclass(frozen=True)
class Filters:
    """What the dashboard looks at.

    sub_district: the SubDistrict (required).
    communities: list of Community of that sub-district, or None for all of them (a committee member's
        view passes [their community]).
    category_id: one IssueCategory id (a category of one community), or None.
    category_code: an IssueCategory.code across all communities in scope (e.g. "lift"), or None.
    org_id: the handling organization of issues / responsible organization of actions / chased
        organization, or None.
    month_from, month_to: first days of the first and last local months (inclusive), `date` objects.
    """

    sub_district: object
    communities: list | None = None
    category_id: int | None = None
    org_id: int | None = None
    month_from: date = None
    month_to: date = None
    category_code: str | None = None


def _half_up(numerator: int, denominator: int, places: int) -> str:
    """numerator/denominator (≥ 0) rounded half-up to `places` decimals, as text."""
    scale = 10 ** places
    r = (2 * numerator * scale + denominator) // (2 * denominator)
    return f"{r // scale}.{r % scale:0{places}d}" if places else str(r)


# --- months and zones -----------------------------------------------------------------------------------

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> date:
    """"2026-11" → date(2026, 11, 1); raises FilterError for anything else ("2026-13", "", "abc")."""
    m = _MONTH_RE.match((text or "").strip())
    if not m:
        raise FilterError("month must look like 2026-11")
    year, month = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12) or not (1900 <= year <= 2999):
        raise FilterError("no such month")
    return date(year, month, 1)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(day: date, n: int) -> date:
    k = day.year * 12 + (day.month - 1) + n
    return date(k // 12, k % 12 + 1, 1)


def _month_starts(month_from: date, month_to: date) -> list[date]:
    out, d = [], date(month_from.year, month_from.month, 1)
    end = date(month_to.year, month_to.month, 1)
    while d <= end:
        out.append(d)
        d = add_months(d, 1)
    return out


def months_between(month_from: date, month_to: date) -> list[str]:
    """["2026-01", …, "2026-06"] inclusive."""
    return [month_key(d) for d in _month_starts(month_from, month_to)]


def _utc_start(day: date, zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


class _Scope:
    """The communities in scope, grouped by time zone."""

    def __init__(self, filters: Filters, need_months: bool = True):
        if filters.sub_district is None:
            raise FilterError("no sub-district")
        sd_id = filters.sub_district.id
        if filters.communities is None:
            communities = db.session.execute(
                select(Community).where(Community.sub_district_id == sd_id).order_by(Community.name, Community.id)
            ).scalars().all()
        else:
            communities = list(filters.communities)
            for c in communities:
                if c.sub_district_id != sd_id:
                    raise FilterError("community of another sub-district")
        self.communities = communities
        self.ids = [c.id for c in communities]
        self.names = {c.id: c.name for c in communities}
        self.zones: dict[str, list[int]] = {}
        for c in communities:
            self.zones.setdefault(c.time_zone or DEFAULT_TIME_ZONE, []).append(c.id)
        if need_months:
            if filters.month_from is None or filters.month_to is None:
                raise FilterError("no month range")
            if filters.month_from > filters.month_to:
                raise FilterError("the first month is after the last")
            self.months = _month_starts(filters.month_from, filters.month_to)
            if len(self.months) > MAX_MONTHS:
                raise FilterError("too many months")

    def period(self, col, community_col, months: list[date]):
        """SQL: `col` falls within the local months `months` (consecutive) of the row's community."""
        if not self.ids or not months:
            return false()
        end = add_months(months[-1], 1)
        return or_(*[and_(community_col.in_(ids), col >= _utc_start(months[0], z), col < _utc_start(end, z))
                     for z, ids in self.zones.items()])

    def month_label(self, col, community_col, months: list[date]):
        """SQL: the local month ("2026-11") of `col`, for rows already within `period(months)`."""
        def one_zone(z):
            whens = [(col < _utc_start(add_months(m, 1), z), month_key(m)) for m in months[:-1]]
            return case(*whens, else_=month_key(months[-1])) if whens else month_key(months[-1])
        zones = list(self.zones.items())
        if len(zones) == 1:
            expr = one_zone(zones[0][0])
            return expr if not isinstance(expr, str) else func.coalesce(None, expr)
        return case(*[(community_col.in_(ids), one_zone(z)) for z, ids in zones[:-1]], else_=one_zone(zones[-1][0]))

    def month_index(self, col, community_col, months: list[date]):
        """SQL: the index in `months` (0 for the first) of the local month of `col`, for rows already
        within `period(months)` — an integer, cheaper to group by than `month_label`."""
        def one_zone(z):
            whens = [(col < _utc_start(add_months(m, 1), z), i) for i, m in enumerate(months[:-1])]
            return case(*whens, else_=len(months) - 1) if whens else literal(len(months) - 1)
        zones = list(self.zones.items())
        if len(zones) == 1:
            return one_zone(zones[0][0])
        return case(*[(community_col.in_(ids), one_zone(z)) for z, ids in zones[:-1]], else_=one_zone(zones[-1][0]))

    def today(self, zone: str, now: datetime) -> date:
        return in_zone(now, zone).date()


# --- whole seconds since the epoch, the only dialect switch ----------------------------------------------

class epoch_seconds(FunctionElement):
    type = BigInteger()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return "CAST(strftime('%%s', %s) AS INTEGER)" % compiler.process(element.clauses, **kw)


@compiles(epoch_seconds, "postgresql")
def _epoch_pg(element, compiler, **kw):
    # date_part gives a double, EXTRACT a numeric (PostgreSQL 14+), about twice as slow over tens of thousands
    # of rows. The floor is still exact: microseconds / 10⁶ as a double errs by under 10⁻⁶ s below year 2100.
    return "CAST(FLOOR(date_part('epoch', %s)) AS BIGINT)" % compiler.process(element.clauses, **kw)


# --- issues ------------------------------------------------------------------------------------------------

def _issue_where(filters: Filters, scope: _Scope, months: list[date] | None):
    conds = [Issue.status != "duplicate"]
    if months is None:
        conds.append(Issue.community_id.in_(scope.ids) if scope.ids else false())
    else:
        conds.append(scope.period(Issue.submitted_at, Issue.community_id, months))
    if filters.category_id is not None:
        conds.append(Issue.category_id == filters.category_id)
    if filters.category_code is not None:
        conds.append(Issue.category_id.in_(select(IssueCategory.id).where(IssueCategory.code == filters.category_code)))
    if filters.org_id is not None:
        conds.append(Issue.handling_org_id == filters.org_id)
    return and_(*conds)


def _count_if(cond):
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1
