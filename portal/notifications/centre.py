"""The in-app notification centre: the person's notifications grouped by the object they are about, marking
read, and whether the object a notification points at is still there for the person opening it.

Grouping: every notification about one object (an issue, a proposal, a ballot…) is one entry showing the
latest message, how many there are, and up to EARLIER_SHOWN earlier messages. A notification without an
object stands alone. A page of entries costs three statements whatever it holds: the groups, their latest
rows, and the earlier rows shown (a window function keeps at most EARLIER_SHOWN per group).

Availability: AVAILABILITY maps a notification's object_type to a check `(user, object_id) -> bool`: the
row still exists, the person may see its page, and it is not moderated away, withdrawn or deleted for
them. Areas whose objects are not listed fall back to "available when the notification has a link"."""
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import and_, bindparam, case, func, or_, select, tuple_

from portal.clock import utcnow
from portal.extensions import db
from portal.notifications.models import Notification

PER_PAGE = 20
EARLIER_SHOWN = 5
MAX_ID = 2**31 - 1  # ids beyond the database's integer range are simply not found


@dataclass
class Entry:
    latest: Notification
    count: int
    unread: int
    earlier: list = field(default_factory=list)

    @property
    def more(self) -> int:
        """How many earlier notifications are not shown in the entry."""
        return max(0, self.count - 1 - len(self.earlier))


@dataclass
class InboxPage:
    entries: list
    page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _group_columns():
    # A notification without an object is its own group (keyed by its negated id).
    return (func.coalesce(Notification.object_type, ""),
            case((Notification.object_id.is_(None), -Notification.id), else_=Notification.object_id))


def grouped_inbox(user, page=1, per_page=PER_PAGE) -> InboxPage:
    page = max(1, min(int(page or 1), 10000))
    kind, key = _group_columns()
    groups = db.session.execute(
        select(func.max(Notification.id).label("latest"), func.count(Notification.id).label("n"),
               (func.count(Notification.id) - func.count(Notification.read_at)).label("unread"))
        .where(Notification.recipient_id == user.id).group_by(kind, key)
        .order_by(func.max(Notification.id).desc()).limit(per_page + 1).offset((page - 1) * per_page)).all()
    has_next = len(groups) > per_page
    groups = groups[:per_page]
    if not groups:
        return InboxPage([], page, False)
    latest = {n.id: n for n in db.session.scalars(
        select(Notification).where(Notification.id.in_([g.latest for g in groups])))}
    entries = [Entry(latest[g.latest], int(g.n), int(g.unread)) for g in groups]
    grouped = [e for e in entries if e.count > 1]
    if grouped:
        ranked = select(Notification.id, func.row_number().over(
            partition_by=(Notification.object_type, Notification.object_id),
            order_by=Notification.id.desc()).label("rank")).where(
            Notification.recipient_id == user.id,
            tuple_(Notification.object_type, Notification.object_id).in_(
                [(e.latest.object_type, e.latest.object_id) for e in grouped])).subquery()
        shown = select(ranked.c.id).where(ranked.c.rank > 1, ranked.c.rank <= EARLIER_SHOWN + 1)
        by_object = {(e.latest.object_type, e.latest.object_id): e for e in grouped}
        for row in db.session.scalars(select(Notification).where(Notification.id.in_(shown))
                                      .order_by(Notification.id.desc())):
            by_object[(row.object_type, row.object_id)].earlier.append(row)
    return InboxPage(entries, page, has_next)


def inbox_version(user) -> tuple:
    """What the person's list is drawn from, in one small statement: how many notifications, how many read,
    the latest id and the sum of their stamps (random, drawn anew when a payload is written again). Rows are
    only added (the latest id grows), read (the read count grows), rewritten or deleted (the count drops), so
    a list kept under it is the list as it would be drawn now; the stamps tell one life of a database from
    the next, where ids and counts start again."""
    return tuple(db.session.execute(_inbox_version_statement(), {"user_id": user.id}).one())


@cache
def _inbox_version_statement():
    # Built once per process: the notification centre asks it on every view.
    return (select(func.count(Notification.id), func.count(Notification.read_at), func.max(Notification.id),
                   func.coalesce(func.sum(Notification.stamp), 0))
            .where(Notification.recipient_id == bindparam("user_id")))


def notification_of(user, notification_id) -> Notification | None:
    """One of the person's own notifications; anyone else's (or none) is None."""
    if not 0 < notification_id <= MAX_ID:
        return None
    return db.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                        Notification.recipient_id == user.id))


def _same_object(row):
    if row.object_type is None or row.object_id is None:
        return Notification.id == row.id
    return or_(Notification.id == row.id, and_(Notification.object_type == row.object_type,
                                               Notification.object_id == row.object_id))


def mark_group_read(user, row) -> int:
    """Mark this notification and the person's others about the same object read (they are one entry)."""
    return db.session.execute(db.update(Notification).where(
        Notification.recipient_id == user.id, Notification.read_at.is_(None), _same_object(row))
        .values(read_at=utcnow())).rowcount


# --- is it still there? -------------------------------------------------------------------------------------

AVAILABILITY: dict[str, Callable] = {}


def availability(object_type: str):
    """Register the check for one object_type (a model's table name)."""
    def register(check):
        AVAILABILITY[object_type] = check
        return check
    return register


def is_available(user, notification) -> bool:
    if notification.object_type is None:
        return True
    check = AVAILABILITY.get(notification.object_type)
    if check is None:
        return True
    return bool(check(user, notification.object_id))


def _get(model, object_id):
    return db.session.get(model, object_id) if object_id is not None else None


def _shown(user, item_type, found) -> bool:
    from portal.moderation import services as moderation
    return not moderation.is_hidden_for(user, item_type, found)


@availability("issue")
def _issue(user, object_id):
    from portal.auth import permissions
    from portal.issues.models import Issue
    issue = _get(Issue, object_id)
    return issue is not None and permissions.can_view_issue(user, issue) and _shown(user, "issue", issue)


@availability("issue_event")
def _issue_update(user, object_id):
    from portal.auth import permissions
    from portal.issues.models import IssueEvent
    event = _get(IssueEvent, object_id)
    if event is None or not permissions.can_view_issue(user, event.issue):
        return False
    if not event.is_public and not permissions.can_handle_issue(user, event.issue):
        return False
    return _shown(user, "issue_update", event) and _shown(user, "issue", event.issue)


def _proposal_visible(user, proposal) -> bool:
    from portal.auth import permissions
    if proposal is None or not permissions.can_view_proposal(user, proposal):
        return False
    if proposal.status == "withdrawn" and user.id not in (proposal.author_id, proposal.created_by_id):
        return False
    return _shown(user, "proposal", proposal)


@availability("proposal")
def _proposal(user, object_id):
    from portal.proposals.models import Proposal
    return _proposal_visible(user, _get(Proposal, object_id))


@availability("proposal_comment")
def _comment(user, object_id):
    from portal.proposals.models import Comment
    comment = _get(Comment, object_id)
    return (comment is not None and comment.deleted_at is None and _proposal_visible(user, comment.proposal)
            and _shown(user, "comment", comment))


@availability("ballot")
def _ballot(user, object_id):
    from portal.votes.models import Ballot
    ballot = _get(Ballot, object_id)
    return ballot is not None and _proposal_visible(user, ballot.proposal)


@availability("public_notice")
def _notice(user, object_id):
    from portal.auth import permissions
    from portal.notices.models import Notice
    notice = _get(Notice, object_id)
    return (notice is not None and permissions.can_view_community(user, notice.community)
            and _shown(user, "proposal", notice.proposal))


@availability("meeting")
def _meeting(user, object_id):
    from portal.auth import permissions
    from portal.committees.models import Meeting
    return permissions.can_view_meeting(user, _get(Meeting, object_id))


@availability("action")
def _action(user, object_id):
    from portal.actions.models import Action
    from portal.auth import permissions
    action = _get(Action, object_id)
    return action is not None and permissions.can_view_community(user, action.community)


@availability("residency")
def _residency(user, object_id):
    from portal.auth import permissions
    from portal.places.models import Residency
    return permissions.can_see_residency(user, _get(Residency, object_id))


@availability("user")
def _account(user, object_id):
    return object_id == user.id
