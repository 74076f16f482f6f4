"""The officials' dashboard figures (DESIGN §4): the three rates, open and overdue work, medians,
proposals by state, ballot participation, hotspots, chases, trends — all computed by SQL aggregates.
The rates and medians read what portal.dashboard.rollups keeps beside the issues (IssueRollup,
IssueDuration) instead of every issue of the period; `three_rates_direct` and `medians_direct` compute the
same from the issues and are the reference the tests hold them to.

Rules kept by every function here:
- Exact arithmetic: counts are integers; a rate is a `Rate(numerator, denominator)` and is turned into a
  percentage string only for display (`Rate.percent()`, "—" when the denominator is zero). Medians are
  exact (`fractions.Fraction` of seconds). Standard deviations are never taken: hotspot tests compare
  squares of integers (see `hotspots`).
- SQLite and PostgreSQL give the same figures: medians use `row_number()` / `count() over ()` windows
  (PostgreSQL: the ordered-set `percentile_cont`, same result); durations are whole seconds (each
  timestamp truncated to the second) via one small dialect switch (`strftime('%s')` / `extract(epoch)`).
- Constant query count in the data size: each function issues a fixed number of statements (listed in
  its docstring) whatever the number of issues, actions, communities or months.
- Months are local calendar months of each community's time zone, by submission date (issues), creation
  date (chases) or opening date (ballots). They are computed without any time-zone support in SQL: for each
  distinct zone of the communities in scope, the UTC instants of the month boundaries are computed in
  Python, and a `CASE` over those boundaries gives each row its local month ("2026-11"); period filters are
  `(community in zone Z AND at >= start_Z AND at < end_Z) OR …`. Exact for any zone (DST included), and
  when all communities share Asia/Shanghai (the usual case) it is one range and one `CASE`.
- Issues merged as duplicates (status "duplicate") are left out of every figure: the issue they were merged
  into is counted instead. Hidden (moderated) issues are counted — officials' figures cover all work.
- Snapshots (open / overdue issues, overdue actions, proposals by state) describe "now" and ignore the
  month range; they respect the community, category and organization filters where these apply.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from fractions import Fraction
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, and_, case, false, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from portal.actions.models import Action, Chase
from portal.clock import DEFAULT_TIME_ZONE, in_zone, utcnow
from portal.committees.models import Organization
from portal.dashboard.models import IssueDuration, IssueRollup
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueCategory
from portal.issues.services import category_label
from portal.places.models import Building, Community
from portal.proposals.models import STATE_LABELS as PROPOSAL_STATE_LABELS
from portal.proposals.models import STATES as PROPOSAL_STATES
from portal.proposals.models import Proposal
from portal.votes.models import Ballot, BallotVote, BallotVoter

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


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    def fraction(self) -> Fraction | None:
        """Exact value, None for a zero denominator."""
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    def percent(self, places: int = 1) -> str:
        """"87.5" (half-up rounded, `places` decimals), "—" for a zero denominator. No "%" sign."""
        if not self.denominator:
            return "—"
        return _half_up(100 * self.numerator, self.denominator, places)

    def __add__(self, other):
        return Rate(self.numerator + other.numerator, self.denominator + other.denominator)

    def __str__(self) -> str:
        return self.percent()


ZERO = Rate(0, 0)


@dataclass(frozen=True)
class RateRow:
    """One line of the rates table: `key` is the group value (community id, category code, org id,
    "2026-11", or None for overall); `label` its display name (community / category / org name, the month)."""

    key: object
    label: str
    issues: int  # issues of the group in the period (duplicates left out)
    response: Rate
    resolution: Rate
    satisfaction: Rate

    def rate(self, name: str) -> Rate:
        return getattr(self, name)


@dataclass(frozen=True)
class Median:
    """Median duration over `count` issues; `seconds` exact (half-second possible for even counts), None
    when count is 0."""

    count: int
    seconds: Fraction | None

    @property
    def hours(self) -> Fraction | None:
        return None if self.seconds is None else self.seconds / 3600

    def text(self, places: int = 1) -> str:
        """Hours, half-up rounded to `places` decimals ("12.5"), "—" when there are no issues."""
        if self.seconds is None:
            return "—"
        h = self.hours
        return _half_up(h.numerator, h.denominator, places)


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
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


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


def _rate_conditions(now):
    responded = Issue.first_response_at.is_not(None)
    return {
        ("response", "numerator"): and_(responded, Issue.first_response_at <= Issue.respond_by),
        ("response", "denominator"): or_(Issue.respond_by < now, responded),
        ("resolution", "numerator"): Issue.rating_resolved.is_(True),
        ("resolution", "denominator"): Issue.rating_resolved.is_not(None),
        ("satisfaction", "numerator"): Issue.rating_satisfaction.in_(SATISFIED),
        ("satisfaction", "denominator"): Issue.rating_satisfaction.is_not(None),
    }


def _count_if(cond):
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _cube(filters: Filters, scope: _Scope, now) -> list:
    """The rows of `_cube_direct` from the rollups (portal.dashboard.rollups) in one statement: the rollup
    rows of the period, plus the one part that changes with the clock — issues of the period still without
    a response whose respond-by time has passed (response denominator) — counted live from the unresponded
    issues only (partial index ix_issue_unresponded). Same rows, same order of columns."""
    if not scope.ids or not scope.months:
        return []
    first = _month_number(scope.months[0])
    r = IssueRollup
    kept = [r.community_id.in_(scope.ids), r.month.between(first, _month_number(scope.months[-1]))]
    if filters.category_id is not None:
        kept.append(r.category_id == filters.category_id)
    if filters.category_code is not None:
        kept.append(r.category_id.in_(select(IssueCategory.id).where(IssueCategory.code == filters.category_code)))
    if filters.org_id is not None:
        kept.append(r.org_key == filters.org_id)
    zero = literal(0)
    stored = select(r.community_id, r.category_id, r.org_key.label("org_key"), (r.month - first).label("month"),
                    r.issues, r.responded_in_time, r.responded, zero, r.resolved_yes, r.resolution_rated,
                    r.satisfied, r.satisfaction_rated).where(*kept)
    late = (select(Issue.community_id, Issue.category_id, func.coalesce(Issue.handling_org_id, 0),
                   scope.month_index(Issue.submitted_at, Issue.community_id, scope.months),
                   zero, zero, zero, literal(1), zero, zero, zero, zero)
            .where(_issue_where(filters, scope, scope.months), Issue.first_response_at.is_(None),
                   Issue.respond_by < now))
    both = stored.union_all(late).subquery()
    c = list(both.c)
    sums = [func.sum(col) for col in c[4:]]
    grouped = (select(*c[:4], *sums).group_by(*c[:4])).subquery()
    g = list(grouped.c)
    stmt = (select(g[0], IssueCategory.code, IssueCategory.name, g[2], Organization.name, g[3], *g[4:])
            .select_from(grouped)
            .join(IssueCategory, IssueCategory.id == g[1])
            .outerjoin(Organization, Organization.id == g[2]))
    keys = [month_key(m) for m in scope.months]
    out = []
    for cid, code, cat_name, org_key, org_name, month, n, in_time, responded, late_n, *parts in db.session.execute(stmt):
        if not n:
            continue  # a bucket whose issues all moved away
        out.append((cid, code, category_name(code, cat_name), org_key or None, org_name, keys[int(month)], int(n),
                    int(in_time), int(responded) + int(late_n), *[int(p) for p in parts]))
    return out


def _cube_direct(filters: Filters, scope: _Scope, now) -> list:
    """The reference computation, straight from the issues (the tests hold `_cube` to it). One statement:
    issue counts and rate parts grouped by community × category × handling org × local month, as rows (community_id, category code, category name, org_id, org name, "2026-11", count, 6 parts).
    Everything else about rates is sums of these integers. The grouping is on integer keys straight off the
    issue rows (the month as its index in the range), and the names are joined to the few grouped rows
    afterwards: sorting or hashing tens of thousands of rows by text is what made this slow."""
    conds = _rate_conditions(now)
    rows = (
        select(Issue.community_id.label("community_id"), Issue.category_id.label("category_id"),
               Issue.handling_org_id.label("org_id"),
               scope.month_index(Issue.submitted_at, Issue.community_id, scope.months).label("month"),
               *[case((conds[(r, p)], 1), else_=0).label(f"{r}_{p}") for r in RATES for p in PARTS])
        .where(_issue_where(filters, scope, scope.months))
    ).subquery()
    grouped = (
        select(rows.c.community_id, rows.c.category_id, rows.c.org_id, rows.c.month, func.count().label("n"),
               *[func.sum(rows.c[f"{r}_{p}"]).label(f"{r}_{p}") for r in RATES for p in PARTS])
        .group_by(rows.c.community_id, rows.c.category_id, rows.c.org_id, rows.c.month)
    ).subquery()
    stmt = (
        select(grouped.c.community_id, IssueCategory.code, IssueCategory.name, grouped.c.org_id, Organization.name,
               grouped.c.month, grouped.c.n, *[grouped.c[f"{r}_{p}"] for r in RATES for p in PARTS])
        .select_from(grouped)
        .join(IssueCategory, IssueCategory.id == grouped.c.category_id)
        .outerjoin(Organization, Organization.id == grouped.c.org_id)
    )
    keys = [month_key(m) for m in scope.months]
    return [(cid, code, category_name(code, cat_name), org_id, org_name, keys[int(month)], n, *parts)
            for cid, code, cat_name, org_id, org_name, month, n, *parts in db.session.execute(stmt)]


def category_name(code, name) -> str:
    """A default category in the reader's language (as on the issue pages); a community's own name as is."""
    return category_label(SimpleNamespace(code=code, name=name))


def _rate_row(key, label, rows) -> RateRow:
    """The RateRow of `key` from cube rows' (count, 6 parts) tuples: column sums, done by `sum` in C."""
    t = [int(sum(column)) for column in zip(*rows)] if rows else [0] * 7
    return RateRow(key, label, t[0], Rate(t[1], t[2]), Rate(t[3], t[4]), Rate(t[5], t[6]))


def _rates_from_cube(cube, scope: _Scope) -> dict[str, list[RateRow]]:
    # Each cube row's (count, parts) goes to one list per group value; the totals are column sums of
    # those lists. (Adding into per-group accumulators row by row cost tens of ms for ~5,000 cube rows.)
    everything = []
    by = {"community": {cid: [] for cid in scope.ids}, "category": {}, "org": {},
          "month": {month_key(m): [] for m in scope.months}}
    category_label, org_label = {}, {}
    for community_id, code, cat_name, org_id, org_name, month, *values in cube:
        everything.append(values)
        by["community"][community_id].append(values)
        found = by["category"].get(code)
        if found is None:
            by["category"][code] = [values]
            category_label[code] = cat_name
        else:
            found.append(values)
            if cat_name < category_label[code]:
                category_label[code] = cat_name
        found = by["org"].get(org_id)
        if found is None:
            by["org"][org_id] = [values]
            org_label[org_id] = org_name or "—"
        else:
            found.append(values)
        by["month"][month].append(values)
    labels = {"community": scope.names, "category": category_label, "org": org_label}
    out = {"overall": [_rate_row(None, "", everything)]}
    for group in ("community", "category", "org"):
        out[group] = sorted((_rate_row(k, labels[group][k], rows) for k, rows in by[group].items()),
                            key=lambda r: (r.label, str(r.key)))
    out["month"] = [_rate_row(month_key(m), month_key(m), by["month"][month_key(m)]) for m in scope.months]
    return out


def three_rates(filters: Filters, *, now: datetime | None = None) -> dict[str, list[RateRow]]:
    """DESIGN §4 rates, for issues submitted in the period (local months):

    - response = issues with first_response_at ≤ respond_by ÷ issues with respond_by < now or
      first_response_at not null;
    - resolution = rating_resolved true ÷ rating_resolved not null;
    - satisfaction = rating_satisfaction in (satisfied, basically_satisfied) ÷ rating_satisfaction not null.

    Returns {"overall": [one RateRow, key None], "community": [...] (every community in scope, zeros
    included), "category": [...] (key category code, across communities), "org": [...] (key
    handling_org_id; None = not assigned, label "—"), "month": [...] (every month of the range, zero rows
    included, in order)}. Rows other than months are ordered by label. One statement grouped by community ×
    category × org × month, summed up exactly in Python (+1 for the communities when not given)."""
    now = now or utcnow()
    scope = _Scope(filters)
    return _rates_from_cube(_cube(filters, scope, now), scope)


def three_rates_direct(filters: Filters, *, now: datetime | None = None) -> dict[str, list[RateRow]]:
    """three_rates() computed straight from the issues, without the rollups: the reference the tests hold
    the rollups to."""
    now = now or utcnow()
    scope = _Scope(filters)
    return _rates_from_cube(_cube_direct(filters, scope, now), scope)


def issues_behind(filters: Filters, rate: str, part: str, *, group: str = "overall", key=None,
                  now: datetime | None = None):
    """A `select(Issue)` of the issues behind a figure — `rate` in RATES, `part` "numerator" or
    "denominator", optionally within one group (`group` in GROUPS, `key` as in RateRow.key) — newest
    first (submitted_at desc, id desc) so the caller can page it. Raises FilterError for a bad rate/part/group."""
    if rate not in RATES or part not in PARTS or group not in GROUPS:
        raise FilterError("no such figure")
    now = now or utcnow()
    scope = _Scope(filters)
    months = scope.months
    stmt = select(Issue)
    if group == "month":
        try:
            m = parse_month(str(key))
        except FilterError:
            raise
        if m not in months:
            raise FilterError("month outside the period")
        months = [m]
    conds = [_issue_where(filters, scope, months), _rate_conditions(now)[(rate, part)]]
    if group == "community":
        conds.append(Issue.community_id == key)
    elif group == "category":
        conds.append(Issue.category_id.in_(select(IssueCategory.id).where(IssueCategory.code == key)))
    elif group == "org":
        conds.append(Issue.handling_org_id.is_(None) if key is None else Issue.handling_org_id == key)
    return stmt.where(*conds).order_by(Issue.submitted_at.desc(), Issue.id.desc())


def issue_ids_behind(filters: Filters, rate: str, part: str, *, group: str = "overall", key=None,
                     now: datetime | None = None, limit: int | None = None) -> list[int]:
    """The ids of `issues_behind(...)` (newest first), at most `limit`. One statement (+1 for zones)."""
    stmt = issues_behind(filters, rate, part, group=group, key=key, now=now).with_only_columns(Issue.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt).scalars())


def open_and_overdue_by_community(filters: Filters, *, now: datetime | None = None) -> list[dict]:
    """Snapshot now: per community in scope (all of them, zeros included, ordered by name):
    {"community_id", "name", "open", "overdue"}. Open = status in OPEN_STATES; overdue as
    portal.issues.services.is_overdue (open and (no response and respond_by < now, or resolve_by < now)).
    Category / org filters apply; the month range does not. One statement (+1 for the communities)."""
    now = now or utcnow()
    scope = _Scope(filters, need_months=False)
    overdue = or_(and_(Issue.first_response_at.is_(None), Issue.respond_by < now), Issue.resolve_by < now)
    stmt = (select(Issue.community_id, func.count(), _count_if(overdue))
            .where(_issue_where(filters, scope, None), Issue.status.in_(OPEN_STATES))
            .group_by(Issue.community_id))
    found = {cid: (n, o) for cid, n, o in db.session.execute(stmt)}
    return [{"community_id": c.id, "name": c.name, "open": found.get(c.id, (0, 0))[0],
             "overdue": int(found.get(c.id, (0, 0))[1])}
            for c in sorted(scope.communities, key=lambda c: (c.name, c.id))]


def _median_select(seconds_by_kind, where):
    """One statement, one pass over the rows of `where`: for each kind (its whole-seconds expression, NULL
    when not reached), (sum of the middle values, how many middle values (1 or 2; 0 when none), how many
    values)."""
    cols, present = [], []
    for i, seconds in enumerate(seconds_by_kind):
        # One window per kind (row_number ignores the frame): a single sort and pass per kind. Rows without
        # this kind's value sort last and are not counted.
        window = {"order_by": seconds.nulls_last(), "rows": (None, None)}
        cols += [seconds.label(f"s{i}"), func.row_number().over(**window).label(f"rn{i}"),
                 func.count(seconds).over(**window).label(f"cnt{i}")]
        present.append(seconds.is_not(None))
    inner = select(*cols).where(where, or_(*present)).subquery()
    out, middles = [], []
    for i in range(len(seconds_by_kind)):
        s, rn, cnt = inner.c[f"s{i}"], inner.c[f"rn{i}"], inner.c[f"cnt{i}"]
        middle = and_(s.is_not(None), rn.in_([(cnt + 1) // 2, (cnt + 2) // 2]))
        middles.append(middle)
        out += [func.coalesce(func.sum(case((middle, s), else_=0)), 0), _count_if(middle), func.max(cnt)]
    return select(*out).where(or_(*middles))


def _medians_stmt_direct(filters: Filters, scope: _Scope, kinds):
    """The reference: durations computed from the issues' timestamps."""
    seconds = [epoch_seconds(Issue.first_response_at if kind == "first_response" else Issue.resolved_at)
               - epoch_seconds(Issue.submitted_at) for kind in kinds]
    return _median_select(seconds, _issue_where(filters, scope, scope.months))


def _durations_where(filters: Filters, scope: _Scope):
    d = IssueDuration
    if not scope.ids:
        return false()
    conds = [d.community_id.in_(scope.ids),
             d.month.between(_month_number(scope.months[0]), _month_number(scope.months[-1]))]
    if filters.category_id is not None:
        conds.append(d.category_id == filters.category_id)
    if filters.category_code is not None:
        conds.append(d.category_id.in_(select(IssueCategory.id).where(IssueCategory.code == filters.category_code)))
    if filters.org_id is not None:
        conds.append(d.org_key == filters.org_id)
    return and_(*conds)


def _duration_columns(kinds):
    return [IssueDuration.first_response_s if kind == "first_response" else IssueDuration.resolution_s
            for kind in kinds]


def _medians_stmt(filters: Filters, scope: _Scope, kinds):
    """From IssueDuration (kept with the rollups): integers already, read by an index-only scan of
    (community_id, month); duplicates have no row. SQLite: the window statement."""
    return _median_select(_duration_columns(kinds), _durations_where(filters, scope))


def _medians_pg(filters: Filters, scope: _Scope, kinds) -> dict[str, Median]:
    """PostgreSQL: the ordered-set aggregate percentile_cont(0.5) over IssueDuration, one sort per kind
    without the windows (about 3× faster than `_median_select` over ~65,000 rows). Exact: the result is
    a whole or half second of a value below 2⁵³, which a double holds exactly."""
    cols = []
    for seconds in _duration_columns(kinds):
        cols += [func.percentile_cont(0.5).within_group(seconds), func.count(seconds)]
    row = db.session.execute(select(*cols).where(_durations_where(filters, scope))).one()
    found = {}
    for i, kind in enumerate(kinds):
        value, count = row[2 * i], int(row[2 * i + 1])
        found[kind] = Median(count, Fraction(round(2 * value), 2)) if count else Median(0, None)
    return found


def _medians(filters: Filters, kinds, *, direct: bool) -> dict[str, Median]:
    if not kinds or any(kind not in MEDIAN_KINDS for kind in kinds):
        raise FilterError("no such median")
    scope = _Scope(filters)
    if direct:
        statement = _medians_stmt_direct
    elif db.session.get_bind().dialect.name == "postgresql":
        return _medians_pg(filters, scope, kinds)
    else:
        statement = _medians_stmt
    row = db.session.execute(statement(filters, scope, kinds)).one()
    found = {}
    for i, kind in enumerate(kinds):
        total, middle, count = row[3 * i:3 * i + 3]
        found[kind] = Median(int(count), Fraction(int(total), int(middle))) if middle else Median(0, None)
    return found


def medians(filters: Filters, kinds=MEDIAN_KINDS) -> dict[str, Median]:
    """Median time from submission to first response (kind "first_response") and to resolution
    ("resolution", resolved_at) over issues of the period that have that timestamp. Whole seconds (each
    timestamp truncated to the second), window functions (row_number, count over); even counts average
    the two middle values exactly. Read from IssueDuration (percentile_cont on PostgreSQL): one statement
    for all kinds (+1 for the communities). FilterError for another kind."""
    return _medians(filters, kinds, direct=False)


def medians_direct(filters: Filters, kinds=MEDIAN_KINDS) -> dict[str, Median]:
    """medians() computed from the issues' timestamps: the reference the tests hold IssueDuration to."""
    return _medians(filters, kinds, direct=True)


def median_hours(filters: Filters, kind: str) -> Median:
    """medians() of one kind."""
    return medians(filters, (kind,))[kind]


def hotspots(filters: Filters, month: date) -> list[Hotspot]:
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


# --- actions, proposals, ballots, chases ------------------------------------------------------------------

def overdue_actions_by_org(filters: Filters, *, now: datetime | None = None) -> list[dict]:
    """Snapshot now: per responsible organization with any not-done action in scope, ordered by name:
    {"org_id", "name", "open", "overdue"} where open = status != done and overdue = open and due_date
    before today in the action's community zone (derived as in actions.is_overdue). Org filter applies.
    One statement (+1 for the communities)."""
    now = now or utcnow()
    scope = _Scope(filters, need_months=False)
    if not scope.ids:
        return []
    late = or_(*[and_(Action.community_id.in_(ids), Action.due_date < scope.today(z, now))
                 for z, ids in scope.zones.items()])
    conds = [Action.community_id.in_(scope.ids), Action.status != "done"]
    if filters.org_id is not None:
        conds.append(Action.responsible_org_id == filters.org_id)
    stmt = (select(Action.responsible_org_id, Organization.name, func.count(), _count_if(late))
            .join(Organization, Organization.id == Action.responsible_org_id)
            .where(*conds).group_by(Action.responsible_org_id, Organization.name))
    rows = [{"org_id": o, "name": name, "open": n, "overdue": int(late_n)}
            for o, name, n, late_n in db.session.execute(stmt)]
    return sorted(rows, key=lambda r: (r["name"], r["org_id"]))


def proposals_by_state(filters: Filters) -> list[dict]:
    """Snapshot: [{"state", "label", "count"}] for every public proposal state (collecting … evaluated,
    withdrawn, archived), in lifecycle order, zeros included. Drafts are not counted. One statement
    (+1 for the communities)."""
    scope = _Scope(filters, need_months=False)
    found = {}
    if scope.ids:
        stmt = (select(Proposal.status, func.count()).where(Proposal.community_id.in_(scope.ids),
                                                            Proposal.status != "draft")
                .group_by(Proposal.status))
        found = dict(db.session.execute(stmt).all())
    return [{"state": s, "label": PROPOSAL_STATE_LABELS.get(s, s), "count": found.get(s, 0)}
            for s in PROPOSAL_STATES if s != "draft"]


def ballot_participation(filters: Filters) -> dict:
    """Ballots of the communities in scope whose voting opened (electorate frozen) in the period:
    {"rows": [{"ballot_id", "proposal_id", "community_id", "community_name", "question", "method",
    "status", "opens_at", "rate": Rate(votes cast, electorate)}] newest first, "overall": Rate}.
    One statement (+1 for the communities)."""
    scope = _Scope(filters)
    voters = (select(BallotVoter.ballot_id, func.count().label("n")).group_by(BallotVoter.ballot_id)).subquery()
    votes = (select(BallotVote.ballot_id, func.count().label("n")).group_by(BallotVote.ballot_id)).subquery()
    stmt = (select(Ballot.id, Ballot.proposal_id, Ballot.community_id, Ballot.question, Ballot.method,
                   Ballot.status, Ballot.opens_at, func.coalesce(votes.c.n, 0), func.coalesce(voters.c.n, 0))
            .outerjoin(voters, voters.c.ballot_id == Ballot.id).outerjoin(votes, votes.c.ballot_id == Ballot.id)
            .where(Ballot.frozen_at.is_not(None), scope.period(Ballot.frozen_at, Ballot.community_id, scope.months))
            .order_by(Ballot.opens_at.desc(), Ballot.id.desc()))
    rows, overall = [], ZERO
    for bid, pid, cid, question, method, status, opens_at, cast, electorate in db.session.execute(stmt):
        rate = Rate(int(cast), int(electorate))
        overall = overall + rate
        rows.append({"ballot_id": bid, "proposal_id": pid, "community_id": cid, "community_name": scope.names[cid],
                     "question": question, "method": method, "status": status, "opens_at": opens_at,
                     "rate": rate})
    return {"rows": rows, "overall": overall}


def chases_by_org(filters: Filters) -> list[dict]:
    """Chases sent in the period (local month of created_at), per chased organization, ordered by total
    desc then name: {"org_id", "name", "issues", "actions", "total"}. Org filter applies. One statement
    (+1 for the communities)."""
    scope = _Scope(filters)
    conds = [scope.period(Chase.created_at, Chase.community_id, scope.months)]
    if filters.org_id is not None:
        conds.append(Chase.organization_id == filters.org_id)
    stmt = (select(Chase.organization_id, Organization.name, _count_if(Chase.item_type == "issue"),
                   _count_if(Chase.item_type == "action"))
            .join(Organization, Organization.id == Chase.organization_id)
            .where(*conds).group_by(Chase.organization_id, Organization.name))
    rows = [{"org_id": o, "name": name, "issues": int(i), "actions": int(a), "total": int(i) + int(a)}
            for o, name, i, a in db.session.execute(stmt)]
    return sorted(rows, key=lambda r: (-r["total"], r["name"], r["org_id"]))


def summary(filters: Filters, *, now: datetime | None = None) -> dict:
    """Everything the dashboard page shows, in a fixed number of statements (9, +1 for the communities
    when not given): {"rates", "open_overdue", "overdue_actions", "median_first_response",
    "median_resolution", "proposals", "ballots", "hotspots" (for month_to), "chases", "by_category",
    "trend"}."""
    now = now or utcnow()
    if filters.communities is None:
        scope = _Scope(filters)
        filters = Filters(**{**filters.__dict__, "communities": scope.communities})
    rates = three_rates(filters, now=now)
    times = medians(filters)
    return {
        "rates": rates,
        "trend": rates["month"],
        "by_category": _by_category(rates),
        "open_overdue": open_and_overdue_by_community(filters, now=now),
        "overdue_actions": overdue_actions_by_org(filters, now=now),
        "median_first_response": times["first_response"],
        "median_resolution": times["resolution"],
        "proposals": proposals_by_state(filters),
        "ballots": ballot_participation(filters),
        "hotspots": hotspots(filters, filters.month_to),
        "chases": chases_by_org(filters),
    }
