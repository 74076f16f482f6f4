"""Attendance and quorum: recording each member's attendance, reading it back, and whether more than
half of the members were present."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.audit.services import record
from portal.committees.meetings._common import (
    _member_users,
    _now,
    _require_manage,
    _require_started,
    meeting_day,
)
from portal.committees.models import ATTENDANCE, Attendance
from portal.errors import DomainError
from portal.extensions import db

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from portal.auth.models import User
    from portal.committees.models import Meeting

# --- attendance ------------------------------------------------------------------------------------------

def record_attendance(actor: User, meeting: Meeting, statuses: Mapping[int, str] | None, *,
                      now: datetime | None = None) -> list[Attendance]:
    """Present / absent / excused for members of the organization on the meeting's date (given as
    {user_id: status}); records already there are updated. The meeting is then held."""
    now = _now(now)
    _require_manage(actor, meeting)
    _require_started(meeting, now)
    members = {u.id: u for u in _member_users(meeting.organization, meeting_day(meeting))}
    cleaned = {}
    for user_id, status in dict(statuses or {}).items():
        try:
            user_id = int(user_id)
        except (TypeError, ValueError):
            raise DomainError(_l("Record attendance for members of %(org)s only.",
                                 org=meeting.organization.name), "attendance") from None
        if user_id not in members:
            raise DomainError(_l("Record attendance for members of %(org)s only.",
                                 org=meeting.organization.name), "attendance")
        if status not in ATTENDANCE:
            raise DomainError(_l("Choose present, absent or excused."), "attendance")
        cleaned[user_id] = status
    if not cleaned:
        raise DomainError(_l("Record the attendance of at least one member."), "attendance")
    existing = {a.user_id: a for a in db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id))}
    rows = []
    for user_id, status in cleaned.items():
        row = existing.get(user_id)
        if row is None:
            row = Attendance(meeting_id=meeting.id, user_id=user_id, status=status, recorded_by_id=actor.id,
                             recorded_at=now)
            db.session.add(row)
        elif row.status != status:
            row.status, row.recorded_by_id, row.recorded_at = status, actor.id, now
        rows.append(row)
    meeting.status = "held"
    db.session.flush()
    record(actor, "meeting.attendance", meeting, statuses={str(k): v for k, v in cleaned.items()})
    return rows


def attendance_of(meeting: Meeting) -> dict[int, str]:
    return {a.user_id: a.status for a in db.session.scalars(select(Attendance).where(
        Attendance.meeting_id == meeting.id))}


def quorum(meeting: Meeting) -> tuple[int, int, bool]:
    """(present, members, met): members on the meeting's date, those of them recorded present, and whether
    more than half were (2·present > members; exactly half is not a quorum)."""
    member_ids = {u.id for u in _member_users(meeting.organization, meeting_day(meeting))}
    present = sum(1 for user_id, status in attendance_of(meeting).items()
                  if status == "present" and user_id in member_ids)
    return present, len(member_ids), 2 * present > len(member_ids)
