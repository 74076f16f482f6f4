"""Insight's rules: the monthly forecasts and expected rises (a run-due step at each month's start), turning
a rise into a proactive action in one step, grid workers' patrol rounds, and the proactive share.

Expected rise: the forecast of the month stands above the recent level — the larger of last month's count
and the mean of the three months before — by at least FORECAST_RISE_MARGIN (a fraction, default 0.5) and
by at least FORECAST_RISE_MIN issues (default 3), both from the environment.

Proactive share of a community and month = issues filed from a patrol or from checking an expected rise
(source "patrol" or "forecast") ÷ all its issues of that month (by submission, in the community's zone),
duplicates left out of both: a finding a resident had reported first is merged into the resident's issue."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from flask import current_app, has_app_context
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.actions.services import create_action
from portal.audit.services import record
from portal.auth import permissions, roles
from portal.clock import in_zone, utcnow
from portal.committees.models import GRID_KINDS, Organization
from portal.dashboard.rollups import month_number
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.i18n import default_language
from portal.insight.forecast import predict
from portal.insight.models import Forecast, ForecastRun, GridBuilding, IssueMonthCount, PatrolRound
from portal.issues.models import IssueCategory
from portal.issues.services import category_label, report_issue
from portal.places.models import Community

if TYPE_CHECKING:
    from collections.abc import Iterable

    from portal.actions.models import Action
    from portal.auth.models import User
    from portal.places.models import Building

HISTORY_MONTHS = 36
CHECKED_MAX = 1000
PLACE_MAX = 120
SEASON_WORDS_PCT = 30  # a month of the year this far above the average is "every July"
TREND_WORDS_PCT = 15  # a yearly change this large is "rising"


def rise_margin() -> Decimal:
    value = current_app.config.get("FORECAST_RISE_MARGIN", "0.5") if has_app_context() else "0.5"
    return Decimal(str(value))


def rise_minimum() -> int:
    return int(current_app.config.get("FORECAST_RISE_MIN", 3)) if has_app_context() else 3


def month_text(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def month_start(month: int) -> date:
    return date(month // 12, month % 12 + 1, 1)


def month_end(month: int) -> date:
    year, number = month // 12, month % 12 + 1
    return date(year, number, calendar.monthrange(year, number)[1])


def current_month(community: Community, now: datetime | None = None) -> int:
    return month_number(now or utcnow(), community.time_zone)


def _tenths(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def is_rise(expected: Decimal, last_month: int, recent: Decimal) -> bool:
    """Whether a forecast stands above the recent level by the set margin and minimum."""
    level = max(Decimal(last_month), recent)
    return expected >= level * (1 + rise_margin()) and expected - level >= rise_minimum()


# --- the monthly forecasts ---------------------------------------------------------------------------------

def history(community: Community, month: int) -> dict[int, list[int]]:
    """{category id: monthly counts of the months before `month`} from the community's first month with an
    issue (at most HISTORY_MONTHS), zeros included; read from the monthly counts, never the issues."""
    rows = db.session.execute(db.select(IssueMonthCount.category_id, IssueMonthCount.month, IssueMonthCount.issues)
                              .where(IssueMonthCount.community_id == community.id,
                                     IssueMonthCount.month >= month - HISTORY_MONTHS,
                                     IssueMonthCount.month < month, IssueMonthCount.issues > 0)).all()
    if not rows:
        return {}
    first = min(r.month for r in rows)
    series: dict[int, list[int]] = {}
    for category_id, at, issues in rows:
        series.setdefault(category_id, [0] * (month - first))[at - first] = issues
    return series


def forecast_community(community: Community, month: int, *, now: datetime | None = None) -> ForecastRun:
    """Compute and store the community's forecasts for `month` (replacing any earlier ones of that month,
    keeping the actions taken on them) and mark the run."""
    now = now or utcnow()
    categories = {c.id: c for c in db.session.scalars(db.select(IssueCategory).where(
        IssueCategory.community_id == community.id, IssueCategory.is_active.is_(True)))}
    kept = {f.category_id: f for f in db.session.scalars(db.select(Forecast).where(
        Forecast.community_id == community.id, Forecast.month == month))}
    rises = 0
    series = history(community, month)
    for category_id, counts in sorted(series.items()):
        if category_id not in categories:
            continue
        prediction = predict(counts, month)
        expected = _tenths(prediction.expected)
        recent = _tenths(sum(counts[-3:]) / len(counts[-3:]))
        rise = is_rise(expected, counts[-1], recent)
        rises += rise
        forecast = kept.pop(category_id, None) or Forecast(community_id=community.id, category_id=category_id,
                                                           month=month)
        forecast.expected, forecast.last_month, forecast.recent = expected, counts[-1], recent
        forecast.method, forecast.season_pct, forecast.trend_pct = (prediction.method, prediction.season_pct,
                                                                    prediction.trend_pct)
        forecast.rise = rise or forecast.action_id is not None
        forecast.computed_at = now
        db.session.add(forecast)
    for stale in kept.values():
        if stale.action_id is None:
            db.session.delete(stale)
    run = db.session.get(ForecastRun, (community.id, month)) or ForecastRun(community_id=community.id, month=month)
    run.computed_at, run.series, run.rises = now, len(series), rises
    db.session.add(run)
    db.session.flush()
    return run


@due_step("insight_forecasts")
def run_forecasts(now: datetime) -> int:
    """At the start of each month (in each community's zone), once: the month's forecasts and expected rises
    from the months before. Returns the number of communities forecast."""
    communities = db.session.scalars(db.select(Community).order_by(Community.id)).all()
    done = 0
    for community in communities:
        month = current_month(community, now)
        if db.session.get(ForecastRun, (community.id, month)) is None:
            forecast_community(community, month, now=now)
            done += 1
    return done


# --- reading them ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ForecastRow:
    forecast: Forecast
    reason: str


def reason(forecast: Forecast) -> str:
    """Why the forecast is what it is, in the reader's words."""
    category = category_label(forecast.category)
    numbers = dict(category=category, community=forecast.community.name, expected=_number(forecast.expected),
                   last=forecast.last_month)
    if forecast.method == "glm" and (forecast.season_pct or 0) >= SEASON_WORDS_PCT:
        month_name = format_date(month_start(forecast.month), "MMMM")
        return _("%(category)s issues rise every %(month)s in %(community)s; forecast %(expected)s vs %(last)s "
                 "last month", month=month_name, **numbers)
    if (forecast.trend_pct or 0) >= TREND_WORDS_PCT:
        return _("%(category)s issues have been rising by %(trend)s%% a year in %(community)s; forecast "
                 "%(expected)s vs %(last)s last month", trend=forecast.trend_pct, **numbers)
    return _("%(category)s issues in %(community)s: forecast %(expected)s vs %(last)s last month and "
             "%(recent)s a month over the last three", recent=_number(forecast.recent), **numbers)


def _number(value: Decimal) -> str:
    return str(value.quantize(Decimal("1"))) if value == value.to_integral_value() else str(value)


def community_forecasts(community: Community, *, now: datetime | None = None) -> list[ForecastRow]:
    """This month's forecasts of the community, rises first, then by expected count."""
    month = current_month(community, now)
    rows = db.session.scalars(db.select(Forecast).where(Forecast.community_id == community.id,
                                                        Forecast.month == month)
                              .options(db.joinedload(Forecast.category))).all()
    rows.sort(key=lambda f: (not f.rise, -f.expected, f.category_id))
    return [ForecastRow(f, reason(f)) for f in rows]


def expected_rises(communities: Iterable[Community], *, now: datetime | None = None) -> list[ForecastRow]:
    """This month's expected rises of the communities (each in its own zone), the largest first."""
    communities = list(communities)
    months = {c.id: current_month(c, now) for c in communities}
    if not months:
        return []
    rows = db.session.scalars(db.select(Forecast).where(
        Forecast.community_id.in_(list(months)), Forecast.month.in_(set(months.values())), Forecast.rise.is_(True))
        .options(db.joinedload(Forecast.category), db.joinedload(Forecast.community))).all()
    rows = [f for f in rows if months[f.community_id] == f.month]
    rows.sort(key=lambda f: (-(f.expected - max(Decimal(f.last_month), f.recent)), f.community_id, f.category_id))
    return [ForecastRow(f, reason(f)) for f in rows]


# --- acting on a rise --------------------------------------------------------------------------------------

def act_on_rise(actor: User, forecast: Forecast, *, now: datetime | None = None) -> Action:
    """Turn an expected rise into a proactive action (source "forecast") in one step: the category's
    receiving organization (else the residents' committee) is responsible, due at the end of the month."""
    now = now or utcnow()
    if not permissions.can_act_on_rise(actor, forecast):
        if forecast is not None and forecast.action_id is not None:
            raise DomainError(_l("This expected rise has already been turned into an action."))
        raise NotAllowed(_l("Only the sub-district's officials and the community's committee members act on "
                            "expected rises."))
    community = forecast.community
    if month_end(forecast.month) < in_zone(now, community.time_zone).date():
        raise DomainError(_l("This forecast's month is over."))
    category = forecast.category
    org = category.default_org or db.session.scalar(db.select(Organization).where(
        Organization.community_id == community.id, Organization.kind == "residents_committee")
        .order_by(Organization.id).limit(1))
    if org is None:
        raise DomainError(_l("The category has no receiving organization; set one first."))
    month = month_text(forecast.month)
    with force_locale(default_language()):  # stored text: the portal's language, not the official's
        title = _("Before the complaints come: %(category)s, %(month)s", category=category_label(category),
                  month=month)
        description = reason(forecast)
    action = create_action(
        actor, community, source="forecast", responsible_org=org, due_date=month_end(forecast.month),
        title=title, description=description, forecast={"category": category, "month": month}, now=now)
    forecast.action, forecast.action_id = action, action.id
    db.session.flush()
    record(actor, "forecast.acted_on", forecast, community_id=community.id, category=category.code,
           action_id=action.id)
    return action


# --- grid workers' patrols ---------------------------------------------------------------------------------

def grid_buildings(grid: Organization) -> list[Building]:
    from portal.places.models import Building
    return db.session.scalars(db.select(Building).join(GridBuilding, GridBuilding.building_id == Building.id)
                              .where(GridBuilding.organization_id == grid.id).order_by(Building.name)).all()


def set_grid_buildings(actor: User, grid: Organization, buildings: Iterable[Building]) -> None:
    """Which buildings a grid covers: the community's committee members and admins."""
    if grid is None or grid.kind not in GRID_KINDS:
        raise DomainError(_l("That is not a grid."))
    if not permissions.can_set_grid_buildings(actor, grid):
        raise NotAllowed(_l("Only the community's committee members set a grid's buildings."))
    buildings = list(buildings)
    if any(b.community_id != grid.community_id for b in buildings):
        raise DomainError(_l("Choose a building of this community."), "buildings")
    db.session.execute(db.delete(GridBuilding).where(GridBuilding.organization_id == grid.id))
    for building in sorted(buildings, key=lambda b: b.id):
        db.session.add(GridBuilding(organization_id=grid.id, building_id=building.id))
    record(actor, "organization.grid_buildings", grid, buildings=len(buildings))


def community_grids(community: Community) -> list[Organization]:
    return db.session.scalars(db.select(Organization).where(Organization.community_id == community.id,
                                                            Organization.kind.in_(GRID_KINDS))
                              .order_by(Organization.name)).all()


def log_patrol(worker: User, community: Community, *, checked: str, building: Building | None = None,
               place: str = "", finding: dict | None = None, forecast: Forecast | None = None,
               photos: Iterable[bytes] = (), now: datetime | None = None) -> PatrolRound:
    """A grid worker logs a patrol round: when (now), where (a building of their grid and/or a place), what
    was checked. With a `finding` ({"category", "title", "description"}) the problem found is filed as an
    issue in the worker's name, source "patrol" (or "forecast" when the round checked an expected rise)."""
    now = now or utcnow()
    if not permissions.can_patrol(worker, community):
        raise NotAllowed(_l("Only the community's grid workers log patrols."))
    grids = roles.grids(worker, community)
    checked = (checked or "").strip()
    if not checked:
        raise DomainError(_l("Say what you checked."), "checked")
    if len(checked) > CHECKED_MAX:
        raise DomainError(_l("Keep it under %(n)d characters.", n=CHECKED_MAX), "checked")
    place = (place or "").strip()
    if len(place) > PLACE_MAX:
        raise DomainError(_l("Keep it under %(n)d characters.", n=PLACE_MAX), "place")
    grid = grids[0]
    if building is not None:
        covering = db.session.scalars(db.select(GridBuilding.organization_id).where(
            GridBuilding.building_id == building.id,
            GridBuilding.organization_id.in_([g.id for g in grids]))).first()
        if covering is None:
            raise DomainError(_l("Choose a building of your grid."), "building")
        grid = next(g for g in grids if g.id == covering)
    if building is None and not place:
        raise DomainError(_l("Say where: a building of your grid or a place."), "place")
    if forecast is not None and (forecast.community_id != community.id or not forecast.rise):
        raise DomainError(_l("Choose one of this community's expected rises."), "forecast")
    issue = None
    if finding is not None:
        issue = report_issue(worker, community, category=finding.get("category"), title=finding.get("title", ""),
                             description=finding.get("description", ""), building=building,
                             location_text=place or None, photos=photos, now=now,
                             source="forecast" if forecast is not None else "patrol")
    patrol = PatrolRound(community_id=community.id, grid_id=grid.id, worker_id=worker.id, at=now,
                         building_id=building.id if building is not None else None, place=place, checked=checked,
                         issue=issue, forecast_id=forecast.id if forecast is not None else None)
    db.session.add(patrol)
    db.session.flush()
    record(worker, "patrol.logged", patrol, community_id=community.id, grid=grid.id,
           building_id=patrol.building_id, issue_id=issue.id if issue is not None else None)
    return patrol


def patrol_log(community: Community, *, worker: User | None = None, before_id: int | None = None,
               limit: int = 30) -> list[PatrolRound]:
    """A page of the community's patrol log (one worker's when given), newest first (keyset on id)."""
    stmt = (db.select(PatrolRound).where(PatrolRound.community_id == community.id)
            .options(db.joinedload(PatrolRound.worker), db.joinedload(PatrolRound.building),
                     db.joinedload(PatrolRound.issue))
            .order_by(PatrolRound.id.desc()).limit(limit))
    if worker is not None:
        stmt = stmt.where(PatrolRound.worker_id == worker.id)
    if before_id is not None:
        stmt = stmt.where(PatrolRound.id < before_id)
    return db.session.scalars(stmt).all()


# --- the proactive share -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Share:
    proactive: int
    issues: int

    def percent(self) -> str:
        if not self.issues:
            return "—"
        value = (Decimal(100 * self.proactive) / self.issues).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{value}%"


def proactive_share(community_ids: Iterable[int], months: list[int]) -> dict[tuple[int, int], Share]:
    """{(community id, month): Share} for every community and month asked, zeros included, from the monthly
    counts in one statement."""
    community_ids = list(community_ids)
    found = {(c, m): Share(0, 0) for c in community_ids for m in months}
    if not community_ids or not months:
        return found
    rows = db.session.execute(
        db.select(IssueMonthCount.community_id, IssueMonthCount.month, db.func.sum(IssueMonthCount.proactive),
                  db.func.sum(IssueMonthCount.issues))
        .where(IssueMonthCount.community_id.in_(community_ids), IssueMonthCount.month.between(min(months), max(months)))
        .group_by(IssueMonthCount.community_id, IssueMonthCount.month))
    for community_id, month, proactive, issues in rows:
        if (community_id, month) in found:
            found[(community_id, month)] = Share(int(proactive or 0), int(issues or 0))
    return found
