"""What every part of the meeting rules shares: the field limits and labels, the notification events a
meeting sends, the text and time checks, the meeting's day in its community's zone, the organization's
members on a day, and the checks that the actor manages the meeting and that it is scheduled or has
started."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.auth import permissions, roles
from portal.clock import in_zone, utcnow
from portal.committees.models import OrgMembership
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import instant, register_event

if TYPE_CHECKING:
    from portal.committees.models import Meeting, Organization

REASON_MAX = 1000
EARLY_RECORDING = timedelta(hours=1)  # attendance, minutes and decisions: from an hour before the start

FOLLOW_UP_LABELS = {
    "none": _l("No follow-up"),
    "open_ballot": _l("Open a ballot"),
    "create_action": _l("Create an agreed action"),
    "refer_subdistrict": _l("Refer to the sub-district"),
}
ATTENDANCE_LABELS = {"present": _l("Present"), "absent": _l("Absent"), "excused": _l("Excused")}


def _meeting_link(notification):
    from flask import url_for
    payload = notification.payload or {}
    org_id, meeting_id = payload.get("org_id"), payload.get("meeting_id") or notification.object_id
    if not org_id or not meeting_id:
        return None
    anchor = f"#decision-{payload['decision_id']}" if payload.get("decision_id") else ""
    return url_for("committees.meeting", org_id=org_id, meeting_id=meeting_id) + anchor


register_event("meetings.scheduled", _l("%(org)s meets on %(when)s: “%(title)s”."), _meeting_link,
               times=("when",))
register_event("meetings.cancelled", _l("The meeting “%(title)s” of %(org)s on %(when)s is cancelled: %(reason)s"),
               _meeting_link, times=("when",))
register_event("meetings.minutes_published", _l("The minutes of “%(title)s” (%(org)s) are published."),
               _meeting_link)
register_event("meetings.referred", _l("%(org)s refers a decision to the sub-district: %(text)s"), _meeting_link)


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return (now or utcnow()).astimezone(UTC)


def _text(value, field, *, maximum, required, empty_message=None):
    value = (value or "").strip()
    if required and not value:
        raise DomainError(empty_message or _l("This field is required."), field)
    if len(value) > maximum:
        raise DomainError(_l("At most %(max)d characters, please: this has %(length)d.", max=maximum,
                             length=len(value)), field)
    return value


def _moment(value, field):
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DomainError(_l("Give a date and time."), field)
    return value.astimezone(UTC)


def meeting_day(meeting: Meeting) -> date:
    """The meeting's date in its community's time zone: membership is counted on this day."""
    return in_zone(meeting.starts_at, meeting.community.time_zone).date()


def _payload(meeting, **extra):
    payload = {"title": meeting.title, "org": meeting.organization.name, "org_id": meeting.organization_id,
               "meeting_id": meeting.id, "when": instant(meeting.starts_at),
               "zone": meeting.community.time_zone}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


def members_on(organization: Organization, on: date) -> list:
    """The people who were members of the organization on that day."""
    return db.session.scalars(
        select(OrgMembership).options(joinedload(OrgMembership.user))
        .where(OrgMembership.organization_id == organization.id, roles.current_clause(OrgMembership, on))
        .order_by(OrgMembership.start_date, OrgMembership.id)).all()


def _member_users(organization, on: date):
    seen, people = set(), []
    for m in members_on(organization, on):
        if m.user_id not in seen:
            seen.add(m.user_id)
            people.append(m.user)
    return people


def _others(people, actor):
    return [p for p in people if p is not None and p.id != getattr(actor, "id", None)]


def _require_manage(actor, meeting):
    if not permissions.can_manage_meeting(actor, meeting):
        raise NotAllowed(_l("Only members of %(org)s can do this.", org=meeting.organization.name))


def _require_scheduled(meeting):
    if meeting.status == "cancelled":
        raise DomainError(_l("This meeting was cancelled."), "meeting")
    if meeting.status != "scheduled":
        raise DomainError(_l("This meeting has been held: its agenda no longer changes."), "meeting")


def _require_started(meeting, now):
    if meeting.status == "cancelled":
        raise DomainError(_l("This meeting was cancelled."), "meeting")
    if now < meeting.starts_at - EARLY_RECORDING:
        raise DomainError(_l("This meeting has not started yet."), "meeting")
