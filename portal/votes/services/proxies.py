"""Proxies (书面委托) of owners' ballots: an owner authorizes another person in writing to vote for them in one
ballot, and the opening committee records the authorization (the proxy, the date on the paper, a scan).

The rules, all checked under the ballot's row lock:
- scope: one ballot, an owners' ballot whose voting is open (the electorate it names is frozen at opening);
  one live authorization per vote — another is recorded only after the first is revoked;
- the proxy is an account (who then casts the principal's vote online, seeing it on the ballot page beside
  their own) or a person named on paper (whose ballot the committee enters on paper "by proxy");
- no chains: in one ballot a person either holds authorizations or gives one, never both. A proxy cannot
  pass an authorization on (only the principal's own vote can be given, to one person), an owner who holds
  others' authorizations cannot authorize a proxy for their own vote, and an owner who has given their vote
  to a proxy cannot hold anyone else's. Nobody is their own proxy. (A person named on paper without an
  account cannot be matched against the owners' accounts: the committee checks them on the paper itself.)
- a cap: one proxy holds at most PROXY_CAP live authorizations in a ballot (default 3; local rules differ);
  persons named on paper are counted by their name as written;
- the owner (or the committee, given a written revocation) revokes until the proxy has voted;
- the owner's own vote overrides the proxy's, even after the proxy voted (votes.services.casting): a vote
  cast by the owner is never replaced by the proxy, and an authorization of an owner who has voted cannot be
  recorded."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.audit.services import record
from portal.auth import permissions
from portal.clock import local_today
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.outbox import notify, register_event
from portal.votes import scans
from portal.votes.models import Ballot, BallotCaster, BallotLogEntry, BallotProxy, BallotVote, BallotVoter
from portal.votes.services._common import _ballot_link, _lock, _now, _payload, _require, _still_open
from portal.votes.services.closing import apply_due

if TYPE_CHECKING:
    from datetime import datetime

    from portal.auth.models import User

PROXY_NAME_MAX = 100
DEFAULT_PROXY_CAP = 3

register_event("votes.proxy_recorded",
               _l("%(principal)s authorized you in writing to vote for them on “%(title)s”."), _ballot_link)


def proxy_cap() -> int:
    return max(1, int(current_app.config.get("PROXY_CAP", DEFAULT_PROXY_CAP)))


def live_proxy(ballot: Ballot, voter: BallotVoter) -> BallotProxy | None:
    return db.session.scalar(select(BallotProxy).where(BallotProxy.ballot_id == ballot.id,
                                                       BallotProxy.voter_id == voter.id,
                                                       BallotProxy.revoked_at.is_(None)))


def held_by(ballot: Ballot, user: User) -> list[tuple[BallotVoter, BallotProxy]]:
    """The votes this account casts as a proxy in the ballot (live authorizations), in one query."""
    if ballot.method != "owners" or not getattr(user, "is_authenticated", False):
        return []
    return [tuple(row) for row in db.session.execute(
        select(BallotVoter, BallotProxy).join(BallotProxy, BallotProxy.voter_id == BallotVoter.id)
        .where(BallotProxy.ballot_id == ballot.id, BallotProxy.proxy_user_id == user.id,
               BallotProxy.revoked_at.is_(None)).order_by(BallotVoter.id))]


def ballot_proxies(ballot: Ballot) -> list[BallotProxy]:
    """Every authorization recorded in the ballot, live and revoked, newest first (the committee's list)."""
    return list(db.session.scalars(select(BallotProxy).where(BallotProxy.ballot_id == ballot.id)
                                   .options(db.joinedload(BallotProxy.voter)).order_by(BallotProxy.id.desc())))


def voted_proxy_ids(ballot: Ballot) -> set[int]:
    """The authorizations of the ballot that have been used (a vote was cast by the proxy), in one query."""
    return set(db.session.scalars(select(BallotLogEntry.proxy_id).where(
        BallotLogEntry.ballot_id == ballot.id, BallotLogEntry.proxy_id.is_not(None)).distinct()))


def has_voted(proxy: BallotProxy) -> bool:
    return db.session.scalar(select(BallotLogEntry.id).where(BallotLogEntry.ballot_id == proxy.ballot_id,
                                                             BallotLogEntry.proxy_id == proxy.id).limit(1)) is not None


def _casters_of(voter) -> set[int]:
    return set(db.session.scalars(select(BallotCaster.user_id).where(BallotCaster.voter_id == voter.id)))


def _holds_any(ballot, user_ids) -> bool:
    return bool(user_ids) and db.session.scalar(select(BallotProxy.id).where(
        BallotProxy.ballot_id == ballot.id, BallotProxy.proxy_user_id.in_(list(user_ids)),
        BallotProxy.revoked_at.is_(None)).limit(1)) is not None


def _has_given(ballot, user) -> bool:
    """Whether this account casts a vote of the ballot that is authorized to a proxy."""
    return db.session.scalar(select(BallotProxy.id).join(BallotCaster, BallotCaster.voter_id == BallotProxy.voter_id)
                             .where(BallotProxy.ballot_id == ballot.id, BallotProxy.revoked_at.is_(None),
                                    BallotCaster.user_id == user.id).limit(1)) is not None


def _held_count(ballot, proxy_user, name) -> int:
    query = select(func.count()).select_from(BallotProxy).where(BallotProxy.ballot_id == ballot.id,
                                                               BallotProxy.revoked_at.is_(None))
    if proxy_user is not None:
        query = query.where(BallotProxy.proxy_user_id == proxy_user.id)
    else:
        query = query.where(BallotProxy.proxy_user_id.is_(None), func.lower(BallotProxy.proxy_name) == name.lower())
    return db.session.scalar(query)


def record_proxy(member: User, ballot: Ballot, voter: BallotVoter | None, *, proxy_user: User | None = None,
                 proxy_name: str = "", signed_on: date | None = None, scan: tuple[str, bytes] | None = None,
                 now: datetime | None = None) -> BallotProxy:
    """Record an owner's written authorization of a proxy for this ballot (see the module docstring for the
    rules). `proxy_user` is the proxy's account, else `proxy_name` names a person on paper; `scan` is the
    uploaded (filename, bytes) of the signed authorization."""
    now = _now(now)
    apply_due(ballot, now)
    _require(permissions.can_record_proxy, member, ballot,
             _l("Only members of the committee that opened the ballot can record a proxy."))
    if voter is None or voter.ballot_id != ballot.id:
        raise DomainError(_l("Choose the owner who gave the authorization."), "voter_id")
    name = " ".join((proxy_name or "").split())[:PROXY_NAME_MAX]
    if proxy_user is not None and not name:
        name = proxy_user.display_name[:PROXY_NAME_MAX]
    if not name:
        raise DomainError(_l("Name the proxy as the authorization names them."), "proxy_name")
    if signed_on is None:
        raise DomainError(_l("Give the date on the written authorization."), "signed_on")
    if signed_on > local_today(ballot.community.time_zone):
        raise DomainError(_l("The authorization cannot be dated in the future."), "signed_on")
    prepared = scans.prepare(scan)
    _lock(ballot)
    _still_open(ballot, now)
    if live_proxy(ballot, voter) is not None:
        raise DomainError(_l("A proxy of %(name)s is already recorded for this ballot: revoke it first.",
                             name=voter.label), "voter_id")
    live = db.session.scalar(select(BallotVote).where(BallotVote.ballot_id == ballot.id,
                                                      BallotVote.voter_id == voter.id))
    if live is not None:
        raise DomainError(_l("%(name)s has already voted in this ballot: there is no vote left to authorize.",
                             name=voter.label), "voter_id")
    casters = _casters_of(voter)
    if proxy_user is not None:
        if proxy_user.id in casters:
            raise DomainError(_l("An owner cannot be their own proxy."), "proxy_login")
        if _has_given(ballot, proxy_user):
            raise DomainError(_l("%(proxy)s has authorized a proxy for their own vote in this ballot, so they cannot "
                                 "hold anyone else's: a proxy is never passed on.", proxy=name), "proxy_login")
    if _holds_any(ballot, casters):
        raise DomainError(_l("%(name)s holds other owners' authorizations in this ballot, so their own vote cannot "
                             "be given to a proxy: a proxy is never passed on.", name=voter.label), "voter_id")
    cap = proxy_cap()
    if _held_count(ballot, proxy_user, name) >= cap:
        raise DomainError(_l("%(proxy)s already represents %(cap)d owners in this ballot, the most one proxy may.",
                             proxy=name, cap=cap), "proxy_login" if proxy_user is not None else "proxy_name")
    proxy = BallotProxy(ballot_id=ballot.id, voter_id=voter.id, proxy_user_id=getattr(proxy_user, "id", None),
                        proxy_name=name, signed_on=signed_on, recorded_by_id=member.id, recorded_at=now)
    db.session.add(proxy)
    db.session.flush()
    if prepared is not None:
        scans.save(prepared, ballot=ballot, voter=voter, purpose="proxy", uploaded_by=member, proxy=proxy)
    record(member, "ballot.proxy_recorded", ballot, voter_id=voter.id, proxy=name,
           proxy_account=getattr(proxy_user, "id", None), signed_on=signed_on.isoformat(),
           scan=prepared is not None)
    if proxy_user is not None:
        notify([proxy_user], "votes.proxy_recorded", ballot, **_payload(ballot, principal=voter.label))
    return proxy


def revoke_proxy(actor: User, proxy: BallotProxy, *, now: datetime | None = None) -> BallotProxy:
    """The owner (or the committee, given the owner's written revocation) revokes an authorization, until
    the proxy has voted."""
    now = _now(now)
    ballot = db.session.get(Ballot, proxy.ballot_id)
    apply_due(ballot, now)
    if proxy.revoked_at is not None:
        raise DomainError(_l("This authorization is already revoked."), "proxy")
    if not permissions.can_revoke_proxy(actor, proxy):
        _still_open(ballot, now)
        raise NotAllowed(_l("Only the owner or the committee that opened the ballot can revoke a proxy."))
    _lock(ballot)
    _still_open(ballot, now)
    if has_voted(proxy):
        raise DomainError(_l("The proxy has already voted, so the authorization can no longer be revoked. The owner "
                             "may still vote themselves: their own vote counts."), "proxy")
    proxy.revoked_at = now
    proxy.revoked_by_id = actor.id
    record(actor, "ballot.proxy_revoked", ballot, voter_id=proxy.voter_id, proxy=proxy.proxy_name)
    return proxy
