"""Issue pages: each view loads, checks one permission rule, parses the input, calls one service, renders.

Every page works without JavaScript; htmx only saves a reload (the support button, "load more", the
similar-issues list while typing)."""
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import NamedTuple

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import AnonymousUserMixin, current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from portal import versions
from portal.auth import permissions, roles
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.formviews import form_view, posted_id, posted_text, show_on_form
from portal.i18n import locale_name
from portal.issues import bp, services
from portal.issues.filters import IssueFilters
from portal.issues.forms import (
    AppealDecisionForm,
    AppealForm,
    CategoryForm,
    DecisionForm,
    ExtensionForm,
    HandOverForm,
    MergeForm,
    NoteForm,
    RateForm,
    RecategorizeForm,
    RejectForm,
    ReportForm,
    ReportInForm,
    RerouteForm,
    ResolveForm,
    ReturnToHotlineForm,
    ReturnVisitForm,
    SendBackForm,
    UpdateForm,
    WhistleForm,
)
from portal.issues.models import (
    CONTACT_METHOD_LABELS,
    DEADLINE_CLASS_LABELS,
    MAX_PHOTOS,
    SATISFACTION_LABELS,
    SEND_BACK_REASON_LABELS,
    Issue,
    IssueCategory,
    IssuePhoto,
    IssueSummons,
)
from portal.places.models import Building, Household
from portal.places.services import community_or_404
from portal.sharing import share_card
from portal.web import (
    LONG_CACHE,
    NO_CACHE,
    absolute_url,
    accepts_photos,
    allow,
    htmx_or_page,
    page_key,
    public,
    refuse,
    rendering_to_keep,
    with_csrf,
    without_csrf,
    words_change_at,
    year_changes,
)

PHOTO_SIZES = (400, 1600)


# --- loading and checking ----------------------------------------------------------------------------------

def _issue(community, issue_id, *, joined=True, again=False) -> Issue:
    issue = services.issue_in(community, issue_id, joined=joined, again=again)
    if issue is None:
        abort(404)
    return issue


def _issue_at(slug, issue_id, *, joined=True) -> Issue:
    """The issue of the address, its community read in the same statement."""
    issue = services.issue_at(slug, issue_id, joined=joined)
    if issue is None:
        abort(404)
    return issue


def _person():
    from portal.residents import acting
    return acting.current_person()


def _acting_for():
    from portal.residents import acting
    return acting.acting_for()


def _uploaded_photos(form_field) -> list[bytes]:
    """The chosen files' bytes; more than MAX_PHOTOS is refused before any of them is read."""
    files = [f for f in request.files.getlist(form_field.name) if f and f.filename]
    if len(files) > MAX_PHOTOS:
        raise DomainError(_("Choose at most %(count)d photos; you chose %(chosen)d.",
                            count=MAX_PHOTOS, chosen=len(files)), form_field.short_name)
    return [f.read() for f in files]


def _coordinate(form_field):
    text = (form_field.data or "").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DomainError(_("Write a number such as 39.9042, or leave it empty."), form_field.short_name) from None
    if not value.is_finite():
        raise DomainError(_("Write a number such as 39.9042, or leave it empty."), form_field.short_name)
    return value


def handles_issues(user) -> bool:
    """Whether the "Handling" link belongs in this person's menu: staff of any organization, and admins."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_admin or roles.memberships(user))


def reporter_label(issue, viewer) -> str:
    """Who reported, as this viewer may see it: name and (masked) phone for handlers, the public name when
    the reporter chose to show it, else "a resident"."""
    name = services.reporter_name_for(viewer, issue)
    if name is None:
        return _("a resident")
    phone = services.reporter_phone_for(viewer, issue)
    return f"{name} ({phone})" if phone else name


@bp.app_context_processor
def issue_helpers():
    return {"handles_issues": handles_issues}


def _template_context():
    return {"category_label": services.category_label, "is_overdue": services.is_overdue,
            "next_deadline": services.next_deadline, "reporter_label": reporter_label,
            "reporter_name": lambda issue, viewer: services.reporter_name_for(viewer, issue) or _("a resident"),
            "event_label": services.event_label, "satisfaction_labels": SATISFACTION_LABELS, "now_after": _now_after}


def _now_after(moment) -> bool:
    from portal.clock import utcnow
    return moment is not None and utcnow() > moment


# --- lists -------------------------------------------------------------------------------------------------

def _more_url(cursor):
    if not cursor:
        return None
    args = request.args.to_dict()
    args["after"] = cursor
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def _list_page(partial, page, *, issues, **context):
    return htmx_or_page(partial, page, issues=issues, rows=list_rows(issues), **context, **_template_context())


def list_rows(issues, now=None):
    """What each row of an issue list shows, worked out once per row; what rows repeat (a category's or a
    state's label, "3 supporters", a community's link prefix) once per request."""
    from portal.clock import utcnow
    now = now or utcnow()
    categories, states, supporters, prefixes = {}, {}, {}, {}
    rows = []
    for issue in issues:
        if issue.category_id not in categories:
            categories[issue.category_id] = services.category_label(issue.category)
        if issue.status not in states:
            states[issue.status] = str(issue.status_label)
        count = issue.support_count
        if count not in supporters:
            supporters[count] = ngettext("%(num)d supporter", "%(num)d supporters", count)
        if issue.community_id not in prefixes:
            # The issue page's address is the list's plus the number (rule "/c/<slug>/issues/<int:issue_id>").
            prefixes[issue.community_id] = url_for("issues.index", slug=issue.community.slug)
        rows.append(SimpleNamespace(
            issue=issue, url=f"{prefixes[issue.community_id]}/{issue.id}", overdue=services.is_overdue(issue, now),
            category=categories[issue.category_id], status_label=states[issue.status],
            building=issue.building.name if issue.building_id is not None else None, supporters=supporters[count]))
    return rows


@bp.get("/c/<slug>/issues")
@public
def index(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    filters = IssueFilters(community, request.args)
    try:
        rows_html, any_rows = _community_rows(community, filters)
    except NotAllowed:
        abort(403)
    except DomainError as error:  # a stale or edited link: show the first page and say why
        flash(str(error.message), "error")
        return redirect(url_for("issues.index", slug=slug))
    if getattr(request, "htmx", False):
        return rows_html
    return render_template("issues/index.html", community=community, filters=filters, rows_html=rows_html,
                           any_rows=any_rows, can_report=permissions.can_report_issue(_person(), community))


def _community_rows(community, filters):
    """A page of the community's list as its rendered rows, and whether it has any. Kept under the
    community's version (portal.versions) for every viewer of the same address in the same language, until
    the clock changes what the rows say; not kept when a row is hidden by moderators (what it shows then
    depends on the viewer), nor for a word search (the word index is written apart from the issues)."""
    def render():
        from portal.clock import utcnow
        now = utcnow()
        items, cursor = services.community_issues(
            community, current_user, status=filters.status, category=filters.category, building=filters.building,
            overdue=filters.overdue, sort=filters.sort, after=request.args.get("after") or None, q=filters.q,
            now=now)
        html = Markup(render_template("issues/_issue_rows.html", issues=items, rows=list_rows(items, now),
                                      more_url=_more_url(cursor), show_community=False, **_template_context()))
        return versions.Kept(
            (html, bool(items)),
            until=services.list_reads_the_same_until(community, items, now, whole_community=filters.overdue),
            keep=not filters.q and not any(issue.hidden_state for issue in items))
    return versions.remember("issue_rows", community, render, *page_key())


def _paged(query, person):
    try:
        return query(person, after=request.args.get("after") or None)
    except DomainError as error:
        flash(str(error.message), "error")
        return query(person)


@bp.get("/my/issues")
def mine():
    person = _person()
    items, cursor = _paged(services.my_issues, person)
    return _list_page("issues/_issue_rows.html", "issues/mine.html", issues=items,
                      more_url=_more_url(cursor), show_community=True)


@bp.get("/handling")
def queue():
    items, cursor = _paged(services.due_for, current_user)
    return _list_page("issues/_issue_rows.html", "issues/queue.html", issues=items,
                      more_url=_more_url(cursor), show_community=True, show_deadline=True)


# --- reporting ---------------------------------------------------------------------------------------------

def _report_choices(form, community):
    from portal.residents.services import households_by_building
    categories = services.categories_for(community)
    if not categories:
        categories = [c for c in services.ensure_default_categories(community) if c.is_active]
        db.session.commit()
    form.category.choices = [SelectChoice("", _("Choose the kind of problem…"))] + [
        SelectChoice(c.id, services.category_label(c)) for c in categories]
    form.building.choices = [SelectChoice("", _("Choose the building…"))] + [
        SelectChoice(b.id, b.name) for b in community.buildings]
    form.household.choices = [SelectChoice("", _("Not about one unit"))] + [
        SelectChoice(hid, label) for rows in households_by_building(community).values() for hid, label in rows]
    form.title.render_kw = dict(form.title.render_kw or {}, **{
        "hx-get": url_for("issues.similar", slug=community.slug), "hx-trigger": "input changed delay:400ms",
        "hx-target": "#similar-issues", "hx-swap": "innerHTML"})
    # The suggested category follows what is typed in the title or the description.
    form.description.render_kw = dict(form.description.render_kw or {}, **{
        "hx-get": url_for("issues.suggest_category", slug=community.slug),
        "hx-trigger": "input changed delay:600ms, input changed delay:600ms from:#title",
        "hx-include": "#title, #description, #category, [name='category_suggested']",
        "hx-target": "#category-field", "hx-swap": "outerHTML", "hx-sync": "this:replace"})
    return categories


def _suggest_into(form, community, categories, suggested_before):
    """Offer the three likeliest categories for what the form says: listed first, the top one chosen unless
    the resident chose another themselves (one not chosen by an earlier suggestion)."""
    text = services.suggest.issue_text(form.title.data, form.description.data)
    found = services.suggest_categories(community, text, categories)
    if not found:
        return [], None
    top = found[0][0]
    chosen = form.category.data
    preselected = None
    if chosen in (None, "") or str(chosen) == str(suggested_before or ""):
        form.category.data = preselected = top.id
    first = [c.id for c, _s in found]
    choices = form.category.choices
    form.category.choices = choices[:1] + sorted(choices[1:], key=lambda ch: (
        first.index(ch.value) if ch.value in first else len(first)))
    return found, preselected


@bp.route("/c/<slug>/issues/new", methods=["GET", "POST"])
@accepts_photos
def new(slug):
    community = community_or_404(slug)
    allow(permissions.can_report_issue(_person(), community))
    form = ReportForm()
    categories = _report_choices(form, community)
    similar_issues = None
    suggestion = {"suggested": [], "preselected": None}

    def page():
        return render_template("issues/new.html", community=community, form=form, similar_issues=similar_issues,
                               title=(form.title.data or "").strip(), max_photos=MAX_PHOTOS, **suggestion,
                               **_template_context())
    if request.method == "POST" and request.form.get("check") is not None:
        similar_issues = _similar_to(community, form.title.data)
        suggestion["suggested"], suggestion["preselected"] = _suggest_into(
            form, community, categories, request.form.get("category_suggested"))
        return page()
    if request.method == "GET":
        form.title.data = request.args.get("title") or None
        form.building.data = _home_building_id(_person(), community)
    chosen = {}

    def report():
        category = chosen["category"] = db.session.get(IssueCategory, form.category.data) \
            if form.category.data else None
        return services.report_issue(
            current_user, community, category=category,
            title=form.title.data or "", description=form.description.data or "",
            building=db.session.get(Building, form.building.data) if form.building.data else None,
            household=db.session.get(Household, form.household.data) if form.household.data else None,
            location_text=(form.location_text.data or "").strip() or None,
            latitude=_coordinate(form.latitude), longitude=_coordinate(form.longitude),
            show_name=bool(form.show_name.data), photos=_uploaded_photos(form.photos),
            on_behalf_of=_acting_for())

    def every_problem(error):
        # Every missing required field at once, not one per send.
        problems = services.report_problems(community, category=chosen.get("category"), title=form.title.data,
                                            description=form.description.data)
        for problem in problems:
            if problem.field != error.field:
                show_on_form(form, problem, "title")
    return form_view(form, report, field="title", refused=every_problem, page=page,
                     message=lambda issue: _("Your issue is sent as number %(number)d. You will be told when it "
                                             "is answered.", number=issue.id),
                     done=lambda issue: url_for("issues.detail", slug=slug, issue_id=issue.id))


def _home_building_id(person, community):
    """The reporter's own building, a likely place for the problem, chosen in advance (they can change it)."""
    from portal.residents.services import residencies_of
    return next((r.household.building_id for r in residencies_of(person)
                 if r.status == "verified" and r.community_id == community.id and r.household), None)


def _similar_to(community, title):
    from portal.issues import similar
    title = (title or "").strip()
    if not title:
        return []
    return similar.similar_open_issues(community, title, limit=5)


@bp.get("/c/<slug>/issues/suggest-category")
def suggest_category(slug):
    """The category field with the suggestion for the title and description typed so far (htmx), or a page
    listing the suggestion."""
    community = community_or_404(slug)
    allow(permissions.can_report_issue(_person(), community))
    form = ReportForm(formdata=request.args, meta={"csrf": False})
    categories = _report_choices(form, community)
    suggested, preselected = _suggest_into(form, community, categories, request.args.get("category_suggested"))
    return htmx_or_page("issues/_category_field.html", "issues/suggest_category.html", community=community,
                        form=form, suggested=suggested, preselected=preselected, **_template_context())


@bp.get("/c/<slug>/issues/similar")
def similar(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    return htmx_or_page("issues/_similar.html", "issues/similar.html", community=community,
                        similar_issues=_similar_to(community, request.args.get("title")),
                        title=request.args.get("title", ""), **_template_context())


# --- one issue ---------------------------------------------------------------------------------------------

def _handover_choices(issue):
    return [SelectChoice("", _("Choose the organization…"))] + [
        SelectChoice(o.id, f"{o.name} ({o.kind_label})") for o in services.handover_targets(issue)]


def _action_forms(issue, overrides=None, *, can_handle=True, can_rate=True):
    """The forms of the page's actions; the handlers' forms (and their list of organizations) only for
    handlers, the rating form only for the reporter: the page shows no other."""
    forms = {}
    if can_handle:
        forms.update(accept=NoteForm(formdata=None, prefix="accept"),
                     handover=HandOverForm(formdata=None, prefix="handover"),
                     update=UpdateForm(formdata=None, prefix="update"),
                     resolve=ResolveForm(formdata=None, prefix="resolve"),
                     reject=RejectForm(formdata=None, prefix="reject"),
                     merge=MergeForm(formdata=None, prefix="merge"),
                     recategorize=RecategorizeForm(formdata=None, prefix="recategorize",
                                                   data={"category": issue.category_id}))
    if can_rate:
        forms["rate"] = RateForm(formdata=None, prefix="rate")
    if issue.source == "hotline":
        forms.update({name: form_class(formdata=None, prefix=name) for name, form_class in WORK_ORDER_FORMS.items()})
    forms.update(overrides or {})
    if "handover" in forms:
        forms["handover"].organization.choices = _handover_choices(issue)
    if "recategorize" in forms:
        forms["recategorize"].category.choices = [
            SelectChoice(c.id, services.category_label(c)) for c in services.categories_for(issue.community)]
    if "reroute" in forms:
        forms["reroute"].organization.choices = _handover_choices(issue)
    if "whistle" not in forms and permissions.can_blow_whistle(current_user, issue):
        forms["whistle"] = WhistleForm(formdata=None, prefix="whistle",
                                       data={"report_within": services.default_report_within(issue)})
    if "whistle" in forms:
        forms["whistle"].organizations.choices = _summons_choices(issue)
    forms.setdefault("reportin", ReportInForm(formdata=None, prefix="reportin"))
    return SimpleNamespace(**forms)


# The work order's forms (a hotline issue's page only), by prefix.
WORK_ORDER_FORMS = {"sign": NoteForm, "sendback": SendBackForm, "reroute": RerouteForm,
                    "returnhotline": ReturnToHotlineForm, "extension": ExtensionForm, "extdecision": DecisionForm,
                    "visit": ReturnVisitForm, "appeal": AppealForm, "appealdecision": AppealDecisionForm}


def _work_order_context(issue):
    """What the work order part of a hotline issue's page shows (nothing, and no query, for other issues)."""
    if issue.source != "hotline":
        return {"work_order": None}
    return {"work_order": SimpleNamespace(
        extensions=services.extensions_of(issue), attempts=services.attempts_of(issue),
        appeals=services.appeals_of(issue), pending_extension=services.pending_extension(issue),
        pending_appeal=services.pending_appeal(issue), visit_due_by=services.visit_due_by(issue),
        on_time=services.resolved_on_time(issue), send_back_labels=SEND_BACK_REASON_LABELS,
        contact_labels=CONTACT_METHOD_LABELS)}  # templates read forms.update, which on a dict is its method


def _summons_choices(issue):
    return [SelectChoice(o.id, f"{o.name} ({o.kind_label})") for o in services.summons_targets(issue)]


def _whistle_context(issue, events, failed_summons_id=None):
    """The summonses of a whistle-blown issue (queried only when the timeline shows a whistle)."""
    summonses = services.summons_of(issue) if any(e.kind == "whistle" for e in events) else []
    from portal.clock import utcnow
    return {"summonses": summonses, "reportin_failed": failed_summons_id, "whistle_now": utcnow()}


class PhotoRow(NamedTuple):
    """What the page shows of a photo, kept between requests (plain data, no row)."""
    id: int
    event_id: int | None
    uploaded_by_id: int | None
    key: str
    width: int
    height: int


def _photos(issue) -> list:
    """The issue's photos, read once per version of its community (a photo added or removed changes it):
    each as its row's values with the issue (who may remove one depends on the issue's community)."""
    rows = versions.remember_item("issue_photos", issue.community, issue.id, lambda: tuple(
        PhotoRow(p.id, p.event_id, p.uploaded_by_id, p.key, p.width, p.height) for p in issue.photos))
    return [SimpleNamespace(**row._asdict(), issue=issue) for row in rows]


def _split_photos(photos, events):
    """The report's own photos (shown at the top) and each visible timeline entry's photos."""
    visible = {e.id for e in events}
    first_event_id = events[0].id if events and events[0].kind == "reported" else None
    top = [p for p in photos if p.event_id is None or p.event_id == first_event_id]
    by_event = {}
    for p in photos:
        if p.event_id is not None and p.event_id != first_event_id and p.event_id in visible:
            by_event.setdefault(p.event_id, []).append(p)
    return top, by_event


def _detail_page(issue, overrides=None, failed_summons_id=None):
    if overrides is None and failed_summons_id is None and request.method == "GET" and _plain_viewer(issue):
        return render_template("issues/detail.html", community=issue.community, issue=issue,
                               body=_kept_body(issue), share=_share(issue))
    return render_template("issues/detail.html", body=None,
                           **_detail_context(issue, overrides, failed_summons_id))


def _detail_context(issue, overrides=None, failed_summons_id=None, *, kept=False) -> dict:
    viewer = current_user
    events = services.public_events(issue, viewer)
    can_see_photos = permissions.can_see_issue_photos(viewer, issue)
    can_handle = permissions.can_handle_issue(viewer, issue)
    can_rate = permissions.can_rate_issue(viewer, issue)
    photos = _photos(issue)
    top_photos, event_photos = _split_photos(photos, events) if can_see_photos else ([], {})
    return dict(
        community=issue.community, events=events, has_photos=bool(photos),
        top_photos=top_photos, event_photos=event_photos, can_see_photos=can_see_photos,
        can_handle=can_handle, can_rate=can_rate, overdue=services.is_overdue(issue),
        forms=_action_forms(issue, overrides, can_handle=can_handle, can_rate=can_rate),
        **_work_order_context(issue), **_whistle_context(issue, events, failed_summons_id),
        share=_share(issue), **({"issue": issue} if kept else _support_context(issue)), **_template_context())


def _plain_viewer(issue) -> bool:
    """A visitor, or a signed-in person with no organization (not staff, official, committee member nor
    admin) who did not report the issue: every such viewer is shown the same page but for their support
    block and "Report" controls (every other rule the page asks says no for all of them)."""
    user = current_user
    return roles.without_organization(user) and (not user.is_authenticated or issue.reporter_id != user.id)


_SUPPORT_MARK = "<!--issue-support-->"


def _kept_body(issue) -> Markup:
    """The page below the title as residents and visitors see it, kept per issue and language under the
    community's version (events, photos, summonses, actions, names: portal.versions) until a time on it would
    read differently, a deadline passes or the year changes; never kept while the issue, an entry of its
    timeline or the issue it repeats is hidden (who may read it differs by viewer). The viewer's support
    block goes in here per request, their "Report" controls in the template (moderation_fill_flags)."""
    community = issue.community

    def render():
        from portal.clock import utcnow
        now = utcnow()
        with rendering_to_keep() as moments:
            context = _detail_context(issue, kept=True)
            html = render_template("issues/_detail_body.html", kept=True, **context)
        keep = issue.hidden_state is None and not any(e.hidden_state for e in context["events"]) and (
            issue.duplicate_of is None or issue.duplicate_of.hidden_state is None)
        deadlines = [d for d in (issue.respond_by, issue.resolve_by) if d is not None and d > now]
        deadlines += [s.report_by for s in context["summonses"] if s.reported_at is None and s.report_by > now]
        ends = [year_changes(community.time_zone), words_change_at(moments, now), *deadlines]
        return versions.Kept(without_csrf(html), until=min(e for e in ends if e is not None), keep=keep)
    kept = with_csrf(versions.remember("issue_page_body", community, render, issue.id, locale_name()))
    support = str(render_template("issues/_support.html", **_support_context(issue)))
    return Markup(str(kept).replace(_SUPPORT_MARK, support, 1))  # the template fills the "Report" marks


def _share(issue):
    community = issue.community
    return share_card("issue", issue.id, public=permissions.can_share_card("issue", issue),
                      url=absolute_url("issues.detail", slug=community.slug, issue_id=issue.id),
                      title=issue.title, description=f"{issue.status_label} · {community.name}",
                      community=community, image_parts=(issue.title, community.name, issue.status_label))


def _support_context(issue):
    signed_in = current_user.is_authenticated
    return {"issue": issue, "can_support": signed_in and permissions.can_support_issue(current_user, issue),
            "supported": signed_in and issue.id in _supported_here(issue.community)}


def _supported_here(community) -> frozenset:
    """The issues of the community the person supports, kept per person under the community's version (a
    support changes its issue's count, and with it the version)."""
    person = current_user
    return versions.remember("issues_supported", community, lambda: services.supported_in(person, community),
                             person=person.id)


@bp.get("/c/<slug>/issues/<int:issue_id>")
@public
def detail(slug, issue_id):
    # Residents and visitors are served the kept page (_kept_body), which needs none of the rows the other
    # viewers' page shows: the issue alone, unless they reported it.
    user = current_user
    light = roles.without_organization(user)
    issue = _issue_at(slug, issue_id, joined=not light)
    if light and user.is_authenticated and issue.reporter_id == user.id:
        issue = _issue(issue.community, issue_id, again=True)
    allow(permissions.can_view_issue(current_user, issue))
    # Committing expires every loaded object, which the page would then read again: only when a time-driven
    # step changed something.
    if services.apply_due(issue):
        db.session.commit()
    from portal.moderation.services import is_hidden_for
    # Hidden by moderators: the page that gives the reason, answered 410 so that search engines drop it
    # (its reporter, handlers and moderators still read it, 200).
    gone = issue.hidden_state == "hidden" and is_hidden_for(current_user, "issue", issue)
    return _detail_page(issue), 410 if gone else 200


@bp.post("/c/<slug>/issues/<int:issue_id>/support")
def support(slug, issue_id):
    issue = _issue_at(slug, issue_id)
    if not services.has_supported(current_user, issue):  # a second click is a no-op, not a refusal
        allow(permissions.can_support_issue(current_user, issue))
    try:
        added = services.support_issue(current_user, issue)
    except NotAllowed:
        refuse()
    except DomainError as error:
        db.session.rollback()
        added, notice = False, str(error.message)
    else:
        db.session.commit()
        notice = (_("Thank you: your support is counted.") if added
                  else _("You already support this issue."))
    if request.htmx:
        return render_template("issues/_support.html", notice=notice, **_support_context(issue))
    flash(notice, "success")
    return redirect(url_for("issues.detail", slug=slug, issue_id=issue.id))


def _handler_action(slug, issue_id, prefix, form_class, run, done, fallback, *, rule=None):
    """The shape of every handler action: load, check the rule, run the service, commit or show why not."""
    issue = _issue_at(slug, issue_id)
    allow((rule or permissions.can_handle_issue)(current_user, issue))
    form = form_class(prefix=prefix)
    if prefix in ("handover", "reroute"):
        form.organization.choices = _handover_choices(issue)
    if prefix == "whistle":
        form.organizations.choices = _summons_choices(issue)
    return form_view(form, lambda: run(issue, form), validate=False, field=fallback, message=done,
                     done=url_for("issues.detail", slug=slug, issue_id=issue_id),
                     page=lambda: _detail_page(_issue(issue.community, issue_id), {prefix: form}))


@bp.post("/c/<slug>/issues/<int:issue_id>/accept")
def accept(slug, issue_id):
    return _handler_action(slug, issue_id, "accept", NoteForm,
                           lambda issue, f: services.accept_issue(current_user, issue, note=f.note.data or ""),
                           _("The issue is accepted; the reporter is told."), "note")


@bp.post("/c/<slug>/issues/<int:issue_id>/category")
def recategorize(slug, issue_id):
    def run(issue, f):
        category = db.session.get(IssueCategory, f.category.data) if f.category.data else None
        services.recategorize_issue(current_user, issue, category)
    return _handler_action(slug, issue_id, "recategorize", RecategorizeForm, run,
                           _("The category is changed; suggestions will learn from it."), "category",
                           rule=permissions.can_recategorize_issue)


@bp.post("/c/<slug>/issues/<int:issue_id>/hand-over")
def hand_over(slug, issue_id):
    from portal.committees.models import Organization

    def run(issue, f):
        organization = db.session.get(Organization, f.organization.data) if f.organization.data else None
        services.hand_over(current_user, issue, organization, f.reason.data or "")
    return _handler_action(slug, issue_id, "handover", HandOverForm, run,
                           _("The issue is handed over. You stay responsible until they accept it."), "reason")


@bp.post("/c/<slug>/issues/<int:issue_id>/accept-handover")
def accept_handover(slug, issue_id):
    return _handler_action(slug, issue_id, "accept", NoteForm,
                           lambda issue, f: services.accept_handover(current_user, issue),
                           _("Your organization now handles this issue."), "note",
                           rule=permissions.can_accept_handover)


@bp.post("/c/<slug>/issues/<int:issue_id>/start")
def start(slug, issue_id):
    return _handler_action(slug, issue_id, "accept", NoteForm,
                           lambda issue, f: services.start_work(current_user, issue),
                           _("The issue is marked as in progress."), "note")


@bp.post("/c/<slug>/issues/<int:issue_id>/update")
@accepts_photos
def update(slug, issue_id):
    return _handler_action(
        slug, issue_id, "update", UpdateForm,
        lambda issue, f: services.post_update(current_user, issue, f.body.data or "",
                                              public=f.visibility.data != "internal",
                                              photos=_uploaded_photos(f.photos)),
        _("Your update is posted."), "body")


@bp.post("/c/<slug>/issues/<int:issue_id>/resolve")
@accepts_photos
def resolve(slug, issue_id):
    return _handler_action(
        slug, issue_id, "resolve", ResolveForm,
        lambda issue, f: services.resolve_issue(
            current_user, issue, f.note.data or "", photos=_uploaded_photos(f.photos),
            caller_contacted={"yes": True, "no": False}.get(f.caller_contacted.data),
            contact_method=f.contact_method.data or ""),
        _("The issue is resolved; the reporter is asked to rate it."), "note")


@bp.post("/c/<slug>/issues/<int:issue_id>/reject")
def reject(slug, issue_id):
    return _handler_action(slug, issue_id, "reject", RejectForm,
                           lambda issue, f: services.reject_issue(current_user, issue, f.reason.data or ""),
                           _("The issue is not accepted; the reporter can read your reason."), "reason")


@bp.post("/c/<slug>/issues/<int:issue_id>/merge")
def merge(slug, issue_id):
    def run(issue, f):
        into = db.session.get(Issue, f.into.data) if f.into.data else None
        if into is None:
            raise DomainError(_("Give the number of an existing issue."), "into")
        services.merge_duplicate(current_user, issue, into)
    return _handler_action(slug, issue_id, "merge", MergeForm, run,
                           _("The issue is merged; its supporters and reporter now follow the other one."),
                           "into")


@bp.post("/c/<slug>/issues/<int:issue_id>/rate")
def rate(slug, issue_id):
    def run(issue, f):
        if f.resolved.data not in ("yes", "no"):
            raise DomainError(_("Say whether the problem was resolved."), "resolved")
        services.rate_issue(current_user, issue, resolved=f.resolved.data == "yes",
                            satisfaction=f.satisfaction.data or "", comment=f.comment.data or "")
    return _handler_action(slug, issue_id, "rate", RateForm, run, _("Thank you for your answer."),
                           "satisfaction", rule=permissions.can_rate_issue)


# --- the 12345 work order (a hotline issue) ----------------------------------------------------------------

def _yes_no(value):
    return {"yes": True, "no": False}.get(value)


@bp.post("/c/<slug>/issues/<int:issue_id>/sign")
def sign_for(slug, issue_id):
    return _handler_action(slug, issue_id, "sign", NoteForm,
                           lambda issue, f: services.sign_for(current_user, issue, note=f.note.data or ""),
                           _("The work order is signed for; the hotline is told."), "note",
                           rule=permissions.can_sign_for_issue)


@bp.post("/c/<slug>/issues/<int:issue_id>/send-back")
def send_back(slug, issue_id):
    return _handler_action(slug, issue_id, "sendback", SendBackForm,
                           lambda issue, f: services.send_back(current_user, issue, f.reason.data or "",
                                                               f.text.data or ""),
                           _("The work order is sent back to the sub-district office."), "text",
                           rule=permissions.can_send_back_issue)


@bp.post("/c/<slug>/issues/<int:issue_id>/reroute")
def reroute(slug, issue_id):
    from portal.committees.models import Organization

    def run(issue, f):
        organization = db.session.get(Organization, f.organization.data) if f.organization.data else None
        services.reroute(current_user, issue, organization)
    return _handler_action(slug, issue_id, "reroute", RerouteForm, run,
                           _("The work order is routed; the organization is asked to sign for it."), "organization",
                           rule=permissions.can_route_sent_back_issue)


@bp.post("/c/<slug>/issues/<int:issue_id>/return-to-hotline")
def return_to_hotline(slug, issue_id):
    return _handler_action(slug, issue_id, "returnhotline", ReturnToHotlineForm,
                           lambda issue, f: services.return_to_hotline(current_user, issue, f.reason.data or ""),
                           _("The work order is returned to the hotline."), "reason",
                           rule=permissions.can_route_sent_back_issue)


def _local_day_at_deadline_time(issue, text):
    """The date typed ("2026-12-08", the community's calendar) at the local time of day of the current
    resolve-by, as a UTC instant; None when empty; a translated refusal for anything else."""
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from portal.clock import DEFAULT_TIME_ZONE
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DomainError(_("Write a date such as 2026-12-08."), "proposed") from None
    zone = ZoneInfo(issue.community.time_zone or DEFAULT_TIME_ZONE)
    local = issue.resolve_by.astimezone(zone)
    return datetime.combine(day, local.time(), tzinfo=zone).astimezone(UTC)


@bp.post("/c/<slug>/issues/<int:issue_id>/extension")
def request_extension(slug, issue_id):
    return _handler_action(
        slug, issue_id, "extension", ExtensionForm,
        lambda issue, f: services.request_extension(current_user, issue, f.reason.data or "",
                                                    _local_day_at_deadline_time(issue, f.proposed.data)),
        _("Your request for more time is sent to the sub-district office."), "reason",
        rule=permissions.can_request_extension)


@bp.post("/c/<slug>/issues/<int:issue_id>/extension/decide")
def decide_extension(slug, issue_id):
    def run(issue, f):
        if f.decision.data not in ("approve", "refuse"):
            raise DomainError(_("Choose approve or refuse."), "decision")
        services.decide_extension(current_user, issue, approve=f.decision.data == "approve",
                                  reason=f.reason.data or "")
    return _handler_action(slug, issue_id, "extdecision", DecisionForm, run,
                           _("The request for more time is decided."), "reason",
                           rule=permissions.can_decide_extension)


@bp.post("/c/<slug>/issues/<int:issue_id>/return-visit")
def return_visit(slug, issue_id):
    def run(issue, f):
        contacted = _yes_no(f.contacted.data)
        if contacted is None:
            raise DomainError(_("Say whether the caller was reached."), "contacted")
        services.record_return_visit(current_user, issue, contacted=contacted, solved=_yes_no(f.solved.data),
                                     satisfaction=f.satisfaction.data or "", words=f.words.data or "")
    return _handler_action(slug, issue_id, "visit", ReturnVisitForm, run, _("The return visit is recorded."),
                           "contacted", rule=permissions.can_return_visit)


@bp.post("/c/<slug>/issues/<int:issue_id>/appeal")
def appeal(slug, issue_id):
    return _handler_action(slug, issue_id, "appeal", AppealForm,
                           lambda issue, f: services.appeal_rating(current_user, issue, f.evidence.data or ""),
                           _("Your appeal is sent to the sub-district office."), "evidence",
                           rule=permissions.can_appeal_rating)


@bp.post("/c/<slug>/issues/<int:issue_id>/appeal/decide")
def decide_appeal(slug, issue_id):
    def run(issue, f):
        if f.decision.data not in ("upheld", "rejected"):
            raise DomainError(_("Choose uphold or reject."), "decision")
        services.decide_appeal(current_user, issue, upheld=f.decision.data == "upheld", reason=f.reason.data or "")
    return _handler_action(slug, issue_id, "appealdecision", AppealDecisionForm, run, _("The appeal is decided."),
                           "reason", rule=permissions.can_decide_appeal)


@bp.get("/c/<slug>/issues/<int:issue_id>/caller")
def caller(slug, issue_id):
    """The hotline caller's full number, for the handling organization's staff to call back; each view is in
    the audit log. (The number is the Open311 request's contact, or the one staff entered from a dispatch.)"""
    from portal.audit.services import record
    from portal.open311.models import Open311Request
    issue = _issue_at(slug, issue_id)
    allow(permissions.can_see_caller_phone(current_user, issue))
    phone = db.session.scalar(db.select(Open311Request.phone).where(Open311Request.issue_id == issue.id)) \
        or issue.reporter_phone or ""
    record(current_user, "issue.caller_phone_viewed", issue)
    db.session.commit()
    return render_template("issues/caller.html", community=issue.community, issue=issue, phone=phone,
                           name=issue.reporter_name or "")


# --- photos ------------------------------------------------------------------------------------------------

@bp.get("/issues/photos/<key>-<int:size>.jpg")
@public
def photo(key, size):
    from portal.issues import photos
    if size not in PHOTO_SIZES:
        abort(404)
    found = db.session.scalar(db.select(IssuePhoto).where(IssuePhoto.key == key))
    if found is None:
        abort(404)
    internal = found.event is not None and not found.event.is_public
    allowed = (permissions.can_handle_issue(current_user, found.issue) if internal
               else permissions.can_see_issue_photos(current_user, found.issue))
    allow(allowed)
    if _photo_hidden(found, current_user):
        abort(404)
    path = photos.path_for(found, size)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True)
    public_photo = not internal and permissions.can_see_issue_photos(AnonymousUserMixin(), found.issue) \
        and not _photo_hidden(found, AnonymousUserMixin())
    response.headers["Cache-Control"] = LONG_CACHE if public_photo else NO_CACHE
    if not public_photo:
        response.headers.pop("ETag", None)
        response.headers.pop("Last-Modified", None)
    return response


def _photo_hidden(found, viewer) -> bool:
    """A photo of an issue (or of an update) that moderators hid is hidden with it."""
    from portal.moderation.services import is_hidden_for
    return is_hidden_for(viewer, "issue", found.issue) or (
        found.event is not None and found.event.kind != "reported"
        and is_hidden_for(viewer, "issue_update", found.event))


# --- whistle-blowing (吹哨报到) -------------------------------------------------------------------------------

@bp.post("/c/<slug>/issues/<int:issue_id>/whistle")
def blow_whistle(slug, issue_id):
    from portal.committees.models import Organization

    def run(issue, f):
        chosen = [db.session.get(Organization, i) for i in (f.organizations.data or []) if i]
        services.blow_whistle(current_user, issue, chosen, report_within=posted_text(f.report_within.data),
                              reason=f.reason.data or "")
    return _handler_action(slug, issue_id, "whistle", WhistleForm, run,
                           _("The organizations are summoned and told when to report in."), "organizations",
                           rule=permissions.can_blow_whistle)


def _local_day_end(issue, text):
    """A date typed ("2026-12-08", the community's calendar) as the end of that local day, in UTC."""
    from datetime import UTC, date, datetime, time
    from zoneinfo import ZoneInfo

    from portal.clock import DEFAULT_TIME_ZONE
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DomainError(_("Write a date such as 2026-12-08."), "action_due") from None
    zone = ZoneInfo(issue.community.time_zone or DEFAULT_TIME_ZONE)
    return datetime.combine(day, time(23, 59), tzinfo=zone).astimezone(UTC)


@bp.post("/c/<slug>/issues/<int:issue_id>/summons/<int:summons_id>/report-in")
def report_in(slug, issue_id, summons_id):
    issue = _issue_at(slug, issue_id)
    summons = db.session.get(IssueSummons, summons_id)
    if summons is None or summons.issue_id != issue.id:
        abort(404)
    allow(permissions.can_report_in(current_user, summons))
    form = ReportInForm(prefix="reportin")
    return form_view(
        form, lambda: services.report_in(current_user, summons, attendee=form.attendee.data or "",
                                         action=form.action.data or "",
                                         action_due=_local_day_end(issue, posted_text(form.action_due.data))),
        validate=False, field="attendee", message=_("You have reported in; the joint handling is on the timeline."),
        done=url_for("issues.detail", slug=slug, issue_id=issue_id),
        page=lambda: _detail_page(_issue(issue.community, issue_id), {"reportin": form}, summons_id))


# --- categories (admins) -----------------------------------------------------------------------------------

def _org_choices(community):
    from portal.committees.models import Organization
    organizations = db.session.scalars(db.select(Organization).where(db.or_(
        Organization.community_id == community.id,
        Organization.sub_district_id == community.sub_district_id)).order_by(
        Organization.kind, Organization.name)).all()
    return [SelectChoice("", _("Nobody yet"))] + [SelectChoice(o.id, f"{o.name} ({o.kind_label})")
                                                  for o in organizations]


def _category_form(category, community, formdata=None):
    form = CategoryForm(formdata=formdata, prefix=f"cat{category.id}", obj=None if formdata else category,
                        data=None if formdata else {"default_org": category.default_org_id})
    form.default_org.choices = _org_choices(community)
    return form


@bp.route("/c/<slug>/issues/categories", methods=["GET", "POST"])
def categories(slug):
    from portal.committees.models import Organization
    community = community_or_404(slug)
    allow(permissions.can_manage_issue_categories(current_user, community))
    listed = services.categories_for(community, active_only=False)
    if not listed:
        listed = services.ensure_default_categories(community)
        db.session.commit()
    if request.method == "POST":
        category = db.session.get(IssueCategory, posted_id(request.form.get("category_id")) or 0)
        if category is None or category.community_id != community.id:
            abort(404)
        form = _category_form(category, community, formdata=request.form)
        return form_view(
            form, lambda: services.update_category(
                current_user, category, name=(form.name.data or "").strip(),
                deadline_class=form.deadline_class.data, respond_hours=form.respond_hours.data,
                resolve_hours=form.resolve_hours.data,
                default_org=db.session.get(Organization, form.default_org.data) if form.default_org.data else None,
                is_active=bool(form.is_active.data), basis=posted_text(form.basis.data),
                report_within=posted_text(form.report_minutes.data), keywords=posted_text(form.keywords.data)),
            validate=False, field="name",
            message=lambda _result: _("Saved %(name)s.", name=services.category_label(category)),
            done=lambda _result: url_for("issues.categories", slug=slug) + f"#category-{category.id}",
            page=lambda: _categories_page(community, services.categories_for(community, active_only=False),
                                          {category.id: form}))
    return _categories_page(community, listed)


def _categories_page(community, listed, overrides=None):
    forms = {c.id: (overrides or {}).get(c.id) or _category_form(c, community) for c in listed}
    return render_template("issues/categories.html", community=community, categories=listed, forms=forms,
                           deadline_labels=DEADLINE_CLASS_LABELS, **_template_context())


@bp.get("/c/<slug>/responsibilities")
@public
def responsibilities(slug):
    """The public responsibility list (责任清单): who is responsible for each kind of problem, on what
    basis, and within which times."""
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    return render_template("issues/responsibilities.html", community=community,
                           categories=services.categories_for(community), deadline_labels=DEADLINE_CLASS_LABELS,
                           **_template_context())
