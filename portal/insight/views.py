"""Insight pages: a sub-district's expected rises and proactive share (officials), a community's forecasts
(its committee members and the officials), the one-step "act on this rise" button, the patrol page; and
"did it work": the before/after of actions (partials the action page and the dashboard include), the
officials' rankings and a community's public statistics (居务公开)."""
import hashlib

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from portal import charts
from portal.auth import permissions, roles
from portal.clock import local_today
from portal.committees.models import GRID_KINDS, Organization
from portal.dashboard.forms import BadFilter, parse_month
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import db_int, flash_back, form_view, posted_id
from portal.insight import bp, effects, services
from portal.insight import public as public_stats
from portal.insight import rankings as rankings_service
from portal.insight.forms import PatrolForm
from portal.insight.models import Forecast
from portal.issues.models import IssueCategory
from portal.issues.services import categories_for, category_label
from portal.places.models import Building, Community, SubDistrict
from portal.places.services import community_or_404
from portal.web import allow, perform, public

SHARE_MONTHS = 6


def _months_back(latest: int) -> list[int]:
    return list(range(latest - SHARE_MONTHS + 1, latest + 1))


@bp.get("/sub-districts/<int:sub_district_id>/forecasts")
def sub_district(sub_district_id):
    found = db.session.get(SubDistrict, sub_district_id)
    if found is None:
        abort(404)
    allow(permissions.can_view_forecasts(current_user, sub_district=found))
    communities = db.session.scalars(db.select(Community).where(Community.sub_district_id == found.id)
                                     .order_by(Community.name)).all()
    latest = max((services.current_month(c) for c in communities), default=0)
    months = _months_back(latest)
    shares = services.proactive_share([c.id for c in communities], months)
    return render_template("insight/sub_district.html", sub_district=found, communities=communities,
                           rises=services.expected_rises(communities), months=months, shares=shares,
                           month_text=services.month_text, category_label=category_label)


@bp.get("/c/<slug>/forecasts")
def community(slug):
    found = community_or_404(slug)
    allow(permissions.can_view_forecasts(current_user, community=found))
    latest = services.current_month(found)
    months = _months_back(latest)
    shares = services.proactive_share([found.id], months)
    return render_template("insight/community.html", community=found, rows=services.community_forecasts(found),
                           month=services.month_text(latest), months=months, shares=shares,
                           month_text=services.month_text, category_label=category_label)


@bp.post("/forecasts/<int:forecast_id>/act")
def act(forecast_id):
    """Turn an expected rise into a proactive action: one button, no form to fill."""
    forecast = db.session.get(Forecast, forecast_id)
    if forecast is None:
        abort(404)
    back = url_for("insight.community", slug=forecast.community.slug)
    if forecast.action_id is None:
        allow(permissions.can_act_on_rise(current_user, forecast))
    else:
        allow(permissions.can_view_forecasts(current_user, community=forecast.community))
    return form_view(FlaskForm(), lambda: services.act_on_rise(current_user, forecast), validate=False,
                     message=_("The proactive action was created."),
                     done=lambda action: url_for("actions.detail", slug=forecast.community.slug, action_id=action.id),
                     refused=flash_back(back))


def _patrol_choices(form, found):
    grids = roles.grids(current_user, found)
    buildings = sorted({b.id: b for g in grids for b in services.grid_buildings(g)}.values(), key=lambda b: b.name)
    form.building.choices = [SelectChoice("", _("Not at a building"))] + [SelectChoice(b.id, b.name)
                                                                          for b in buildings]
    form.category.choices = [SelectChoice("", _("Choose…"))] + [SelectChoice(c.id, category_label(c))
                                                               for c in categories_for(found)]
    rises = services.community_forecasts(found)
    form.forecast.choices = [SelectChoice("", _("No"))] + [
        SelectChoice(r.forecast.id, category_label(r.forecast.category)) for r in rises if r.forecast.rise]
    return buildings, rises


@bp.route("/c/<slug>/patrol", methods=["GET", "POST"])
def patrol(slug):
    found = community_or_404(slug)
    allow(permissions.can_view_patrol_log(current_user, found))
    may_patrol = permissions.can_patrol(current_user, found)
    if request.method == "POST":
        allow(may_patrol)
    form = PatrolForm()
    buildings = []
    if may_patrol:
        buildings, _rises = _patrol_choices(form, found)
    before = request.args.get("before", type=db_int)
    log = services.patrol_log(found, before_id=before)

    def save():
        building = next((b for b in buildings if b.id == form.building.data), None)
        if form.building.data is not None and building is None:
            raise DomainError(_("Choose a building of your grid."), "building")
        forecast = db.session.get(Forecast, form.forecast.data) if form.forecast.data is not None else None
        finding = None
        if form.found.data:
            category = db.session.get(IssueCategory, form.category.data) if form.category.data is not None else None
            finding = {"category": category, "title": form.title.data or "",
                       "description": form.description.data or ""}
        return services.log_patrol(current_user, found, checked=form.checked.data or "", building=building,
                                   place=form.place.data or "", finding=finding, forecast=forecast)

    return form_view(form, save, validate=False,
                     message=lambda r: _("Patrol logged; the problem was filed as issue #%(n)d.", n=r.issue_id)
                     if r.issue_id else _("Patrol logged."),
                     done=url_for("insight.patrol", slug=slug),
                     page="insight/patrol.html",
                     context={"community": found, "form": form, "log": log, "may_patrol": may_patrol,
                              "grid_settings": _grid_settings(found),
                              "grids": roles.grids(current_user, found), "buildings": buildings,
                              "next_before": log[-1].id if len(log) == 30 else None})


def _grid_settings(found):
    """[(grid, its building ids, every building of the community)] for the grids the person may set."""
    grids = [g for g in services.community_grids(found) if permissions.can_set_grid_buildings(current_user, g)]
    if not grids:
        return []
    buildings = db.session.scalars(db.select(Building).where(Building.community_id == found.id)
                                   .order_by(Building.name)).all()
    return [(g, {b.id for b in services.grid_buildings(g)}, buildings) for g in grids]


@bp.post("/c/<slug>/grids/<int:org_id>/buildings")
def grid_buildings(slug, org_id):
    found = community_or_404(slug)
    grid = db.session.get(Organization, org_id)
    if grid is None or grid.community_id != found.id or grid.kind not in GRID_KINDS:
        abort(404)
    allow(permissions.can_set_grid_buildings(current_user, grid))
    wanted = {posted_id(v) for v in request.form.getlist("building")}
    chosen = db.session.scalars(db.select(Building).where(Building.community_id == found.id,
                                                          Building.id.in_([i for i in wanted if i is not None]))).all()
    if perform(lambda: services.set_grid_buildings(current_user, grid, chosen),
               _("The grid's buildings are saved.")):
        return redirect(url_for("insight.patrol", slug=slug) + f"#grid-{grid.id}")
    return redirect(url_for("insight.patrol", slug=slug))


@bp.get("/forecasts")
def mine():
    """The officials' way in: their sub-district's forecasts (the first, when several)."""
    ids = sorted(roles.official_sub_district_ids(current_user))
    if ids:
        return redirect(url_for("insight.sub_district", sub_district_id=ids[0]))
    ids = sorted(roles.committee_community_ids(current_user))
    if ids:
        return redirect(url_for("insight.community", slug=db.session.get(Community, ids[0]).slug))
    allow(False)


# --- did it work: before/after, rankings, public statistics -----------------------------------------------

@bp.app_context_processor
def effect_helpers():
    """For the action page and the dashboard, which sit below insight and only include its partials."""
    return {"action_effect": _action_effect, "recent_action_effects": _recent_action_effects}


def _action_effect(action):
    return effects.effect_of(action)


def _recent_action_effects(sub_district, community=None):
    if community is not None:
        return effects.recent_done_effects(community_ids=[community.id])
    return effects.recent_done_effects(sub_district_id=sub_district.id)


@bp.get("/sub-districts/<int:sub_district_id>/rankings")
def rankings(sub_district_id):
    found = db.session.get(SubDistrict, sub_district_id)
    if found is None:
        abort(404)
    allow(permissions.can_view_rankings(current_user, found))
    today = local_today()
    month_typed = request.args.get("month", "").strip()
    by = request.args.get("by", "response")
    errors = {}
    month = today.year * 12 + today.month - 1
    if month_typed:
        try:
            chosen = parse_month(month_typed, _("Month"))
            month = chosen.year * 12 + chosen.month - 1
        except BadFilter as error:
            errors["month"] = str(error)
    if by not in rankings_service.MEASURES:
        errors["by"] = _("Choose one of the measures listed.")
        by = "response"
    tables = {} if errors else rankings_service.rankings(found, month, by)
    return render_template("insight/rankings.html", sub_district=found, month=month,
                           month_typed=month_typed or services.month_text(month), by=by, errors=errors,
                           tables=tables, measures=rankings_service.MEASURES,
                           labels=rankings_service.MEASURE_LABELS, formulas=rankings_service.FORMULAS,
                           community_only=rankings_service.COMMUNITY_ONLY,
                           month_text=services.month_text), 400 if errors else 200


# Anonymous visitors of a public community get the page as anyone would: a shared cache may keep it briefly,
# and the ETag answers an unchanged page with a 304. Signed-in people's pages carry their own navigation.
STATISTICS_MAX_AGE = 300


@bp.get("/c/<slug>/statistics")
@public
def statistics(slug):
    found = community_or_404(slug)
    allow(permissions.can_view_public_statistics(current_user, found))
    stats = public_stats.community_statistics(found)
    bars = charts.bar_chart(
        "chart-monthly-issues", _("Issues by month"),
        _("Bar chart of the number of issues submitted in each of the last %(n)d months; the table gives the "
          "same figures by category.", n=len(stats.months)),
        [(services.month_text(m), stats.totals[m]) for m in stats.months])
    response = make_response(render_template(
        "insight/statistics.html", community=found, stats=stats, bars=bars, month_text=services.month_text))
    anonymous_public = not current_user.is_authenticated and not found.members_only
    response.headers["Cache-Control"] = (f"public, max-age={STATISTICS_MAX_AGE}" if anonymous_public
                                         else "private, no-cache")
    response.vary.update(("Cookie", "Accept-Language"))
    response.set_etag(hashlib.sha256(f"{stats.last_change_key}:{get_locale()}:{current_user.get_id()}".encode())
                      .hexdigest()[:24])
    return response.make_conditional(request)
