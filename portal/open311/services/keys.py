"""Open311 API keys and the rate limit: creating, updating and revoking a key (only its hash is
stored), the hosts a key may fetch media from, recording and counting each key's use, and the
per-minute limit (in Redis when configured, otherwise counted in the database)."""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions
from portal.clock import utcnow
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.open311.models import DEFAULT_RATE_LIMIT, Open311Key, Open311Usage
from portal.open311.services._common import Open311Error

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User
    from portal.places.models import Community

log = logging.getLogger("portal.open311.services")  # the name operators filter on, as before the split
RATE_WINDOW = timedelta(minutes=1)
KEY_NAME_MAX = 120
MAX_HOSTS = 20
RATE_LIMIT_MAX = 10000
TOKEN_PREFIX = "o311_"
HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)*$")


# --- keys ------------------------------------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_hosts(text: str | None) -> list[str]:
    """Host names from a textarea (one per line, or separated by commas or spaces), lower-cased, checked."""
    hosts = []
    for part in re.split(r"[\s,]+", (text or "").strip().lower()):
        if not part:
            continue
        if not HOST_RE.match(part):
            raise DomainError(_l("“%(host)s” is not a host name (such as media.example.cn).", host=part[:80]),
                              "media_hosts")
        if part not in hosts:
            hosts.append(part)
    if len(hosts) > MAX_HOSTS:
        raise DomainError(_l("At most %(max)d host names, please.", max=MAX_HOSTS), "media_hosts")
    return hosts


def _check_key_fields(name, communities, media_hosts, rate_limit):
    name = (name or "").strip()
    if not name or len(name) > KEY_NAME_MAX:
        raise DomainError(_l("The name is 1 to 120 characters."), "name")
    communities = [c for c in communities or () if c is not None]
    if not communities:
        raise DomainError(_l("Choose at least one community this key may report into."), "communities")
    hosts = parse_hosts(media_hosts) if isinstance(media_hosts, str) else parse_hosts(" ".join(media_hosts or ()))
    try:
        rate_limit = int(DEFAULT_RATE_LIMIT if rate_limit in (None, "") else rate_limit)
    except (TypeError, ValueError):
        raise DomainError(_l("The limit is a whole number of requests per minute."), "rate_limit") from None
    if not 1 <= rate_limit <= RATE_LIMIT_MAX:
        raise DomainError(_l("The limit is between 1 and %(max)d requests per minute.", max=RATE_LIMIT_MAX),
                          "rate_limit")
    return name, communities, hosts, rate_limit


def create_key(actor: User, *, name: str, communities: Iterable[Community], media_hosts: Iterable[str] = (),
               rate_limit: int | str = DEFAULT_RATE_LIMIT, token: str | None = None) -> tuple[Open311Key, str]:
    """Issue a key for an integration; returns (key, token). The token is shown once and never stored.
    `token` is for the demo data only (a documented, fixed demo key)."""
    if not permissions.is_admin(actor):
        raise NotAllowed(_l("Only administrators can issue API keys."))
    name, communities, hosts, rate_limit = _check_key_fields(name, communities, media_hosts, rate_limit)
    token = token or _new_token()
    key = Open311Key(name=name, prefix=token[:12], key_hash=hash_token(token), media_hosts=hosts,
                     rate_limit=rate_limit, created_by_id=actor.id, communities=communities)
    db.session.add(key)
    db.session.flush()
    record(actor, "open311_key.created", key, name=name, prefix=key.prefix,
           communities=[c.id for c in communities], media_hosts=hosts, rate_limit=rate_limit)
    return key, token


def update_key(actor: User, key: Open311Key, *, name: str, communities: Iterable[Community], media_hosts: Iterable[str],
               rate_limit: int | str) -> Open311Key:
    if not permissions.is_admin(actor):
        raise NotAllowed(_l("Only administrators can change API keys."))
    name, communities, hosts, rate_limit = _check_key_fields(name, communities, media_hosts, rate_limit)
    key.name = name
    key.communities = communities
    key.media_hosts = hosts
    key.rate_limit = rate_limit
    db.session.flush()
    record(actor, "open311_key.updated", key, name=name, prefix=key.prefix,
           communities=[c.id for c in communities], media_hosts=hosts, rate_limit=rate_limit)
    return key


def revoke_key(actor: User, key: Open311Key, *, now: datetime | None = None) -> bool:
    """False, changing nothing, when the key was already revoked."""
    if not permissions.is_admin(actor):
        raise NotAllowed(_l("Only administrators can revoke API keys."))
    if key.revoked_at is not None:
        return False
    key.revoked_at = now or utcnow()
    key.revoked_by_id = actor.id
    db.session.flush()
    record(actor, "open311_key.revoked", key, prefix=key.prefix, name=key.name)
    return True


def all_keys() -> list[Open311Key]:
    return db.session.scalars(db.select(Open311Key).options(joinedload(Open311Key.communities))
                              .order_by(Open311Key.revoked_at.is_not(None), Open311Key.id.desc())).unique().all()


def key_for(token: str, *, now: datetime | None = None) -> Open311Key:
    """The active key with this token; 403 when missing, unknown or revoked."""
    token = (token or "").strip()
    if not token:
        raise Open311Error(403, _l("api_key is required."))
    key = db.session.scalar(db.select(Open311Key).where(Open311Key.key_hash == hash_token(token)))
    if key is None:
        raise Open311Error(403, _l("This api_key is not valid."))
    if key.revoked_at is not None:
        raise Open311Error(403, _l("This api_key was revoked."))
    key.last_used_at = now or utcnow()
    return key


def record_use(key: Open311Key, method: str, endpoint: str, status: int, *, now: datetime | None = None) -> None:
    db.session.add(Open311Usage(key_id=key.id, method=method, endpoint=endpoint[:40], status=status,
                                at=now or utcnow()))


def usage_counts(keys: Iterable[Open311Key], *, since: datetime) -> dict[int, int]:
    rows = db.session.execute(db.select(Open311Usage.key_id, func.count()).where(
        Open311Usage.key_id.in_([k.id for k in keys]), Open311Usage.at >= since).group_by(Open311Usage.key_id))
    return dict(rows.all())


# --- rate limit ------------------------------------------------------------------------------------------

_redis_clients = {}


def _redis(url):
    client = _redis_clients.get(url)
    if client is None:
        import redis
        client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return client


def check_rate(key: Open311Key, *, now: datetime | None = None) -> None:
    """429 when the key has used its POSTs of this minute: counted in Redis (fixed one-minute windows) when
    REDIS_URL is set and answers, else from the usage table (the last 60 seconds)."""
    now = now or utcnow()
    url = current_app.config.get("REDIS_URL")
    if url:
        window = int(now.timestamp()) // 60
        name = f"open311:rate:{key.id}:{key.prefix}:{window}"
        try:
            pipe = _redis(url).pipeline()
            pipe.incr(name)
            pipe.expire(name, 120)
            count = pipe.execute()[0]
        except Exception as error:  # Redis down: the database still limits
            log.warning("Open311 rate limit: Redis unavailable (%s); counting in the database", error)
        else:
            if count > key.rate_limit:
                raise Open311Error(429, _l("Too many requests for this api_key: at most %(n)d per minute.",
                                           n=key.rate_limit))
            return
    used = db.session.scalar(db.select(func.count()).select_from(Open311Usage).where(
        Open311Usage.key_id == key.id, Open311Usage.method == "POST", Open311Usage.status != 429,
        Open311Usage.at > now - RATE_WINDOW))
    if used >= key.rate_limit:
        raise Open311Error(429, _l("Too many requests for this api_key: at most %(n)d per minute.",
                                   n=key.rate_limit))
