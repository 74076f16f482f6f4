"""What every part of the issues rules shares: the field limits, the notification events an issue sends
(and who hears them), who handles and who supports an issue, the timeline entry, and the checks for text
and photos that reporting and handling both apply."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.auth import roles
from portal.auth.models import User
from portal.clock import utcnow
from portal.committees.models import Organization, OrgMembership
from portal.errors import DomainError
from portal.extensions import db
from portal.issues import similar
from portal.issues.models import MAX_PHOTOS, IssueEvent, IssueSupport
from portal.outbox import register_event

if TYPE_CHECKING:
    from collections.abc import Iterable

    from portal.issues.models import Issue

REASON_MAX = 1000
COMMENT_MAX = 500
LOCATION_MAX = 120
REPORTER_NAME_MAX = 80
REPORTER_PHONE_MAX = 20


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


def members_of(org_ids: Iterable[int]) -> list[User]:
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


def supporters_of(issue: Issue) -> list[User]:
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
