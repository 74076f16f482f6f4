"""Insight pages: a sub-district's expected rises and proactive share (officials), a community's forecasts
(its committee members and the officials), the one-step "act on this rise" button, the patrol page;
"did it work": the before/after of actions (partials the action page and the dashboard include), the
officials' rankings and a community's public statistics (居务公开); and the month's topics (每月一题) with
the programmes (专项) opened on them."""
import hashlib
import re

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from portal import charts
from portal.actions.models import Action
from portal.auth import permissions, roles
from portal.clock import local_today
from portal.committees.models import GRID_KINDS, Organization
from portal.dashboard.forms import BadFilter, parse_month
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import db_int, flash_back, form_view, posted_id, posted_text
from portal.insight import bp, effects, programmes, services, topics
from portal.insight import public as public_stats
from portal.insight import rankings as rankings_service
from portal.insight.forms import PatrolForm, ProgrammeForm
from portal.insight.models import PROGRAMME_STATES, Forecast, Programme, Topic
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
    covering = programmes.community_programmes(found)
    response = make_response(render_template(
        "insight/statistics.html", community=found, stats=stats, bars=bars, month_text=services.month_text,
        programmes=covering, programme_labels=programmes.STATE_LABELS))
    anonymous_public = not current_user.is_authenticated and not found.members_only
    response.headers["Cache-Control"] = (f"public, max-age={STATISTICS_MAX_AGE}" if anonymous_public
                                         else "private, no-cache")
    response.vary.update(("Cookie", "Accept-Language"))
    settled = [(p.id, p.status) for p, _f in covering]
    key = f"{stats.last_change_key}:{settled}:{get_locale()}:{current_user.get_id()}"
    response.set_etag(hashlib.sha256(key.encode()).hexdigest()[:24])
    return response.make_conditional(request)
# --- the month's topics (每月一题) and programmes (专项) ---------------------------------------------------------

def _sub_district_or_404(sub_district_id):
    found = db.session.get(SubDistrict, sub_district_id)
    if found is None:
        abort(404)
    return found


def _programme_or_404(programme_id):
    found = db.session.get(Programme, programme_id)
    if found is None:
        abort(404)
    return found


def _asked_month(found):
    """The month of ?month=YYYY-MM, else the newest month with topics (else last month)."""
    text = posted_text(request.args.get("month"))
    if text:
        match = re.fullmatch(r"(\d{4})-(\d{2})", text)
        if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
            abort(400)
        return int(match.group(1)) * 12 + int(match.group(2)) - 1
    months = programmes.topic_months(found)
    return months[0] if months else topics.sub_district_month(found) - 1


@bp.app_template_global()
def month_topics(sub_district_id, limit=5):
    """The dashboard's section: the newest month's topics of the sub-district, ranked, for its officials."""
    found = db.session.get(SubDistrict, sub_district_id)
    if found is None or not permissions.can_view_topics(current_user, found):
        return None
    months = programmes.topic_months(found)
    if not months:
        return {"month": None, "rows": []}
    return {"month": services.month_text(months[0]), "rows": programmes.ranked_topics(found, months[0])[:limit]}


@bp.get("/sub-districts/<int:sub_district_id>/topics")
def topics_page(sub_district_id):
    found = _sub_district_or_404(sub_district_id)
    allow(permissions.can_view_topics(current_user, found))
    month = _asked_month(found)
    order = "rise" if request.args.get("order") == "rise" else "count"
    rows = programmes.ranked_topics(found, month, order=order)
    return render_template("insight/topics.html", sub_district=found, month=month, rows=rows, order=order,
                           months=programmes.topic_months(found), month_text=services.month_text,
                           trend_months=list(range(month - topics.TREND_MONTHS + 1, month + 1)),
                           may_pick=permissions.can_pick_month_problem(current_user, found),
                           may_open=permissions.can_manage_programmes(current_user, found))


@bp.post("/sub-districts/<int:sub_district_id>/topics/problem")
def pick_problem(sub_district_id):
    found = _sub_district_or_404(sub_district_id)
    allow(permissions.can_pick_month_problem(current_user, found))
    topic = db.session.get(Topic, posted_id(request.form.get("topic")) or 0)
    if topic is None or topic.sub_district_id != found.id:
        abort(404)
    back = url_for("insight.topics_page", sub_district_id=found.id, month=services.month_text(topic.month))
    return form_view(FlaskForm(), lambda: programmes.pick_month_problem(current_user, topic), validate=False,
                     message=_("The month's problem is chosen."), done=back, refused=flash_back(back))


def _programme_choices(form, found):
    form.category.choices = [SelectChoice("", _("Any category"))] + [
        SelectChoice(code, name) for code, name in programmes.category_codes(found)]


def _number(text, field, message):
    try:
        return int((text or "").strip())
    except ValueError:
        raise DomainError(message, field) from None


@bp.route("/sub-districts/<int:sub_district_id>/programmes/new", methods=["GET", "POST"])
def new_programme(sub_district_id):
    found = _sub_district_or_404(sub_district_id)
    allow(permissions.can_manage_programmes(current_user, found))
    source = request.form if request.method == "POST" else request.args
    topic = None
    if topic_id := posted_id(source.get("topic")):
        topic = db.session.get(Topic, topic_id)
        if topic is None or topic.sub_district_id != found.id:
            abort(404)
    form = ProgrammeForm()
    _programme_choices(form, found)
    communities = list(found.communities)
    if request.method == "POST":
        chosen = {posted_id(v) for v in request.form.getlist("community")}
    elif topic is not None:
        chosen = set(topic.community_ids)
    else:
        chosen = {c.id for c in communities}
    if request.method == "GET" and topic is not None:
        form.topic.data = str(topic.id)
        form.name.data = _("Fewer issues about %(words)s", words="、".join(topic.word_list[:2]))
        form.category.data = topic.category_code or ""
        form.words.data = topic.words

    def save():
        cut = _number(form.cut_percent.data, "cut_percent", _("Give the cut as a percentage from 1 to 100."))
        months = _number(form.months.data, "months", _("Give the months as a number from 1 to %(n)d.",
                                                           n=programmes.MONTHS_MAX))
        return programmes.open_programme(
            current_user, found, name=form.name.data or "", communities=[c for c in communities if c.id in chosen],
            category_code=form.category.data or None, words=form.words.data or "", cut_percent=cut,
            months=months, topic=topic)

    return form_view(form, save, validate=False, message=_("The programme is open."),
                     done=lambda p: url_for("insight.programme", programme_id=p.id),
                     page="insight/programme_new.html",
                     context={"sub_district": found, "form": form, "topic": topic, "communities": communities,
                              "chosen": chosen, "month_text": services.month_text})


@bp.get("/sub-districts/<int:sub_district_id>/programmes")
def programme_list(sub_district_id):
    found = _sub_district_or_404(sub_district_id)
    allow(permissions.can_view_topics(current_user, found))
    return render_template("insight/programmes.html", sub_district=found, programmes=programmes.programmes(found),
                           labels=programmes.STATE_LABELS, month_text=services.month_text,
                           may_open=permissions.can_manage_programmes(current_user, found))


@bp.get("/programmes/<int:programme_id>")
def programme(programme_id):
    found = _programme_or_404(programme_id)
    allow(permissions.can_view_programme(current_user, found))
    figure = programmes.programme_figure(found)
    may_manage = permissions.can_manage_programmes(current_user, found.sub_district)
    labels = [services.month_text(m) for m in figure.months]
    chart = charts.bar_chart(
        f"programme-{found.id}", _("Matching issues a month"),
        _("Issues matching the programme's rule, month by month; the target is %(target)d a month by %(month)s.",
          target=found.target, month=services.month_text(found.target_month)),
        [(label, figure.counts[m]) for label, m in zip(labels, figure.months)]
        + [(_("Target %(month)s", month=services.month_text(found.target_month)), found.target)])
    return render_template("insight/programme.html", programme=found, figure=figure, chart=chart,
                           labels=programmes.STATE_LABELS, month_text=services.month_text,
                           actions=programmes.programme_actions(found), may_manage=may_manage,
                           linkable=programmes.linkable_actions(found) if may_manage and found.status == "open" else [],
                           states=PROGRAMME_STATES, category_names=dict(programmes.category_codes(found.sub_district)))


def _programme_post(programme_id, call, message, *, guard_input=False):
    found = _programme_or_404(programme_id)
    allow(permissions.can_manage_programmes(current_user, found.sub_district))
    back = url_for("insight.programme", programme_id=found.id)
    return form_view(FlaskForm(), lambda: call(found), validate=False, message=message, guard_input=guard_input,
                     done=lambda result: result if isinstance(result, str) else back, refused=flash_back(back))


@bp.post("/programmes/<int:programme_id>/status")
def programme_status(programme_id):
    return _programme_post(programme_id, lambda p: programmes.set_status(
        current_user, p, posted_text(request.form.get("status"))) and None, _("The status is saved."))


@bp.post("/programmes/<int:programme_id>/link")
def programme_link(programme_id):
    return _programme_post(programme_id, lambda p: programmes.link_action(
        current_user, p, db.session.get(Action, posted_id(request.form.get("action")) or 0)) and None,
        _("The action now serves the programme."))


@bp.post("/programmes/<int:programme_id>/act")
def programme_act(programme_id):
    def create(found):
        action = programmes.create_programme_action(
            current_user, found, db.session.get(Community, posted_id(request.form.get("community")) or 0))
        return url_for("actions.detail", slug=action.community.slug, action_id=action.id)
    return _programme_post(programme_id, create, _("The action was created."))
