"""Named permission rules, `can_<action>(user, obj)`: the one place each "may this person do this?" lives.

Views call them before acting and templates call them (as `can.can_x(...)`) to decide what to show.
Every rule denies anyone not signed in."""
from portal.auth import roles


def _signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def is_admin(user) -> bool:
    return _signed_in(user) and user.is_admin


def can_read_audit_log(user) -> bool:
    return is_admin(user)


def can_issue_reset_code(user, target) -> bool:
    """Admins, and committee members of a community the target lives in (or has claimed a unit in)."""
    if not _signed_in(user) or target is None or user.id == target.id:
        return False
    if user.is_admin:
        return True
    from portal.extensions import db
    from portal.places.models import Residency
    community_ids = roles.committee_community_ids(user)
    return db.session.scalar(db.select(Residency.id).where(
        Residency.user_id == target.id, Residency.community_id.in_(community_ids),
        Residency.status.in_(("pending", "verified"))).limit(1)) is not None
