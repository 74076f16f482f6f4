"""Creating a request: checking every parameter (text, location, contact, attributes), fetching its
media from the key's allowed hosts within size and time limits, and creating the issue through the
issues area's hotline path; refusals are recorded."""
from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.clock import utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.issues import services as issues
from portal.issues.models import DESCRIPTION_MAX, TITLE_MAX, Issue
from portal.open311.models import Open311Request, caller_name
from portal.open311.services._common import Open311Error, _bad
from portal.open311.services.jurisdictions import _attributes, _category
from portal.places.models import Building

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from portal.open311.models import Open311Key
    from portal.places.models import Community

MEDIA_MAX_BYTES = 10 * 1024 * 1024
MEDIA_TIMEOUT = 5  # seconds per connect or read
URL_MAX = 2048
ADDRESS_MAX = issues.LOCATION_MAX
NAME_MAX = 40
EMAIL_MAX = 254

PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,19}$")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
HTML_RE = re.compile(r"<\s*/?\s*[a-zA-Z!?]|&#?[a-zA-Z0-9]+;")
ATTRIBUTE_RE = re.compile(r"^attribute\[([^\[\]]*)\](\[\])?$")


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


def fetch_media(url: str, hosts: Iterable[str]) -> bytes | None:
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


def create_request(key: Open311Key, community: Community, params: Mapping[str, str], *,
                   now: datetime | None = None) -> Created:
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
    name = caller_name(first_name, last_name) or key.name
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


def record_refusal(key: Open311Key, community: Community | None, error: Open311Error) -> None:
    """A refused POST of an authenticated key, in the audit log (the caller has rolled back and commits)."""
    record(None, "open311.request_refused", key, key_prefix=key.prefix, code=error.code,
           description=str(error.description)[:200], community_id=getattr(community, "id", None))
