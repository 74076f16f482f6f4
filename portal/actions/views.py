"""Action pages: the public tracker of a community, one action's page (source, timeline, evidence, sub-actions,
ratings), the create form and the forms that move an action along. Each view loads, checks one permission
rule, parses the input, calls one service, commits or shows the service's message on the same form.

Every page works without JavaScript."""
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import NamedTuple

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import AnonymousUserMixin, current_user
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from portal import versions
from portal.actions import bp, services
from portal.actions.forms import (
    SATISFACTION_LABELS,
    ActionForm,
    BlockForm,
    ChaseForm,
    CompleteForm,
    FilterForm,
    ProgressForm,
    RateForm,
    UnblockForm,
    VolunteerForm,
    WithdrawVolunteerForm,
)
from portal.actions.models import STATE_LABELS, Action, ActionEvidence, ActionSummons
from portal.auth import permissions
from portal.clock import local_today, utcnow
from portal.committees.models import Organization
from portal.errors import DomainError
from portal.extensions import db
from portal.formviews import db_int, flash_back, form_view, posted_text
from portal.issues.forms import ReportInForm, WhistleForm
from portal.issues.views import _local_day_end  # a typed local date as the end of that day, in UTC
from portal.places.services import community_or_404
from portal.sharing import share_card
from portal.web import absolute_url, accepts_photos, allow, day_changes, page_key, public, send_upload

MAX_FILES = 6
PHOTO_SIZES = (400, 1600)
# The status word's colour: the portal's existing status colours (no new stylesheet rules needed).
STATUS_CLASS = {"planned": "status-pending", "in_progress": "issue-status-in_progress", "done": "status-ok",
                "blocked": "status-rejected"}
# The words for the kinds of timeline entries (ActionUpdate.kind); an unknown kind shows as it is stored.
UPDATE_KIND_LABELS = {"created": _l("Created"), "started": _l("Started"), "progress": _l("Progress"),
                      "blocked": _l("Blocked"), "unblocked": _l("Unblocked"), "done": _l("Completed"),
                      "chase": _l("Chased by an official"),
                      "whistle": _l("Organizations summoned (whistle-blowing)"), "reported_in": _l("Reported in")}


# --- template helpers --------------------------------------------------------------------------------------

def percent_words(value) -> str:
    """The progress as words next to the bar, for people who cannot read the bar: "40 percent done"."""
    return _("%(percent)d percent done", percent=int(value or 0))


def _progress(action) -> int:
    """The stored progress: the services keep a parent's equal to its steps' average (unless set by hand)."""
    return int(action.progress or 0)


def _overdue(action) -> bool:
    return bool(services.is_overdue(action, _local_today(action.community)))


def _local_today(community) -> date:
    return local_today(community.time_zone)


def _source_link(action):
    """(label, url) of where the action came from, or None."""
    slug = action.community.slug
    if action.source == "proposal" and action.proposal_id:
        return (_("Proposal: %(title)s", title=action.proposal.title),
                url_for("proposals.detail", slug=slug, proposal_id=action.proposal_id))
    if action.source == "budget" and action.proposal_id:
        return (_("Budget round project: %(title)s", title=action.proposal.title),
                url_for("proposals.detail", slug=slug, proposal_id=action.proposal_id))
    if action.source == "issue" and action.issue_id:
        return (_("Issue #%(number)d: %(title)s", number=action.issue_id, title=action.issue.title),
                url_for("issues.detail", slug=slug, issue_id=action.issue_id))
    if action.source == "decision" and action.decision_id:
        meeting = action.decision.meeting
        return (_("Meeting decision: %(text)s", text=(action.decision.text or "")[:80]),
                url_for("committees.meeting", org_id=meeting.organization_id, meeting_id=meeting.id)
                + f"#decision-{action.decision_id}")
    if action.source == "hotspot":
        building = action.hotspot_building.name if action.hotspot_building else ""
        from portal.issues.services import category_label
        category = category_label(action.hotspot_category) if action.hotspot_category else ""
        return (_("Hotspot: %(building)s, %(category)s, %(month)s", building=building, category=category,
                  month=action.hotspot_month or ""), None)
    if action.source == "forecast":
        from portal.issues.services import category_label
        category = category_label(action.hotspot_category) if action.hotspot_category else ""
        return (_("Expected rise: %(category)s, %(month)s", category=category, month=action.hotspot_month or ""),
                None)
    if action.source == "programme" and action.programme_id:
        return (_("A programme (专项)"), url_for("insight.programme", programme_id=action.programme_id))
    return None


class IncludedAction(NamedTuple):
    """What an "included in" link shows of an action, kept between requests (plain data, no row)."""
    id: int
    title: str
    status: str
    progress: int

    @property
    def status_label(self):
        return STATE_LABELS.get(self.status, self.status)


def _included_in(kind, obj):
    """The actions a proposal, issue or meeting decision is included in (the "what happened" links): read
    once per version of the community, where such actions are made (portal.versions)."""
    community = _community_of(kind, obj)
    if community is None or obj is None:
        return services.actions_for_source(kind, obj)
    return versions.remember_item("actions_included_in", community, (kind, obj.id), lambda: tuple(
        IncludedAction(a.id, a.title, a.status, a.progress) for a in services.actions_for_source(kind, obj)))


def _ready(kind, obj) -> bool:
    """Whether the source can become an action now (the service says why not for a hand-made address)."""
    if kind == "proposal":
        return obj.status in ("implementing", "evaluated") and obj.outcome == "passed"
    if kind == "issue":
        return obj.status in ("resolved", "closed")
    return kind == "decision"


def _can_create(kind, obj) -> bool:
    community = _community_of(kind, obj)
    return community is not None and _ready(kind, obj) and permissions.can_create_action(
        current_user, community, obj)


def _can_chase_issue(issue) -> bool:
    from portal.issues.services import is_overdue
    return permissions.can_chase(current_user, issue) and bool(is_overdue(issue))


def _community_of(kind, obj):
    if kind == "decision":
        return obj.meeting.community if obj.meeting else None
    return getattr(obj, "community", None)


@bp.app_context_processor
def action_helpers():
    return {"actions_included_in": _included_in, "can_create_action_from": _can_create,
            "can_chase_issue": _can_chase_issue, "action_status_class": STATUS_CLASS,
            "joint_action_of": services.joint_action_of,
            "action_percent_words": percent_words}


def _context():
    return {"status_class": STATUS_CLASS, "percent_words": percent_words, "progress": _progress,
            "overdue": _overdue, "source_link": _source_link, "satisfaction_labels": SATISFACTION_LABELS,
            "update_kind_labels": UPDATE_KIND_LABELS}


# --- loading -----------------------------------------------------------------------------------------------

def _action(community, action_id) -> Action:
    action = services.action_in(community, action_id)
    if action is None:
        abort(404)
    return action


def _files(form_field, kind) -> list:
    """The chosen files of one field: photos as bytes, PDFs as (filename, bytes)."""
    files = [f for f in request.files.getlist(form_field.name) if f and f.filename]
    if len(files) > MAX_FILES:
        raise DomainError(_("Choose at most %(count)d files; you chose %(chosen)d.", count=MAX_FILES,
                            chosen=len(files)), form_field.short_name)
    if kind == "photo":
        return [f.read() for f in files]
    return [(f.filename, f.read()) for f in files]


def _checked_total(form):
    """Photos and documents together: at most MAX_FILES, refused before any of them is read."""
    total = sum(len([f for f in request.files.getlist(getattr(form, name).name) if f and f.filename])
                for name in ("photos", "documents"))
    if total > MAX_FILES:
        raise DomainError(_("Choose at most %(count)d files; you chose %(chosen)d.", count=MAX_FILES,
                            chosen=total), "photos")


def _date(form_field, *, required=True) -> date | None:
    text = (form_field.data or "").strip()
    if not text:
        if required:
            raise DomainError(_("Give a date."), form_field.short_name)
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise DomainError(_("Write a date such as 2026-12-31."), form_field.short_name)
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise DomainError(_("Write a date such as 2026-12-31."), form_field.short_name) from None
    if not 2000 <= value.year <= 2100:
        raise DomainError(_("Write a date such as 2026-12-31."), form_field.short_name)
    return value


def _budget(form_field):
    text = (form_field.data or "").strip().replace(",", "").replace("，", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DomainError(_("Write an amount in yuan such as 12000 or 12000.50, or leave it empty."),
                          form_field.short_name) from None
    if not value.is_finite() or value < 0 or value >= Decimal("10000000000") or value != value.quantize(
            Decimal("0.01")):
        raise DomainError(_("Write an amount in yuan such as 12000 or 12000.50, or leave it empty."),
                          form_field.short_name)
    return value


def _percent(form_field):
    text = (form_field.data or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,3}", text) or int(text) > 100:
        raise DomainError(_("Write a whole number from 0 to 100, or leave it empty."), form_field.short_name)
    return int(text)


# --- the tracker -------------------------------------------------------------------------------------------

@bp.get("/c/<slug>/actions")
@public
def index(slug):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    form = FilterForm(request.args)
    form.status.choices = [SelectChoice("", _("All"))] + [SelectChoice(k, v) for k, v in STATE_LABELS.items()]
    status = form.status.data if form.status.data in STATE_LABELS else None
    try:
        rows_html, any_rows, figures = _tracker_rows(community, status, bool(form.overdue.data))
    except DomainError as error:  # a stale or edited "more" link: the first page of the same filters, and why
        flash(str(error.message), "error")
        args = {k: v for k, v in request.args.items() if k != "after"}
        return redirect(url_for("actions.index", slug=slug, **args))
    if getattr(request, "htmx", False) and request.args.get("after"):
        return rows_html
    return render_template("actions/index.html", community=community, form=form, rows_html=rows_html,
                           any_rows=any_rows, figures=figures, state_labels=STATE_LABELS, **_context())


def _tracker_rows(community, status, overdue):
    """A page of the tracker as its rendered rows, whether it has any, and the overall figures: the same for
    every viewer, so kept under the community's version (portal.versions) per address and language until
    the community's date changes ("overdue" is by that date)."""
    def render():
        now = utcnow()
        today = services.local_date(community, now)
        actions, cursor = services.community_actions(community, current_user, status=status, overdue=overdue,
                                                     after=request.args.get("after") or None, now=now)
        context = dict(community=community, actions=actions, today=today, more_url=_more_url(cursor),
                       state_labels=STATE_LABELS, **_context())
        # Each row's overdue word from the one local date (the pages' helper works it out per action).
        context["overdue"] = lambda action: services.is_overdue(action, today)
        html = Markup(render_template("actions/_action_rows.html", **context))
        figures = services.tracker_figures(community, now=now)
        return versions.Kept((html, bool(actions), figures), until=day_changes(community.time_zone))
    return versions.remember("tracker_rows", community, render, *page_key())


def _more_url(cursor):
    if not cursor:
        return None
    args = request.args.to_dict()
    args["after"] = cursor
    return url_for("actions.index", **(request.view_args or {}), **args)


# --- one action --------------------------------------------------------------------------------------------

def _forms(overrides=None):
    forms = {"progress": ProgressForm(formdata=None, prefix="progress"),
             "block": BlockForm(formdata=None, prefix="block"),
             "unblock": UnblockForm(formdata=None, prefix="unblock"),
             "complete": CompleteForm(formdata=None, prefix="complete"),
             "rate": RateForm(formdata=None, prefix="rate"),
             "chase": ChaseForm(formdata=None, prefix="chase"),
             "volunteer": VolunteerForm(formdata=None, prefix="volunteer"),
             "withdraw": WithdrawVolunteerForm(formdata=None, prefix="withdraw"),
             "whistle": WhistleForm(formdata=None, prefix="whistle"),
             "reportin": ReportInForm(formdata=None, prefix="reportin")}
    forms.update(overrides or {})
    return SimpleNamespace(**forms)


def _steps_by_org(steps):
    """The sub-actions grouped by responsible organization (name order), each group in id order."""
    groups = {}
    for step in steps:
        groups.setdefault(step.responsible_org_id, (step.responsible_org, []))[1].append(step)
    return sorted(groups.values(), key=lambda g: (g[0].name, g[0].id))


def _detail_page(action, overrides=None, status=200, failed_summons_id=None):
    viewer = current_user
    forms = _forms(overrides)
    can_whistle = permissions.can_blow_whistle_on_action(viewer, action)
    if can_whistle:
        forms.whistle.organizations.choices = [SelectChoice(o.id, f"{o.name} ({o.kind_label})")
                                               for o in services.action_summons_targets(action)]
    mine = services.my_rating(current_user, action)
    if mine and not forms.rate.satisfaction.data:
        forms.rate.satisfaction.data = mine
    by_update = {}
    loose = []
    for e in action.evidence:
        (by_update.setdefault(e.update_id, []) if e.update_id else loose).append(e)
    steps = action.children
    updates = services.timeline(action)
    return render_template(
        "actions/detail.html", community=action.community, action=action, forms=forms,
        updates=updates,
        source=_source_link(action), is_overdue=_overdue(action), percent=services.progress_of(action),
        evidence_by_update=by_update, loose_evidence=loose, summary=services.rating_summary(action),
        my_rating=mine, can_update=permissions.can_update_action(viewer, action),
        can_rate=permissions.can_rate_action(viewer, action),
        can_chase=permissions.can_chase(viewer, action) and _overdue(action),
        volunteers=services.named_volunteers(action), is_volunteer=services.is_volunteer(viewer, action),
        can_volunteer=permissions.can_volunteer(viewer, action),
        can_withdraw_volunteer=permissions.can_withdraw_volunteer(viewer, action),
        blocked_steps=[c for c in steps if c.status == "blocked"], steps_by_org=_steps_by_org(steps),
        # the summonses are queried only when the timeline shows a whistle
        summonses=services.action_summons_of(action) if any(u.kind == "whistle" for u in updates) else [],
        can_whistle=can_whistle, reportin_failed=failed_summons_id, whistle_now=utcnow(),
        steps_all_done=bool(steps) and all(c.status == "done" for c in steps),
        can_add_step=not action.parent_id and action.status != "done" and (
            permissions.can_update_action(viewer, action) or permissions.can_create_action(viewer, action.community)),
        share=_share(action), **_context()), status


def _share(action):
    community = action.community
    return share_card("action", action.id, public=permissions.can_share_card("action", action),
                      url=absolute_url("actions.detail", slug=community.slug, action_id=action.id),
                      title=action.title, description=f"{action.status_label} · {community.name}",
                      community=community, image_parts=(action.title, community.name, action.status_label))


@bp.get("/c/<slug>/actions/<int:action_id>")
@public
def detail(slug, action_id):
    community = community_or_404(slug)
    allow(permissions.can_view_community(current_user, community))
    action = _action(community, action_id)  # action_in applies its due steps
    db.session.commit()
    return _detail_page(action)


def _step(slug, action_id, prefix, form_class, run, done, fallback, *, rule=None):
    """The shape of every form on an action's page: load, check the rule, run the service, commit or show
    the service's message on the same form (with a 400: nothing was written)."""
    community = community_or_404(slug)
    action = _action(community, action_id)
    allow((rule or permissions.can_update_action)(current_user, action))
    form = form_class(prefix=prefix)
    return form_view(form, lambda: run(action, form), validate=False, field=fallback, status=400, message=done,
                     done=url_for("actions.detail", slug=slug, action_id=action_id),
                     page=lambda: _detail_page(_action(community, action_id), {prefix: form}))


@bp.post("/c/<slug>/actions/<int:action_id>/progress")
@accepts_photos
def progress(slug, action_id):
    def run(action, f):
        _checked_total(f)
        services.post_progress(current_user, action, body=f.body.data or "", percent=_percent(f.percent),
                               photos=_files(f.photos, "photo"), documents=_files(f.documents, "pdf"))
    return _step(slug, action_id, "progress", ProgressForm, run, _("Your progress update is posted."), "body")


@bp.post("/c/<slug>/actions/<int:action_id>/block")
def block(slug, action_id):
    return _step(slug, action_id, "block", BlockForm,
                 lambda action, f: services.block(current_user, action, f.reason.data or "",
                                                  f.unblock_by.data or ""),
                 _("The action is marked as blocked."), "reason")


@bp.post("/c/<slug>/actions/<int:action_id>/unblock")
def unblock(slug, action_id):
    return _step(slug, action_id, "unblock", UnblockForm,
                 lambda action, f: services.unblock(current_user, action, f.note.data or ""),
                 _("The action is unblocked."), "note")


@bp.post("/c/<slug>/actions/<int:action_id>/complete")
@accepts_photos
def complete(slug, action_id):
    def run(action, f):
        _checked_total(f)
        services.complete(current_user, action, note=f.note.data or "", photos=_files(f.photos, "photo"),
                          documents=_files(f.documents, "pdf"))
    return _step(slug, action_id, "complete", CompleteForm, run,
                 _("The action is done. Residents can now rate the result."), "note")


@bp.post("/c/<slug>/actions/<int:action_id>/rate")
def rate(slug, action_id):
    def run(action, f):
        if f.satisfaction.data not in SATISFACTION_LABELS:
            raise DomainError(_("Choose how satisfied you are."), "satisfaction")
        services.rate(current_user, action, f.satisfaction.data)
    return _step(slug, action_id, "rate", RateForm, run, _("Thank you: your rating is counted."),
                 "satisfaction", rule=permissions.can_rate_action)


@bp.post("/c/<slug>/actions/<int:action_id>/volunteer")
def volunteer(slug, action_id):
    return _step(slug, action_id, "volunteer", VolunteerForm,
                 lambda action, f: services.sign_up_volunteer(current_user, action, show_name=bool(f.show_name.data)),
                 _("Thank you: you are signed up to help with this action."), None,
                 rule=permissions.can_volunteer)


@bp.post("/c/<slug>/actions/<int:action_id>/volunteer/withdraw")
def withdraw_volunteer(slug, action_id):
    return _step(slug, action_id, "withdraw", WithdrawVolunteerForm,
                 lambda action, f: services.withdraw_volunteer(current_user, action),
                 _("You are no longer signed up to help with this action."), None,
                 rule=permissions.can_withdraw_volunteer)


@bp.post("/c/<slug>/actions/<int:action_id>/chase")
def chase(slug, action_id):
    def run(action, f):
        services.chase(current_user, "action", action, note=f.note.data or "", new_due=_date(f.new_due))
    return _step(slug, action_id, "chase", ChaseForm, run,
                 _("The chase is sent to the responsible organization."), "note", rule=permissions.can_chase)


# --- whistle-blowing (吹哨报到) -------------------------------------------------------------------------------

@bp.post("/c/<slug>/actions/<int:action_id>/whistle")
def blow_whistle(slug, action_id):
    def run(action, f):
        chosen = [db.session.get(Organization, i) for i in (f.organizations.data or []) if i]
        services.blow_whistle_on_action(current_user, action, chosen,
                                        report_within=posted_text(f.report_within.data), reason=f.reason.data or "")
    return _step(slug, action_id, "whistle", WhistleForm, run,
                 _("The organizations are summoned and told when to report in."), "organizations",
                 rule=permissions.can_blow_whistle_on_action)


@bp.post("/c/<slug>/actions/<int:action_id>/summons/<int:summons_id>/report-in")
def report_in(slug, action_id, summons_id):
    community = community_or_404(slug)
    action = _action(community, action_id)
    summons = db.session.get(ActionSummons, summons_id)
    if summons is None or summons.action_id != action.id:
        abort(404)
    allow(permissions.can_report_in(current_user, summons))
    form = ReportInForm(prefix="reportin")
    return form_view(
        form, lambda: services.report_in_to_action(
            current_user, summons, attendee=form.attendee.data or "", action=form.action.data or "",
            action_due=_local_day_end(action, posted_text(form.action_due.data))),
        validate=False, field="attendee", status=400,
        message=_("You have reported in; the joint handling is on the timeline."),
        done=url_for("actions.detail", slug=slug, action_id=action_id),
        page=lambda: _detail_page(_action(community, action_id), {"reportin": form}, failed_summons_id=summons_id))


@bp.post("/c/<slug>/issues/<int:issue_id>/chase")
def chase_issue(slug, issue_id):
    from portal.issues.services import issue_in
    community = community_or_404(slug)
    issue = issue_in(community, issue_id)
    if issue is None:
        abort(404)
    allow(permissions.can_chase(current_user, issue))
    form = ChaseForm(prefix="chase")
    # The form is on the issue's page: a refusal is said there.
    return form_view(form, lambda: services.chase(current_user, "issue", issue, note=form.note.data or "",
                                                  new_due=_date(form.new_due)),
                     validate=False, message=_("The chase is sent to the responsible organization."),
                     done=url_for("issues.detail", slug=slug, issue_id=issue_id),
                     refused=flash_back(url_for("issues.detail", slug=slug, issue_id=issue_id) + "#chase"))


# --- creating ----------------------------------------------------------------------------------------------

def _source_from_args(community):
    """(source kind, keywords for create_action, the source object) from ?source=…&id=… or ?parent=…."""
    from portal.committees.models import Decision, Meeting
    from portal.issues.models import Issue
    from portal.proposals.models import Proposal
    args = request.values
    parent_id = args.get("parent", type=db_int)
    if parent_id is not None:
        parent = _action(community, parent_id)
        return parent.source, {"parent": parent}, parent
    kind = args.get("source", "")
    item_id = args.get("id", type=db_int)
    if kind == "hotspot":
        from portal.issues.models import IssueCategory
        from portal.places.models import Building
        building = db.session.get(Building, args.get("building", type=db_int) or 0)
        category = db.session.get(IssueCategory, args.get("category", type=db_int) or 0)
        month = args.get("month", "")
        if building is None or category is None or building.community_id != community.id \
                or category.community_id != community.id or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            abort(404)
        hotspot = {"building": building, "category": category, "month": month}
        return "hotspot", {"hotspot": hotspot}, hotspot
    if item_id is None or kind not in ("proposal", "decision", "issue"):
        abort(404)
    if kind == "proposal":
        obj = db.session.get(Proposal, item_id)
        if obj is None or obj.community_id != community.id:
            abort(404)
    elif kind == "issue":
        obj = db.session.get(Issue, item_id)
        if obj is None or obj.community_id != community.id:
            abort(404)
    else:
        obj = db.session.scalar(db.select(Decision).join(Meeting).where(
            Decision.id == item_id, Meeting.community_id == community.id))
        if obj is None:
            abort(404)
    return kind, {kind: obj}, obj


def _org_choices(community):
    return services.responsible_orgs(community)


def _owner_choices(organizations):
    from portal.auth.models import User
    from portal.auth.roles import current_clause
    from portal.committees.models import OrgMembership
    if not organizations:
        return []
    names = {o.id: o.name for o in organizations}
    rows = db.session.execute(db.select(OrgMembership.organization_id, User.id, User.display_name).join(
        User, User.id == OrgMembership.user_id).where(
        OrgMembership.organization_id.in_(list(names)), current_clause(OrgMembership))
        .order_by(OrgMembership.organization_id, User.display_name)).all()
    return [(user_id, f"{name} ({names[org_id]})") for org_id, user_id, name in rows]


def _choices(form, community):
    organizations = _org_choices(community)
    form.responsible_org.choices = [SelectChoice("", _("Choose the organization…"))] + [
        SelectChoice(o.id, f"{o.name} ({o.kind_label})") for o in organizations]
    seen = set()
    owners = [SelectChoice("", _("Nobody named yet"))]
    for user_id, label in _owner_choices(organizations):
        if user_id not in seen:
            seen.add(user_id)
            owners.append(SelectChoice(user_id, label))
    form.owner.choices = owners
    return {o.id: o for o in organizations}


@bp.route("/c/<slug>/actions/new", methods=["GET", "POST"])
def new(slug):
    from portal.auth.models import User
    community = community_or_404(slug)
    kind, keywords, source_obj = _source_from_args(community)
    if isinstance(source_obj, Action):  # a step of an action
        allow(permissions.can_update_action(current_user, source_obj)
              or permissions.can_create_action(current_user, community))
    else:
        allow(permissions.can_create_action(current_user, community, source_obj))
    form = ActionForm()
    organizations = _choices(form, community)
    if request.method == "GET":
        form.title.data = _suggested_title(kind, source_obj)

    def create():
        organization = organizations.get(form.responsible_org.data)
        if organization is None:
            raise DomainError(_("Choose the responsible organization."), "responsible_org")
        owner = db.session.get(User, form.owner.data) if form.owner.data else None
        return services.create_action(
            current_user, community, source=kind, title=(form.title.data or "").strip(),
            description=form.description.data or "", responsible_org=organization, owner=owner,
            due_date=_date(form.due_date), budget=_budget(form.budget),
            funding_source=(form.funding_source.data or "").strip(), **keywords)
    return form_view(form, create, field="title", status=400,
                     message=_("The action is created; the responsible organization is told."),
                     done=lambda action: url_for("actions.detail", slug=slug, action_id=action.id),
                     page=lambda: render_template("actions/new.html", community=community, form=form, kind=kind,
                                                  source_obj=source_obj, source_args=_source_args(), **_context()))


def _source_args():
    return {k: v for k, v in request.args.items() if k in ("source", "id", "parent", "building", "category", "month")}


def _suggested_title(kind, obj):
    if kind == "proposal":
        return obj.title
    if kind == "issue":
        return obj.title
    if kind == "decision":
        return (obj.text or "")[:200]
    return None


# --- evidence ----------------------------------------------------------------------------------------------

@bp.get("/actions/evidence/<key>", defaults={"size": None})
@bp.get("/actions/evidence/<key>/<int:size>")
@public
def evidence(key, size):
    found = db.session.scalar(db.select(ActionEvidence).where(ActionEvidence.key == key))
    if found is None:
        abort(404)
    community = found.action.community
    allow(permissions.can_view_community(current_user, community))
    return send_upload(found, services.evidence_path, size, PHOTO_SIZES,
                       public=permissions.can_view_community(AnonymousUserMixin(), community))
