"""Handling an issue: accepting it, handing it over and taking it over (the first receiver stays
accountable until another accepts), starting work, public updates and internal notes, resolving,
rejecting with a reason and merging a duplicate. The first response the reporter can see is stamped
here."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_

from portal.audit.services import record
from portal.auth import permissions
from portal.committees.models import Organization
from portal.errors import DomainError, NotAllowed
from portal.events import work_order_changed
from portal.extensions import db
from portal.issues.models import CONTACT_METHODS, DESCRIPTION_MAX, OPEN_STATES, Issue, IssueEvent, IssueSupport
from portal.issues.services._common import (
    REASON_MAX,
    _add_event,
    _check_photos,
    _clean_text,
    _first_response,
    _handlers,
    _index_terms,
    _now,
    _others,
    _payload,
    _reporter_and_supporters,
    _save_photos,
    _urgent,
    members_of,
    supporters_of,
)
from portal.outbox import notify

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User

# --- handling --------------------------------------------------------------------------------------------

def _require_handler(user, issue):
    if not permissions.can_handle_issue(user, issue):
        raise NotAllowed(_l("Only the organization handling this issue, the sub-district's officials and "
                            "administrators can do this."))


def _require_status(issue, allowed, message=None):
    if issue.status not in allowed:
        raise DomainError(message or _l("This cannot be done while the issue is “%(status)s”.",
                                        status=issue.status_label), "status")


def accept_issue(handler: User, issue: Issue, *, note: str = "", now: datetime | None = None) -> Issue:
    """The handling organization takes the issue on: the first response, unless one was already given."""
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, ("submitted", "reopened"))
    if issue.work_order_state is not None:
        raise DomainError(_l("This work order was sent back: the sub-district office routes it."), "note")
    note = _clean_text(note, "note", required=False, maximum=REASON_MAX)
    # Accepting a hotline work order nobody signed for yet signs for it (签收): the same response.
    signing = issue.source == "hotline" and issue.signed_at is None and issue.status == "submitted"
    if signing:
        issue.signed_at = now
    issue.status = "accepted"
    _first_response(issue, now)
    _add_event(issue, "accepted", handler, body=note or None, at=now)
    db.session.flush()
    record(handler, "issue.accepted", issue)
    org = issue.handling_org.name if issue.handling_org else ""
    notify(_others(_reporter_and_supporters(issue), handler), "issue_accepted", issue, **_payload(issue, org=org))
    if signing:
        work_order_changed.send(issue, event="signed_for", now=now, public_text=note)
    return issue


def handover_targets(issue: Issue) -> list[Organization]:
    """Organizations an issue can be handed to: the community's and its sub-district's, but not the one
    handling it now."""
    community = issue.community
    return db.session.scalars(db.select(Organization).where(
        or_(Organization.community_id == community.id, Organization.sub_district_id == community.sub_district_id),
        Organization.id != (issue.handling_org_id or 0)).order_by(Organization.kind, Organization.name)).all()


def hand_over(handler: User, issue: Issue, organization: Organization | None, reason: str, *,
              now: datetime | None = None) -> Issue:
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


def accept_handover(handler: User, issue: Issue, *, now: datetime | None = None) -> Issue:
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


def start_work(handler: User, issue: Issue, *, now: datetime | None = None) -> Issue:
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


def post_update(handler: User, issue: Issue, body: str, *, public: bool = True, photos: Iterable[bytes] = (),
                now: datetime | None = None) -> IssueEvent:
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


def resolve_issue(handler: User, issue: Issue, note: str, *, photos: Iterable[bytes] = (),
                  caller_contacted: bool | None = None, contact_method: str = "",
                  now: datetime | None = None) -> Issue:
    """Resolve with what was done. A hotline issue needs the closure report (办结反馈) too: whether the
    caller was contacted and how (CONTACT_METHODS)."""
    now = _now(now)
    _require_handler(handler, issue)
    _require_status(issue, ("accepted", "in_progress", "reopened"),
                    _l("Accept the issue before resolving it."))
    note = _clean_text(note, "note", required=True, maximum=DESCRIPTION_MAX,
                       empty_message=_l("Say what was done."))
    report = {}
    if issue.source == "hotline":
        if caller_contacted not in (True, False):
            raise DomainError(_l("Say whether the caller was contacted."), "caller_contacted")
        if caller_contacted and contact_method not in CONTACT_METHODS:
            raise DomainError(_l("Say how the caller was contacted."), "contact_method")
        report = {"caller_contacted": caller_contacted, "contact_method": contact_method if caller_contacted else None}
    prepared = _check_photos(photos)
    issue.status = "resolved"
    _index_terms(issue)
    issue.resolved_at = now
    issue.handover_org = None
    _first_response(issue, now)
    event = _add_event(issue, "resolved", handler, body=note, at=now, **report)
    db.session.flush()
    _save_photos(prepared, issue, handler, event)
    record(handler, "issue.resolved", issue, photos=len(prepared),
           **({"caller_contacted": report["caller_contacted"], "contact_method": report["contact_method"]}
              if report else {}))
    notify(_others(_reporter_and_supporters(issue), handler), "issue_resolved", issue, **_payload(issue))
    if issue.source == "hotline":
        work_order_changed.send(issue, event="resolved", now=now, public_text=note)
    return issue


def reject_issue(handler: User, issue: Issue, reason: str, *, now: datetime | None = None) -> Issue:
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


def merge_duplicate(handler: User, issue: Issue, into: Issue | None, *, now: datetime | None = None) -> Issue:
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
