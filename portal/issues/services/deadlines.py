"""Time on issues: the stored next deadline, overdue, closing unrated 7 days after resolution, and the
deadline warnings at 75 % and at 100 % of the respond-by and resolve-by times (each sent once). The two
time-driven steps of `flask run-due` for issues are registered here."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.due import due_step
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue, IssueCategory, next_deadline_sql
from portal.issues.services._common import _add_event, _handlers, _now, _officials_of, _payload, _urgent
from portal.outbox import notify

if TYPE_CHECKING:
    from collections.abc import Iterable

RATE_WITHIN = timedelta(days=7)
WARN_AT = 0.75  # share of the time to a deadline after which handlers are warned


# --- time ------------------------------------------------------------------------------------------------

def rebuild_next_deadlines(community_ids: Iterable[int] | None = None) -> int:
    """Set the stored next deadline of every issue (of these communities) from its row, in one UPDATE: for
    bulk loads and bulk updates, which bypass the ORM hook that keeps it. Returns the rows changed."""
    expr = next_deadline_sql()
    query = db.update(Issue).where(Issue.next_deadline.is_distinct_from(expr))
    if community_ids is not None:
        query = query.where(Issue.community_id.in_(list(community_ids)))
    query = query.values(next_deadline=expr).execution_options(synchronize_session=False)
    return db.session.execute(query).rowcount


def is_overdue(issue: Issue, now: datetime | None = None) -> bool:
    if issue.status not in OPEN_STATES:
        return False
    now = _now(now)
    return (issue.first_response_at is None and now > issue.respond_by) or now > issue.resolve_by


def _resolve_window_start(issue):
    if issue.reopen_count:
        return issue.resolve_by - timedelta(hours=issue.category.resolve_hours)
    return issue.submitted_at


def _warning_level(start, deadline, now) -> int:
    if now >= deadline:
        return 2
    if now >= start + (deadline - start) * WARN_AT:
        return 1
    return 0


def _warn(issue, kind, level, now):
    deadline = issue.respond_by if kind == "respond" else issue.resolve_by
    _add_event(issue, "deadline_warning", None, public=False, at=now, deadline=kind, level=level)
    # At 75 % the handlers are warned; a missed deadline also goes to the sub-district's officials, who chase.
    # With nobody handling it, the officials hear of both.
    handlers = _handlers(issue)
    if level == 1:
        recipients, event = handlers or _officials_of(issue.community), "issue_deadline_warning"
    else:
        recipients, event = handlers + _officials_of(issue.community), "issue_deadline_missed"
    notify(recipients, event, issue,
           **_payload(issue, deadline=kind, at=deadline.isoformat(timespec="minutes"), level=level), **_urgent(issue))


def apply_due(issue: Issue, now: datetime | None = None) -> bool:
    """Apply the time-driven steps to one issue: close it unrated 7 days after resolution, warn at 75 % and
    at 100 % of the respond-by and resolve-by times (each once). True when something changed."""
    now = _now(now)
    changed = False
    if issue.status == "resolved" and issue.resolved_at + RATE_WITHIN <= now and \
            (issue.rated_at is None or issue.rated_at < issue.resolved_at):
        issue.status = "closed"
        issue.closed_at = issue.resolved_at + RATE_WITHIN
        _add_event(issue, "closed_unrated", None, at=now)
        record(None, "issue.closed_unrated", issue)
        changed = True
    if issue.status in OPEN_STATES:
        if issue.first_response_at is None and issue.respond_warned < 2:
            level = _warning_level(issue.submitted_at, issue.respond_by, now)
            if level > issue.respond_warned:
                issue.respond_warned = level
                _warn(issue, "respond", level, now)
                changed = True
        if issue.resolve_warned < 2:
            level = _warning_level(_resolve_window_start(issue), issue.resolve_by, now)
            if level > issue.resolve_warned:
                issue.resolve_warned = level
                _warn(issue, "resolve", level, now)
                changed = True
    if changed:
        db.session.flush()
    return changed


@due_step("issues_close_unrated")
def close_unrated(now: datetime) -> int:
    issues = db.session.scalars(db.select(Issue).where(
        Issue.status == "resolved", Issue.resolved_at <= now - RATE_WITHIN).order_by(Issue.id)).all()
    return sum(apply_due(issue, now) for issue in issues)


@due_step("issues_deadline_warnings")
def warn_deadlines(now: datetime) -> int:
    # A warning is due at 75 % of a window, so only deadlines within a quarter of the longest window can be
    # near; apply_due decides exactly.
    longest = db.session.scalar(db.select(func.max(IssueCategory.resolve_hours))) or 0
    horizon = now + timedelta(hours=longest * (1 - WARN_AT) + 1)
    issues = db.session.scalars(db.select(Issue).where(
        Issue.status.in_(OPEN_STATES),
        or_(and_(Issue.first_response_at.is_(None), Issue.respond_warned < 2, Issue.respond_by <= horizon),
            and_(Issue.resolve_warned < 2, Issue.resolve_by <= horizon)))
        .options(joinedload(Issue.category), joinedload(Issue.community)).order_by(Issue.id)).all()
    return sum(apply_due(issue, now) for issue in issues)
