"""Agreed actions (落实事项) and chases (督办): every change goes through here, with the acting person first.

Each function checks its rule (portal.auth.permissions) and its input, changes the rows, writes the timeline
step (ActionUpdate / IssueEvent), the audit entry and the notifications, and flushes: the caller commits.
Refusals raise NotAllowed / DomainError before anything is written."""
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, load_only, selectinload

from portal.actions.models import (RATING_DAYS, SOURCES, Action, ActionEvidence, ActionRating, ActionUpdate,
                                   ActionVolunteer, Chase)
from portal.audit.services import record
from portal.auth import permissions, roles
from portal.clock import in_zone, utcnow
from portal.committees.models import COMMITTEE_KINDS, SOCIAL_KINDS, Organization
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import notify, register_event

TITLE_MAX = 200
TEXT_MAX = 5000
REASON_MAX = 1000
UNBLOCK_BY_MAX = 200
FUNDING_MAX = 120
MAX_FILES = 6
SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")
RATING_WINDOW = timedelta(days=RATING_DAYS)
BUDGET_MAX = Decimal("9999999999.99")


def _link(notification):
    from flask import url_for
    payload = notification.payload or {}
    if not payload.get("slug"):
        return None
    if payload.get("action_id"):
        return url_for("actions.detail", slug=payload["slug"], action_id=payload["action_id"])
    if payload.get("issue_id"):
        return url_for("issues.detail", slug=payload["slug"], issue_id=payload["issue_id"])
    return None


register_event("actions.assigned", _l("Your organization is responsible for “%(title)s”, due %(due)s."), _link)
register_event("actions.chased", _l("An official chased “%(title)s”: %(note)s (new date %(new_due)s)."), _link)
register_event("actions.done", _l("“%(title)s” is done: residents can rate the result."), _link)
register_event("actions.blocked", _l("“%(title)s” is blocked: %(reason)s"), _link)
# Sent once each by portal.notifications.reminders to the owner (or, with no owner, the responsible
# organization's members).
register_event("actions.due_soon", _l("“%(title)s” is due on %(due)s."), _link)
register_event("actions.overdue", _l("“%(title)s” is overdue: it was due on %(due)s."), _link)


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return now or utcnow()


def local_date(community, now: datetime) -> date:
    """The community-local date of an instant: what its people mean by "today"."""
    return in_zone(now, community.time_zone).date()


def _payload(action, **extra):
    payload = {"title": action.title, "slug": action.community.slug, "action_id": action.id}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


def _others(people, actor):
    return [p for p in people if p is not None and p.id != getattr(actor, "id", None)]


def _members(org_ids):
    from portal.issues.services import members_of
    return members_of(org_ids)


def _text(value, field, *, maximum, required, empty_message=None):
    value = (value or "").strip()
    if required and not value:
        raise DomainError(empty_message or _l("Please fill this in."), field)
    if len(value) > maximum:
        raise DomainError(_l("At most %(max)d characters, please.", max=maximum), field)
    return value


def _add_update(action, kind, actor=None, *, body="", percent=None, at, **details):
    update = ActionUpdate(action=action, kind=kind, author_id=getattr(actor, "id", None), body=body or "",
                          percent=percent, at=at, details=details)
    db.session.add(update)
    return update


def _require(rule_ok, message=None):
    if not rule_ok:
        raise NotAllowed(message or _l("You may not do this."))


# --- evidence files (photos like issue photos; PDFs like proposal attachments) -------------------------

def _as_file(item, default_name):
    """(filename, bytes), bytes, or an uploaded file (FileStorage) → (filename, bytes)."""
    if isinstance(item, (bytes, bytearray)):
        return default_name, bytes(item)
    if isinstance(item, tuple):
        return item[0] or default_name, item[1]
    return getattr(item, "filename", None) or default_name, item.read()


def _prepare_files(photos, documents):
    from portal.issues import photos as photo_store
    from portal.proposals import attachments
    photos, documents = list(photos or ()), list(documents or ())
    if len(photos) + len(documents) > MAX_FILES:
        raise DomainError(_l("At most %(max)d files, please.", max=MAX_FILES), "photos")
    prepared = []
    for item in photos:
        name, data = _as_file(item, "photo.jpg")
        try:
            photo = photo_store.prepare(data)
        except DomainError as error:
            error.field = "photos"
            raise
        prepared.append(attachments.PreparedAttachment(kind="image", filename=attachments._with_extension(
            attachments.display_name(name), ".jpg"), photo=photo))
    for item in documents:
        name, data = _as_file(item, "document.pdf")
        try:
            prepared.append(attachments.prepare(data, name))
        except DomainError as error:
            error.field = "documents"
            raise
    return prepared


def evidence_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "actions"


def evidence_path(evidence: ActionEvidence, size: int | None = None) -> Path:
    """UPLOAD_DIR/actions/<key>-<size>.jpg for a photo (size 1600 or 400), <key>.pdf for a PDF."""
    from portal.proposals.attachments import IMAGE_SIZES
    if evidence.kind == "image":
        if size not in IMAGE_SIZES:
            raise ValueError(f"no image size {size}")
        return evidence_dir() / f"{evidence.key}-{size}.jpg"
    if size is not None:
        raise ValueError("a PDF has no sizes")
    return evidence_dir() / f"{evidence.key}.pdf"


def _save_files(prepared, action, update, uploaded_by):
    from portal.issues.photos import _write_atomically
    from portal.proposals.attachments import IMAGE_SIZES
    if not prepared:
        return []
    evidence_dir().mkdir(parents=True, exist_ok=True)
    saved = []
    for p in prepared:
        ev = ActionEvidence(action=action, update=update, key=secrets.token_urlsafe(24), kind=p.kind,
                            filename=p.filename, size=p.size, uploaded_by_id=getattr(uploaded_by, "id", None),
                            width=p.photo.width if p.photo else None, height=p.photo.height if p.photo else None)
        if p.photo:
            for size, data in ((IMAGE_SIZES[0], p.photo.large), (IMAGE_SIZES[1], p.photo.small)):
                _write_atomically(evidence_path(ev, size), data)
        else:
            _write_atomically(evidence_path(ev), p.data)
        db.session.add(ev)
        saved.append(ev)
    return saved


# --- creating --------------------------------------------------------------------------------------------

def _check_budget(budget):
    if budget in (None, ""):
        return None
    try:
        value = Decimal(str(budget).replace(",", "").strip())
    except InvalidOperation:
        raise DomainError(_l("Give the budget as an amount in yuan, like 12000 or 12000.50."), "budget") from None
    if not value.is_finite() or value < 0 or value > BUDGET_MAX or value != value.quantize(Decimal("0.01")):
        raise DomainError(_l("Give the budget as an amount in yuan, like 12000 or 12000.50."), "budget")
    return value


# Who can own an action in a community: its committees, its property company, its social organizations and
# volunteer teams (社会组织, 志愿服务队); and its sub-district's departments.
COMMUNITY_RESPONSIBLE_KINDS = (*COMMITTEE_KINDS, "property_company", *SOCIAL_KINDS)


def responsible_orgs(community) -> list[Organization]:
    """Who can be responsible: the community's committees, property company, social organizations and
    volunteer teams, and its sub-district's departments."""
    return db.session.scalars(db.select(Organization).where(db.or_(
        db.and_(Organization.community_id == community.id,
                Organization.kind.in_(COMMUNITY_RESPONSIBLE_KINDS)),
        db.and_(Organization.sub_district_id == community.sub_district_id, Organization.kind == "department"),
    )).order_by(Organization.kind, Organization.name)).all()


def _check_org(community, org):
    if org is None:
        raise DomainError(_l("Choose the responsible organization."), "responsible_org")
    ok = (org.community_id == community.id and org.kind in COMMUNITY_RESPONSIBLE_KINDS) or (
        org.kind == "department" and org.sub_district_id == community.sub_district_id)
    if not ok:
        raise DomainError(_l("The responsible organization must be a committee, the property company, a social "
                             "organization or a volunteer team of this community, or a department of its "
                             "sub-district."), "responsible_org")


def _check_source(community, source, *, proposal, decision, issue, hotspot, parent):
    if source not in SOURCES:
        raise DomainError(_l("Unknown source."), "source")
    if parent is not None:
        if parent.community_id != community.id:
            raise DomainError(_l("That action belongs to another community."), "parent")
        if parent.parent_id is not None:
            raise DomainError(_l("A step cannot be split into further steps."), "parent")
        if parent.status == "done":
            raise DomainError(_l("That action is already done."), "parent")
        return
    given = {"proposal": proposal, "decision": decision, "issue": issue, "hotspot": hotspot}
    if given[source] is None or any(v is not None for k, v in given.items() if k != source):
        raise DomainError(_l("Say what this action comes from."), "source")
    if source == "proposal":
        if proposal.community_id != community.id or proposal.status not in ("implementing", "evaluated") \
                or proposal.outcome != "passed":
            raise DomainError(_l("Only a passed proposal whose public notice has ended becomes an action."),
                              "source")
    elif source == "decision":
        if decision.meeting is None or decision.meeting.community_id != community.id:
            raise DomainError(_l("That decision was made by a meeting of another community."), "source")
    elif source == "issue":
        if issue.community_id != community.id or issue.status not in ("resolved", "closed"):
            raise DomainError(_l("Only a resolved or closed issue can need follow-up work."), "source")
    else:
        building, category, month = (hotspot.get(k) for k in ("building", "category", "month"))
        if building is None or category is None or building.community_id != community.id or \
                category.community_id != community.id:
            raise DomainError(_l("That hotspot is not in this community."), "source")
        try:
            datetime.strptime(month or "", "%Y-%m")
        except ValueError:
            raise DomainError(_l("Give the month as YYYY-MM."), "source") from None


def create_action(actor, community, *, source, title, description="", responsible_org, owner=None, due_date,
                  budget=None, funding_source="", parent=None, proposal=None, decision=None, issue=None,
                  hotspot=None, now=None) -> Action:
    now = _now(now)
    if parent is not None:
        source, proposal, decision, issue = parent.source, parent.proposal, parent.decision, parent.issue
        hotspot = None
        _require(permissions.can_update_action(actor, parent) or permissions.can_create_action(actor, community))
    else:
        _require(permissions.can_create_action(actor, community, hotspot if source == "hotspot" else None))
    _check_source(community, source, proposal=proposal, decision=decision, issue=issue, hotspot=hotspot,
                  parent=parent)
    title = _text(title, "title", maximum=TITLE_MAX, required=True, empty_message=_l("Say what will be done."))
    description = _text(description, "description", maximum=TEXT_MAX, required=False)
    _check_org(community, responsible_org)
    if owner is not None and not roles.is_member_of(owner, responsible_org):
        raise DomainError(_l("The owner must be a current member of the responsible organization."), "owner")
    if not isinstance(due_date, date) or isinstance(due_date, datetime):
        raise DomainError(_l("Give the due date."), "due_date")
    if due_date < local_date(community, now):
        raise DomainError(_l("The due date cannot be before today."), "due_date")
    budget = _check_budget(budget)
    funding_source = _text(funding_source, "funding_source", maximum=FUNDING_MAX, required=False)

    action = Action(community=community, parent=parent, title=title, description=description, source=source,
                    proposal=proposal, decision=decision, issue=issue, responsible_org=responsible_org,
                    owner=owner, due_date=due_date, budget=budget, funding_source=funding_source or None,
                    status="planned", progress=0, created_by_id=actor.id, created_at=now)
    if hotspot is not None:
        action.hotspot_building, action.hotspot_category = hotspot["building"], hotspot["category"]
        action.hotspot_month = hotspot["month"]
    db.session.add(action)
    _add_update(action, "created", actor, body=description, at=now)
    db.session.flush()
    if parent is not None:
        _roll_up(parent, actor, now)
    record(actor, "action.created", action, source=source, org=responsible_org.id)
    notify(_others(_members([responsible_org.id]), actor), "actions.assigned", action,
           **_payload(action, due=due_date.isoformat()))
    return action


# --- progress --------------------------------------------------------------------------------------------

def progress_of(action) -> int:
    """The children's average (rounded half up) unless set by hand or there are no children; one query."""
    if action.progress_set_by_hand:
        return action.progress
    total, count = db.session.execute(db.select(func.coalesce(func.sum(Action.progress), 0), func.count(Action.id))
                                      .where(Action.parent_id == action.id)).one()
    if not count:
        return action.progress
    return (2 * int(total) + int(count)) // (2 * int(count))


def _roll_up(action, actor=None, now=None):
    """Keep a parent's stored progress equal to its children's average (unless set by hand), and its status
    following them: a planned action whose step has started or is done is in progress (the "started" step on
    its timeline names who started the step). A blocked or done action keeps its status; completing the
    action itself still takes its own note and evidence, once every step is done."""
    db.session.flush()
    while action is not None:
        if not action.progress_set_by_hand and action.status != "done":
            action.progress = progress_of(action)
        if action.status == "planned" and _a_step_started(action):
            _start(action, actor, _now(now))
        db.session.flush()
        action = action.parent


def _a_step_started(action) -> bool:
    return db.session.scalar(db.select(Action.id).where(
        Action.parent_id == action.id,
        db.or_(Action.status.in_(("in_progress", "done")), Action.started_at.is_not(None))).limit(1)) is not None


def _start(action, actor, now):
    if action.status == "planned":
        action.status = "in_progress"
        action.started_at = action.started_at or now
        _add_update(action, "started", actor, at=now)


def _check_percent(percent):
    if percent in (None, ""):
        return None
    try:
        value = int(percent)
    except (TypeError, ValueError):
        raise DomainError(_l("Give the progress as a whole number from 0 to 100."), "percent") from None
    if not 0 <= value <= 100:
        raise DomainError(_l("Give the progress as a whole number from 0 to 100."), "percent")
    return value


def post_progress(actor, action, *, body, percent=None, photos=(), documents=(), now=None) -> ActionUpdate:
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status not in ("planned", "in_progress"):
        raise DomainError(_l("Progress can only be reported on a planned or running action."), "status")
    body = _text(body, "body", maximum=TEXT_MAX, required=True, empty_message=_l("Say what was done."))
    percent = _check_percent(percent)
    prepared = _prepare_files(photos, documents)
    _start(action, actor, now)
    update = _add_update(action, "progress", actor, body=body, percent=percent, at=now)
    if percent is not None:
        action.progress = percent
        if action.children:
            action.progress_set_by_hand = True
    db.session.flush()
    _save_files(prepared, action, update, actor)
    _roll_up(action.parent, actor, now)
    record(actor, "action.progress", action, percent=percent, files=len(prepared))
    return update


def set_progress_by_hand(actor, action, percent, *, now=None) -> Action:
    """A percentage set by hand overrides the children's average; None returns to the average."""
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status == "done":
        raise DomainError(_l("This action is already done."), "status")
    percent = _check_percent(percent)
    if percent is None:
        action.progress_set_by_hand = False
        action.progress = progress_of(action)
    else:
        action.progress_set_by_hand, action.progress = True, percent
    _add_update(action, "progress", actor, percent=action.progress, at=now, by_hand=percent is not None)
    _roll_up(action.parent, actor, now)
    record(actor, "action.progress_by_hand", action, percent=percent)
    return action


def block(actor, action, reason, unblock_by, *, now=None) -> Action:
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status not in ("planned", "in_progress"):
        raise DomainError(_l("Only a planned or running action can be blocked."), "status")
    reason = _text(reason, "reason", maximum=REASON_MAX, required=True,
                   empty_message=_l("Say why the action is blocked."))
    unblock_by = _text(unblock_by, "unblock_by", maximum=UNBLOCK_BY_MAX, required=True,
                       empty_message=_l("Say who must unblock it."))
    action.status, action.blocked_reason, action.unblock_by = "blocked", reason, unblock_by
    _add_update(action, "blocked", actor, body=reason, at=now, unblock_by=unblock_by)
    db.session.flush()
    record(actor, "action.blocked", action)
    recipients = _members([action.responsible_org_id]) + ([action.created_by] if action.created_by else [])
    notify(_others(recipients, actor), "actions.blocked", action, **_payload(action, reason=reason[:200]))
    return action


def unblock(actor, action, note="", *, now=None) -> Action:
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status != "blocked":
        raise DomainError(_l("This action is not blocked."), "status")
    note = _text(note, "note", maximum=REASON_MAX, required=False)
    action.status = "in_progress" if action.started_at else "planned"
    action.blocked_reason = action.unblock_by = None
    _add_update(action, "unblocked", actor, body=note, at=now)
    if action.status == "planned" and _a_step_started(action):  # a step went on while it was blocked
        _start(action, actor, now)
    db.session.flush()
    record(actor, "action.unblocked", action)
    return action


def complete(actor, action, *, note, photos=(), documents=(), now=None) -> Action:
    """Done: a completion note and at least one photo or document (new, or already on the action)."""
    now = _now(now)
    _require(permissions.can_update_action(actor, action))
    if action.status == "blocked":
        raise DomainError(_l("Unblock the action before completing it."), "status")
    if action.status == "done":
        raise DomainError(_l("This action is already done."), "status")
    note = _text(note, "note", maximum=TEXT_MAX, required=True, empty_message=_l("Say what was done."))
    prepared = _prepare_files(photos, documents)
    existing = db.session.scalar(db.select(func.count(ActionEvidence.id)).where(
        ActionEvidence.action_id == action.id))
    if not prepared and not existing:
        raise DomainError(_l("Add at least one photo or document as evidence."), "photos")
    open_steps = db.session.scalar(db.select(func.count(Action.id)).where(
        Action.parent_id == action.id, Action.status != "done"))
    if open_steps:
        raise DomainError(_l("Finish its steps first (%(n)d not done).", n=open_steps), "status")
    _start(action, actor, now)
    action.status, action.done_at, action.completion_note, action.progress = "done", now, note, 100
    update = _add_update(action, "done", actor, body=note, percent=100, at=now)
    db.session.flush()
    _save_files(prepared, action, update, actor)
    _roll_up(action.parent, actor, now)
    record(actor, "action.done", action, files=len(prepared))
    recipients = _members([action.responsible_org_id]) + ([action.created_by] if action.created_by else [])
    notify(_others(recipients, actor), "actions.done", action, **_payload(action))
    return action


def is_overdue(action, today: date) -> bool:
    """Past its due date in the community's zone and not done (`today` is the community-local date)."""
    return action.status != "done" and action.due_date < today


def overdue_now(action, now=None) -> bool:
    return is_overdue(action, local_date(action.community, _now(now)))


# --- rating and evaluation -------------------------------------------------------------------------------

def rate(user, action, satisfaction, *, now=None) -> ActionRating:
    """One rating each, changeable while the window is open (a second rating replaces the first)."""
    now = _now(now)
    apply_due(action, now)
    if action.status != "done":
        raise DomainError(_l("An action can be rated once it is done."), "satisfaction")
    if action.evaluated_at is not None or now >= action.done_at + RATING_WINDOW:
        raise DomainError(_l("The rating period of this action has ended."), "satisfaction")
    _require(permissions.can_rate_action(user, action, now),
             _l("Only verified residents of this community can rate its actions."))
    if satisfaction not in SATISFACTION:
        raise DomainError(_l("Choose how satisfied you are."), "satisfaction")
    rating = db.session.scalar(db.select(ActionRating).where(ActionRating.action_id == action.id,
                                                             ActionRating.user_id == user.id))
    if rating is None:
        try:
            with db.session.begin_nested():
                rating = ActionRating(action_id=action.id, user_id=user.id, satisfaction=satisfaction,
                                      created_at=now, updated_at=now)
                db.session.add(rating)
        except IntegrityError:  # the same person's other tab won the race: change that one
            rating = db.session.scalar(db.select(ActionRating).where(ActionRating.action_id == action.id,
                                                                     ActionRating.user_id == user.id))
    if rating.satisfaction != satisfaction or rating.created_at != now:
        rating.satisfaction, rating.updated_at = satisfaction, now
    db.session.flush()
    record(user, "action.rated", action, satisfaction=satisfaction)
    return rating


def my_rating(user, action) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(db.select(ActionRating.satisfaction).where(
        ActionRating.action_id == action.id, ActionRating.user_id == user.id))


def rating_summary(action) -> dict:
    """{"satisfied": n, "basically_satisfied": n, "dissatisfied": n, "total": n} in one query."""
    rows = db.session.execute(db.select(ActionRating.satisfaction, func.count(ActionRating.id)).where(
        ActionRating.action_id == action.id).group_by(ActionRating.satisfaction)).all()
    summary = dict.fromkeys(SATISFACTION, 0)
    summary.update({s: int(n) for s, n in rows})
    summary["total"] = sum(summary[s] for s in SATISFACTION)
    return summary


def apply_due(action, now=None) -> bool:
    """After done_at + 14 days the rating window closes (evaluated_at); when every action of its source
    proposal is evaluated, the proposal becomes evaluated. Pages call this lazily; run-due for all."""
    now = _now(now)
    if action.status != "done" or action.evaluated_at is not None or action.done_at + RATING_WINDOW > now:
        return False
    action.evaluated_at = action.done_at + RATING_WINDOW
    db.session.flush()
    record(None, "action.evaluated", action)
    proposal = action.proposal
    if proposal is not None and proposal.status == "implementing":
        left = db.session.scalar(db.select(func.count(Action.id)).where(
            Action.proposal_id == proposal.id, Action.evaluated_at.is_(None)))
        if not left:
            from portal.proposals.services import mark_evaluated
            mark_evaluated(proposal, now)
    return True


@due_step("evaluate_actions")
def evaluate_due(now: datetime) -> int:
    actions = db.session.scalars(db.select(Action).where(
        Action.status == "done", Action.evaluated_at.is_(None), Action.done_at <= now - RATING_WINDOW)
        .options(joinedload(Action.proposal)).order_by(Action.id)).all()
    return sum(apply_due(a, now) for a in actions)


# --- volunteers ------------------------------------------------------------------------------------------

def _sign_up_of(user, action) -> ActionVolunteer | None:
    return db.session.scalar(db.select(ActionVolunteer).where(ActionVolunteer.action_id == action.id,
                                                              ActionVolunteer.user_id == user.id))


def _count_volunteers(action, step):
    # In SQL, so two people signing up at once both count; the attribute reloads on its next read.
    action.volunteer_count = Action.volunteer_count + step


def sign_up_volunteer(user, action, *, show_name=True, now=None) -> ActionVolunteer:
    """A verified resident of the community offers to help, while the action is not done. Signing up again
    after withdrawing reopens the same row; signing up twice is refused."""
    now = _now(now)
    _require(permissions.can_volunteer(user, action),
             _l("Only verified residents of this community can volunteer, while the action is not done."))
    row = _sign_up_of(user, action)
    if row is not None and row.withdrawn_at is None:
        raise DomainError(_l("You have already signed up to help with this action."), "volunteer")
    if row is None:
        try:
            with db.session.begin_nested():
                row = ActionVolunteer(action_id=action.id, user_id=user.id, show_name=bool(show_name),
                                      signed_up_at=now)
                db.session.add(row)
        except IntegrityError:  # the same person's other tab signed up first
            raise DomainError(_l("You have already signed up to help with this action."), "volunteer") from None
    else:
        row.withdrawn_at, row.show_name, row.signed_up_at = None, bool(show_name), now
    _count_volunteers(action, 1)
    db.session.flush()
    record(user, "action.volunteered", action, show_name=bool(show_name))
    return row


def withdraw_volunteer(user, action, *, now=None) -> ActionVolunteer:
    """The volunteer takes back their offer, while the action is not done."""
    now = _now(now)
    _require(permissions.can_withdraw_volunteer(user, action))
    row = _sign_up_of(user, action)
    if row is None or row.withdrawn_at is not None:
        raise DomainError(_l("You have not signed up to help with this action."), "volunteer")
    row.withdrawn_at = now
    _count_volunteers(action, -1)
    db.session.flush()
    record(user, "action.volunteer_withdrawn", action)
    return row


def is_volunteer(user, action) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return db.session.scalar(db.select(ActionVolunteer.id).where(
        ActionVolunteer.action_id == action.id, ActionVolunteer.user_id == user.id,
        ActionVolunteer.withdrawn_at.is_(None))) is not None


def named_volunteers(action) -> list[str]:
    """The display names of the current volunteers who chose to be named, in sign-up order (one query); the
    others count in `action.volunteer_count` only."""
    from portal.auth.models import User
    return list(db.session.scalars(db.select(User.display_name).join(
        ActionVolunteer, ActionVolunteer.user_id == User.id).where(
        ActionVolunteer.action_id == action.id, ActionVolunteer.withdrawn_at.is_(None),
        ActionVolunteer.show_name.is_(True)).order_by(ActionVolunteer.signed_up_at, ActionVolunteer.id)))


def count_volunteers(action) -> int:
    """The full count the stored volunteer_count must equal."""
    return db.session.scalar(db.select(func.count(ActionVolunteer.id)).where(
        ActionVolunteer.action_id == action.id, ActionVolunteer.withdrawn_at.is_(None)))


# --- chasing (督办) --------------------------------------------------------------------------------------

def _issue_overdue(issue, now) -> bool:
    return issue.is_open and issue.resolve_by < now


def chase(official, item_type, item, *, note, new_due, now=None) -> Chase:
    """A formal chase of an overdue issue or action by an official of its sub-district: a Chase row, a step
    on the item's timeline, and a notice to the responsible organization's members. `new_due` (a UTC
    datetime, or a community-local date meaning the end of that day) is the date asked for; the item's own
    deadline is not moved, so it stays overdue in the figures until done."""
    now = _now(now)
    if item_type not in ("issue", "action") or item is None:
        raise DomainError(_l("Only an issue or an action can be chased."), "item")
    _require(permissions.can_chase(official, item),
             _l("Only officials of this sub-district can chase its issues and actions."))
    if item_type == "action":
        overdue = overdue_now(item, now)
        org_id = item.responsible_org_id
    else:
        overdue = _issue_overdue(item, now)
        org_id = item.handover_org_id or item.handling_org_id
    if not overdue:
        raise DomainError(_l("Only an overdue item can be chased."), "item")
    if org_id is None:
        raise DomainError(_l("Nobody is responsible for this issue yet: assign it first."), "item")
    note = _text(note, "note", maximum=REASON_MAX, required=True, empty_message=_l("Say what you ask for."))
    zone = ZoneInfo(item.community.time_zone)
    if isinstance(new_due, date) and not isinstance(new_due, datetime):
        new_due = datetime.combine(new_due, datetime.max.time().replace(microsecond=0), zone)
    if not isinstance(new_due, datetime) or new_due.tzinfo is None:
        raise DomainError(_l("Give the new date."), "new_due")
    if new_due <= now:
        raise DomainError(_l("The new date must be in the future."), "new_due")
    row = Chase(item_type=item_type, item_id=item.id, community_id=item.community_id, organization_id=org_id,
                official_id=official.id, note=note, new_due=new_due, created_at=now)
    db.session.add(row)
    when = new_due.astimezone(zone).date().isoformat()
    if item_type == "action":
        _add_update(item, "chase", official, body=note, at=now, new_due=when)
        payload = _payload(item, note=note[:200], new_due=when)
    else:
        from portal.issues.services import _add_event
        from portal.issues.services import _payload as issue_payload
        _add_event(item, "chased", official, body=note, at=now, new_due=when)
        from portal.issues.services import _urgent
        payload = issue_payload(item, note=note[:200], new_due=when, **_urgent(item))
    db.session.flush()
    record(official, "chase.created", item, organization=org_id, new_due=when)
    notify(_others(_members([org_id]), official), "actions.chased", item, **payload)
    return row


def chases_of(item_type, item_id) -> list[Chase]:
    return db.session.scalars(db.select(Chase).where(Chase.item_type == item_type, Chase.item_id == item_id)
                              .options(joinedload(Chase.official), joinedload(Chase.organization))
                              .order_by(Chase.id)).all()


# --- reads -----------------------------------------------------------------------------------------------

def action_in(community, action_id) -> Action | None:
    """One action of this community (its due steps applied; the page commits), or None."""
    try:
        action_id = int(action_id)
    except (TypeError, ValueError):
        return None
    action = db.session.scalar(db.select(Action).where(Action.id == action_id, Action.community_id == community.id)
                               .options(joinedload(Action.responsible_org), joinedload(Action.owner),
                                        selectinload(Action.children), selectinload(Action.evidence)))
    if action is not None:
        apply_due(action)
    return action


def timeline(action) -> list[ActionUpdate]:
    return db.session.scalars(db.select(ActionUpdate).where(ActionUpdate.action_id == action.id)
                              .options(joinedload(ActionUpdate.author), selectinload(ActionUpdate.evidence))
                              .order_by(ActionUpdate.at, ActionUpdate.id)).all()


TRACKER_PAGE = 25


def _tracker_query(community):
    """The tracker's actions: the top-level actions of the community (steps show on their action's page)."""
    return db.select(Action).where(Action.community_id == community.id, Action.parent_id.is_(None))


def community_actions(community, viewer=None, status=None, overdue=False, *, after=None, limit=TRACKER_PAGE,
                      now=None) -> tuple[list[Action], str | None]:
    """A page of the public tracker, newest first, and the cursor of the next page (None on the last): one
    bounded query (keyset on created_at, id) loading only what a row shows, whatever the number of actions.
    `overdue` keeps those past due (community-local date) and not done. A stale or edited cursor raises
    DomainError."""
    from portal.issues.services import _page as keyset_page
    query = _tracker_query(community)
    if status:
        query = query.where(Action.status == status)
    if overdue:
        query = query.where(Action.status != "done", Action.due_date < local_date(community, _now(now)))
    query = query.options(
        load_only(Action.id, Action.community_id, Action.parent_id, Action.title, Action.status, Action.progress,
                  Action.due_date, Action.created_at, Action.responsible_org_id, Action.volunteer_count),
        joinedload(Action.responsible_org).load_only(Organization.id, Organization.name))
    return keyset_page(query, [Action.created_at, Action.id], [datetime, int], descending=True, after=after,
                       limit=limit, key=lambda a: [a.created_at, a.id])


@dataclass(frozen=True)
class TrackerFigures:
    """The tracker's overall figures (top-level actions, as the tracker lists them)."""
    total: int
    done: int
    in_progress: int
    planned: int
    blocked: int
    overdue: int
    volunteers: int = 0  # current volunteer sign-ups on these actions (their stored counts)

    @property
    def share_done(self) -> int | None:
        """Whole percent of the actions that are done, rounded down (so 100 only when all are); None for none."""
        return self.done * 100 // self.total if self.total else None


def tracker_figures(community, *, now=None) -> TrackerFigures:
    """Counts by status and overdue (past due in the community-local date, not done), in ONE statement."""
    today = local_date(community, _now(now))

    def counted(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
    row = db.session.execute(db.select(
        func.count(Action.id), counted(Action.status == "done"), counted(Action.status == "in_progress"),
        counted(Action.status == "planned"), counted(Action.status == "blocked"),
        counted(and_(Action.status != "done", Action.due_date < today)),
        func.coalesce(func.sum(Action.volunteer_count), 0))
        .where(Action.community_id == community.id, Action.parent_id.is_(None))).one()
    return TrackerFigures(*(int(n) for n in row))


def actions_for_source(kind, obj) -> list[Action]:
    """The actions that include this proposal, decision or issue ("included in …")."""
    column = {"proposal": Action.proposal_id, "decision": Action.decision_id, "issue": Action.issue_id}.get(kind)
    if column is None or obj is None:
        return []
    return db.session.scalars(db.select(Action).where(column == obj.id, Action.parent_id.is_(None))
                              .order_by(Action.id)).all()
