"""Public notices (公示): started when a ballot decides a proposal, objections lodged by residents during the
period (once each), the committee's public answers, and the end of the notice — after the period and only
once every objection has an answer: a passed proposal moves to implementing, a rejected one is archived.

As the other areas: functions that change something take the acting person first, check the named rule in
`portal.auth.permissions`, validate everything before writing anything, write an audit entry and notify
the people concerned. Callers commit; a DomainError leaves nothing written. `now=None` means utcnow().
Pages apply a notice's due step when they load it (apply_due), and `run-due` does it for all."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from portal import events
from portal.audit.services import record
from portal.auth import permissions
from portal.clock import utcnow
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notices.models import Notice, Objection
from portal.outbox import instant, notify, register_event
from portal.proposals import services as proposals
from portal.proposals.models import Proposal
from portal.votes.models import Ballot, BallotScope

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flask_login import AnonymousUserMixin

    from portal.auth.models import User
    from portal.places.models import Community

OBJECTION_MAX = 2000
ANSWER_MAX = 2000
NOTICES_PER_PAGE = 20


def _notice_link(notification):
    from flask import url_for
    payload = notification.payload or {}
    slug, notice_id = payload.get("slug"), payload.get("notice_id") or notification.object_id
    if not slug or not notice_id:
        return None
    anchor = f"#objection-{payload['objection_id']}" if payload.get("objection_id") else ""
    return url_for("notices.detail", slug=slug, notice_id=notice_id) + anchor


register_event("notices.started",
               _l("“%(title)s” was decided: its public notice runs until %(ends)s. Objections are welcome until "
                  "then."), _notice_link, times=("ends",))
register_event("notices.objection", _l("A resident objected to the decision on “%(title)s”: please answer."),
               _notice_link)
register_event("notices.answered", _l("The committee answered your objection to the decision on “%(title)s”."),
               _notice_link)
register_event("notices.implementing", _l("The public notice of “%(title)s” has ended: it is being carried out."),
               _notice_link)
register_event("notices.archived", _l("The public notice of “%(title)s” has ended: the proposal is archived."),
               _notice_link)

NEXT_STEP = {"passed": "implementing", "rejected": "archived"}


def _now(now):
    return now or utcnow()


def _payload(notice, **extra):
    proposal = notice.proposal
    title = f"#{proposal.id}" if proposal.hidden_state else proposal.title
    payload = {"title": title, "slug": notice.community.slug, "notice_id": notice.id, "proposal_id": proposal.id,
               "zone": notice.community.time_zone}
    payload.update({k: v if isinstance(v, (int, str)) else str(v) for k, v in extra.items()})
    return payload


# --- starting ---------------------------------------------------------------------------------------------

def start_notice(proposal: Proposal, ballot: Ballot | None, *, now: datetime | None = None,
                 tell_community: bool = True) -> Notice:
    """A ballot decided the proposal (passed or rejected): its public notice starts now and runs for the
    community's notice period. The proposal moves from decided to notice. Called by the votes area inside
    its close; commits nothing. `tell_community=False`: the caller tells the community itself, once for many
    notices started together (a budget round's winners), and only the proposal's followers hear of it here."""
    now = _now(now)
    if proposal.status != "decided" or proposal.outcome not in NEXT_STEP:
        raise DomainError(_l("Only a decided proposal gets a public notice."), "proposal")
    community = proposal.community
    days = max(1, int(community.notice_days or 7))
    organization = ballot.organization if ballot is not None else None
    with force_locale(_default_locale()):  # stored words: in the portal's own language, as printed
        how = str(_l("Write your objection on the notice page during the notice period, or hand it to "
                     "%(committee)s. Every objection is answered publicly.",
                     committee=organization.name if organization is not None else community.name))
    statement = (ballot.question if ballot is not None else proposal.title)
    if ballot is not None and ballot.outcome_statement:
        statement = f"{statement}\n\n{ballot.outcome_statement}"
    notice = Notice(proposal=proposal, community=community, ballot=ballot, organization=organization,
                    outcome=proposal.outcome, statement=statement, how_to_object=how, starts_at=now,
                    ends_at=now + timedelta(days=days), status="open")
    db.session.add(notice)
    db.session.flush()
    proposals.enter_notice(proposal, now=now, notice_id=notice.id)
    db.session.flush()
    record(None, "notice.started", notice, proposal_id=proposal.id, outcome=notice.outcome, days=days)
    _notify_community(notice, ballot, now, residents=tell_community)
    return notice


@events.ballot_decided.connect
def _start_for_decided_ballot(ballot, *, proposal, now, **kwargs):
    start_notice(proposal, ballot, now=now)


def _notify_community(notice, ballot, now, residents=True):
    """A notice period starting reaches the community's verified residents (unless `residents` is False),
    the proposal's author and supporters, and everyone who could vote in the ballot (owners living elsewhere
    included): once each, in one INSERT … SELECT (a community may be large)."""
    from portal.auth.models import User
    from portal.places.models import Residency
    from portal.votes import services as votes
    from portal.votes.models import BallotCaster
    proposal = notice.proposal
    followers = [p.id for p in proposals.followers_of(proposal) if p is not None]
    reached = [User.id.in_(select(Residency.user_id).where(Residency.community_id == notice.community_id,
                                                           Residency.status == "verified"))] if residents else []
    if followers:
        reached.append(User.id.in_(followers))
    if ballot is not None:
        reached.append(User.id.in_(select(BallotCaster.user_id).where(BallotCaster.ballot_id == ballot.id)))
    ids = select(User.id.label("user_id")).where(db.or_(*reached), User.is_active_account.is_(True))
    votes._notify_all(ids, "notices.started", notice, _payload(notice, ends=instant(notice.ends_at)), now)


def _default_locale():
    from flask import current_app
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "en")


# --- objections and answers -------------------------------------------------------------------------------

def in_period(notice: Notice, now: datetime | None = None) -> bool:
    now = _now(now)
    return notice.status == "open" and notice.starts_at <= now < notice.ends_at


def has_objected(user: User, notice: Notice) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return db.session.scalar(select(Objection.id).where(Objection.notice_id == notice.id,
                                                        Objection.user_id == user.id)) is not None


def lodge_objection(user: User, notice: Notice, body: str, *, now: datetime | None = None) -> Objection:
    """A verified resident objects, during the period, once."""
    now = _now(now)
    apply_due(notice, now)
    if not in_period(notice, now):
        raise DomainError(_l("The notice period has ended: objections are no longer taken."), "body")
    if not permissions.can_object(user, notice):
        raise NotAllowed(_l("Only verified residents of the community may object, during the notice period."))
    body = proposals._text(body, "body", maximum=OBJECTION_MAX, required=True,
                           empty_message=_l("Write your objection."))
    if has_objected(user, notice):
        raise DomainError(_l("You have already objected to this decision: each resident objects once."), "body")
    objection = Objection(notice_id=notice.id, user_id=user.id, body=body, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(objection)
            db.session.flush()
    except IntegrityError:  # a second objection sent at the same moment: the unique constraint decides
        raise DomainError(_l("You have already objected to this decision: each resident objects once."),
                          "body") from None
    db.session.expire(notice, ["objections"])
    record(user, "notice.objection_lodged", notice, objection_id=objection.id)
    notify(_answerers(notice, user), "notices.objection", notice, **_payload(notice, objection_id=objection.id))
    return objection


def _answerers(notice, actor):
    if notice.organization is not None:
        from portal.issues.services import members_of
        people = members_of([notice.organization_id])
    else:
        people = proposals.committee_of(notice.community)
    return [p for p in people if p.id != actor.id]


def objection_in(notice: Notice, objection_id: int) -> Objection | None:
    try:
        objection_id = int(objection_id)
    except (TypeError, ValueError):
        return None
    if not 0 < objection_id < 2**31:
        return None
    return db.session.scalar(select(Objection).where(Objection.notice_id == notice.id,
                                                     Objection.id == objection_id))


def answer_objection(actor: User, objection: Objection, answer: str, *, now: datetime | None = None) -> Objection:
    """The committee answers an objection publicly, once (an answer is not rewritten)."""
    now = _now(now)
    notice = objection.notice
    if not permissions.can_answer_objection(actor, notice):
        raise NotAllowed(_l("Only the committee that published the notice answers objections."))
    if objection.answered_at is not None:
        raise DomainError(_l("This objection has already been answered."), "answer")
    answer = proposals._text(answer, "answer", maximum=ANSWER_MAX, required=True,
                             empty_message=_l("Write the answer."))
    objection.answer = answer
    objection.answered_by_id = actor.id
    objection.answered_at = now
    db.session.flush()
    record(actor, "notice.objection_answered", notice, objection_id=objection.id)
    if objection.user_id != actor.id:
        notify([objection.user], "notices.answered", notice, **_payload(notice, objection_id=objection.id))
    apply_due(notice, now)  # the last answer after the period ends the notice at once
    return objection


def unanswered_count(notice: Notice) -> int:
    return sum(1 for o in notice.objections if o.answered_at is None)


# --- time -------------------------------------------------------------------------------------------------

def apply_due(notice: Notice, now: datetime | None = None) -> bool:
    """After the period, with every objection answered: the notice ends and the proposal moves on
    (passed → implementing, rejected → archived). With an objection unanswered it stays open, waiting.
    True when something changed."""
    now = _now(now)
    if notice.status != "open" or notice.ends_at > now:
        return False
    waiting = db.session.scalar(select(Objection.id).where(Objection.notice_id == notice.id,
                                                           Objection.answered_at.is_(None)).limit(1))
    if waiting is not None:
        return False
    notice.status = "ended"
    notice.ended_at = now
    proposal = notice.proposal
    if proposal.status == "notice":
        proposals.end_notice(proposal, now=notice.ended_at, notice_id=notice.id)
    db.session.flush()
    record(None, "notice.ended", notice, proposal_id=proposal.id, outcome=notice.outcome, to=proposal.status)
    # The proposal's author and supporters, and everyone who objected, hear how the notice ended.
    people = proposals.followers_of(proposal) + [o.user for o in notice.objections]
    notify(people, f"notices.{NEXT_STEP[notice.outcome]}", notice, **_payload(notice))
    return True


@due_step("end_public_notices")
def end_due(now: datetime) -> int:
    notices = db.session.scalars(select(Notice).where(Notice.status == "open", Notice.ends_at <= now)
                                 .options(joinedload(Notice.proposal), joinedload(Notice.community))
                                 .order_by(Notice.id)).all()
    return sum(apply_due(n, now) for n in notices)


# --- reading ----------------------------------------------------------------------------------------------

def notice_in(community: Community, notice_id: int) -> Notice | None:
    try:
        notice_id = int(notice_id)
    except (TypeError, ValueError):
        return None
    if not 0 < notice_id < 2**31:
        return None
    return db.session.scalar(select(Notice).where(Notice.community_id == community.id, Notice.id == notice_id)
                             .options(joinedload(Notice.proposal), joinedload(Notice.community),
                                      joinedload(Notice.organization), joinedload(Notice.ballot),
                                      selectinload(Notice.objections).joinedload(Objection.user),
                                      selectinload(Notice.objections).joinedload(Objection.answered_by)))


def notice_for(proposal: Proposal) -> Notice | None:
    """The proposal's latest notice, if any."""
    return db.session.scalar(select(Notice).where(Notice.proposal_id == proposal.id)
                             .order_by(Notice.id.desc()).limit(1))


def owners_announcements(community: Community, *, limit: int = 20) -> list[Ballot]:
    """Owners' ballots announced or open in the community (their 公告, Property Management Regulations art. 14),
    soonest opening first: listed with the public notices until voting closes."""
    return db.session.scalars(
        select(Ballot).where(Ballot.community_id == community.id, Ballot.method == "owners",
                             Ballot.status.in_(("scheduled", "open")))
        .options(selectinload(Ballot.estate), selectinload(Ballot.scope_rows).joinedload(BallotScope.building),
                 selectinload(Ballot.proposal).load_only(Proposal.id, Proposal.title, Proposal.hidden_state))
        .order_by(Ballot.opens_at, Ballot.id).limit(limit)).all()


class NoticePage(NamedTuple):
    """One page of a community's notice board, which runs open notices first (ending soonest first), then
    ended ones (latest first): the page's open and ended notices, and where the next page starts ("o12":
    after open notice 12, "e40": after ended notice 40; None: no more)."""
    open: list
    ended: list
    next_after: str | None

    @property
    def notices(self) -> list:
        return self.open + self.ended


def community_notices(community: Community, viewer: User | AnonymousUserMixin, *, after: object = None,
                      per_page: int = NOTICES_PER_PAGE) -> NoticePage:
    """The community's notice board, `per_page` notices at a time from `after` (a page's `next_after`, as its
    link carries it). Each page is at most two statements of its own rows through ix_public_notice_board,
    whatever the number of notices (thousands after a few years; open ones pile up while objections wait)."""
    if not permissions.can_view_community(viewer, community):
        raise NotAllowed(_l("This community's pages are for its members."))
    per_page = max(1, min(int(per_page), 100))
    # Of the proposal, what a row shows and what deciding whether it is hidden for the viewer reads (its
    # body and rendered text stay in the database; anything else loads if a notice ends on the way). Loaded
    # by id after the page of notices is chosen: joined, PostgreSQL read every proposal before the limit.
    shown = selectinload(Notice.proposal).load_only(Proposal.id, Proposal.title, Proposal.status,
                                                  Proposal.hidden_state, Proposal.author_id,
                                                  Proposal.created_by_id, Proposal.community_id)
    phase, cursor = _board_cursor(community, after)
    board = select(Notice).where(Notice.community_id == community.id).options(shown)
    open_now = []
    if phase == "o":
        query = board.where(Notice.status == "open")
        if cursor is not None:
            query = query.where(db.tuple_(Notice.ends_at, Notice.id) > db.tuple_(*cursor))
        open_now = db.session.scalars(query.order_by(Notice.ends_at, Notice.id).limit(per_page + 1)).all()
        if len(open_now) > per_page:
            return NoticePage(open_now[:per_page], [], f"o{open_now[per_page - 1].id}")
        cursor = None
    query = board.where(Notice.status == "ended")
    if cursor is not None:
        query = query.where(db.tuple_(Notice.starts_at, Notice.id) < db.tuple_(*cursor))
    room = per_page - len(open_now)
    if room == 0:  # a page full of open notices, the last of them: one look says whether ended ones follow
        follows = db.session.scalar(query.with_only_columns(Notice.id).limit(1))
        return NoticePage(open_now, [], f"o{open_now[-1].id}" if follows is not None else None)
    ended = db.session.scalars(query.order_by(Notice.starts_at.desc(), Notice.id.desc()).limit(room + 1)).all()
    more = len(ended) > room
    ended = ended[:room]
    return NoticePage(open_now, ended, f"e{ended[-1].id}" if more else None)


def _board_cursor(community: Community, after: object) -> tuple[str, tuple | None]:
    """("o" or "e", (ends_at or starts_at, id) of the notice a page continues after, or None from the start
    of that part). A link from elsewhere, or to a notice that has changed part since, is refused with a
    message (the list then starts again)."""
    if after is None:
        return "o", None
    text = str(after)
    phase, digits = text[:1], text[1:]
    notice_id = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 10 else 0
    row = None
    if phase in ("o", "e") and 0 < notice_id < 2**31:
        status, moment = ("open", Notice.ends_at) if phase == "o" else ("ended", Notice.starts_at)
        row = db.session.execute(select(moment, Notice.id).where(
            Notice.id == notice_id, Notice.community_id == community.id, Notice.status == status)).first()
    if row is None:
        raise DomainError(_l("That page of notices no longer exists: here is the first."), "after")
    return phase, tuple(row)


def objection_counts(notices: Iterable[Notice]) -> dict[int, int]:
    """How many objections each of these notices has (one query for a list)."""
    ids = [n.id for n in notices]
    if not ids:
        return {}
    return dict(db.session.execute(select(Objection.notice_id, db.func.count(Objection.id))
                                   .where(Objection.notice_id.in_(ids)).group_by(Objection.notice_id)).all())
