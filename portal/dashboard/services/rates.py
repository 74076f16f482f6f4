"""The three rates (response, resolution, satisfaction) with their numerators and denominators: read
from the issue rollups, or computed directly from the issues as the reference; the issues behind a
figure, and open and overdue issues by community."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from types import SimpleNamespace
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, literal, not_, or_, select, union_all

from portal.actions.models import Action, ActionSummons
from portal.clock import utcnow
from portal.committees.models import Organization
from portal.dashboard.models import IssueRollup
from portal.dashboard.services.scope import (
    GROUPS,
    PARTS,
    RATES,
    SATISFIED,
    FilterError,
    Filters,
    _count_if,
    _half_up,
    _issue_where,
    _month_number,
    _Scope,
    month_key,
    parse_month,
)
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueCategory, IssueSummons
from portal.issues.services import category_label

if TYPE_CHECKING:
    from sqlalchemy import Select


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


def _rate_conditions(now):
    # A rating an upheld appeal removed (rating_excluded) counts in neither part of the resolution and
    # satisfaction rates; a reopened issue being redone (open again, its rating from before) is not
    # "resolved: yes" until it is resolved and rated again. As portal.dashboard.rollups.contribution.
    responded = Issue.first_response_at.is_not(None)
    kept = Issue.rating_excluded.is_(False)
    return {
        ("response", "numerator"): and_(responded, Issue.first_response_at <= Issue.respond_by),
        ("response", "denominator"): or_(Issue.respond_by < now, responded),
        ("resolution", "numerator"): and_(Issue.rating_resolved.is_(True), kept,
                                          not_(and_(Issue.reopen_count > 0, Issue.status.in_(OPEN_STATES)))),
        ("resolution", "denominator"): and_(Issue.rating_resolved.is_not(None), kept),
        ("satisfaction", "numerator"): and_(Issue.rating_satisfaction.in_(SATISFIED), kept),
        ("satisfaction", "denominator"): and_(Issue.rating_satisfaction.is_not(None), kept),
    }


def _rollup_where(filters: Filters, scope: _Scope) -> list:
    """The IssueRollup rows of the period and filters (the scope has communities and months)."""
    r = IssueRollup
    kept = [r.community_id.in_(scope.ids),
            r.month.between(_month_number(scope.months[0]), _month_number(scope.months[-1]))]
    if filters.category_id is not None:
        kept.append(r.category_id == filters.category_id)
    if filters.category_code is not None:
        kept.append(r.category_id.in_(select(IssueCategory.id).where(IssueCategory.code == filters.category_code)))
    if filters.org_id is not None:
        kept.append(r.org_key == filters.org_id)
    return kept


def _rollup_sums(filters: Filters, columns) -> list[int]:
    """The sums of IssueRollup `columns` over the period and filters: one statement (+1 for the communities
    when not given), reading a few thousand rollup rows instead of every issue of the period."""
    scope = _Scope(filters)
    if not scope.ids or not scope.months:
        return [0] * len(columns)
    row = db.session.execute(select(*[func.coalesce(func.sum(c), 0) for c in columns])
                             .where(*_rollup_where(filters, scope))).one()
    return [int(v) for v in row]


def _cube(filters: Filters, scope: _Scope, now) -> list:
    """The rows of `_cube_direct` from the rollups (portal.dashboard.rollups) in one statement: the rollup
    rows of the period, plus the one part that changes with the clock — issues of the period still without
    a response whose respond-by time has passed (response denominator) — counted live from the unresponded
    issues only (partial index ix_issue_unresponded). Same rows, same order of columns."""
    if not scope.ids or not scope.months:
        return []
    first = _month_number(scope.months[0])
    r = IssueRollup
    kept = _rollup_where(filters, scope)
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
    out, labels = [], {}  # a few dozen categories over thousands of rows: each label worked out once
    rows = db.session.execute(stmt)
    for cid, code, cat_name, org_key, org_name, month, n, in_time, responded, late_n, *parts in rows:
        if not n:
            continue  # a bucket whose issues all moved away
        label = labels.get((code, cat_name))
        if label is None:
            label = labels[(code, cat_name)] = category_name(code, cat_name)
        out.append((cid, code, label, org_key or None, org_name, keys[int(month)], int(n),
                    int(in_time), int(responded) + int(late_n), *[int(p) for p in parts]))
    return out


def _cube_direct(filters: Filters, scope: _Scope, now) -> list:
    """The reference computation, straight from the issues (the tests hold `_cube` to it). One statement:
    issue counts and rate parts grouped by community × category × handling org × local month, as rows
    (community_id, category code, category name, org_id, org name, "2026-11", count, 6 parts).
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


def category_name(code: str, name: str) -> str:
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
    - resolution = rating_resolved true, except a reopened issue being redone (reopen_count > 0 and open
      again) ÷ rating_resolved not null; a resident's rating or a hotline issue's return visit;
    - satisfaction = rating_satisfaction in (satisfied, basically_satisfied) ÷ rating_satisfaction not null;
    - both leave out the ratings an upheld appeal removed (rating_excluded; see `removed_by_appeal`).

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


def issues_behind(filters: Filters, rate: str, part: str, *, group: str = "overall", key: object | None = None,
                  now: datetime | None = None) -> Select:
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


def issue_ids_behind(filters: Filters, rate: str, part: str, *, group: str = "overall", key: object | None = None,
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


def removed_by_appeal(filters: Filters) -> Select:
    """A `select(Issue)` of the issues of the period whose rating an upheld appeal (核减) removed from the
    resolution and satisfaction rates, newest first."""
    scope = _Scope(filters)
    return (select(Issue).where(_issue_where(filters, scope, scope.months), Issue.rating_excluded.is_(True))
            .order_by(Issue.submitted_at.desc(), Issue.id.desc()))


def removed_by_appeal_count(filters: Filters) -> int:
    """How many ratings of the period upheld appeals removed, from the rollups (one statement, +1 for the
    communities when not given); `removed_by_appeal_count_direct` is the reference."""
    return _rollup_sums(filters, [IssueRollup.appeal_removed])[0]


def removed_by_appeal_count_direct(filters: Filters) -> int:
    """removed_by_appeal_count() counted from the issues (one statement, +1 for the communities)."""
    stmt = removed_by_appeal(filters).with_only_columns(func.count()).order_by(None)
    return int(db.session.scalar(stmt) or 0)


def work_orders_on_time(filters: Filters) -> dict:
    """As `work_orders_on_time_direct`, from the rollups (one statement, +1 for the communities when not
    given)."""
    from portal.issues.services import extension_counts_on_time
    r = IssueRollup
    on_time = r.hotline_on_time_extended if extension_counts_on_time() else r.hotline_on_time
    resolved, on_time, extended = _rollup_sums(filters, [r.hotline_resolved, on_time, r.hotline_extended])
    return {"resolved": resolved, "on_time": on_time, "extended": extended}


def work_orders_on_time_direct(filters: Filters) -> dict:
    """The hotline work orders (source "hotline") of the period that were resolved: how many ("resolved"),
    how many by their resolve-by ("on_time": an approved extension's later resolve-by counts only where the
    portal's setting WORK_ORDER_EXTENSION_ON_TIME says so, else the resolve-by before it), and how many had an
    extension approved ("extended"), counted from the issues: the reference the rollups are held to. One
    statement (+1 for the communities when not given)."""
    from portal.issues.services import extension_counts_on_time
    scope = _Scope(filters)
    deadline = Issue.resolve_by if extension_counts_on_time() else func.coalesce(Issue.original_resolve_by,
                                                                                  Issue.resolve_by)
    stmt = (select(func.count(), _count_if(Issue.resolved_at <= deadline),
                   _count_if(Issue.original_resolve_by.is_not(None)))
            .where(_issue_where(filters, scope, scope.months), Issue.source == "hotline",
                   Issue.resolved_at.is_not(None)))
    resolved, on_time, extended = db.session.execute(stmt).one()
    return {"resolved": int(resolved), "on_time": int(on_time or 0), "extended": int(extended or 0)}


def _summons_flags(summons, now: datetime) -> tuple:
    """A summons row's organization, whether it is due (reported in, or report-by passed) and whether it was
    reported in by report-by."""
    return (summons.organization_id.label("org_id"),
            case((or_(summons.reported_at.is_not(None), summons.report_by <= now), 1), else_=0).label("due"),
            case((summons.reported_at <= summons.report_by, 1), else_=0).label("on_time"))


def _action_summons_where(filters: Filters, scope: _Scope):
    """An action's summons in scope: summoned within the period (the action's community's months), the
    action's responsible organization for the organization filter, its issue's (or hotspot's) category."""
    conds = [scope.period(ActionSummons.summoned_at, Action.community_id, scope.months)]
    if filters.org_id is not None:
        conds.append(Action.responsible_org_id == filters.org_id)
    categories = None
    if filters.category_id is not None:
        categories = [filters.category_id]
    elif filters.category_code is not None:
        categories = select(IssueCategory.id).where(IssueCategory.code == filters.category_code)
    if categories is not None:
        conds.append(or_(Action.hotspot_category_id.in_(categories),
                         Action.issue_id.in_(select(Issue.id).where(Issue.category_id.in_(categories)))))
    return and_(*conds)


def report_in_on_time(filters: Filters, *, now: datetime | None = None) -> list[dict]:
    """Whistle-blowing (吹哨报到) by summoned organization, over the summonses of the period's issues and the
    summonses of agreed actions made in the period: how many were due ("due": reported in, or report-by
    passed) and how many reported in by report-by ("on_time"). One statement (+1 for the communities when not
    given), bounded by the number of summonses in scope, never by all rows."""
    now = now or utcnow()
    scope = _Scope(filters)
    issues = (select(*_summons_flags(IssueSummons, now)).join(Issue, Issue.id == IssueSummons.issue_id)
              .where(_issue_where(filters, scope, scope.months)))
    actions = (select(*_summons_flags(ActionSummons, now)).join(Action, Action.id == ActionSummons.action_id)
               .where(_action_summons_where(filters, scope)))
    both = union_all(issues, actions).subquery()
    stmt = (select(both.c.org_id, Organization.name, func.sum(both.c.due), func.sum(both.c.on_time))
            .join(Organization, Organization.id == both.c.org_id)
            .group_by(both.c.org_id, Organization.name))
    rows = [{"org_id": o, "name": name, "rate": Rate(int(on_time or 0), int(d or 0))}
            for o, name, d, on_time in db.session.execute(stmt)]
    return sorted(rows, key=lambda r: (r["name"], r["org_id"]))
