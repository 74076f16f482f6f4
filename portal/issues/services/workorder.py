"""The 12345 work order (issue #20): a hotline issue is signed for (签收) by its receiving organization — the
response — or sent back (退单) within the response time with a reason; the sub-district office re-routes
what was sent back or returns it to the hotline; the handler asks for more time (延期) before resolve-by and
the office decides; the handling organization appeals (申诉/核减) a dissatisfied or unsolved rating and the
office decides. The return visit (回访) is in `returnvisits`, the closure report in `handling.resolve_issue`.

Each change the hotline must hear of sends `portal.events.work_order_changed` inside the transaction."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.events import work_order_changed
from portal.extensions import db
from portal.issues.models import (
    DESCRIPTION_MAX,
    SEND_BACK_REASON_LABELS,
    SEND_BACK_REASONS,
    IssueAppeal,
    IssueExtension,
)
from portal.issues.services._common import (
    REASON_MAX,
    _add_event,
    _clean_text,
    _detail_link,
    _first_response,
    _handlers,
    _index_terms,
    _now,
    _officials_of,
    _others,
    _payload,
    _urgent,
    members_of,
)
from portal.outbox import notify, register_event

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.committees.models import Organization
    from portal.issues.models import Issue

EXTENSION_MAX_DAYS = 60  # an extension moves resolve-by at most this far beyond the current one

register_event("issue_sent_back", _l("“%(title)s” was sent back by %(org)s: re-route it or return it to the hotline."),
               _detail_link, group="handling")
register_event("issue_rerouted", _l("The work order “%(title)s” was routed to %(org)s: sign for it."), _detail_link,
               group="handling")
register_event("issue_extension_requested", _l("%(org)s asks for more time on “%(title)s”."), _detail_link,
               group="handling")
register_event("issue_extension_decided", _l("Your request for more time on “%(title)s” was decided."), _detail_link,
               group="handling")
register_event("issue_appealed", _l("%(org)s appeals the rating of “%(title)s”."), _detail_link, group="handling")
register_event("issue_appeal_decided", _l("The appeal on the rating of “%(title)s” was decided."), _detail_link,
               group="handling")


def tell_hotline(issue: Issue, event: str, now: datetime, public_text: str = "") -> None:
    """Send work_order_changed for a hotline issue (nothing for others): inside the caller's transaction."""
    if issue.source == "hotline":
        work_order_changed.send(issue, event=event, now=now, public_text=str(public_text or ""))


def extension_counts_on_time() -> bool:
    """The setting: whether an issue resolved within its extended time counts as resolved on time."""
    return bool(current_app.config.get("WORK_ORDER_EXTENSION_ON_TIME", False))


def resolved_on_time(issue: Issue) -> bool | None:
    """Whether the issue was resolved on time (None while not resolved): against the extended resolve-by
    only where the setting says so, else against the resolve-by before any extension."""
    if issue.resolved_at is None:
        return None
    deadline = issue.resolve_by
    if issue.original_resolve_by is not None and not extension_counts_on_time():
        deadline = issue.original_resolve_by
    return issue.resolved_at <= deadline


def awaiting_signature(issue: Issue) -> bool:
    return issue.source == "hotline" and issue.status == "submitted" and issue.signed_at is None \
        and issue.work_order_state is None


# --- sign for, send back --------------------------------------------------------------------------------

def sign_for(handler: User, issue: Issue, *, note: str = "", now: datetime | None = None) -> Issue:
    """The receiving organization signs for the work order: its response (late when after respond-by; the
    response rate counts it as late, the deadline warnings have already gone out). `note` is for the caller."""
    now = _now(now)
    if not permissions.can_sign_for_issue(handler, issue):
        raise NotAllowed(_l("Only the receiving organization can sign for a hotline work order waiting for it."))
    note = _clean_text(note, "note", required=False, maximum=REASON_MAX)
    issue.signed_at = now
    issue.status = "accepted"
    _first_response(issue, now)
    late = now > issue.respond_by
    _add_event(issue, "signed_for", handler, body=note or None, at=now, late=late)
    db.session.flush()
    record(handler, "issue.signed_for", issue, late=late)
    org = issue.handling_org.name if issue.handling_org else ""
    tell_hotline(issue, "signed_for", now, note or _l("Signed for by %(org)s.", org=org))
    return issue


def send_back(handler: User, issue: Issue, reason: str, text: str, *, now: datetime | None = None) -> Issue:
    """The receiver sends the work order back to the sub-district office within the response time, with a
    reason from SEND_BACK_REASONS and words. After respond-by it is refused: sign for it and hand it over."""
    now = _now(now)
    if not permissions.can_send_back_issue(handler, issue):
        raise NotAllowed(_l("Only the receiving organization can send back a hotline work order waiting for it."))
    if now > issue.respond_by:
        raise DomainError(_l("The time to send this work order back ended at its response deadline. Sign for "
                             "it; you can still hand it over."), "reason")
    if reason not in SEND_BACK_REASONS:
        raise DomainError(_l("Choose why the work order is sent back."), "reason")
    text = _clean_text(text, "text", required=True, maximum=REASON_MAX,
                       empty_message=_l("Say why the work order is sent back."))
    org = issue.handling_org
    issue.work_order_state = "sent_back"
    issue.send_back_reason = reason
    _add_event(issue, "sent_back", handler, body=text, at=now, public=False, reason=reason)
    db.session.flush()
    record(handler, "issue.sent_back", issue, reason=reason, note=text)
    notify(_others(_officials_of(issue.community), handler), "issue_sent_back", issue,
           **_payload(issue, org=getattr(org, "name", "")), **_urgent(issue))
    tell_hotline(issue, "sent_back", now, f"{SEND_BACK_REASON_LABELS[reason]}: {text}")
    return issue


def reroute(official: User, issue: Issue, organization: Organization | None, *,
            now: datetime | None = None) -> Issue:
    """The sub-district office routes a sent-back work order to another organization, which signs for it.
    The response deadline stays: the caller has waited since dispatch."""
    now = _now(now)
    if not permissions.can_route_sent_back_issue(official, issue):
        raise NotAllowed(_l("Only the sub-district's officials can re-route a work order that was sent back."))
    community = issue.community
    if organization is None or organization.id == issue.handling_org_id:
        raise DomainError(_l("Choose another organization."), "organization")
    if organization.community_id != community.id and organization.sub_district_id != community.sub_district_id:
        raise DomainError(_l("Choose an organization of this community or its sub-district."), "organization")
    issue.handling_org = organization
    issue.work_order_state = None
    issue.send_back_reason = None
    _add_event(issue, "rerouted", official, at=now, to_org_id=organization.id, to_org=organization.name)
    db.session.flush()
    record(official, "issue.rerouted", issue, to_org_id=organization.id)
    notify(_others(members_of([organization.id]), official), "issue_rerouted", issue,
           **_payload(issue, org=organization.name), **_urgent(issue))
    tell_hotline(issue, "rerouted", now, _l("Routed to %(org)s.", org=organization.name))
    return issue


def return_to_hotline(official: User, issue: Issue, reason: str, *, now: datetime | None = None) -> Issue:
    """The sub-district office returns a sent-back work order to the hotline: it leaves the portal's work
    ("returned to the hotline"), with the reason the integration reads."""
    now = _now(now)
    if not permissions.can_route_sent_back_issue(official, issue):
        raise NotAllowed(_l("Only the sub-district's officials can return a work order to the hotline."))
    reason = _clean_text(reason, "reason", required=True, maximum=REASON_MAX,
                         empty_message=_l("Say why the work order goes back to the hotline."))
    issue.work_order_state = "returned"
    issue.status = "rejected"
    _index_terms(issue)
    _first_response(issue, now)
    _add_event(issue, "returned_to_hotline", official, body=reason, at=now)
    db.session.flush()
    record(official, "issue.returned_to_hotline", issue, reason=reason)
    tell_hotline(issue, "returned_to_hotline", now, reason)
    return issue


# --- extensions ----------------------------------------------------------------------------------------

def pending_extension(issue: Issue) -> IssueExtension | None:
    return db.session.scalar(db.select(IssueExtension).where(
        IssueExtension.issue_id == issue.id, IssueExtension.status == "pending").limit(1))


def extensions_of(issue: Issue) -> list[IssueExtension]:
    return db.session.scalars(db.select(IssueExtension).where(IssueExtension.issue_id == issue.id)
                              .order_by(IssueExtension.id)).all()


def request_extension(handler: User, issue: Issue, reason: str, proposed: datetime | None, *,
                      now: datetime | None = None) -> IssueExtension:
    """Ask the sub-district office for more time, before resolve-by, with a reason and a new resolve-by."""
    now = _now(now)
    if not permissions.can_request_extension(handler, issue):
        raise NotAllowed(_l("Only the organization handling a signed work order can ask for more time."))
    if now > issue.resolve_by:
        raise DomainError(_l("More time can only be asked for before the resolve-by time has passed."), "proposed")
    if pending_extension(issue) is not None:
        raise DomainError(_l("A request for more time is already waiting for a decision."), "proposed")
    reason = _clean_text(reason, "reason", required=True, maximum=REASON_MAX,
                         empty_message=_l("Say why more time is needed."))
    if proposed is None:
        raise DomainError(_l("Give the new resolve-by date."), "proposed")
    if proposed <= issue.resolve_by:
        raise DomainError(_l("The new date must be after the current resolve-by time."), "proposed")
    if proposed > issue.resolve_by + timedelta(days=EXTENSION_MAX_DAYS):
        raise DomainError(_l("At most %(days)d days more, please.", days=EXTENSION_MAX_DAYS), "proposed")
    extension = IssueExtension(issue=issue, organization_id=issue.handling_org_id, requested_by_id=handler.id,
                               requested_at=now, reason=reason, previous_resolve_by=issue.resolve_by,
                               proposed_resolve_by=proposed, status="pending")
    db.session.add(extension)
    _add_event(issue, "extension_requested", handler, body=reason, at=now, public=False,
               proposed=proposed.isoformat(timespec="minutes"))
    db.session.flush()
    record(handler, "issue.extension_requested", issue, reason=reason,
           resolve_by=proposed.isoformat(timespec="minutes"))
    notify(_others(_officials_of(issue.community), handler), "issue_extension_requested", issue,
           **_payload(issue, org=getattr(issue.handling_org, "name", "")))
    tell_hotline(issue, "extension_requested", now, reason)
    return extension


def decide_extension(official: User, issue: Issue, *, approve: bool, reason: str = "",
                     now: datetime | None = None) -> IssueExtension:
    """The sub-district office approves (resolve-by moves to the proposed date, its warnings start again)
    or refuses (a reason is required) the pending request."""
    now = _now(now)
    if not permissions.can_decide_extension(official, issue):
        raise NotAllowed(_l("Only the sub-district's officials can decide a request for more time."))
    extension = pending_extension(issue)
    if extension is None:
        raise DomainError(_l("No request for more time is waiting."), "reason")
    reason = _clean_text(reason, "reason", required=not approve, maximum=REASON_MAX,
                         empty_message=_l("Say why more time is refused."))
    extension.status = "approved" if approve else "refused"
    extension.decided_by_id = official.id
    extension.decided_at = now
    extension.decision_reason = reason or None
    if approve:
        if issue.original_resolve_by is None:
            issue.original_resolve_by = issue.resolve_by
        issue.resolve_by = extension.proposed_resolve_by
        issue.resolve_warned = 0
    _add_event(issue, "extension_approved" if approve else "extension_refused", official, body=reason or None,
               at=now, resolve_by=extension.proposed_resolve_by.isoformat(timespec="minutes"))
    db.session.flush()
    record(official, "issue.extension_decided", issue, status=extension.status, reason=reason or None,
           resolve_by=issue.resolve_by.isoformat(timespec="minutes"))
    notify(_others(_handlers(issue), official), "issue_extension_decided", issue, **_payload(issue))
    tell_hotline(issue, "extension_decided", now,
                 _l("More time approved.") if approve else _l("More time refused: %(reason)s", reason=reason))
    return extension


# --- appeals -------------------------------------------------------------------------------------------

def appeals_of(issue: Issue) -> list[IssueAppeal]:
    return db.session.scalars(db.select(IssueAppeal).where(IssueAppeal.issue_id == issue.id)
                              .order_by(IssueAppeal.id)).all()


def pending_appeal(issue: Issue) -> IssueAppeal | None:
    return db.session.scalar(db.select(IssueAppeal).where(
        IssueAppeal.issue_id == issue.id, IssueAppeal.status == "pending").limit(1))


def appeal_rating(handler: User, issue: Issue, evidence: str, *, now: datetime | None = None) -> IssueAppeal:
    """The handling organization appeals a dissatisfied or unsolved rating it considers unreasonable (the
    demand was unlawful, beyond its powers, or already answered), with its evidence. One appeal per rating."""
    now = _now(now)
    if not permissions.can_appeal_rating(handler, issue):
        raise NotAllowed(_l("Only the handling organization can appeal a dissatisfied or unsolved rating."))
    if db.session.scalar(db.select(IssueAppeal.id).where(
            IssueAppeal.issue_id == issue.id, IssueAppeal.appealed_at >= issue.rated_at).limit(1)) is not None:
        raise DomainError(_l("This rating was already appealed."), "evidence")
    evidence = _clean_text(evidence, "evidence", required=True, maximum=DESCRIPTION_MAX,
                           empty_message=_l("Give the evidence for the appeal."))
    appeal = IssueAppeal(issue=issue, organization_id=issue.handling_org_id, appealed_by_id=handler.id,
                         appealed_at=now, evidence=evidence, status="pending")
    db.session.add(appeal)
    _add_event(issue, "appealed", handler, body=evidence, at=now, public=False)
    db.session.flush()
    record(handler, "issue.appealed", issue, note=evidence)
    notify(_others(_officials_of(issue.community), handler), "issue_appealed", issue,
           **_payload(issue, org=getattr(issue.handling_org, "name", "")))
    return appeal


def decide_appeal(official: User, issue: Issue, *, upheld: bool, reason: str,
                  now: datetime | None = None) -> IssueAppeal:
    """The sub-district office decides the pending appeal, with a reason. Upheld: the rating leaves the
    resolution and satisfaction rates (numerators and denominators); the dashboard counts it as removed."""
    now = _now(now)
    if not permissions.can_decide_appeal(official, issue):
        raise NotAllowed(_l("Only the sub-district's officials can decide an appeal."))
    appeal = pending_appeal(issue)
    if appeal is None:
        raise DomainError(_l("No appeal is waiting."), "reason")
    reason = _clean_text(reason, "reason", required=True, maximum=REASON_MAX,
                         empty_message=_l("Say why the appeal is decided so."))
    appeal.status = "upheld" if upheld else "rejected"
    appeal.decided_by_id = official.id
    appeal.decided_at = now
    appeal.decision_reason = reason
    if upheld:
        issue.rating_excluded = True
    _add_event(issue, "appeal_upheld" if upheld else "appeal_rejected", official, body=reason, at=now,
               public=False)
    db.session.flush()
    record(official, "issue.appeal_decided", issue, status=appeal.status, reason=reason)
    notify(_others(_handlers(issue), official), "issue_appeal_decided", issue, **_payload(issue))
    tell_hotline(issue, "appeal_decided", now, "")
    return appeal
