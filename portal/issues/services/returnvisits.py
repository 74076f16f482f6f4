"""The return visit (回访) of a resolved hotline issue: within RETURN_VISIT_DAYS of the resolution, staff of
the sub-district office (not of the organization that handled it) call the caller, up to three attempts,
each recorded with its time. Reached, the caller's answers — solved or not, how satisfied, their words —
are the issue's rating, as a resident's rating is for a resident's issue (a dissatisfied answer reopens it
once); three attempts without reaching them close the issue unrated."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues.models import RETURN_VISIT_ATTEMPTS, SATISFACTION, SATISFACTION_LABELS, ReturnVisitAttempt
from portal.issues.services._common import COMMENT_MAX, _add_event, _clean_text, _now
from portal.issues.services.rating import _reopen
from portal.issues.services.workorder import tell_hotline

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User
    from portal.issues.models import Issue


def return_visit_days() -> int:
    return int(current_app.config.get("RETURN_VISIT_DAYS", 5))


def attempts_of(issue: Issue) -> list[ReturnVisitAttempt]:
    """The attempts about the issue's latest resolution, oldest first."""
    if issue.resolved_at is None:
        return []
    return db.session.scalars(db.select(ReturnVisitAttempt).where(
        ReturnVisitAttempt.issue_id == issue.id, ReturnVisitAttempt.resolved_at == issue.resolved_at)
        .order_by(ReturnVisitAttempt.at, ReturnVisitAttempt.id)).all()


def visit_due_by(issue: Issue) -> datetime | None:
    return issue.resolved_at + timedelta(days=return_visit_days()) if issue.resolved_at else None


def record_return_visit(visitor: User, issue: Issue, *, contacted: bool, solved: bool | None = None,
                        satisfaction: str = "", words: str = "", now: datetime | None = None) -> ReturnVisitAttempt:
    """One attempt. `contacted` False: not reached (the third such attempt closes the issue unrated).
    Reached: `solved` and `satisfaction` are required and become the issue's rating."""
    now = _now(now)
    if not permissions.can_return_visit(visitor, issue):
        raise NotAllowed(_l("Only the sub-district's staff, not the organization that handled it, make the "
                            "return visit of a resolved hotline issue."))
    if now > visit_due_by(issue):
        raise DomainError(_l("The return visit was due within %(days)d days of the resolution.",
                             days=return_visit_days()), "contacted")
    done = attempts_of(issue)
    if len(done) >= RETURN_VISIT_ATTEMPTS:
        raise DomainError(_l("Three attempts were already made."), "contacted")
    if contacted not in (True, False):
        raise DomainError(_l("Say whether the caller was reached."), "contacted")
    words = _clean_text(words, "words", required=False, maximum=COMMENT_MAX)
    if contacted:
        if solved not in (True, False):
            raise DomainError(_l("Say whether the caller says the problem was solved."), "solved")
        if satisfaction not in SATISFACTION:
            raise DomainError(_l("Say how satisfied the caller is."), "satisfaction")
    attempt = ReturnVisitAttempt(issue_id=issue.id, visitor_id=visitor.id, at=now, resolved_at=issue.resolved_at,
                                 contacted=bool(contacted), solved=solved if contacted else None,
                                 satisfaction=satisfaction if contacted else None, words=words or None)
    db.session.add(attempt)
    number = len(done) + 1
    if not contacted:
        _add_event(issue, "return_visit_missed", visitor, at=now, public=False, attempt=number)
        record(visitor, "issue.return_visit", issue, attempt=number, contacted=False)
        if number >= RETURN_VISIT_ATTEMPTS:
            issue.status = "closed"
            issue.closed_at = now
            _add_event(issue, "return_visit_failed", visitor, at=now)
            tell_hotline(issue, "return_visit", now, _l("The caller could not be reached after three attempts."))
        db.session.flush()
        return attempt
    issue.rated_at = now
    issue.rating_resolved = solved
    issue.rating_satisfaction = satisfaction
    issue.rating_comment = words or None
    _add_event(issue, "return_visit", visitor, body=words or None, at=now, attempt=number, resolved=solved,
               satisfaction=satisfaction)
    record(visitor, "issue.return_visit", issue, attempt=number, contacted=True, resolved=solved,
           satisfaction=satisfaction)
    tell_hotline(issue, "return_visit", now, SATISFACTION_LABELS[satisfaction])
    if satisfaction == "dissatisfied" and issue.reopen_count == 0:
        _reopen(visitor, issue, now)
    else:
        issue.status = "closed"
        issue.closed_at = now
    db.session.flush()
    return attempt
