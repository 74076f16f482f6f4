"""Writing the audit log. Services call `record` inside the transaction of the change they make."""
from portal.audit.models import AuditEntry
from portal.extensions import db, unproxied
from portal.observability import current_request_id


def record(actor, action: str, obj=None, *, on_behalf_of=None, subject_user=None, **details) -> AuditEntry:
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


def search(*, action=None, actor_id=None, object_type=None, object_id=None, request_id=None, page=1,
           per_page=50):
    query = db.select(AuditEntry).order_by(AuditEntry.id.desc())
    if request_id:
        query = query.where(AuditEntry.request_id == request_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def entries_about(user, limit=100):
    """What others did to or with this person's records: shown to the person themself."""
    query = (db.select(AuditEntry)
             .where((AuditEntry.subject_user_id == user.id) | (AuditEntry.on_behalf_of_id == user.id))
             .order_by(AuditEntry.id.desc()).limit(limit))
    return db.session.scalars(query).all()
