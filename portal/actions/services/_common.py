"""What every part of the agreed-actions rules shares: the field limits, the notification events an
action sends, the progress entry, the text check, the responsible organization's members, and the rule
check that refuses with a translated message."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.actions.models import RATING_DAYS, ActionUpdate
from portal.clock import in_zone, utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import register_event

if TYPE_CHECKING:
    from portal.places.models import Community

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


register_event("actions.assigned", _l("Your organization is responsible for “%(title)s”, due %(due)s."), _link,
               days=("due",))
register_event("actions.chased", _l("An official chased “%(title)s”: %(note)s (new date %(new_due)s)."), _link,
               days=("new_due",))
register_event("actions.done", _l("“%(title)s” is done: residents can rate the result."), _link)
register_event("actions.blocked", _l("“%(title)s” is blocked: %(reason)s"), _link)
# Sent once each by portal.notifications.reminders to the owner (or, with no owner, the responsible
# organization's members).
register_event("actions.due_soon", _l("“%(title)s” is due on %(due)s."), _link, days=("due",))
register_event("actions.overdue", _l("“%(title)s” is overdue: it was due on %(due)s."), _link, days=("due",))


# --- helpers ---------------------------------------------------------------------------------------------

def _now(now):
    return now or utcnow()


def local_date(community: Community, now: datetime) -> date:
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
