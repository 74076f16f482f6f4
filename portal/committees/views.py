"""Organization pages: the public list of members, meetings, decisions and ballots; member management for
chairs and admins; meetings (schedule, agenda, attendance, minutes, decisions)."""
import re

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from portal.auth import permissions, roles
from portal.auth.services import find_by_login
from portal.committees import bp, meetings, services
from portal.committees.forms import (
    AddMemberForm,
    AgendaItemForm,
    CancelMeetingForm,
    DecisionForm,
    EndMembershipForm,
    OrganizationForm,
    ScheduleMeetingForm,
)
from portal.committees.meetings import ATTENDANCE_LABELS, FOLLOW_UP_LABELS
from portal.committees.models import TITLES, Decision, Meeting, Organization, OrgMembership
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import local_time
from portal.formviews import form_view
from portal.places.models import Community, SubDistrict
from portal.web import allow, perform, public


@bp.get("/o/<int:org_id>")
@public
def organization(org_id):
    org = db.get_or_404(Organization, org_id)
    if org.community is not None:
        # A "members only" community shows its organizations to the people who belong to it.
        allow(permissions.can_view_community(current_user, org.community))
    from portal.votes.models import Ballot
    meetings_list = meetings.organization_meetings(org, current_user)
    visible = [m for m in meetings_list if m.status != "cancelled"]
    decisions = db.session.scalars(
        db.select(Decision).where(Decision.meeting_id.in_([m.id for m in visible]))
        .order_by(Decision.created_at.desc(), Decision.id.desc()).limit(20)).all() if visible else []
    ballots = db.session.scalars(db.select(Ballot).where(Ballot.organization_id == org.id)
                                 .order_by(Ballot.opens_at.desc()).limit(20)).all()
    ballots = [b for b in ballots if permissions.can_view_ballot(current_user, b)]
    return render_template("committees/organization.html", org=org, members=org.current_memberships(),
                           meetings=meetings_list, decisions=decisions, ballots=ballots,
                           follow_up_labels=FOLLOW_UP_LABELS, zone=_zone(org))


def _manage_page(org, add_form=None, end_forms=None):
    current = org.current_memberships()
    forms = {m.id: EndMembershipForm(formdata=None, prefix=f"m{m.id}", end_date=roles.today()) for m in current}
    forms.update(end_forms or {})
    return render_template("committees/manage.html", org=org, current=current, past=org.past_memberships(),
                           upcoming=[m for m in org.memberships if m.start_date > roles.today()],
                           add_form=add_form or AddMemberForm(formdata=None, start_date=roles.today()),
                           end_forms=forms)


@bp.get("/o/<int:org_id>/manage")
def manage(org_id):
    org = db.get_or_404(Organization, org_id)
    if not permissions.can_manage_members(current_user, org):
        abort(403)
    return _manage_page(org)


@bp.post("/o/<int:org_id>/members")
def add_member(org_id):
    org = db.get_or_404(Organization, org_id)
    if not permissions.can_manage_members(current_user, org):
        abort(403)
    form = AddMemberForm()
    return form_view(form, lambda: services.add_member(current_user, org, find_by_login(form.login.data or ""),
                                                       form.title.data, form.start_date.data),
                     field="login", done=url_for("committees.manage", org_id=org.id),
                     message=lambda membership: _("%(name)s is added as %(title)s.",
                                                  name=membership.user.display_name, title=membership.title_label),
                     page=lambda: _manage_page(org, add_form=form))


@bp.post("/o/<int:org_id>/members/<int:membership_id>/end")
def end_membership(org_id, membership_id):
    org = db.get_or_404(Organization, org_id)
    if not permissions.can_manage_members(current_user, org):
        abort(403)
    membership = db.session.get(OrgMembership, membership_id)
    if membership is None or membership.organization_id != org.id:
        abort(404)
    form = EndMembershipForm(prefix=f"m{membership.id}")
    return form_view(form, lambda: services.end_membership(current_user, membership, form.end_date.data),
                     field="end_date", done=url_for("committees.manage", org_id=org.id),
                     message=lambda _result: _("The membership of %(name)s ends on %(date)s.",
                                               name=membership.user.display_name,
                                               date=membership.end_date.isoformat()),
                     page=lambda: _manage_page(org, end_forms={membership.id: form}))


@bp.route("/admin/organizations", methods=["GET", "POST"])
def admin_organizations():
    if not permissions.can_manage_organizations(current_user):
        abort(403)
    form = OrganizationForm()
    communities = db.session.scalars(db.select(Community).order_by(Community.name)).all()
    sub_districts = db.session.scalars(db.select(SubDistrict).order_by(SubDistrict.name)).all()
    form.community.choices = [SelectChoice("", _("None"))] + [SelectChoice(c.id, c.name) for c in communities]
    form.sub_district.choices = [SelectChoice("", _("None"))] + [SelectChoice(s.id, s.name) for s in sub_districts]
    return form_view(
        form, lambda: services.create_organization(
            current_user, kind=form.kind.data, name=form.name.data,
            community=db.session.get(Community, form.community.data) if form.community.data else None,
            sub_district=db.session.get(SubDistrict, form.sub_district.data) if form.sub_district.data else None),
        field="kind", message=lambda org: _("%(name)s is created. Add its chair next.", name=org.name),
        done=lambda org: url_for("committees.manage", org_id=org.id),
        page=lambda: render_template("committees/admin.html", form=form,
                                     organizations=services.all_organizations()))


# --- meetings ------------------------------------------------------------------------------------------------
# Each view loads the meeting through its organization (an id from another organization is a 404), checks one
# permission rule, parses the input, calls one service in portal.committees.meetings, commits, then redirects
# or renders the meeting page again with the message next to the form. Everything works without JavaScript;
# htmx only swaps the agenda picker's results while typing.

MAX_ID = 2**31 - 1
SEARCH_MAX = 100  # characters of an agenda search kept
STATUS_LABELS = {"scheduled": _l("Scheduled"), "held": _l("Held"), "cancelled": _l("Cancelled")}


def _zone(org) -> str:
    return org.community.time_zone if org.community is not None else current_app.config["DEFAULT_TIME_ZONE"]


def _whole(value) -> int | None:
    text = (value or "").strip()
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def _organization(org_id) -> Organization:
    org = db.session.get(Organization, org_id) if 0 < org_id <= MAX_ID else None
    if org is None:
        abort(404)
    return org


def _meeting(org_id, meeting_id, *, manage=False) -> Meeting:
    """The meeting of this organization as this viewer may see it (manage=True: as a member may run it)."""
    org = _organization(org_id)
    meeting = meetings.meeting_in(org, meeting_id) if 0 < meeting_id <= MAX_ID else None
    if meeting is None:
        abort(404)
    allow(permissions.can_view_meeting(current_user, meeting))
    if manage:
        allow(permissions.can_manage_meeting(current_user, meeting))
    return meeting


def _meeting_url(meeting, anchor=""):
    return url_for("committees.meeting", org_id=meeting.organization_id, meeting_id=meeting.id) + anchor


def _members_at(meeting) -> list[OrgMembership]:
    """The organization's members on the meeting's day (in the community's zone): who attendance is for."""
    return sorted(meetings.members_on(meeting.organization, meetings.meeting_day(meeting)),
                  key=lambda m: (TITLES.index(m.title) if m.title in TITLES else 9, m.user.display_name))


def _search_text() -> str:
    return (request.args.get("q") or "").strip()[:SEARCH_MAX]


def _candidates(meeting, q):
    if not q or meeting.status != "scheduled" or not permissions.can_manage_meeting(current_user, meeting):
        return []
    return meetings.agenda_candidates(meeting, q)


def _decision_form(meeting, formdata=None):
    form = DecisionForm(formdata=formdata)
    form.agenda_item.choices = [SelectChoice("", _("None (a general decision)"))] + \
        [SelectChoice(str(item.id), f"{item.position}. {item.title}") for item in meeting.agenda]
    return form


def _meeting_page(meeting, *, status=200, agenda_form=None, cancel_form=None, decision_form=None,
                  attendance_input=None, attendance_error=None, minutes_input=None, minutes_errors=None,
                  correction_note=None):
    org = meeting.organization
    published = meetings.published_minutes(meeting)
    draft = meetings.draft_minutes(meeting)
    recorded = meetings.attendance_of(meeting)
    can_manage = permissions.can_manage_meeting(current_user, meeting)
    # The minutes editor starts from the draft, else from the latest published version (a correction).
    base = draft or (published[-1] if published else None)
    texts = {(i.agenda_item_id or 0): i.body for i in base.items} if base else {}
    if minutes_input is not None:
        texts = minutes_input
    decisions = meetings.decisions_of(meeting)
    q = _search_text()
    return render_template(
        "committees/meeting.html", org=org, meeting=meeting, community=meeting.community, zone=_zone(org),
        can_manage=can_manage, members=_members_at(meeting), attendance=attendance_input or recorded,
        attendance_recorded=bool(recorded), attendance_error=attendance_error,
        quorum=meetings.quorum(meeting) if recorded else None,
        published=published, draft=draft, minutes_texts=texts, minutes_errors=minutes_errors or {},
        correction_note=correction_note if correction_note is not None else "",
        needs_correction_note=bool(published) and (draft is None or bool(draft.correction_note)),
        decisions=decisions, follow_up_labels=FOLLOW_UP_LABELS, status_labels=STATUS_LABELS,
        attendance_labels=ATTENDANCE_LABELS,
        q=q, candidates=_candidates(meeting, q),
        agenda_form=agenda_form or AgendaItemForm(formdata=None),
        cancel_form=cancel_form or CancelMeetingForm(formdata=None),
        decision_form=decision_form or _decision_form(meeting)), status


@bp.route("/o/<int:org_id>/meetings/new", methods=["GET", "POST"])
def schedule_meeting(org_id):
    org = _organization(org_id)
    allow(permissions.can_schedule_meeting(current_user, org))
    form = ScheduleMeetingForm() if request.method == "POST" else ScheduleMeetingForm(formdata=None)

    def schedule():
        zone = _zone(org)
        agenda = [(line.strip()[:200], None, None) for line in (form.agenda.data or "").splitlines()
                  if line.strip()]
        return meetings.schedule_meeting(
            current_user, org, title=(form.title.data or "").strip(),
            starts_at=local_time(form.starts_at, zone), ends_at=local_time(form.ends_at, zone, required=False),
            place=(form.place.data or "").strip(), online_url=(form.online_url.data or "").strip(),
            is_public=bool(form.is_public.data), agenda=agenda)
    return form_view(form, schedule, field="title", done=_meeting_url,
                     message=_("The meeting is scheduled and the members are notified."),
                     page=lambda: render_template("committees/schedule.html", org=org, form=form, zone=_zone(org)))


@bp.get("/o/<int:org_id>/meetings/<int:meeting_id>")
@public
def meeting(org_id, meeting_id):
    return _meeting_page(_meeting(org_id, meeting_id))


@bp.get("/o/<int:org_id>/meetings/<int:meeting_id>/agenda/search")
def agenda_search(org_id, meeting_id):
    """The agenda picker's results: the partial for htmx, the whole meeting page otherwise."""
    meeting = _meeting(org_id, meeting_id, manage=True)
    if not getattr(request, "htmx", False):
        return _meeting_page(meeting)
    q = _search_text()
    return render_template("committees/_agenda_results.html", meeting=meeting, q=q,
                           candidates=_candidates(meeting, q))


@bp.post("/o/<int:org_id>/meetings/<int:meeting_id>/agenda")
def add_agenda_item(org_id, meeting_id):
    from portal.issues.models import Issue
    from portal.proposals.models import Proposal
    meeting = _meeting(org_id, meeting_id, manage=True)
    form = AgendaItemForm()
    kind, subject_id = request.form.get("kind"), _whole(request.form.get("subject_id"))
    proposal = db.session.get(Proposal, subject_id) if kind == "proposal" and subject_id else None
    issue = db.session.get(Issue, subject_id) if kind == "issue" and subject_id else None
    if kind in ("proposal", "issue") and proposal is None and issue is None:
        abort(404)
    return form_view(form, lambda: meetings.add_agenda_item(current_user, meeting,
                                                            title=(form.title.data or "").strip(),
                                                            proposal=proposal, issue=issue),
                     field="title", message=_("The agenda item is added."), done=_meeting_url(meeting, "#agenda"),
                     page=lambda: _meeting_page(meeting, agenda_form=form))


@bp.post("/o/<int:org_id>/meetings/<int:meeting_id>/agenda/<int:item_id>/remove")
def remove_agenda_item(org_id, meeting_id, item_id):
    meeting = _meeting(org_id, meeting_id, manage=True)
    item = next((i for i in meeting.agenda if i.id == item_id), None)
    if item is None:
        abort(404)
    perform(lambda: meetings.remove_agenda_item(current_user, meeting, item), _("The agenda item is removed."))
    return redirect(_meeting_url(meeting, "#agenda"))


@bp.post("/o/<int:org_id>/meetings/<int:meeting_id>/cancel")
def cancel_meeting(org_id, meeting_id):
    meeting = _meeting(org_id, meeting_id, manage=True)
    form = CancelMeetingForm()
    return form_view(form, lambda: meetings.cancel_meeting(current_user, meeting, (form.reason.data or "").strip()),
                     field="reason", message=_("The meeting is cancelled and the members are told."),
                     done=lambda _result: _meeting_url(meeting), page=lambda: _meeting_page(meeting, cancel_form=form))


@bp.post("/o/<int:org_id>/meetings/<int:meeting_id>/attendance")
def record_attendance(org_id, meeting_id):
    meeting = _meeting(org_id, meeting_id, manage=True)
    statuses = {}
    for key, value in request.form.items():
        if key.startswith("status-") and _whole(key[7:]) is not None and value in ATTENDANCE_LABELS:
            statuses[int(key[7:])] = value

    def record():
        if not statuses:
            raise DomainError(_("Mark each member present, absent or excused."))
        meetings.record_attendance(current_user, meeting, statuses)
    # A form of one radio group per member, read from the request: its refusal is one message above them.
    return form_view(FlaskForm(), record, validate=False, message=_("The attendance is recorded."),
                     done=_meeting_url(meeting, "#attendance"),
                     refused=lambda error: _meeting_page(meeting, attendance_input=statuses,
                                                         attendance_error=str(error.message)))


@bp.post("/o/<int:org_id>/meetings/<int:meeting_id>/minutes")
def save_minutes(org_id, meeting_id):
    meeting = _meeting(org_id, meeting_id, manage=True)
    items = {None: request.form.get("minutes-general", "")}
    for item in meeting.agenda:
        items[item.id] = request.form.get(f"minutes-{item.id}", "")
    note = (request.form.get("correction_note") or "").strip()[:1000]

    def minutes_refused(error):
        typed = {(key or 0): value for key, value in items.items()}
        return _meeting_page(meeting, minutes_input=typed,
                             minutes_errors={error.field or "minutes": str(error.message)}, correction_note=note)
    # One text per agenda item, read from the request: a refusal goes next to the text it names.
    return form_view(FlaskForm(), lambda: meetings.save_minutes(current_user, meeting, items, correction_note=note),
                     validate=False, message=_("The minutes draft is saved. Another look, then publish it."),
                     done=_meeting_url(meeting, "#minutes"), refused=minutes_refused)


@bp.post("/o/<int:org_id>/meetings/<int:meeting_id>/minutes/publish")
def publish_minutes(org_id, meeting_id):
    meeting = _meeting(org_id, meeting_id, manage=True)
    perform(lambda: meetings.publish_minutes(current_user, meeting),
            _("The minutes are published. They can no longer change; a correction is a new version."))
    return redirect(_meeting_url(meeting, "#minutes"))


@bp.post("/o/<int:org_id>/meetings/<int:meeting_id>/decisions")
def record_decision(org_id, meeting_id):
    meeting = _meeting(org_id, meeting_id, manage=True)
    form = _decision_form(meeting, formdata=request.form)
    item = next((i for i in meeting.agenda if i.id == form.agenda_item.data), None)
    if form.agenda_item.data is not None and item is None:
        abort(404)

    def recorded(decision):
        if decision.follow_up == "open_ballot" and item is not None and item.proposal is not None \
                and permissions.can_open_ballot(current_user, item.proposal):
            return url_for("votes.new", slug=meeting.community.slug, proposal_id=item.proposal_id,
                           decision=decision.id)
        return _meeting_url(meeting, f"#decision-{decision.id}")
    return form_view(form, lambda: meetings.record_decision(current_user, meeting, text=(form.text.data or "").strip(),
                                                            follow_up=form.follow_up.data, agenda_item=item),
                     field="text", message=_("The decision is recorded."), done=recorded,
                     page=lambda: _meeting_page(meeting, decision_form=form))
