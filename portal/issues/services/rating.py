"""The reporter's rating of a resolved issue: resolved or not, how satisfied, and the one reopening a
dissatisfied answer earns (back to the same handler with a new resolve-by time)."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.events import work_order_changed
from portal.extensions import db
from portal.issues.models import SATISFACTION, Issue
from portal.issues.services._common import (
    COMMENT_MAX,
    _add_event,
    _clean_text,
    _handlers,
    _index_terms,
    _now,
    _officials_of,
    _others,
    _payload,
    _urgent,
)
from portal.outbox import notify

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User


def rate_issue(user: User, issue: Issue, *, resolved: bool, satisfaction: str, comment: str = "",
               now: datetime | None = None) -> Issue:
    """The reporter's two answers. Dissatisfied reopens the issue once, back to the same handler with a new
    resolve-by time; otherwise (or the second time) the issue closes."""
    now = _now(now)
    if not permissions.can_rate_issue(user, issue):
        raise NotAllowed(_l("Only the reporter can rate a resolved issue."))
    if resolved not in (True, False):
        raise DomainError(_l("Say whether the problem was resolved."), "resolved")
    if satisfaction not in SATISFACTION:
        raise DomainError(_l("Say how satisfied you are."), "satisfaction")
    comment = _clean_text(comment, "comment", required=False, maximum=COMMENT_MAX)
    issue.rated_at = now
    issue.rating_resolved = resolved
    issue.rating_satisfaction = satisfaction
    issue.rating_comment = comment or None
    _add_event(issue, "rated", user, body=comment or None, at=now, resolved=resolved, satisfaction=satisfaction)
    record(user, "issue.rated", issue, resolved=resolved, satisfaction=satisfaction)
    if satisfaction == "dissatisfied" and issue.reopen_count == 0:
        _reopen(user, issue, now)
    else:
        issue.status = "closed"
        issue.closed_at = now
    db.session.flush()
    return issue


def _reopen(user, issue, now):
    # The response deadline and first response stay as they were (the response rate counts the first
    # round); the resolution clock restarts and its warnings are sent again.
    issue.status = "reopened"
    _index_terms(issue)
    issue.reopen_count += 1
    issue.resolve_by = now + timedelta(hours=issue.category.resolve_hours)
    issue.resolve_warned = 0
    issue.closed_at = None
    _add_event(issue, "reopened", user, at=now)
    record(user, "issue.reopened", issue)
    notify(_others(_handlers(issue) or _officials_of(issue.community), user), "issue_reopened", issue,
           **_payload(issue), **_urgent(issue))
    if issue.source == "hotline":
        work_order_changed.send(issue, event="reopened", now=now, public_text="")
