"""The consultation: comments with a stance and replies in threads, editing (with revisions) and
deleting them, likes, the committee's summary of the arguments, the stance tallies and the pages of
comments and replies."""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, any_, bindparam, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal import versions
from portal.audit.services import record
from portal.auth import permissions
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import notify
from portal.proposals.models import (
    COMMENT_MAX,
    STANCES,
    SUMMARY_TEXT_MAX,
    Comment,
    CommentLike,
    CommentRevision,
    Proposal,
)
from portal.proposals.services._common import (
    EDIT_SILENTLY_WITHIN,
    _add_event,
    _add_to_count,
    _behalf,
    _now,
    _payload,
    _text,
)

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from flask_login import AnonymousUserMixin
    from flask_sqlalchemy.pagination import Pagination

    from portal.auth.models import User

COMMENT_SORTS = ("oldest", "newest", "liked")
COMMENTS_PER_PAGE = 20  # threads per page: with their first replies up to 80 comments, a long phone screen already
REPLIES_SHOWN = 3  # under each thread of a page; "show N more replies" loads the rest
REPLIES_PER_PAGE = 100  # of a thread's replies, loaded by "show more"


# --- comments --------------------------------------------------------------------------------------------

def comment_in(proposal: Proposal, comment_id: int) -> Comment | None:
    """One comment of this proposal (its author loaded), or None."""
    try:
        comment_id = int(comment_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(db.select(Comment).where(Comment.proposal_id == proposal.id, Comment.id == comment_id)
                             .options(joinedload(Comment.author)))


def _check_comment(stance, body):
    if stance not in STANCES:
        raise DomainError(_l("Say whether you are for, against or neutral."), "stance")
    return _text(body, "body", maximum=COMMENT_MAX, required=True, empty_message=_l("Write your comment."))


def _thread_of(proposal, parent):
    """The top-level comment a reply belongs to: replies are one level deep."""
    if parent is None:
        return None
    if parent.proposal_id != proposal.id:
        raise DomainError(_l("Reply to a comment of this proposal."), "parent_id")
    top = parent.parent if parent.parent_id is not None else parent
    if top.locked_at is not None:
        raise DomainError(_l("This thread is locked: no more replies."), "body")
    return top


def add_comment(author: User, proposal: Proposal, *, stance: str, body: str, parent: Comment | None = None,
                on_behalf_of: User | None = None, now: datetime | None = None) -> Comment:
    """A comment with a stance, or a reply to a top-level comment (a reply to a reply joins its thread);
    the author of the comment replied to is told."""
    now = _now(now)
    person = on_behalf_of or author
    if on_behalf_of is not None and not permissions.can_act_for(author, on_behalf_of):
        raise NotAllowed(_l("You may not act for this person."))
    if not permissions.can_comment(person, proposal):
        raise NotAllowed(_l("Comments are open to verified residents and the committee while the "
                            "consultation is open."))
    body = _check_comment(stance, body)
    parent = _thread_of(proposal, parent)
    comment = Comment(proposal_id=proposal.id, parent=parent, author=person,
                      created_by_id=author.id if on_behalf_of else None, stance=stance, body=body, created_at=now)
    db.session.add(comment)
    db.session.flush()
    _add_to_count(proposal, Proposal.comment_count, 1)
    record(author, "proposal.commented", comment, on_behalf_of=on_behalf_of, proposal_id=proposal.id,
           stance=stance, parent_id=getattr(parent, "id", None))
    if parent is not None and parent.author_id != person.id and parent.deleted_at is None:
        # About the reply itself, so the link leads to it while it is there (deleted or hidden: "gone").
        notify([parent.author], "proposals.reply", comment,
               **_payload(proposal, name=person.display_name, comment_id=comment.id))
    return comment


def edit_comment(author: User, comment: Comment, *, stance: str, body: str, now: datetime | None = None) -> Comment:
    """Within 10 minutes of writing, an edit is silent; later (still while the consultation is open) the
    comment shows "edited" and what it said is kept as a revision for moderators."""
    now = _now(now)
    if not permissions.can_edit_comment(author, comment):
        raise NotAllowed(_l("You can edit your own comments while the consultation is open."))
    body = _check_comment(stance, body)
    if (stance, body) == (comment.stance, comment.body):
        return comment
    silent = now - comment.created_at <= EDIT_SILENTLY_WITHIN
    if not silent:
        db.session.add(CommentRevision(comment_id=comment.id, stance=comment.stance, body=comment.body,
                                       written_at=comment.edited_at or comment.created_at, replaced_at=now))
        comment.edited_at = now
    comment.stance = stance
    comment.body = body
    db.session.flush()
    record(author, "proposal.comment_edited", comment, on_behalf_of=_behalf(author, comment), silent=silent)
    return comment


def delete_comment(actor: User, comment: Comment, *, now: datetime | None = None) -> Comment:
    """The author's words go (earlier revisions too); a placeholder keeps the replies in their place."""
    now = _now(now)
    if not permissions.can_delete_comment(actor, comment):
        raise NotAllowed(_l("You can delete only your own comments."))
    counted = comment.hidden_state is None
    comment.body = ""
    comment.deleted_at = now
    db.session.execute(db.delete(CommentRevision).where(CommentRevision.comment_id == comment.id))
    if counted:
        _add_to_count(comment.proposal, Proposal.comment_count, -1)
    db.session.flush()
    record(actor, "proposal.comment_deleted", comment, on_behalf_of=_behalf(actor, comment),
           proposal_id=comment.proposal_id)
    return comment


def comment_revisions(comment: Comment) -> list[CommentRevision]:
    """What a comment said before each visible edit, oldest first (for moderators)."""
    return db.session.scalars(db.select(CommentRevision).where(CommentRevision.comment_id == comment.id)
                              .order_by(CommentRevision.id)).all()


def like_comment(user: User, comment: Comment) -> bool:
    """False, changing nothing, when the person already likes it."""
    if not permissions.can_like_comment(user, comment):
        raise NotAllowed(_l("Verified residents can like other people's comments."))
    if comment.id in liked_ids(user, [comment.id]):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(CommentLike(comment_id=comment.id, user_id=user.id, created_at=utcnow()))
    except IntegrityError:
        return False
    _add_to_count(comment, Comment.like_count, 1)
    _likes_changed(comment)
    return True


def unlike_comment(user: User, comment: Comment) -> bool:
    if not getattr(user, "is_authenticated", False):
        raise NotAllowed(_l("Verified residents can like other people's comments."))
    removed = db.session.execute(db.delete(CommentLike).where(
        CommentLike.comment_id == comment.id, CommentLike.user_id == user.id)).rowcount
    if removed:
        _add_to_count(comment, Comment.like_count, -1)
        _likes_changed(comment)
    return bool(removed)


def _likes_changed(comment: Comment) -> None:
    """The comment's proposal gets a new likes_version with its like count: the pages that keep the counts
    under the old one read them again. After the comment's row, as every write that locks both (a deleted
    comment's count), so no two writers wait on each other in a circle."""
    db.session.execute(db.update(Proposal).where(Proposal.id == comment.proposal_id)
                       .values(likes_version=versions.new_version()))


def liked_ids(user: User, comment_ids: Iterable[int]) -> set[int]:
    """Which of these comments the person likes (one query, for a page of comments)."""
    comment_ids = list(comment_ids)
    if not getattr(user, "is_authenticated", False) or not comment_ids:
        return set()
    return set(db.session.scalars(_liked_statement(_arrays()), {"user_id": user.id, "comment_ids": comment_ids}))


def like_counts(comment_ids: Iterable[int]) -> dict[int, int]:
    """These comments' like counts, in one query (the consultation page keeps them under the proposal's
    likes_version, which every like and unlike changes)."""
    comment_ids = list(comment_ids)
    if not comment_ids:
        return {}
    return dict(db.session.execute(_counts_statement(_arrays()), {"comment_ids": comment_ids}).all())


def _arrays() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


# Built once per process: building a statement each time cost half as much again as running it (~0.25 ms).

def _among(column, array: bool):
    """`column` is one of the ids bound as "comment_ids": with `array` (PostgreSQL), `= ANY(:comment_ids)`, one
    array parameter, so the statement's text and plan are the same for any number of ids (PostgreSQL plans it
    in ~0.15 ms less than an IN list of a page's 35 parameters, and SQLAlchemy writes no list per request);
    elsewhere an IN list."""
    if array:
        return column == any_(bindparam("comment_ids", type_=postgresql.ARRAY(Integer)))
    return column.in_(bindparam("comment_ids", expanding=True))


@cache
def _liked_statement(array: bool):
    return db.select(CommentLike.comment_id).where(CommentLike.user_id == bindparam("user_id"),
                                                   _among(CommentLike.comment_id, array))


@cache
def _counts_statement(array: bool):
    return db.select(Comment.id, Comment.like_count).where(_among(Comment.id, array))


# --- the consultation summary ----------------------------------------------------------------------------

def write_summary(actor: User, proposal: Proposal, *, arguments_for: str, arguments_against: str,
                  now: datetime | None = None) -> Proposal:
    """The main arguments for and against, pinned on top of the consultation; written again replaces it."""
    now = _now(now)
    if not permissions.can_write_summary(actor, proposal):
        raise NotAllowed(_l("Only the community's committee can write the consultation summary."))
    arguments_for = _text(arguments_for, "arguments_for", maximum=SUMMARY_TEXT_MAX, required=False)
    arguments_against = _text(arguments_against, "arguments_against", maximum=SUMMARY_TEXT_MAX, required=False)
    if not arguments_for and not arguments_against:
        raise DomainError(_l("Write the main arguments for, against, or both."), "arguments_for")
    proposal.summary_for = arguments_for or None
    proposal.summary_against = arguments_against or None
    proposal.summary_by_id = actor.id
    proposal.summary_at = now
    _add_event(proposal, "summary", actor, at=now)
    db.session.flush()
    record(actor, "proposal.summary_written", proposal)
    return proposal


def stance_tally(proposal: Proposal) -> dict[str, int]:
    """Visible, undeleted comments (replies too) by stance, in one query."""
    return stance_tallies([proposal.id])[proposal.id]


def stance_tallies(proposal_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """stance_tally of each listed proposal, in one query for a whole list page."""
    tallies = {i: dict.fromkeys(STANCES, 0) for i in proposal_ids}
    if tallies:
        for proposal_id, stance, count in db.session.execute(
                db.select(Comment.proposal_id, Comment.stance, func.count())
                .where(Comment.proposal_id.in_(list(tallies)), Comment.deleted_at.is_(None),
                       Comment.hidden_state.is_(None))
                .group_by(Comment.proposal_id, Comment.stance)):
            tallies[proposal_id][stance] = count
    return tallies


class Thread(NamedTuple):
    """A top-level comment, its first replies (oldest first) and how many more replies it has."""
    top: Comment
    replies: list
    more_replies: int


def comment_page(proposal: Proposal, viewer: User | AnonymousUserMixin, *, sort: str = "oldest", page: int = 1,
                 per_page: int = COMMENTS_PER_PAGE,
                 replies_shown: int = REPLIES_SHOWN) -> tuple[list[Thread], Pagination]:
    """A page of top-level comments, each with its first `replies_shown` replies: (threads, pager), threads
    being a list of Thread. Three queries whatever the number of comments: the count, the page, the first
    replies of its threads with each thread's number of replies; authors come with them. Deleted and hidden
    comments stay in place (the page shows a placeholder). `viewer` is for the page's own checks; everyone
    reads the same comments."""
    orders = {"oldest": (Comment.id.asc(),), "newest": (Comment.id.desc(),),
              "liked": (Comment.like_count.desc(), Comment.id.desc())}
    if sort not in orders:
        raise DomainError(_l("Unknown order."), "sort")
    top = db.select(Comment).where(Comment.proposal_id == proposal.id, Comment.parent_id.is_(None)) \
        .options(joinedload(Comment.author)).order_by(*orders[sort])
    pager = db.paginate(top, page=page, per_page=max(1, min(int(per_page), 200)), error_out=False)
    ids = [c.id for c in pager.items]
    replies = {i: [] for i in ids}
    totals = dict.fromkeys(ids, 0)
    if ids:
        ranked = db.select(
            Comment.id,
            func.row_number().over(partition_by=Comment.parent_id, order_by=Comment.id).label("rank"),
            func.count(Comment.id).over(partition_by=Comment.parent_id).label("total"),
        ).where(Comment.proposal_id == proposal.id, Comment.parent_id.in_(ids)).subquery()
        for reply, total in db.session.execute(
                db.select(Comment, ranked.c.total).join(ranked, ranked.c.id == Comment.id)
                .where(ranked.c.rank <= max(1, int(replies_shown)))
                .options(joinedload(Comment.author)).order_by(Comment.id)):
            replies[reply.parent_id].append(reply)
            totals[reply.parent_id] = int(total)
    return [Thread(c, replies[c.id], totals[c.id] - len(replies[c.id])) for c in pager.items], pager


def thread_replies(proposal: Proposal, top: Comment, viewer: User | AnonymousUserMixin, *, after: int = 0,
                   limit: int = REPLIES_PER_PAGE) -> tuple[list[Comment], int]:
    """Replies to the top-level comment `top` after the reply `after` (by id, oldest first), at most `limit`:
    (replies, how many more follow them). Two queries whatever the thread's length."""
    after = max(0, min(int(after or 0), 2**31 - 1))
    limit = max(1, min(int(limit), 500))
    where = (Comment.proposal_id == proposal.id, Comment.parent_id == top.id, Comment.id > after)
    replies = db.session.scalars(db.select(Comment).where(*where).options(joinedload(Comment.author))
                                 .order_by(Comment.id).limit(limit)).all()
    later = db.session.scalar(db.select(func.count(Comment.id)).where(*where[:2], Comment.id > replies[-1].id)) \
        if len(replies) == limit else 0
    return replies, later
