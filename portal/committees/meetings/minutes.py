"""Versioned minutes: drafting and saving, approving and publishing by a member; a published version
never changes (a session hook refuses it) — a correction is a new version."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, selectinload

from portal.audit.services import record
from portal.auth import roles
from portal.committees.meetings._common import (
    REASON_MAX,
    _member_users,
    _now,
    _others,
    _payload,
    _require_manage,
    _require_started,
    _text,
)
from portal.committees.models import MinutesItem, MinutesVersion
from portal.errors import DomainError
from portal.extensions import db
from portal.markup import render_markdown
from portal.outbox import notify

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from portal.auth.models import User
    from portal.committees.models import Meeting

MINUTES_MAX = 20000


# --- minutes ---------------------------------------------------------------------------------------------

def minutes_versions(meeting: Meeting) -> list[MinutesVersion]:
    return db.session.scalars(select(MinutesVersion).where(MinutesVersion.meeting_id == meeting.id)
                              .options(selectinload(MinutesVersion.items).joinedload(MinutesItem.agenda_item))
                              .order_by(MinutesVersion.version)).all()


def published_minutes(meeting: Meeting) -> list[MinutesVersion]:
    return [v for v in minutes_versions(meeting) if v.status == "published"]


def draft_minutes(meeting: Meeting) -> MinutesVersion | None:
    versions = minutes_versions(meeting)
    return versions[-1] if versions and versions[-1].status == "draft" else None


def save_minutes(actor: User, meeting: Meeting, items: Mapping[int | None, str], correction_note: str = "", *,
                 version: int | str | None = None, now: datetime | None = None) -> MinutesVersion:
    """Write the minutes: {agenda_item_id or None (general remarks): Markdown}. Edits the current draft, or
    starts a new version — a correction, with `correction_note` required, when a version is published.
    `version` (the version number the editor was opened on, optional) refuses a stale form whose version
    has been published meanwhile."""
    now = _now(now)
    _require_manage(actor, meeting)
    _require_started(meeting, now)
    versions = minutes_versions(meeting)
    latest = versions[-1] if versions else None
    if version is not None:
        target = next((v for v in versions if str(v.version) == str(version)), None)
        if target is not None and target.status == "published":
            raise DomainError(_l("Published minutes cannot be changed: write a correction instead."), "minutes")
    agenda_ids = {i.id: i for i in meeting.agenda}
    bodies = {}
    for key, body in dict(items or {}).items():
        if key in (None, "", "general"):
            key = None
        else:
            try:
                key = int(key)
            except (TypeError, ValueError):
                raise DomainError(_l("Write minutes for this meeting's agenda items."), "minutes") from None
            if key not in agenda_ids:
                raise DomainError(_l("Write minutes for this meeting's agenda items."), "minutes")
        body = _text(body, "minutes", maximum=MINUTES_MAX, required=False)
        if body:
            bodies[key] = body
    if not bodies:
        raise DomainError(_l("Write the minutes of at least one item."), "minutes")
    has_published = any(v.status == "published" for v in versions)
    note = _text(correction_note, "correction_note", maximum=REASON_MAX, required=has_published,
                 empty_message=_l("Say what this version corrects."))

    if latest is not None and latest.status == "draft":
        minutes = latest
        for old in list(minutes.items):
            minutes.items.remove(old)
            db.session.delete(old)
        db.session.flush()
        action = "minutes.edited"
    else:
        minutes = MinutesVersion(meeting_id=meeting.id, version=(latest.version + 1) if latest else 1,
                                 status="draft", created_by_id=actor.id, created_at=now)
        db.session.add(minutes)
        action = "minutes.drafted"
    minutes.correction_note = note or None
    order = sorted(bodies, key=lambda k: -1 if k is None else agenda_ids[k].position)
    for position, key in enumerate(order):
        minutes.items.append(MinutesItem(agenda_item_id=key, position=position, body=bodies[key],
                                         body_html=render_markdown(bodies[key])))
    db.session.flush()
    record(actor, action, meeting, minutes_id=minutes.id, version=minutes.version)
    return minutes


def publish_minutes(actor: User, meeting: Meeting, *, now: datetime | None = None) -> MinutesVersion:
    """A member approves the draft and publishes it: immutable from then on."""
    now = _now(now)
    _require_manage(actor, meeting)
    draft = draft_minutes(meeting)
    if draft is None:
        raise DomainError(_l("There is no draft of the minutes to publish."), "minutes")
    draft.status = "published"
    draft.published_by_id = actor.id
    draft.published_at = now
    db.session.flush()
    record(actor, "minutes.published", meeting, minutes_id=draft.id, version=draft.version)
    notify(_others(_member_users(meeting.organization, roles.today()), actor), "meetings.minutes_published",
           meeting, **_payload(meeting, version=draft.version))
    return draft


@event.listens_for(Session, "before_flush")
def _published_minutes_never_change(session, flush_context, instances):
    """The database side of "published minutes are immutable": no flush changes or deletes a version
    that was published before it, or any of its items."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, MinutesVersion):
            history = inspect(obj).attrs.status.history
            before = (history.deleted or history.unchanged or [None])[0]
            if before == "published" and (obj in session.deleted or session.is_modified(obj)):
                raise DomainError(_l("Published minutes cannot be changed: write a correction instead."),
                                  "minutes")
        elif isinstance(obj, MinutesItem) and session.is_modified(obj) or (
                isinstance(obj, MinutesItem) and obj in session.deleted):
            minutes = obj.minutes
            if minutes is not None:
                history = inspect(minutes).attrs.status.history
                before = (history.deleted or history.unchanged or [None])[0]
                if before == "published":
                    raise DomainError(_l("Published minutes cannot be changed: write a correction instead."),
                                      "minutes")
    for obj in session.new:
        if isinstance(obj, MinutesItem) and obj.minutes is not None and obj.minutes.id is not None:
            history = inspect(obj.minutes).attrs.status.history
            before = (history.deleted or history.unchanged or [None])[0]
            if before == "published":
                raise DomainError(_l("Published minutes cannot be changed: write a correction instead."),
                                  "minutes")
