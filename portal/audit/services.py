"""Writing the audit log. Services call `record` inside the transaction of the change they make."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import selectinload

from portal.audit.models import AuditEntry
from portal.extensions import db, unproxied
from portal.observability import current_request_id


def record(actor: object, action: str, obj: object | None = None, *, on_behalf_of: object | None = None,
           subject_user: object | None = None, **details) -> AuditEntry:
    obj = unproxied(obj)
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        on_behalf_of_id=getattr(on_behalf_of, "id", None),
        action=action,
        object_type=type(obj).__tablename__ if obj is not None else None,
        object_id=getattr(obj, "id", None),
        subject_user_id=getattr(subject_user, "id", None),
        details=details,
        request_id=current_request_id(),
    )
    if obj is not None and entry.object_id is None:
        db.session.flush()
        entry.object_id = obj.id
    db.session.add(entry)
    return entry


MAX_ID = 2**31 - 1


@dataclass
class LogPage:
    """One page of the log, newest first, and the ids to go on from: a keyset page costs the same on the
    first page and the thousandth."""
    entries: list
    newer_than: int | None  # the "newer" link asks for entries after this id
    older_than: int | None  # the "older" link asks for entries before this id


def _filtered(query, *, action=None, actor_id=None, object_type=None, object_id=None, request_id=None):
    if request_id:
        query = query.where(AuditEntry.request_id == request_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    return query


def search(*, before: int | None = None, after: int | None = None, per_page: int = 50, **filters) -> LogPage:
    """The entries matching the filters, newest first: `per_page` of them before the id `before` (or the
    newest), or — going back towards the newest — the `per_page` just after the id `after`."""
    before = min(before, MAX_ID) if before else None
    after = min(after, MAX_ID) if after else None
    query = _filtered(db.select(AuditEntry), **filters).options(
        selectinload(AuditEntry.actor), selectinload(AuditEntry.on_behalf_of))
    if after is not None and before is None:
        rows = db.session.scalars(query.where(AuditEntry.id > after).order_by(AuditEntry.id.asc())
                                  .limit(per_page)).all()[::-1]
    else:
        if before is not None:
            query = query.where(AuditEntry.id < before)
        rows = db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(per_page)).all()
    if not rows:
        return LogPage([], None, None)

    def exists(condition):
        found = db.session.scalar(_filtered(db.select(AuditEntry.id), **filters).where(condition).limit(1))
        return found is not None

    newest, oldest = rows[0].id, rows[-1].id
    return LogPage(rows, newest if exists(AuditEntry.id > newest) else None,
                   oldest if exists(AuditEntry.id < oldest) else None)


def entries_about(user: object, limit: int = 100) -> list[AuditEntry]:
    """What others did to or with this person's records: shown to the person themself."""
    query = (db.select(AuditEntry)
             .where((AuditEntry.subject_user_id == user.id) | (AuditEntry.on_behalf_of_id == user.id))
             .order_by(AuditEntry.id.desc()).limit(limit).options(selectinload(AuditEntry.actor)))
    return db.session.scalars(query).all()
