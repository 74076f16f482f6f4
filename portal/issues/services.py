"""Neighbourhood issues: categories and their deadlines, reporting, "me too", handling, rating, deadline
warnings and the lists.

Every function that changes something takes the acting person first, checks the named rule in
`portal.auth.permissions`, validates everything before writing anything, adds a timeline entry
(IssueEvent), writes an audit entry and notifies the people concerned. Callers commit; a DomainError
leaves nothing written. `now=None` means utcnow(); tests pass explicit times.

Metrics for DESIGN §4 are stored exactly: `first_response_at` is set once, by the first handler action the
reporter can see (accept, reject, a public update, or a merge that tells them where to look);
`resolved_at` is the latest resolution; the rating fields hold the reporter's latest answer."""
import base64
import json
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, load_only

from portal.audit.services import record
from portal.auth import permissions, roles
from portal.auth.models import User
from portal.clock import utcnow
from portal.committees.models import Organization, OrgMembership
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import similar
from portal.issues.models import (
    DEADLINE_CLASSES,
    DESCRIPTION_MAX,
    MAX_PHOTOS,
    OPEN_STATES,
    SATISFACTION,
    STATES,
    TITLE_MAX,
    Issue,
    IssueCategory,
    IssueEvent,
    IssueSupport,
    next_deadline,
    next_deadline_sql,
)
from portal.outbox import notify, register_event
from portal.places.models import Building, Community, Household

REASON_MAX = 1000
COMMENT_MAX = 500
LOCATION_MAX = 120
REPORTER_NAME_MAX = 80
REPORTER_PHONE_MAX = 20
CATEGORY_CODE_MAX = 32
CATEGORY_NAME_MAX = 80
RATE_WITHIN = timedelta(days=7)
WARN_AT = 0.75  # share of the time to a deadline after which handlers are warned
SORTS = ("newest", "supported", "due")

# (code, English name, deadline class, kind of the organization that receives it by default)
DEFAULT_CATEGORIES = [
    ("lift", "Lift", "emergency", "property_company"),
    ("water", "Water supply", "utilities", "property_company"),
    ("power", "Power", "utilities", "property_company"),
    ("gas", "Gas", "utilities", "property_company"),
    ("heating", "Heating", "utilities", "property_company"),
    ("leak", "Leaks and pipes", "ordinary", "property_company"),
    ("lighting", "Lighting", "ordinary", "property_company"),
    ("rubbish", "Rubbish and cleaning", "ordinary", "property_company"),
    ("greenery", "Greenery", "ordinary", "property_company"),
    ("facilities", "Shared facilities", "complex", "property_company"),
    ("parking", "Parking and fire lanes", "ordinary", "department"),
    ("noise", "Noise", "ordinary", "department"),
    ("security", "Safety and security", "emergency", "residents_committee"),
    ("neighbours", "Neighbour disputes", "complex", "residents_committee"),
    ("other", "Other", "ordinary", "residents_committee"),
]
CATEGORY_LABELS = {
    "lift": _l("Lift"),
    "water": _l("Water supply"),
    "power": _l("Power"),
    "gas": _l("Gas"),
    "heating": _l("Heating"),
    "leak": _l("Leaks and pipes"),
    "lighting": _l("Lighting"),
    "rubbish": _l("Rubbish and cleaning"),
    "greenery": _l("Greenery"),
    "facilities": _l("Shared facilities"),
    "parking": _l("Parking and fire lanes"),
    "noise": _l("Noise"),
    "security": _l("Safety and security"),
    "neighbours": _l("Neighbour disputes"),
    "other": _l("Other"),
}

# What each timeline entry says, after the actor's name ("Zhou accepted the issue").
EVENT_LABELS = {
    "reported": _l("reported the issue"),
    "hotline": _l("received the issue from the 12345 hotline"),
    "accepted": _l("accepted the issue"),
    "handed_over": _l("handed the issue over"),
    "handover_accepted": _l("took the issue over"),
    "started": _l("started work"),
    "update": _l("posted an update"),
    "resolved": _l("resolved the issue"),
    "rejected": _l("rejected the issue"),
    "merged": _l("merged the issue as a duplicate"),
    "rated": _l("rated the result"),
    "reopened": _l("reopened the issue"),
    "closed_unrated": _l("closed without a rating after 7 days"),
    "deadline_warning": _l("deadline warning"),
    "escalated": _l("turned the issue into a proposal"),
}


def _detail_link(notification):
    from flask import url_for
    payload = notification.payload or {}
    issue_id = payload.get("issue_id") or notification.object_id
    slug = payload.get("slug")
    return url_for("issues.detail", slug=slug, issue_id=issue_id) if slug and issue_id else None


# Who hears what (issue #9): the reporter and those who said "me too" (group "my_issues") hear that their issue
# was accepted, taken over, started, updated in public, resolved, rejected or merged; the members of the
# organization it is routed to (group "handling") hear that it arrived, was handed to them, was reopened or
# is near or past its deadline; the sub-district's officials also hear of a missed deadline. Events about
# an emergency issue that handlers must act on carry urgent=True, which lets e-mail through quiet hours.
# Messages quote the title only (a hidden issue is named by number) and never what anyone wrote in it.
register_event("issue_reported", _l("New issue in %(community)s: “%(title)s”."), _detail_link, group="handling")
register_event("issue_accepted", _l("Your issue “%(title)s” was accepted by %(org)s."), _detail_link)
register_event("issue_handed_over", _l("“%(title)s” was handed over to %(org)s: %(reason)s"), _detail_link,
               group="handling")
register_event("issue_handover_accepted", _l("“%(title)s” is now handled by %(org)s."), _detail_link)
register_event("issue_taken_over", _l("%(org)s took over “%(title)s” from your organization."), _detail_link,
               group="handling")
register_event("issue_in_progress", _l("Work on “%(title)s” has started."), _detail_link)
register_event("issue_update", _l("There is a new update on “%(title)s”."), _detail_link)
register_event("issue_internal_note", _l("A colleague added an internal note to “%(title)s”."), _detail_link,
               group="handling")
register_event("issue_resolved", _l("“%(title)s” was resolved. Was it really? Please rate the result."),
               _detail_link)
register_event("issue_rejected", _l("“%(title)s” was not accepted: %(reason)s"), _detail_link)
register_event("issue_merged", _l("“%(title)s” is the same as “%(into_title)s”: follow it there."), _detail_link)
register_event("issue_reopened", _l("“%(title)s” was reopened: the reporter is not satisfied."), _detail_link,
               group="handling")
# The payload keeps which deadline ("respond"/"resolve", see DEADLINE_KIND_LABELS) and its level (1 at 75 %,
# 2 at the deadline); the message stays free of untranslated words.
register_event("issue_deadline_warning", _l("Deadline warning: “%(title)s” needs attention."), _detail_link,
               group="handling")
register_event("issue_deadline_missed", _l("Deadline missed: “%(title)s” is overdue."), _detail_link,
               group="handling")

DEADLINE_KIND_LABELS = {"respond": _l("respond"), "resolve": _l("resolve")}


# --- categories -----------------------------------------------------------------------------------------

def _default_org(community, kind):
    if kind == "department":
        query = db.select(Organization).where(Organization.kind == "department",
                                              Organization.sub_district_id == community.sub_district_id)
    else:
        query = db.select(Organization).where(Organization.kind == kind, Organization.community_id == community.id)
    org = db.session.scalar(query.order_by(Organization.id).limit(1))
    if org is None and kind != "residents_committee":
        return _default_org(community, "residents_committee")
    return org


def ensure_default_categories(community) -> list[IssueCategory]:
    """The default categories of a community, created when missing (existing ones are left as edited)."""
    existing = {c.code: c for c in db.session.scalars(
        db.select(IssueCategory).where(IssueCategory.community_id == community.id))}
    result = []
    for code, name, deadline_class, org_kind in DEFAULT_CATEGORIES:
        category = existing.get(code)
        if category is None:
            respond, resolve = DEADLINE_CLASSES[deadline_class]
            category = IssueCategory(community_id=community.id, code=code, name=name, deadline_class=deadline_class,
                                     respond_hours=respond, resolve_hours=resolve,
                                     default_org=_default_org(community, org_kind))
            db.session.add(category)
        result.append(category)
    db.session.flush()
    return result


def categories_for(community, *, active_only=True) -> list[IssueCategory]:
    query = db.select(IssueCategory).where(IssueCategory.community_id == community.id)
    if active_only:
        query = query.where(IssueCategory.is_active.is_(True))
    return db.session.scalars(query.options(joinedload(IssueCategory.default_org)).order_by(IssueCategory.id)).all()


def category_label(category) -> str:
    """Default categories show their translated label while their name is the default one."""
    defaults = {code: name for code, name, _c, _k in DEFAULT_CATEGORIES}
    if category.code in CATEGORY_LABELS and category.name == defaults[category.code]:
        return str(CATEGORY_LABELS[category.code])
    return category.name


def _check_deadlines(deadline_class, respond_hours, resolve_hours):
    if deadline_class not in DEADLINE_CLASSES:
        raise DomainError(_l("Choose a deadline class."), "deadline_class")
    default_respond, default_resolve = DEADLINE_CLASSES[deadline_class]
    respond_hours = default_respond if respond_hours in (None, "") else respond_hours
    resolve_hours = default_resolve if resolve_hours in (None, "") else resolve_hours
    try:
        respond_hours, resolve_hours = int(respond_hours), int(resolve_hours)
    except (TypeError, ValueError):
        raise DomainError(_l("Deadlines are whole numbers of hours."), "respond_hours") from None
    if respond_hours <= 0:
        raise DomainError(_l("The time to respond must be at least one hour."), "respond_hours")
    if resolve_hours < respond_hours:
        raise DomainError(_l("The time to resolve cannot be shorter than the time to respond."), "resolve_hours")
    return respond_hours, resolve_hours


def _check_org_for(community, org):
    if org is None:
        return
    if org.community_id != community.id and org.sub_district_id != community.sub_district_id:
        raise DomainError(_l("Choose an organization of this community or its sub-district."), "default_org")


def create_category(actor, community, *, code, name, deadline_class, respond_hours=None, resolve_hours=None,
                    default_org=None) -> IssueCategory:
    if not permissions.can_manage_issue_categories(actor, community):
        raise NotAllowed(_l("Only administrators can change issue categories."))
    code = (code or "").strip().lower()
    name = (name or "").strip()
    if not code or len(code) > CATEGORY_CODE_MAX or not all(ch.isascii() and (ch.isalnum() or ch in "-_")
                                                            for ch in code):
        raise DomainError(_l("The code is 1 to 32 letters, digits, - or _."), "code")
    if db.session.scalar(db.select(IssueCategory.id).where(IssueCategory.community_id == community.id,
                                                           IssueCategory.code == code)) is not None:
        raise DomainError(_l("This community already has a category with this code."), "code")
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise DomainError(_l("The name is 1 to 80 characters."), "name")
    respond_hours, resolve_hours = _check_deadlines(deadline_class, respond_hours, resolve_hours)
    _check_org_for(community, default_org)
    category = IssueCategory(community_id=community.id, code=code, name=name, deadline_class=deadline_class,
                             respond_hours=respond_hours, resolve_hours=resolve_hours, default_org=default_org)
    db.session.add(category)
    db.session.flush()
    record(actor, "issue_category.created", category, code=code, name=name, deadline_class=deadline_class,
           respond_hours=respond_hours, resolve_hours=resolve_hours,
           default_org_id=getattr(default_org, "id", None))
    return category


def update_category(actor, category, *, name, deadline_class, respond_hours, resolve_hours, default_org,
                    is_active) -> IssueCategory:
    """Everything but the code, which issues keep referring to. Existing issues keep their deadlines."""
    if not permissions.can_manage_issue_categories(actor, category.community):
        raise NotAllowed(_l("Only administrators can change issue categories."))
    name = (name or "").strip()
    if not name or len(name) > CATEGORY_NAME_MAX:
        raise DomainError(_l("The name is 1 to 80 characters."), "name")
    respond_hours, resolve_hours = _check_deadlines(deadline_class, respond_hours, resolve_hours)
    _check_org_for(category.community, default_org)
    category.name = name
    category.deadline_class = deadline_class
    category.respond_hours = respond_hours
    category.resolve_hours = resolve_hours
    category.default_org = default_org
    category.is_active = bool(is_active)
    db.session.flush()
    record(actor, "issue_category.updated", category, name=name, deadline_class=deadline_class,
           respond_hours=respond_hours, resolve_hours=resolve_hours,
           default_org_id=getattr(default_org, "id", None), is_active=bool(is_active))
    return category


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return now or utcnow()


def _payload(issue, **extra):
    # A title moderators hid is not repeated to anyone: the notice names the issue by its number.
    title = issue.title if issue.hidden_state is None else f"#{issue.id}"
    payload = {"title": title, "slug": issue.community.slug, "issue_id": issue.id}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


def _urgent(issue) -> dict:
    """urgent=True for what handlers must act on in an emergency issue (e-mail ignores quiet hours for it)."""
    return {"urgent": True} if issue.category is not None and issue.category.deadline_class == "emergency" else {}


def members_of(org_ids) -> list[User]:
    """Current members of these organizations (one query)."""
    org_ids = [i for i in org_ids if i]
    if not org_ids:
        return []
    return db.session.scalars(db.select(User).join(OrgMembership, OrgMembership.user_id == User.id).where(
        OrgMembership.organization_id.in_(org_ids), roles.current_clause(OrgMembership),
        User.is_active_account.is_(True)).distinct().order_by(User.id)).all()


def _officials_of(community) -> list[User]:
    office_ids = db.session.scalars(db.select(Organization.id).where(
        Organization.kind == "subdistrict_office", Organization.sub_district_id == community.sub_district_id)).all()
    return members_of(office_ids)


def _handlers(issue) -> list[User]:
    return members_of([issue.handling_org_id, issue.handover_org_id])


def supporters_of(issue) -> list[User]:
    return db.session.scalars(db.select(User).join(IssueSupport, IssueSupport.user_id == User.id)
                              .where(IssueSupport.issue_id == issue.id).order_by(IssueSupport.id)).all()


def _reporter_and_supporters(issue) -> list[User]:
    return ([issue.reporter] if issue.reporter is not None else []) + supporters_of(issue)


def _others(people, actor):
    return [p for p in people if p is not None and p.id != getattr(actor, "id", None)]


def _add_event(issue, kind, actor=None, *, body=None, public=True, on_behalf_of=None, at=None, **details):
    event = IssueEvent(issue=issue, kind=kind, actor_id=getattr(actor, "id", None),
                       on_behalf_of_id=getattr(on_behalf_of, "id", None), organization_id=issue.handling_org_id,
                       body=body, is_public=public, at=at or utcnow(), details=details)
    db.session.add(event)
    return event


def _first_response(issue, now):
    if issue.first_response_at is None:
        issue.first_response_at = now


def _clean_text(value, field, *, required, maximum, empty_message=None):
    value = (value or "").strip()
    if required and not value:
        raise DomainError(empty_message or _l("This field is required."), field)
    if len(value) > maximum:
        raise DomainError(_l("At most %(max)d characters, please.", max=maximum), field)
    return value


def _check_photos(photos, field="photos"):
    """Every photo checked (and re-encoded in memory) before anything is written."""
    photos = list(photos or ())
    if len(photos) > MAX_PHOTOS:
        raise DomainError(_l("At most %(max)d photos, please.", max=MAX_PHOTOS), field)
    if not photos:
        return []
    from portal.issues import photos as photo_store
    prepared = []
    for data in photos:
        try:
            prepared.append(photo_store.prepare(data))
        except DomainError as error:
            error.field = error.field or field
            raise
    return prepared


def _save_photos(prepared, issue, uploaded_by, event):
    if not prepared:
        return []
    from portal.issues import photos as photo_store
    db.session.flush()
    return [photo_store.save(p, issue=issue, uploaded_by=uploaded_by, event=event) for p in prepared]


def _index_terms(issue):
    """Keep the similar-issue index to open issues: called whenever an issue opens or stops being open."""
    similar.index_issue(issue)


def _coordinate(value, field, limit):
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise DomainError(_l("Give the position as a number of degrees."), field) from None
    if not number.is_finite() or not -limit <= number <= limit:
        if field == "latitude":
            raise DomainError(_l("Latitude is between -90 and 90 degrees."), field)
        raise DomainError(_l("Longitude is between -180 and 180 degrees."), field)
    return number.quantize(Decimal("0.000001"))


def _check_category(community, category):
    if category is None or category.community_id != community.id or not category.is_active:
        raise DomainError(_l("Choose one of this community's categories."), "category")


def _deadlines(category, start):
    return start + timedelta(hours=category.respond_hours), start + timedelta(hours=category.resolve_hours)


# --- reporting -------------------------------------------------------------------------------------------

def report_problems(community, *, category, title, description="") -> list[DomainError]:
    """What is wrong with a report's fields, every one at once (report_issue stops at the first), so that a
    form shows the missing title and the missing category together rather than one per send."""
    checks = (lambda: _check_category(community, category),
              lambda: _clean_text(title, "title", required=True, maximum=TITLE_MAX,
                                  empty_message=_l("Give the issue a short title.")),
              lambda: _clean_text(description, "description", required=False, maximum=DESCRIPTION_MAX))
    problems = []
    for check in checks:
        try:
            check()
        except DomainError as problem:
            problems.append(problem)
    return problems


def report_issue(reporter, community, *, category, title, description="", building=None, household=None,
                 location_text=None, latitude=None, longitude=None, show_name=False, photos=(),
                 on_behalf_of=None, now=None) -> Issue:
    """A verified resident reports a problem; a committee member at the counter may report for a resident
    (`reporter` is then the member, `on_behalf_of` the resident, who becomes the issue's reporter)."""
    now = _now(now)
    person = on_behalf_of or reporter
    if on_behalf_of is not None and not permissions.can_act_for(reporter, on_behalf_of):
        raise NotAllowed(_l("You may not act for this person."))
    if not permissions.can_report_issue(person, community):
        raise NotAllowed(_l("Only verified residents of this community can report issues here."))
    _check_category(community, category)
    title = _clean_text(title, "title", required=True, maximum=TITLE_MAX,
                        empty_message=_l("Give the issue a short title."))
    description = _clean_text(description, "description", required=False, maximum=DESCRIPTION_MAX)
    if building is not None and building.community_id != community.id:
        raise DomainError(_l("Choose a building of this community."), "building")
    if household is not None:
        if household.building.community_id != community.id:
            raise DomainError(_l("Choose a unit of this community."), "household")
        if building is not None and household.building_id != building.id:
            raise DomainError(_l("This unit is not in the chosen building."), "household")
        building = household.building
    location_text = _clean_text(location_text, "location_text", required=False, maximum=LOCATION_MAX) or None
    latitude = _coordinate(latitude, "latitude", 90)
    longitude = _coordinate(longitude, "longitude", 180)
    if (latitude is None) != (longitude is None):
        raise DomainError(_l("Give both latitude and longitude, or neither."),
                          "longitude" if longitude is None else "latitude")
    prepared = _check_photos(photos)

    respond_by, resolve_by = _deadlines(category, now)
    issue = Issue(community=community, category=category, title=title, description=description, building=building,
                  household=household, location_text=location_text, latitude=latitude, longitude=longitude,
                  reporter=person, source="portal", show_name=bool(show_name), status="submitted",
                  handling_org=category.default_org, submitted_at=now, respond_by=respond_by, resolve_by=resolve_by)
    db.session.add(issue)
    event = _add_event(issue, "reported", reporter, on_behalf_of=on_behalf_of, at=now)
    db.session.flush()
    _save_photos(prepared, issue, reporter, event)
    _index_terms(issue)
    record(reporter, "issue.reported", issue, on_behalf_of=on_behalf_of, subject_user=on_behalf_of,
           community_id=community.id, category=category.code, photos=len(prepared))
    notify(_others(_handlers(issue), reporter), "issue_reported", issue,
           **_payload(issue, community=community.name), **_urgent(issue))
    return issue


def report_from_hotline(community, *, category, title, description, reporter_name, reporter_phone,
                        now=None) -> Issue:
    """An issue dispatched by the city hotline: no account, contact fields only handlers see. The clock
    starts at dispatch (`now`)."""
    now = _now(now)
    _check_category(community, category)
    title = _clean_text(title, "title", required=True, maximum=TITLE_MAX,
                        empty_message=_l("Give the issue a short title."))
    description = _clean_text(description, "description", required=False, maximum=DESCRIPTION_MAX)
    reporter_name = _clean_text(reporter_name, "reporter_name", required=True, maximum=REPORTER_NAME_MAX)
    reporter_phone = _clean_text(reporter_phone, "reporter_phone", required=False, maximum=REPORTER_PHONE_MAX) or None
    respond_by, resolve_by = _deadlines(category, now)
    issue = Issue(community=community, category=category, title=title, description=description,
                  reporter_name=reporter_name, reporter_phone=reporter_phone, source="hotline", show_name=False,
                  status="submitted", handling_org=category.default_org, submitted_at=now, respond_by=respond_by,
                  resolve_by=resolve_by)
    db.session.add(issue)
    _add_event(issue, "hotline", None, at=now)
    db.session.flush()
    _index_terms(issue)
    record(None, "issue.hotline_received", issue, community_id=community.id, category=category.code)
    notify(_handlers(issue), "issue_reported", issue, **_payload(issue, community=community.name), **_urgent(issue))
    return issue


def has_supported(user, issue) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return db.session.scalar(db.select(IssueSupport.id).where(
        IssueSupport.issue_id == issue.id, IssueSupport.user_id == user.id)) is not None


def supported_issue_ids(user, issue_ids) -> set[int]:
    """Which of these issues the person supports (one query, for lists)."""
    issue_ids = list(issue_ids)
    if not getattr(user, "is_authenticated", False) or not issue_ids:
        return set()
    return set(db.session.scalars(db.select(IssueSupport.issue_id).where(
        IssueSupport.user_id == user.id, IssueSupport.issue_id.in_(issue_ids))))


def support_issue(user, issue, *, now=None) -> bool:
    """"Me too". False, changing nothing, when the person already supports it (a double click included)."""
    if not permissions.can_support_issue(user, issue):
        raise NotAllowed(_l("Only verified residents of this community can support an open issue they did "
                            "not report."))
    if has_supported(user, issue):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(IssueSupport(issue_id=issue.id, user_id=user.id, created_at=_now(now)))
    except IntegrityError:
        return False
    db.session.execute(db.update(Issue).where(Issue.id == issue.id)
                       .values(support_count=Issue.support_count + 1))
    db.session.refresh(issue, ["support_count"])
    record(user, "issue.supported", issue)
    return True


# --- handling --------------------------------------------------------------------------------------------

def _require_handler(user, issue):
    if not permissions.can_handle_issue(user, issue):
        raise NotAllowed(_l("Only the organization handling this issue, the sub-district's officials and "
                            "administrators can do this."))


def _require_status(issue, allowed, message=None):
    if issue.status not in allowed:
        raise DomainError(message or _l("This cannot be done while the issue is “%(status)s”.",
                                        status=issue.status_label), "status")


def accept_issue(handler, issue, *, note="", now=None) -> Issue:
    """The handling organization takes the issue on: the first response, unless one was already given."""
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, ("submitted", "reopened"))
    note = _clean_text(note, "note", required=False, maximum=REASON_MAX)
    issue.status = "accepted"
    _first_response(issue, now)
    _add_event(issue, "accepted", handler, body=note or None, at=now)
    db.session.flush()
    record(handler, "issue.accepted", issue)
    org = issue.handling_org.name if issue.handling_org else ""
    notify(_others(_reporter_and_supporters(issue), handler), "issue_accepted", issue, **_payload(issue, org=org))
    return issue


def handover_targets(issue) -> list[Organization]:
    """Organizations an issue can be handed to: the community's and its sub-district's, but not the one
    handling it now."""
    community = issue.community
    return db.session.scalars(db.select(Organization).where(
        or_(Organization.community_id == community.id, Organization.sub_district_id == community.sub_district_id),
        Organization.id != (issue.handling_org_id or 0)).order_by(Organization.kind, Organization.name)).all()


def hand_over(handler, issue, organization, reason, *, now=None) -> Issue:
    """Pass the issue to another organization with a reason. The current one stays accountable (首接负责)
    until the receiver accepts the handover."""
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, OPEN_STATES)
    if organization is None or organization.id == issue.handling_org_id:
        raise DomainError(_l("Choose another organization."), "organization")
    community = issue.community
    if organization.community_id != community.id and organization.sub_district_id != community.sub_district_id:
        raise DomainError(_l("Choose an organization of this community or its sub-district."), "organization")
    reason = _clean_text(reason, "reason", required=True, maximum=REASON_MAX,
                         empty_message=_l("Say why the issue is handed over."))
    issue.handover_org = organization
    _add_event(issue, "handed_over", handler, body=reason, at=now, to_org_id=organization.id,
               to_org=organization.name)
    db.session.flush()
    record(handler, "issue.handed_over", issue, to_org_id=organization.id, reason=reason)
    notify(_others(members_of([organization.id]), handler), "issue_handed_over", issue,
           **_payload(issue, org=organization.name, reason=reason), **_urgent(issue))
    return issue


def accept_handover(handler, issue, *, now=None) -> Issue:
    """A member of the receiving organization takes the issue over; from now on it is accountable."""
    now = _now(now)
    if not permissions.can_accept_handover(handler, issue):
        raise NotAllowed(_l("Only the organization the issue was handed to can accept it."))
    previous = issue.handling_org
    issue.handling_org = issue.handover_org
    issue.handover_org = None
    db.session.flush()
    _add_event(issue, "handover_accepted", handler, at=now, from_org_id=getattr(previous, "id", None))
    record(handler, "issue.handover_accepted", issue, from_org_id=getattr(previous, "id", None),
           to_org_id=issue.handling_org_id)
    notify(_others(_reporter_and_supporters(issue), handler), "issue_handover_accepted", issue,
           **_payload(issue, org=issue.handling_org.name))
    notify(_others(members_of([getattr(previous, "id", None)]), handler), "issue_taken_over", issue,
           **_payload(issue, org=issue.handling_org.name))
    return issue


def start_work(handler, issue, *, now=None) -> Issue:
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, ("accepted", "reopened"))
    issue.status = "in_progress"
    _first_response(issue, now)
    _add_event(issue, "started", handler, at=now)
    db.session.flush()
    record(handler, "issue.started", issue)
    notify(_others(_reporter_and_supporters(issue), handler), "issue_in_progress", issue, **_payload(issue))
    return issue


def post_update(handler, issue, body, *, public=True, photos=(), now=None) -> IssueEvent:
    """Progress in words (and photos). A public update is a response the reporter sees; an internal note
    is for the handlers only."""
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, OPEN_STATES)
    body = _clean_text(body, "body", required=True, maximum=DESCRIPTION_MAX,
                       empty_message=_l("Write what has happened."))
    prepared = _check_photos(photos)
    if public:
        _first_response(issue, now)
    event = _add_event(issue, "update", handler, body=body, public=bool(public), at=now)
    db.session.flush()
    _save_photos(prepared, issue, handler, event)
    record(handler, "issue.updated", issue, public=bool(public), photos=len(prepared))
    if public:
        notify(_others(_reporter_and_supporters(issue), handler), "issue_update", issue,
               **_payload(issue, event_id=event.id))
    else:
        notify(_others(_handlers(issue), handler), "issue_internal_note", issue, **_payload(issue))
    return event


def resolve_issue(handler, issue, note, *, photos=(), now=None) -> Issue:
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, ("accepted", "in_progress", "reopened"),
                    _l("Accept the issue before resolving it."))
    note = _clean_text(note, "note", required=True, maximum=DESCRIPTION_MAX,
                       empty_message=_l("Say what was done."))
    prepared = _check_photos(photos)
    issue.status = "resolved"
    _index_terms(issue)
    issue.resolved_at = now
    issue.handover_org = None
    _first_response(issue, now)
    event = _add_event(issue, "resolved", handler, body=note, at=now)
    db.session.flush()
    _save_photos(prepared, issue, handler, event)
    record(handler, "issue.resolved", issue, photos=len(prepared))
    notify(_others(_reporter_and_supporters(issue), handler), "issue_resolved", issue, **_payload(issue))
    return issue


def reject_issue(handler, issue, reason, *, now=None) -> Issue:
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, OPEN_STATES)
    reason = _clean_text(reason, "reason", required=True, maximum=REASON_MAX,
                         empty_message=_l("Say why the issue is rejected."))
    issue.status = "rejected"
    _index_terms(issue)
    issue.handover_org = None
    _first_response(issue, now)
    _add_event(issue, "rejected", handler, body=reason, at=now)
    db.session.flush()
    record(handler, "issue.rejected", issue, reason=reason)
    notify(_others(_reporter_and_supporters(issue), handler), "issue_rejected", issue,
           **_payload(issue, reason=reason))
    return issue


def merge_duplicate(handler, issue, into, *, now=None) -> Issue:
    """`issue` repeats `into`: it becomes a duplicate, its supporters move over (nobody supports twice),
    and its reporter becomes a supporter of `into` and is told where to look."""
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, OPEN_STATES)
    if into is None or into.id == issue.id or into.community_id != issue.community_id:
        raise DomainError(_l("Choose another issue of the same community."), "into")
    if into.status not in OPEN_STATES:
        raise DomainError(_l("Merge into an issue that is still open."), "into")
    movers = supporters_of(issue)
    if issue.reporter is not None:
        movers.insert(0, issue.reporter)
    already = set(db.session.scalars(db.select(IssueSupport.user_id).where(IssueSupport.issue_id == into.id)))
    already.add(into.reporter_id)
    db.session.execute(db.delete(IssueSupport).where(IssueSupport.issue_id == issue.id))
    added = 0
    for person in movers:
        if person.id in already:
            continue
        already.add(person.id)
        db.session.add(IssueSupport(issue_id=into.id, user_id=person.id, created_at=now))
        added += 1
    issue.support_count = 0
    into.support_count = into.support_count + added
    issue.status = "duplicate"
    _index_terms(issue)
    issue.duplicate_of = into
    issue.handover_org = None
    _first_response(issue, now)
    _add_event(issue, "merged", handler, at=now, into_id=into.id, into_title=into.title)
    db.session.flush()
    record(handler, "issue.merged", issue, into_id=into.id, supporters_moved=added)
    notify(_others([issue.reporter] + movers, handler), "issue_merged", issue,
           **_payload(issue, into_title=into.title, issue_id=into.id))
    return issue


def rate_issue(user, issue, *, resolved, satisfaction, comment="", now=None) -> Issue:
    """The reporter's two answers. Dissatisfied reopens the issue once, back to the same handler with a new
    resolve-by time; otherwise (or the second time) the issue closes."""
    now = _now(now)
    if not permissions.can_rate_issue(user, issue):
        raise NotAllowed(_l("Only the reporter can rate a resolved issue."))
    if resolved not in (True, False):
        raise DomainError(_l("Say whether the problem was resolved."), "resolved")
    if satisfaction not in SATISFACTION:
        raise DomainError(_l("Say how satisfied you are."), "satisfaction")
    comment = _clean_text(comment, "comment", required=False, maximum=COMMENT_MAX)
    issue.rated_at = now
    issue.rating_resolved = resolved
    issue.rating_satisfaction = satisfaction
    issue.rating_comment = comment or None
    _add_event(issue, "rated", user, body=comment or None, at=now, resolved=resolved, satisfaction=satisfaction)
    record(user, "issue.rated", issue, resolved=resolved, satisfaction=satisfaction)
    if satisfaction == "dissatisfied" and issue.reopen_count == 0:
        _reopen(user, issue, now)
    else:
        issue.status = "closed"
        issue.closed_at = now
    db.session.flush()
    return issue


def _reopen(user, issue, now):
    # The response deadline and first response stay as they were (the response rate counts the first
    # round); the resolution clock restarts and its warnings are sent again.
    issue.status = "reopened"
    _index_terms(issue)
    issue.reopen_count += 1
    issue.resolve_by = now + timedelta(hours=issue.category.resolve_hours)
    issue.resolve_warned = 0
    issue.closed_at = None
    _add_event(issue, "reopened", user, at=now)
    record(user, "issue.reopened", issue)
    notify(_others(_handlers(issue) or _officials_of(issue.community), user), "issue_reopened", issue,
           **_payload(issue), **_urgent(issue))


# --- time ------------------------------------------------------------------------------------------------

def rebuild_next_deadlines(community_ids=None) -> int:
    """Set the stored next deadline of every issue (of these communities) from its row, in one UPDATE: for
    bulk loads and bulk updates, which bypass the ORM hook that keeps it. Returns the rows changed."""
    expr = next_deadline_sql()
    query = db.update(Issue).where(Issue.next_deadline.is_distinct_from(expr))
    if community_ids is not None:
        query = query.where(Issue.community_id.in_(list(community_ids)))
    query = query.values(next_deadline=expr).execution_options(synchronize_session=False)
    return db.session.execute(query).rowcount


def is_overdue(issue, now=None) -> bool:
    if issue.status not in OPEN_STATES:
        return False
    now = _now(now)
    return (issue.first_response_at is None and now > issue.respond_by) or now > issue.resolve_by


def _resolve_window_start(issue):
    if issue.reopen_count:
        return issue.resolve_by - timedelta(hours=issue.category.resolve_hours)
    return issue.submitted_at


def _warning_level(start, deadline, now) -> int:
    if now >= deadline:
        return 2
    if now >= start + (deadline - start) * WARN_AT:
        return 1
    return 0


def _warn(issue, kind, level, now):
    deadline = issue.respond_by if kind == "respond" else issue.resolve_by
    _add_event(issue, "deadline_warning", None, public=False, at=now, deadline=kind, level=level)
    # At 75 % the handlers are warned; a missed deadline also goes to the sub-district's officials, who chase.
    # With nobody handling it, the officials hear of both.
    handlers = _handlers(issue)
    if level == 1:
        recipients, event = handlers or _officials_of(issue.community), "issue_deadline_warning"
    else:
        recipients, event = handlers + _officials_of(issue.community), "issue_deadline_missed"
    notify(recipients, event, issue,
           **_payload(issue, deadline=kind, at=deadline.isoformat(timespec="minutes"), level=level), **_urgent(issue))


def apply_due(issue, now=None) -> bool:
    """Apply the time-driven steps to one issue: close it unrated 7 days after resolution, warn at 75 % and
    at 100 % of the respond-by and resolve-by times (each once). True when something changed."""
    now = _now(now)
    changed = False
    if issue.status == "resolved" and issue.resolved_at + RATE_WITHIN <= now and \
            (issue.rated_at is None or issue.rated_at < issue.resolved_at):
        issue.status = "closed"
        issue.closed_at = issue.resolved_at + RATE_WITHIN
        _add_event(issue, "closed_unrated", None, at=now)
        record(None, "issue.closed_unrated", issue)
        changed = True
    if issue.status in OPEN_STATES:
        if issue.first_response_at is None and issue.respond_warned < 2:
            level = _warning_level(issue.submitted_at, issue.respond_by, now)
            if level > issue.respond_warned:
                issue.respond_warned = level
                _warn(issue, "respond", level, now)
                changed = True
        if issue.resolve_warned < 2:
            level = _warning_level(_resolve_window_start(issue), issue.resolve_by, now)
            if level > issue.resolve_warned:
                issue.resolve_warned = level
                _warn(issue, "resolve", level, now)
                changed = True
    if changed:
        db.session.flush()
    return changed


@due_step("issues_close_unrated")
def close_unrated(now: datetime) -> int:
    issues = db.session.scalars(db.select(Issue).where(
        Issue.status == "resolved", Issue.resolved_at <= now - RATE_WITHIN).order_by(Issue.id)).all()
    return sum(apply_due(issue, now) for issue in issues)


@due_step("issues_deadline_warnings")
def warn_deadlines(now: datetime) -> int:
    # A warning is due at 75 % of a window, so only deadlines within a quarter of the longest window can be
    # near; apply_due decides exactly.
    longest = db.session.scalar(db.select(func.max(IssueCategory.resolve_hours))) or 0
    horizon = now + timedelta(hours=longest * (1 - WARN_AT) + 1)
    issues = db.session.scalars(db.select(Issue).where(
        Issue.status.in_(OPEN_STATES),
        or_(and_(Issue.first_response_at.is_(None), Issue.respond_warned < 2, Issue.respond_by <= horizon),
            and_(Issue.resolve_warned < 2, Issue.resolve_by <= horizon)))
        .options(joinedload(Issue.category), joinedload(Issue.community)).order_by(Issue.id)).all()
    return sum(apply_due(issue, now) for issue in issues)


# --- reading ---------------------------------------------------------------------------------------------

def _list_options():
    return (joinedload(Issue.category), joinedload(Issue.building), joinedload(Issue.handling_org),
            joinedload(Issue.handover_org), joinedload(Issue.reporter), joinedload(Issue.community))


def issue_in(community, issue_id) -> Issue | None:
    """One issue of a community, with what its page shows loaded in the same query."""
    return db.session.scalar(db.select(Issue).where(Issue.community_id == community.id, Issue.id == issue_id)
                             .options(*_list_options()))


def _encode_cursor(values) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor, kinds):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        out = []
        for value, kind in zip(values, kinds):
            if kind is datetime:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError
            elif not isinstance(value, int) or isinstance(value, bool):
                raise ValueError
            out.append(value)
        return out
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise DomainError(_l("This list link is out of date; start from the first page."), "after") from None


def _after(columns, values, descending):
    """Rows strictly after `values` in the order of `columns` (all ascending, or all descending)."""
    clauses = []
    for i, (column, value) in enumerate(zip(columns, values)):
        step = column < value if descending else column > value
        clauses.append(and_(*[c == v for c, v in zip(columns[:i], values[:i])], step))
    return or_(*clauses)


def _page(query, columns, kinds, *, descending, after, limit, key):
    limit = _limit(limit)
    if after:
        query = query.where(_after(columns, _decode_cursor(after, kinds), descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    items = db.session.scalars(query.order_by(*order).limit(limit + 1)).unique().all()
    more = len(items) > limit
    items = items[:limit]
    return items, (_encode_cursor(key(items[-1])) if more else None)


def _limit(limit):
    return max(1, min(int(limit), 100))


def _due_key(issue):
    # The cursor of "due soonest": open issues (0) by their next deadline, then the others (1) oldest first.
    return [0, issue.next_deadline, issue.id] if issue.next_deadline is not None else [1, issue.submitted_at, issue.id]


def _due_page(query, *, after, limit, open_part=True, closed_part=True):
    """"Due soonest" as two keyset reads, each on its own index: the open issues by their stored next deadline
    (ix_issue_community_next_deadline), then, when those run out on this page, the others by submission
    (ix_issue_community_submitted). Same order and cursors as one sort on (open?, deadline, id)."""
    limit = _limit(limit)
    part, values = 0, None
    if after:
        part, *values = _decode_cursor(after, [int, datetime, int])
        if part not in (0, 1):
            raise DomainError(_l("This list link is out of date; start from the first page."), "after")
    items = []
    if part == 0 and open_part:
        columns = [Issue.next_deadline, Issue.id]
        found = query.where(Issue.next_deadline.is_not(None))
        if values:
            found = found.where(_after(columns, values, False))
        items = db.session.scalars(found.order_by(*columns).limit(limit + 1)).unique().all()
        values = None
    if len(items) <= limit and closed_part:
        columns = [Issue.submitted_at, Issue.id]
        found = query.where(Issue.next_deadline.is_(None))
        if values:
            found = found.where(_after(columns, values, False))
        items += db.session.scalars(found.order_by(*columns).limit(limit + 1 - len(items))).unique().all()
    more = len(items) > limit
    items = items[:limit]
    return items, (_encode_cursor(_due_key(items[-1])) if more else None)


def _overdue_clause(now):
    # next_deadline is respond-by while nobody responded (never later than resolve-by), else resolve-by, and
    # NULL when not open: so this is "open, and respond-by passed without a response or resolve-by passed".
    return Issue.next_deadline < now


# What a row of the community list shows (templates/issues/_issue_rows.html), and what deciding whether a
# hidden title is shown to the viewer reads; the community is the one the page is about.
_ROW_COLUMNS = (Issue.id, Issue.community_id, Issue.category_id, Issue.building_id, Issue.title, Issue.status,
                Issue.hidden_state, Issue.support_count, Issue.submitted_at, Issue.first_response_at,
                Issue.respond_by, Issue.resolve_by, Issue.next_deadline, Issue.reporter_id,
                Issue.handling_org_id, Issue.handover_org_id)


def _row_options():
    return (load_only(*_ROW_COLUMNS),
            joinedload(Issue.category).load_only(IssueCategory.code, IssueCategory.name),
            joinedload(Issue.building).load_only(Building.name))


def community_issues(community, viewer, *, status=None, category=None, building=None, overdue=False,
                     sort="newest", after=None, limit=20, now=None):
    """A page of the community's issues and the cursor of the next page (None on the last).
    `status` is a state or "open"; `category` and `building` are objects or ids. Rows carry the columns the
    list shows; their community is `community` itself (from the session, without a query)."""
    if not permissions.can_view_community(viewer, community):
        raise NotAllowed(_l("This community's pages are for its members."))
    now = _now(now)
    query = db.select(Issue).where(Issue.community_id == community.id).options(*_row_options())
    if status == "open":
        query = query.where(Issue.status.in_(OPEN_STATES))
    elif status:
        if status not in STATES:
            raise DomainError(_l("Unknown status."), "status")
        query = query.where(Issue.status == status)
    if category is not None:
        query = query.where(Issue.category_id == getattr(category, "id", category))
    if building is not None:
        query = query.where(Issue.building_id == getattr(building, "id", building))
    if overdue:
        query = query.where(_overdue_clause(now))
    if sort == "supported":
        return _page(query, [Issue.support_count, Issue.id], [int, int], descending=True, after=after, limit=limit,
                     key=lambda i: [i.support_count, i.id])
    if sort == "due":
        # Open issues first, by the deadline that matters now; then the others, oldest first.
        open_only = status == "open" or status in OPEN_STATES
        return _due_page(query, after=after, limit=limit, open_part=not status or open_only,
                         closed_part=not (open_only or overdue))
    if sort != "newest":
        raise DomainError(_l("Unknown order."), "sort")
    return _page(query, [Issue.submitted_at, Issue.id], [datetime, int], descending=True, after=after, limit=limit,
                 key=lambda i: [i.submitted_at, i.id])


def my_issues(user, *, after=None, limit=20):
    """Issues the person reported or supports, newest first."""
    if not getattr(user, "is_authenticated", False):
        return [], None
    supported = db.select(IssueSupport.issue_id).where(IssueSupport.user_id == user.id)
    query = db.select(Issue).where(or_(Issue.reporter_id == user.id, Issue.id.in_(supported))) \
        .options(*_list_options())
    return _page(query, [Issue.submitted_at, Issue.id], [datetime, int], descending=True, after=after, limit=limit,
                 key=lambda i: [i.submitted_at, i.id])


def due_for(user, *, after=None, limit=20):
    """The handler's queue: open issues of the person's organizations (handling, or handed to them), and
    every open issue of an official's sub-district, the most urgent deadline first."""
    if not getattr(user, "is_authenticated", False):
        return [], None
    orgs = roles.organizations(user)
    org_ids = [o.id for o in orgs]
    sub_district_ids = [o.sub_district_id for o in orgs if o.kind == "subdistrict_office"]
    conditions = []
    if org_ids:
        conditions += [Issue.handling_org_id.in_(org_ids), Issue.handover_org_id.in_(org_ids)]
    if sub_district_ids:
        conditions.append(Issue.community_id.in_(
            db.select(Community.id).where(Community.sub_district_id.in_(sub_district_ids))))
    if not conditions:
        return [], None
    query = db.select(Issue).where(Issue.next_deadline.is_not(None), or_(*conditions)).options(*_list_options())
    return _page(query, [Issue.next_deadline, Issue.id], [datetime, int], descending=False, after=after,
                 limit=limit, key=lambda i: [i.next_deadline, i.id])


def public_events(issue, viewer) -> list[IssueEvent]:
    """The timeline the viewer may see: everything for handlers, public entries for everyone else."""
    query = db.select(IssueEvent).where(IssueEvent.issue_id == issue.id) \
        .options(joinedload(IssueEvent.actor), joinedload(IssueEvent.organization), joinedload(IssueEvent.on_behalf_of))
    if not permissions.can_handle_issue(viewer, issue):
        query = query.where(IssueEvent.is_public.is_(True))
    return db.session.scalars(query.order_by(IssueEvent.at, IssueEvent.id)).all()


def event_label(event) -> str:
    return str(EVENT_LABELS.get(event.kind, event.kind))


def reporter_name_for(viewer, issue) -> str | None:
    """The reporter's name as this viewer may see it: None when hidden from them."""
    name = issue.reporter.display_name if issue.reporter is not None else issue.reporter_name
    if issue.show_name and issue.reporter is not None:
        return name
    return name if permissions.can_see_reporter(viewer, issue) else None


def reporter_phone_for(viewer, issue) -> str:
    """Handlers see the reporter's phone masked (the hotline's contact number in full: they must call back);
    the reporter sees their own; everyone else nothing."""
    from portal.formatting import mask_phone
    if not permissions.can_see_reporter(viewer, issue):
        return ""
    if issue.reporter is None:
        return issue.reporter_phone or ""
    phone = issue.reporter.phone or ""
    if not phone:
        return ""
    return phone if permissions.can_see_full_phone(viewer, issue.reporter) else mask_phone(phone)


def building_choices(community) -> list[Building]:
    return db.session.scalars(db.select(Building).where(Building.community_id == community.id)
                              .order_by(Building.code)).all()


def household_choices(building) -> list[Household]:
    return db.session.scalars(db.select(Household).where(Household.building_id == building.id)
                              .order_by(Household.entrance, Household.room)).all()
