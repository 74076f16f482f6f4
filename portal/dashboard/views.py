"""Dashboard pages: the officials' figures, the issues behind each number, exports, hotspot → action.

Who sees what (permissions.can_view_dashboard): officials of a sub-district see all its communities,
committee members their own community only, admins everything. The filters live in the address, so a view
can be bookmarked, followed to the issues behind a number, and exported with the same numbers: the screen
and the file are both rendered from the one list of tables `_tables` builds."""
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple
from urllib.parse import quote_plus, urlencode

from flask import Response, abort, render_template, request, url_for
from flask_babel import get_locale, pgettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy.orm import selectinload

from portal import charts, versions
from portal.audit.services import record
from portal.auth import permissions, roles
from portal.clock import local_today, utcnow
from portal.dashboard import bp, export, services
from portal.dashboard.forms import BadFilter, HotspotActionForm, month_text, parse_filters, parse_month
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import form_view, posted_id, posted_text
from portal.issues.models import Issue
from portal.places.models import Building, Community, SubDistrict
from portal.web import allow

PER_PAGE = 50
EXPORT_FORMATS = ("xlsx", "csv")


@dataclass
class Cell:
    """A figure on the screen that links to the issues behind it; the file keeps only the text."""
    text: object
    href: str | None = None

    def __str__(self):
        return str(self.text)


@dataclass
class Table:
    key: str
    title: str
    headers: list
    rows: list = field(default_factory=list)
    chart: object = None
    # For the stacked layout on a phone: each column's label beside its value, and each cell's class.
    short_headers: list | None = None
    cell_classes: list | None = None
    _html: Markup | None = field(default=None, repr=False, compare=False)

    def rows_html(self) -> Markup:
        """The body's rows, as templates/dashboard/_table.html wrote them cell by cell: built here because a
        page has a thousand cells or more, and a Jinja loop over them was a fifth of the page's CPU time.
        Built once: a table kept between requests (`_kept_figures`) is written out by each of them."""
        if self._html is None:
            self._html = self._rows_html()
        return self._html

    def _rows_html(self) -> Markup:
        heads = [escape(h) for h in self.headers]
        labels = [escape(h) for h in self.short_headers] if self.short_headers else heads
        classes = [Markup(' class="%s"') % c for c in self.cell_classes] if self.cell_classes else None
        out = []
        for row in self.rows:
            cells = [f'<tr><th scope="row">{escape(row[0])}</th>']
            for i in range(1, len(row)):
                cell = row[i]
                cells.append(f'<td data-label="{labels[i]}"{classes[i] if classes else ""}>')
                href = getattr(cell, "href", None)
                if href:
                    text = escape(cell.text)
                    cells.append(f'<a href="{escape(href)}" aria-label="{heads[i]}: {text}">{text}</a></td>')
                else:
                    cells.append(f"{escape(cell)}</td>")
            cells.append("</tr>")
            out.append("".join(cells))
        return Markup("\n    ".join(out))


def bad_filter(message):
    return render_template("error.html", code=400, title=_("Bad request"), text=str(message)), 400


# --- scope: which sub-district and communities, checked ----------------------------------------------------

def _scope(raw):
    """(sub_district, communities or None, community or None) for the filters, after the permission check."""
    community = None
    if raw["community"]:
        community = db.session.scalar(db.select(Community).where(Community.slug == raw["community"]))
        if community is None:
            abort(404)
        if raw["sub_district_id"] is not None and raw["sub_district_id"] != community.sub_district_id:
            abort(404)
        allow(permissions.can_view_dashboard(current_user, community=community))
        return community.sub_district, [community], community
    if raw["sub_district_id"] is not None:
        sub_district = db.session.get(SubDistrict, raw["sub_district_id"])
        if sub_district is None:
            abort(404)
        if permissions.can_view_dashboard(current_user, sub_district=sub_district):
            return sub_district, None, None
        # A committee member asking for their own sub-district sees their own community only.
        own = [c for c in _own_committee_communities() if c.sub_district_id == sub_district.id]
        allow(bool(own))
        return sub_district, [own[0]], own[0]
    # No choice in the address: the person's own sub-district, else their own community.
    official_ids = sorted(roles.official_sub_district_ids(current_user))
    if official_ids:
        sub_district = db.session.get(SubDistrict, official_ids[0])
        allow(permissions.can_view_dashboard(current_user, sub_district=sub_district))
        return sub_district, None, None
    own = _own_committee_communities()
    if own:
        allow(permissions.can_view_dashboard(current_user, community=own[0]))
        return own[0].sub_district, [own[0]], own[0]
    if permissions.is_admin(current_user):
        sub_district = db.session.scalar(db.select(SubDistrict).order_by(SubDistrict.id).limit(1))
        if sub_district is None:
            abort(404)
        return sub_district, None, None
    allow(False)


def _own_committee_communities():
    ids = roles.committee_community_ids(current_user)
    if not ids:
        return []
    return list(db.session.scalars(db.select(Community).where(Community.id.in_(ids)).order_by(Community.name)))


def _filters():
    """Parse, load and check: (Filters, context for the filter form). BadFilter → the caller answers 400."""
    raw = parse_filters(request.args, _this_month())
    sub_district, communities, community = _scope(raw)
    category = raw["category"]
    if category is not None and (len(category) > 32 or not category.replace("_", "").replace("-", "").isalnum()):
        raise BadFilter(_("Category is not a valid choice."))
    filters = services.Filters(sub_district=sub_district, communities=communities, category_code=category,
                               org_id=raw["org_id"], month_from=raw["month_from"], month_to=raw["month_to"])
    return filters, community


def _this_month() -> date:
    today = local_today()
    return date(today.year, today.month, 1)


def _args(filters, community, **extra) -> dict:
    """The filters as address arguments (for links and the export)."""
    values = {"sub_district": filters.sub_district.id, "from": month_text(filters.month_from),
              "to": month_text(filters.month_to)}
    if community is not None:
        values["community"] = community.slug
    if filters.category_code:
        values["category"] = filters.category_code
    if filters.org_id:
        values["org"] = filters.org_id
    values.update(extra)
    return values


class Choice(NamedTuple):
    id: int
    name: str


def _choices(filters, scoped_community):
    """Options of the filter form: communities the person may pick, categories, organizations (these two kept
    with the figures, portal.versions)."""
    if scoped_community is not None and not permissions.can_view_dashboard(
            current_user, sub_district=filters.sub_district):
        communities = [scoped_community]
    else:
        communities = list(filters.sub_district.communities)
    scope = filters.communities or communities
    categories, orgs = versions.remember_across(
        "dashboard choices", scope, lambda: _category_and_org_choices(filters.sub_district.id, [c.id for c in scope]),
        str(get_locale()), filters.sub_district.id)
    return {"communities": communities, "categories": categories, "organizations": orgs}


def _category_and_org_choices(sub_district_id, community_ids):
    from portal.committees.models import Organization
    from portal.issues.models import IssueCategory
    categories = tuple((code, services.category_name(code, name)) for code, name in db.session.execute(
        db.select(IssueCategory.code, db.func.min(IssueCategory.name))
        .where(IssueCategory.community_id.in_(community_ids))
        .group_by(IssueCategory.code).order_by(IssueCategory.code)))
    orgs = tuple(Choice(*row) for row in db.session.execute(db.select(Organization.id, Organization.name).where(
        db.or_(Organization.community_id.in_(community_ids), Organization.sub_district_id == sub_district_id))
        .order_by(Organization.name)))
    return categories, orgs


# --- the tables the screen and the file share --------------------------------------------------------------

RATE_NAMES = ("response", "resolution", "satisfaction")


def _rate_labels():
    return {"response": _("Response rate"), "resolution": _("Resolution rate"),
            "satisfaction": _("Satisfaction rate")}


# What werkzeug leaves unquoted in a query string (werkzeug.urls._urlencode), so that the links below are
# byte for byte what url_for builds.
_QUERY_SAFE = "!$'()*,/:;?@"


def issues_link(base: dict):
    """A function (rate, part, group, key) → the address of the issues behind that figure, as
    `url_for("dashboard.issues", **base, rate=…, part=…, group=…, key=…)` builds it: the filters' part built
    once, the figure's arguments appended (a page has a few hundred such links; url_for each time cost ~10 ms)."""
    prefix = url_for("dashboard.issues", **base)
    joiner = "&" if "?" in prefix else "?"
    heads = {}  # (rate, part, group) -> the address up to the key: a dozen of them for a few hundred links

    def link(rate, part, group, key):
        head = heads.get((rate, part, group))
        if head is None:
            head = heads[rate, part, group] = prefix + joiner + urlencode(
                {"rate": rate, "part": part, "group": group}, safe=_QUERY_SAFE)
        if group == "overall":
            return head
        if key is None:
            return head + "&key=none"
        return head + "&key=" + (str(key) if type(key) is int else quote_plus(str(key), safe=_QUERY_SAFE))
    return link


def _tables(filters, community, data) -> list[Table]:
    labels = _rate_labels()
    base = _args(filters, community)
    link = issues_link(base)

    def behind(rate, part, group, key, value):
        return Cell(value, link(rate, part, group, key))

    def rate_rows(group, rows):
        out = []
        for row in rows:
            cells = [row.label if group != "overall" else _("All"), row.issues]
            for name in RATE_NAMES:
                rate = row.rate(name)
                cells += [behind(name, "numerator", group, row.key, rate.numerator),
                          behind(name, "denominator", group, row.key, rate.denominator),
                          rate.percent()]
            out.append(cells)
        return out

    rate_headers = []
    for name in RATE_NAMES:
        rate_headers += [labels[name] + " · " + _("numerator"), labels[name] + " · " + _("denominator"),
                         labels[name] + " %"]
    group_titles = {"overall": _("The three rates"), "community": _("By community"),
                    "category": _("By category"), "org": _("By responsible organization"),
                    "month": _("By month")}
    group_heads = {"overall": _("Scope"), "community": _("Community"), "category": _("Category"),
                   "org": _("Organization"), "month": _("Month")}
    tables = []
    rates = data["rates"]
    short_headers, cell_classes = [None, _("Issues")], ["", "dash-count"]
    for name in RATE_NAMES:
        short_headers += [labels[name]] * 3
        cell_classes += ["dash-num", "dash-den", "dash-pct"]
    for group in ("overall", "community", "category", "org", "month"):
        tables.append(Table("rates-" + group, group_titles[group], [group_heads[group], _("Issues"), *rate_headers],
                            rate_rows(group, rates.get(group, [])), short_headers=short_headers,
                            cell_classes=cell_classes))
    trend = data["trend"]
    tables[-1].chart = charts.line_chart(
        "chart-trend", _("The three rates by month"),
        _("Line chart of the response, resolution and satisfaction rates for each month from %(start)s to "
          "%(end)s; the table “By month” gives the same figures.", start=month_text(filters.month_from),
          end=month_text(filters.month_to)),
        [row.label for row in trend],
        [(labels[name], [(row.rate(name).numerator, row.rate(name).denominator) for row in trend])
         for name in RATE_NAMES])

    # Ratings an upheld appeal (申诉/核减) took out of the resolution and satisfaction rates, and the link to them.
    tables.append(Table("appeals", _("Ratings removed by upheld appeals"), [_("Scope"), _("Ratings removed")],
                        [[_("All"), Cell(data["removed_by_appeal"],
                                         url_for("dashboard.issues", **dict(base, part="removed")))]]))
    orders = data["work_orders"]
    on_time = services.Rate(orders["on_time"], orders["resolved"])
    tables.append(Table("work-orders", _("12345 work orders resolved on time"),
                        [_("Scope"), _("On time"), _("Resolved"), "%", _("Extended")],
                        [[_("All"), on_time.numerator, on_time.denominator, on_time.percent(), orders["extended"]]]))
    tables.append(Table("report-in", _("Summoned organizations that reported in on time (whistle-blowing)"),
                        [_("Organization"), _("On time"), _("Due"), "%"],
                        [[row["name"], row["rate"].numerator, row["rate"].denominator, row["rate"].percent()]
                         for row in data["report_in"]]))
    by_category = Table("by-category", _("Issues by category"), [_("Category"), _("Issues")],
                        [[row["name"], row["count"]] for row in data["by_category"]])
    by_category.chart = charts.bar_chart(
        "chart-categories", _("Issues by category"),
        _("Bar chart of the number of issues submitted in each category in the period; the table next to it "
          "gives the same figures."), [(row["name"], row["count"]) for row in data["by_category"]])
    tables.append(by_category)
    tables.append(Table("open-overdue", _("Open and overdue issues by community"),
                        [_("Community"), _("Open"), _("Overdue")],
                        [[row["name"], row["open"], row["overdue"]] for row in data["open_overdue"]]))
    tables.append(Table("overdue-actions", _("Overdue actions by responsible organization"),
                        [_("Organization"), _("Not done"), _("Overdue")],
                        [[row["name"], row["open"], row["overdue"]] for row in data["overdue_actions"]]))
    medians = [(_("Time to first response"), data["median_first_response"]),
               (_("Time to resolution"), data["median_resolution"])]
    tables.append(Table("medians", _("Median times"), [_("Measure"), _("Issues"), _("Median hours")],
                        [[name, m.count, m.text()] for name, m in medians]))
    tables.append(Table("proposals", _("Proposals by state"), [_("State"), _("Proposals")],
                        [[str(row["label"]), row["count"]] for row in data["proposals"]]))
    if "ballots" in data:
        tables.append(_ballot_table(data["ballots"]))
    tables.append(Table("chases", _("Chases by organization"),
                        [_("Organization"), _("Issues"), _("Actions"), _("Total")],
                        [[row["name"], row["issues"], row["actions"], row["total"]] for row in data["chases"]]))
    tables.append(Table("hotspots", _("Hotspots in %(month)s", month=month_text(filters.month_to)),
                        [_("Community"), _("Building"), _("Category"), _("This month"), _("Previous 6 months"),
                         pgettext("hotspot", "Why")],
                        [[h.community_name, h.building_name, h.category_name, h.count,
                          " ".join(str(n) for n in h.baseline), _hotspot_reason(h)] for h in data["hotspots"]]))
    return tables


def _ballot_table(ballots) -> Table:
    rows = [[row["community_name"], row["question"], row["rate"].numerator, row["rate"].denominator,
             row["rate"].percent()] for row in ballots["rows"]]
    overall = ballots["overall"]
    rows.append([_("All"), "", overall.numerator, overall.denominator, overall.percent()])
    return Table("ballots", _("Participation in ballots"),
                 [_("Community"), _("Question"), _("Votes cast"), _("Electorate"), _("Participation %")], rows)


def _hotspot_reason(hotspot):
    if hotspot.reason == "new":
        return _("3 or more issues where there were none")
    return _("Above the average plus two standard deviations")


def _load():
    filters, community = _filters()
    data = services.summary(filters, now=utcnow())
    return filters, community, data


# --- pages -------------------------------------------------------------------------------------------------

@bp.get("/dashboard")
def index():
    try:
        filters, community = _filters()
    except (BadFilter, services.FilterError) as error:
        return bad_filter(error)
    if filters.communities is None:  # the whole sub-district, in the order the figures list them
        filters = services.Filters(**{**filters.__dict__, "communities": sorted(
            filters.sub_district.communities, key=lambda c: (c.name, c.id))})
    data, tables = _kept_figures(filters, community)
    tables = list(tables)
    tables.insert(next(i for i, t in enumerate(tables) if t.key == "chases"), _kept_ballot_table(filters))
    # Only officials (and admins) turn hotspots into actions; the create service checks again.
    may_act = bool(data["hotspots"]) and permissions.can_view_dashboard(current_user, sub_district=filters.sub_district)
    hotspot_links = [url_for("dashboard.hotspot_action", community=h_community_slug(h, filters),
                             building=h.building_id, category=h.category_id, month=h.month)
                     if may_act else None for h in data["hotspots"]]
    return render_template(
        "dashboard/index.html", filters=filters, community=community, tables=tables,
        hotspots=list(zip(data["hotspots"], hotspot_links)), choices=_choices(filters, community),
        args=_args(filters, community), month_text=month_text,
        may_export_personal=permissions.can_export_personal_data(current_user, filters.sub_district))


def _kept_figures(filters, community):
    """(summary without the ballots, its tables) for the filters, kept between requests under the versions of
    the communities in scope (portal.versions) until the clock alone would change a figure: the same for
    every viewer allowed to see them (who may is checked before), in the request's language."""
    def compute():
        now = utcnow()
        data = services.summary(filters, now=now)
        del data["ballots"]
        tables = _tables(filters, community, data)
        for table in tables:
            table.rows_html()
        return versions.Kept((data, tuple(tables)), until=services.figures_change_at(filters, now))
    return versions.remember_across(
        "dashboard", filters.communities, compute, str(get_locale()), filters.sub_district.id,
        community.id if community else None, filters.category_code, filters.org_id, filters.month_from,
        filters.month_to)


def _kept_ballot_table(filters):
    """Participation in ballots: votes change no community's version (portal.versions), so it is kept under
    the heads of the ballots' logs too (read each time, one small statement), and counted again only after a
    vote: counting a 285,000-voter ballot's rows took 80 ms."""
    return versions.remember_across(
        "dashboard ballots", filters.communities, lambda: _ballot_table(services.ballot_participation(filters)),
        str(get_locale()), filters.sub_district.id, filters.month_from, filters.month_to,
        also=services.ballot_heads(filters))


def _community_of(hotspot, filters):
    for community in (filters.communities or filters.sub_district.communities):
        if community.id == hotspot.community_id:
            return community
    return None


def h_community_slug(hotspot, filters):
    community = _community_of(hotspot, filters)
    return community.slug if community is not None else ""


@bp.get("/dashboard/issues")
def issues():
    """The issues behind one figure: a rate's numerator or denominator, overall or for one group."""
    try:
        filters, community = _filters()
        # Without arguments: every issue the response rate counts, over the default period.
        rate = request.args.get("rate") or "response"
        part = request.args.get("part") or "denominator"
        group = request.args.get("group") or "overall"
        if part == "removed":  # the ratings upheld appeals removed from the rates (overall only)
            rate, group, key = "resolution", "overall", None
            query = services.removed_by_appeal(filters).options(selectinload(Issue.community))
        else:
            if rate not in services.RATES or part not in services.PARTS or group not in services.GROUPS:
                raise BadFilter(_("Choose a rate, numerator or denominator, and a grouping."))
            key = _group_key(group, request.args.get("key"))
            query = services.issues_behind(filters, rate, part, group=group, key=key, now=utcnow()).options(
                selectinload(Issue.community))
    except (BadFilter, services.FilterError) as error:
        return bad_filter(error)
    try:
        page_number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page_number = 1
    page = db.paginate(query, page=min(page_number, 10_000), per_page=PER_PAGE, error_out=False)
    return render_template("dashboard/issues.html", page=page, filters=filters, community=community,
                           rate_label=_rate_labels()[rate], part=part, group=group, key=key,
                           filter_args=_args(filters, community),
                           args=_args(filters, community, rate=rate, part=part, group=group,
                                      **({"key": request.args.get("key")} if group != "overall" else {})))


def _group_key(group, text):
    if group == "overall":
        return None
    text = (text or "").strip()
    if group in ("community", "org"):
        if group == "org" and text == "none":
            return None
        if not text.isdigit() or len(text) > 9:
            raise BadFilter(_("That group is not a valid choice."))
        return int(text)
    if group == "month":
        return month_text(parse_month(text, _("Month")))
    if not text or len(text) > 32:
        raise BadFilter(_("That group is not a valid choice."))
    return text


@bp.get("/dashboard/export", endpoint="export")
def export_view():
    fmt = request.args.get("format", "xlsx")
    if fmt not in EXPORT_FORMATS:
        return bad_filter(_("Choose XLSX or CSV."))
    try:
        filters, community, data = _load()
    except (BadFilter, services.FilterError) as error:
        return bad_filter(error)
    personal = request.args.get("personal") == "1"
    if personal:
        allow(permissions.can_export_personal_data(current_user, filters.sub_district))
    tables = _tables(filters, community, data)
    if personal:
        tables.append(_overdue_people_table(filters))
    record(current_user, "dashboard.export", filters.sub_district, format=fmt, personal=personal,
           community=community.slug if community else None, category=filters.category_code,
           org=filters.org_id, month_from=month_text(filters.month_from), month_to=month_text(filters.month_to))
    db.session.commit()
    name = f"dashboard-{filters.sub_district.slug}-{month_text(filters.month_from)}-{month_text(filters.month_to)}"
    if fmt == "csv":
        body, mimetype = export.to_csv(tables), "text/csv; charset=utf-8"
    else:
        body = export.to_xlsx(tables)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _overdue_people_table(filters):
    """With the personal-data box ticked: who reported each issue of the response-rate denominator that was
    not responded to in time — so the office can call them back. Names and phones only here."""
    query = services.issues_behind(filters, "response", "denominator", now=utcnow()).options(
        selectinload(Issue.community), selectinload(Issue.reporter))
    late_ids = set(services.issue_ids_behind(filters, "response", "numerator", now=utcnow()))
    rows = []
    for issue in db.session.scalars(query.limit(5000)):
        if issue.id in late_ids:
            continue
        rows.append([issue.id, issue.community.name, issue.title,
                     issue.reporter.display_name if issue.reporter else (issue.reporter_name or ""),
                     issue.reporter.phone if issue.reporter else (issue.reporter_phone or "")])
    return Table("people", _("Reporters of issues not responded to in time"),
                 [_("Issue"), _("Community"), _("Title"), _("Reporter"), _("Phone")], rows)


@bp.route("/dashboard/hotspots/action", methods=["GET", "POST"])
def hotspot_action():
    """Turn a hotspot into an agreed action: the form (prefilled), then A's create service."""
    from portal.actions import services as actions
    from portal.committees.models import Organization
    from portal.issues.models import IssueCategory
    source = request.form if request.method == "POST" else request.args
    community = db.session.scalar(db.select(Community).where(Community.slug == posted_text(source.get("community"))))
    if community is None:
        abort(404)
    building_id, category_id = posted_id(source.get("building")), posted_id(source.get("category"))
    try:
        month = parse_month(posted_text(source.get("month")), _("Month"))
    except BadFilter:
        abort(400)
    if building_id is None or category_id is None:
        abort(400)
    building = db.session.get(Building, building_id)
    category = db.session.get(IssueCategory, category_id)
    if building is None or building.community_id != community.id or category is None \
            or category.community_id != community.id:
        abort(404)
    hotspot = {"building": building, "category": category, "month": month_text(month)}
    allow(permissions.can_create_action(current_user, community, hotspot))
    form = HotspotActionForm(data={"community": community.slug, "building": building.id,
                                   "category": category.id, "month": month_text(month)}
                             if request.method == "GET" else None)
    if request.method == "GET":
        form.title.data = _("Deal with %(category)s problems at %(building)s",
                            category=category.name, building=building.name)
    orgs = db.session.scalars(db.select(Organization).where(db.or_(
        Organization.community_id == community.id,
        db.and_(Organization.sub_district_id == community.sub_district_id, Organization.kind == "department")))
        .order_by(Organization.name)).all()
    form.responsible_org.choices = [("", _("Choose…"))] + [(str(o.id), o.name) for o in orgs]

    def create():
        org = next((o for o in orgs if str(o.id) == form.responsible_org.data), None)
        if org is None:
            raise DomainError(_("Choose an organization from the list."), "responsible_org")
        return actions.create_action(
            current_user, community, source="hotspot", title=form.title.data,
            description=form.description.data or "", responsible_org=org, due_date=form.due_date.data,
            hotspot=hotspot)
    return form_view(form, create, message=_("The action was created."),
                     done=lambda action: _action_url(community, action),
                     page="dashboard/hotspot_action.html",
                     context={"form": form, "community": community, "building": building, "category": category,
                              "month": month_text(month)})


def _action_url(community, action):
    return url_for("actions.detail", slug=community.slug, action_id=action.id)
