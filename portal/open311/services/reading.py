"""Open311 GeoReport v2 over neighbourhood issues: keys, jurisdictions, services, creating and reading requests.

Functions here never touch `request`: views hand them the parameters (a MultiDict) and render what they
return. A refusal is an Open311Error carrying the HTTP status and the spec's error description; nothing is
written before every parameter has been checked (and any media fetched), so a refused request leaves nothing
behind. Issues are created through the issues area's hotline path, so routing, deadlines, the three rates
and the dashboard treat them like every other issue. Callers commit."""
import hashlib
import http.client
import logging
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions
from portal.clock import utcnow
from portal.committees.models import Organization
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues import services as issues
from portal.issues.models import DESCRIPTION_MAX, OPEN_STATES, TITLE_MAX, Issue, IssueCategory, IssueEvent, IssuePhoto
from portal.open311.models import DEFAULT_RATE_LIMIT, Open311Key, Open311Request, Open311Usage
from portal.places.models import Building, Community

log = logging.getLogger(__name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00Z"  # when this interface last changed shape (discovery's changeset)
MAX_RANGE = timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 1000
RATE_WINDOW = timedelta(minutes=1)
MEDIA_MAX_BYTES = 10 * 1024 * 1024
MEDIA_TIMEOUT = 5  # seconds per connect or read
URL_MAX = 2048
ADDRESS_MAX = issues.LOCATION_MAX
NAME_MAX = 40
EMAIL_MAX = 254
KEY_NAME_MAX = 120
MAX_HOSTS = 20
RATE_LIMIT_MAX = 10000
TOKEN_PREFIX = "o311_"

PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,19}$")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?)*$")
HTML_RE = re.compile(r"<\s*/?\s*[a-zA-Z!?]|&#?[a-zA-Z0-9]+;")
ATTRIBUTE_RE = re.compile(r"^attribute\[([^\[\]]*)\](\[\])?$")


class Open311Error(Exception):
    """A refusal as the spec writes it: an HTTP status and a description ({code, description})."""

    def __init__(self, code: int, description):
        super().__init__(str(description))
        self.code = code
        self.description = description


def _bad(description):
    return Open311Error(400, description)


# --- keys ------------------------------------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_hosts(text) -> list[str]:
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


def create_key(actor, *, name, communities, media_hosts=(), rate_limit=DEFAULT_RATE_LIMIT, token=None):
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


def update_key(actor, key, *, name, communities, media_hosts, rate_limit) -> Open311Key:
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


def revoke_key(actor, key, *, now=None) -> bool:
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


def key_for(token, *, now=None) -> Open311Key:
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


def record_use(key, method, endpoint, status, *, now=None) -> None:
    db.session.add(Open311Usage(key_id=key.id, method=method, endpoint=endpoint[:40], status=status,
                                at=now or utcnow()))


def usage_counts(keys, *, since) -> dict[int, int]:
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


def check_rate(key, *, now=None) -> None:
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


# --- jurisdictions and services --------------------------------------------------------------------------

def jurisdiction(jurisdiction_id) -> Community:
    """The community whose slug is `jurisdiction_id`; it may be left out while the portal serves one."""
    slug = (jurisdiction_id or "").strip()
    if slug:
        community = db.session.scalar(db.select(Community).where(Community.slug == slug))
        if community is None:
            raise Open311Error(404, _l("Unknown jurisdiction_id."))
        return community
    communities = db.session.scalars(db.select(Community).order_by(Community.id).limit(2)).all()
    if len(communities) == 1:
        return communities[0]
    if not communities:
        raise Open311Error(404, _l("Unknown jurisdiction_id."))
    raise _bad(_l("jurisdiction_id is required: this server serves several communities."))


def _categories(community) -> list[IssueCategory]:
    listed = issues.categories_for(community)
    if not listed and not issues.categories_for(community, active_only=False):
        listed = issues.ensure_default_categories(community)  # as the issues pages do on first use
    return listed


def service_list(community) -> list[dict]:
    from portal.issues.models import DEADLINE_CLASS_LABELS
    has_buildings = bool(issues.building_choices(community))
    result = []
    for category in _categories(community):
        name = issues.category_label(category)
        result.append({
            "service_code": category.code,
            "service_name": name,
            "description": str(_l("%(name)s: first response within %(respond)d hours, resolved within "
                                  "%(resolve)d hours.", name=name, respond=category.respond_hours,
                                  resolve=category.resolve_hours)),
            "metadata": has_buildings,
            "type": "realtime",
            "keywords": category.code,
            "group": str(DEADLINE_CLASS_LABELS.get(category.deadline_class, category.deadline_class)),
        })
    return result


def _category(community, service_code) -> IssueCategory | None:
    code = (service_code or "").strip()
    if not code:
        return None
    return db.session.scalar(db.select(IssueCategory).where(
        IssueCategory.community_id == community.id, IssueCategory.code == code,
        IssueCategory.is_active.is_(True)))


def _attributes(community) -> list[dict]:
    buildings = issues.building_choices(community)
    if not buildings:
        return []
    return [{
        "variable": True,
        "code": "building",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": str(_l("The code of a building of the community (the same as address_id).")),
        "order": 1,
        "description": str(_l("Building")),
        "values": [{"key": b.code, "name": b.name} for b in buildings],
    }]


def service_definition(community, service_code) -> dict:
    category = _category(community, service_code)
    if category is None:
        raise Open311Error(404, _l("Unknown service_code."))
    return {"service_code": category.code, "attributes": _attributes(community)}


# --- creating a request ----------------------------------------------------------------------------------

@dataclass
class Created:
    issue: Issue
    service_notice: str


def _text(params, name, maximum, message=None) -> str:
    value = (params.get(name) or "").strip()
    if len(value) > maximum:
        raise _bad(message or _l("%(name)s is at most %(max)d characters.", name=name, max=maximum))
    return value


def _coordinate(params, name, limit):
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _bad(_l("%(name)s must be a number of degrees (WGS-84).", name=name)) from None
    if not number.is_finite() or not -limit <= number <= limit:
        raise _bad(_l("%(name)s must be between -%(limit)d and %(limit)d degrees.", name=name, limit=limit))
    return number.quantize(Decimal("0.000001"))


def _parse_attributes(params, community) -> dict:
    """attribute[code]=value (attribute[code][]=value for lists), each code one of the service's."""
    known = {a["code"]: a for a in _attributes(community)}
    values = {}
    for name in params.keys():
        if not name.startswith("attribute"):
            continue
        match = ATTRIBUTE_RE.match(name)
        if match is None:
            raise _bad(_l("Attributes are sent as attribute[code]=value."))
        code = match.group(1)
        if code not in known:
            raise _bad(_l("Unknown attribute code “%(code)s”.", code=code[:40]))
        given = [v.strip() for v in params.getlist(name) if v.strip()]
        if len(given) > 1 or match.group(2):
            if known[code]["datatype"] != "multivaluelist" and len(given) > 1:
                raise _bad(_l("Attribute “%(code)s” takes one value.", code=code))
        if not given:
            continue
        keys = {v["key"] for v in known[code].get("values", [])}
        for value in given:
            if keys and value not in keys:
                raise _bad(_l("“%(value)s” is not a value of attribute “%(code)s”.", value=value[:40], code=code))
        values[code] = given[0]
    return values


def _title_from(description, category_name, address):
    first_line = next((" ".join(line.split()) for line in description.splitlines() if line.strip()), "")
    title = first_line or (f"{category_name} · {address}" if address else category_name)
    return title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1].rstrip() + "…"


class _AllowListRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an http(s) address on the key's allow-list."""

    def __init__(self, hosts):
        super().__init__()
        self.hosts = hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not _media_allowed(newurl, self.hosts):
            raise urllib.error.URLError("redirect off the allow-list")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _media_allowed(url, hosts) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and (parts.hostname or "").lower() in set(hosts or ())


def fetch_media(url, hosts) -> bytes | None:
    """The bytes at `url` when its host is on the allow-list and it answers 200 within the time and size
    limits; None otherwise (the request then keeps the address as a link)."""
    if not _media_allowed(url, hosts):
        return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _AllowListRedirects(hosts))
    request = urllib.request.Request(url, headers={"User-Agent": "Yishi-Open311/1", "Accept": "image/*"})
    try:
        with opener.open(request, timeout=MEDIA_TIMEOUT) as response:
            if response.status != 200:
                return None
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MEDIA_MAX_BYTES:
                return None
            data = response.read(MEDIA_MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        return None
    return data if 0 < len(data) <= MEDIA_MAX_BYTES else None


def _prepared_photo(url, key):
    if not url:
        return None
    data = fetch_media(url, key.media_hosts)
    if data is None:
        return None
    from portal.issues import photos
    try:
        return photos.prepare(data)
    except DomainError:
        return None


def create_request(key, community, params, *, now=None) -> Created:
    """POST requests: one hotline issue from the parameters, with the caller's contact kept for handlers."""
    now = now or utcnow()
    if community not in key.communities:
        raise Open311Error(403, _l("This api_key may not create requests in this jurisdiction."))
    for name in params.keys():
        if any("\x00" in v for v in params.getlist(name)) or "\x00" in name:
            raise _bad(_l("Parameters may not contain NUL characters."))
    service_code = (params.get("service_code") or "").strip()
    if not service_code:
        raise _bad(_l("service_code is required."))
    category = _category(community, service_code)
    if category is None:
        raise _bad(_l("Unknown service_code."))
    latitude, longitude = _coordinate(params, "lat", 90), _coordinate(params, "long", 180)
    if (latitude is None) != (longitude is None):
        raise _bad(_l("Give both lat and long, or neither."))
    address = _text(params, "address_string", ADDRESS_MAX)
    building = None
    address_id = (params.get("address_id") or "").strip()
    attributes = _parse_attributes(params, community)
    building_code = attributes.get("building")
    if address_id and building_code and address_id != building_code:
        raise _bad(_l("address_id and attribute[building] name different buildings."))
    if address_id or building_code:
        building = db.session.scalar(db.select(Building).where(Building.community_id == community.id,
                                                               Building.code == (address_id or building_code)))
        if building is None:
            raise _bad(_l("Unknown address_id: not a building code of this jurisdiction."))
    if latitude is None and not address and building is None:
        raise _bad(_l("A location is required: address_string, lat and long, or address_id."))
    description = params.get("description") or ""
    if len(description) > DESCRIPTION_MAX:
        raise _bad(_l("description is at most %(max)d characters.", max=DESCRIPTION_MAX))
    description = description.strip()
    if HTML_RE.search(description):
        raise _bad(_l("description must be plain text, without HTML."))
    email = _text(params, "email", EMAIL_MAX)
    if email and not EMAIL_RE.match(email):
        raise _bad(_l("email is not an e-mail address."))
    first_name, last_name = _text(params, "first_name", NAME_MAX), _text(params, "last_name", NAME_MAX)
    phone = _text(params, "phone", issues.REPORTER_PHONE_MAX)
    if phone and not PHONE_RE.match(phone):
        raise _bad(_l("phone is not a telephone number."))
    media_url = (params.get("media_url") or "").strip()
    if media_url and (len(media_url) > URL_MAX or urlsplit(media_url).scheme not in ("http", "https")
                      or not urlsplit(media_url).hostname):
        raise _bad(_l("media_url must be an http or https address of at most %(max)d characters.", max=URL_MAX))
    prepared = _prepared_photo(media_url, key)

    # The caller's phone stays in the Open311 record, shown masked to handlers: the integration (the hotline)
    # keeps the relationship with its caller, and the portal answers through status_notes.
    name = " ".join(p for p in (first_name, last_name) if p) or key.name
    try:
        issue = issues.report_from_hotline(
            community, category=category, reporter_name=name[:issues.REPORTER_NAME_MAX],
            reporter_phone=None, description=description, now=now,
            title=_title_from(description, issues.category_label(category), address or getattr(building, "name", "")))
    except DomainError as error:  # the issues area refused what we checked: still a 400, nothing written
        raise _bad(error.message) from None
    issue.building = building
    issue.location_text = address or None
    issue.latitude, issue.longitude = latitude, longitude
    db.session.flush()
    if prepared is not None:
        from portal.issues import photos
        event = next((e for e in issue.events if e.kind == "hotline"), None)
        photos.save(prepared, issue=issue, event=event)
    db.session.add(Open311Request(issue=issue, key_id=key.id, email=email or None, first_name=first_name or None,
                                  last_name=last_name or None, phone=phone or None, media_url=media_url or None,
                                  media_stored=prepared is not None, attributes=attributes, created_at=now))
    db.session.flush()
    record(None, "open311.request_created", issue, key_id=key.id, key_prefix=key.prefix, key_name=key.name,
           community_id=community.id, service_code=category.code,
           media=("stored" if prepared is not None else "link") if media_url else None)
    notice = str(_l("Received. %(org)s will respond within %(hours)d hours.",
                    org=issue.handling_org.name if issue.handling_org else community.name,
                    hours=category.respond_hours))
    return Created(issue=issue, service_notice=notice)


def record_refusal(key, community, error) -> None:
    """A refused POST of an authenticated key, in the audit log (the caller has rolled back and commits)."""
    record(None, "open311.request_refused", key, key_prefix=key.prefix, code=error.code,
           description=str(error.description)[:200], community_id=getattr(community, "id", None))


# --- reading requests ------------------------------------------------------------------------------------

def parse_datetime(value, name) -> datetime | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _bad(_l("%(name)s must be an ISO 8601 date and time, such as 2026-12-01T08:00:00+08:00.",
                      name=name)) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _bad(_l("%(name)s must include a time zone (Z or an offset such as +08:00).", name=name))
    if not 2000 <= parsed.year <= 2100:
        raise _bad(_l("%(name)s is out of range.", name=name))
    return parsed.astimezone(UTC)


def _positive_int(value, name, *, default, maximum):
    text = (value or "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise _bad(_l("%(name)s must be a whole number from 1 to %(max)d.", name=name, max=maximum))
    return int(text)


def parse_ids(value) -> list[int]:
    ids = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part.isdigit() or len(part) > 9:
            raise _bad(_l("service_request_id is a comma-separated list of request numbers."))
        ids.append(int(part))
    if len(ids) > MAX_IDS:
        raise _bad(_l("At most %(max)d service_request_id values.", max=MAX_IDS))
    return ids


@dataclass(frozen=True)
class RequestQuery:
    """GET requests' parameters, checked and normalized: what the answer depends on besides the data and the
    clock (`default_window`: the last 90 days up to now)."""
    ids: tuple[int, ...] | None = None
    codes: tuple[str, ...] = ()
    statuses: frozenset = frozenset()
    start: datetime | None = None
    end: datetime | None = None
    default_window: bool = False
    page: int = 1
    page_size: int = MAX_RESULTS

    def window(self, now) -> tuple[datetime, datetime]:
        return (now - MAX_RANGE, now) if self.default_window else (self.start, self.end)


def parse_request_query(community, params) -> RequestQuery:
    """The checks of GET requests, in the order they have always been made (service_request_id first: it
    overrides every other filter, which are then not looked at)."""
    if (params.get("service_request_id") or "").strip():
        return RequestQuery(ids=tuple(parse_ids(params.get("service_request_id"))))
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    if codes:
        known = set(db.session.scalars(db.select(IssueCategory.code).where(IssueCategory.community_id == community.id,
                                                                           IssueCategory.code.in_(codes))))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise _bad(_l("Unknown service_code “%(code)s”.", code=unknown[0][:40]))
    statuses = {s.strip() for s in (params.get("status") or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise _bad(_l("status is open or closed."))
    start, end = parse_datetime(params.get("start_date"), "start_date"), parse_datetime(params.get("end_date"),
                                                                                        "end_date")
    default_window = start is None and end is None
    if not default_window:
        if start is None:
            start = end - MAX_RANGE
        if end is None:
            end = start + MAX_RANGE
        if end < start:
            raise _bad(_l("end_date is before start_date."))
        if end - start > MAX_RANGE:
            raise _bad(_l("The date range may not span more than 90 days."))
    page_size = _positive_int(params.get("page_size"), "page_size", default=MAX_RESULTS, maximum=MAX_RESULTS)
    page = _positive_int(params.get("page"), "page", default=1, maximum=100000)
    return RequestQuery(codes=tuple(sorted(set(codes))), statuses=frozenset(statuses), start=start, end=end,
                        default_window=default_window, page=page, page_size=page_size)


def _matching(community, q: RequestQuery, now):
    """The WHERE of GET requests: the public issues the query selects (before ordering and paging)."""
    where = [Issue.community_id == community.id, Issue.hidden_state.is_(None)]
    if community.members_only:
        where.append(false())
    if q.ids is not None:
        return where + [Issue.id.in_(q.ids)]
    if q.codes:
        where.append(Issue.category_id.in_(db.select(IssueCategory.id).where(
            IssueCategory.community_id == community.id, IssueCategory.code.in_(q.codes))))
    if q.statuses == {"open"}:
        where.append(Issue.status.in_(OPEN_STATES))
    elif q.statuses == {"closed"}:
        where.append(Issue.status.not_in(OPEN_STATES))
    start, end = q.window(now)
    return where + [Issue.submitted_at >= start, Issue.submitted_at <= end]


def find_requests(community, params, *, now=None) -> list[dict]:
    """GET requests: by service_request_id (which overrides every other filter), or by service_code, status
    and a requested_datetime range of at most 90 days (the last 90 days by default), newest first."""
    return requests_for(community, parse_request_query(community, params), now=now)


def requests_for(community, q: RequestQuery, *, now=None) -> list[dict]:
    now = now or utcnow()
    rows = db.select(*_ROW_COLUMNS).join(IssueCategory, IssueCategory.id == Issue.category_id) \
        .outerjoin(Building, Building.id == Issue.building_id) \
        .outerjoin(Organization, Organization.id == Issue.handling_org_id) \
        .where(*_matching(community, q, now)).order_by(Issue.submitted_at.desc(), Issue.id.desc())
    if q.ids is None:
        rows = rows.offset((q.page - 1) * q.page_size).limit(q.page_size)
    return serialize_rows(community, db.session.execute(rows).all())


def requests_fingerprint(community, q: RequestQuery, *, now=None) -> tuple:
    """A cheap sign of everything a GET requests answer is made of, in ONE statement: the set of issues the
    query selects (count, sum and largest of their ids, so one leaving the 90-day window or being hidden
    changes it), and the newest timeline entry, photo, Open311 request and audit entry of the portal (every
    status change adds a timeline entry; moderation, renames and settings write an audit entry)."""
    now = now or utcnow()
    from portal.audit.models import AuditEntry
    newest = [db.select(func.max(model.id)).scalar_subquery()
              for model in (IssueEvent, IssuePhoto, Open311Request, AuditEntry)]
    row = db.session.execute(db.select(func.count(Issue.id), func.coalesce(func.sum(Issue.id), 0),
                                       func.max(Issue.id), *newest).where(*_matching(community, q, now))).one()
    return tuple(int(v) if v is not None else None for v in row)


def find_request(community, request_id) -> list[dict]:
    text = str(request_id)
    if not text.isdigit() or len(text) > 9:
        raise Open311Error(404, _l("Unknown service_request_id."))
    found = requests_for(community, RequestQuery(ids=(int(text),)))
    if not found:
        raise Open311Error(404, _l("Unknown service_request_id."))
    return found


def _latest_public_events(issue_ids):
    """Per issue: the time of its latest public entry, and the text of its latest public update with words
    (a handler's update, resolution note or rejection reason) that moderators did not hide."""
    updated, notes = {}, {}
    if not issue_ids:
        return updated, notes
    for chunk_start in range(0, len(issue_ids), 500):
        chunk = issue_ids[chunk_start:chunk_start + 500]
        rows = db.session.execute(db.select(IssueEvent.issue_id, IssueEvent.at, IssueEvent.body, IssueEvent.kind,
                                            IssueEvent.hidden_state)
                                  .where(IssueEvent.issue_id.in_(chunk), IssueEvent.is_public.is_(True))
                                  .order_by(IssueEvent.at, IssueEvent.id))
        for issue_id, at, body, kind, hidden in rows:
            updated[issue_id] = at
            if body and hidden is None and kind in ("accepted", "update", "resolved", "rejected", "handed_over"):
                notes[issue_id] = body
    return updated, notes


def _photo_urls_of(visible):
    """The first public photo (else the hotline's media link) of each of the issues whose photos anyone may see."""
    from portal.web import absolute_url
    urls = {}
    if visible:
        rows = db.session.execute(db.select(IssuePhoto.issue_id, IssuePhoto.key).outerjoin(
            IssueEvent, IssueEvent.id == IssuePhoto.event_id).where(
            IssuePhoto.issue_id.in_(visible),
            (IssuePhoto.event_id.is_(None)) | ((IssueEvent.is_public.is_(True)) & IssueEvent.hidden_state.is_(None)))
            .order_by(IssuePhoto.id))
        for issue_id, key in rows:
            if issue_id not in urls:
                urls[issue_id] = absolute_url("issues.photo", key=key, size=1600)
        links = db.session.execute(db.select(Open311Request.issue_id, Open311Request.media_url).where(
            Open311Request.issue_id.in_(visible), Open311Request.media_url.is_not(None)))
        for issue_id, link in links:
            urls.setdefault(issue_id, link)
    return urls


_ROW_COLUMNS = (Issue.id, Issue.status, Issue.description, Issue.title, Issue.location_text, Issue.submitted_at,
                Issue.resolve_by, Issue.latitude, Issue.longitude, IssueCategory.code, IssueCategory.name,
                Building.name, Building.code, Organization.name)


def serialize_rows(community, found) -> list[dict]:
    """The spec's fields of each request from plain rows (_ROW_COLUMNS) of one community: the zone, postcode,
    labels and who may see photos are worked out once, not per row."""
    from flask_login import AnonymousUserMixin
    ids = [row[0] for row in found]
    updated, notes = _latest_public_events(ids)
    # What anyone may see of photos: the community's pages, and no photo of a rejected issue
    # (permissions.can_see_issue_photos for a visitor).
    anyone = permissions.can_view_community(AnonymousUserMixin(), community)
    photos = _photo_urls_of([row[0] for row in found if anyone and row[1] != "rejected"])
    zone = ZoneInfo(community.time_zone)
    zipcode = community.postcode or None
    labels = {}
    result = []
    for (issue_id, status, description, title, location_text, submitted_at, resolve_by, latitude, longitude,
         category_code, category_name, building_name, building_code, org_name) in found:
        label = labels.get((category_code, category_name))
        if label is None:
            label = labels[(category_code, category_name)] = issues.category_label(
                SimpleNamespace(code=category_code, name=category_name))
        result.append({
            "service_request_id": str(issue_id),
            "status": "open" if status in OPEN_STATES else "closed",
            "status_notes": notes.get(issue_id),
            "service_name": label,
            "service_code": category_code,
            "description": description or title,
            "agency_responsible": org_name,
            "service_notice": None,
            "requested_datetime": submitted_at.astimezone(zone).isoformat(timespec="seconds"),
            "updated_datetime": updated.get(issue_id, submitted_at).astimezone(zone).isoformat(timespec="seconds"),
            "expected_datetime": resolve_by.astimezone(zone).isoformat(timespec="seconds"),
            "address": location_text or building_name,
            "address_id": building_code,
            "zipcode": zipcode,
            "lat": float(latitude) if latitude is not None else None,
            "long": float(longitude) if longitude is not None else None,
            "media_url": photos.get(issue_id),
        })
    return result


# --- for the issue page ----------------------------------------------------------------------------------

def request_for_issue(issue) -> Open311Request | None:
    if issue is None or issue.source != "hotline":
        return None
    return db.session.scalar(db.select(Open311Request).where(Open311Request.issue_id == issue.id)
                             .options(joinedload(Open311Request.key)))
