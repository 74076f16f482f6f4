"""Reading requests: the query parameters (dates, ids, status, service, bounded ranges), finding
requests, one request, the fingerprint for conditional responses, and serializing rows with their
latest public update and photos; the request behind an issue for the issue page."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func
from sqlalchemy.orm import joinedload

from portal.auth import permissions
from portal.clock import utcnow
from portal.committees.models import Organization
from portal.extensions import db
from portal.issues import services as issues
from portal.issues.models import OPEN_STATES, Issue, IssueCategory, IssueEvent, IssuePhoto
from portal.open311.models import Open311Request
from portal.open311.services._common import Open311Error, _bad
from portal.places.models import Building

if TYPE_CHECKING:
    from collections.abc import Mapping

    from portal.places.models import Community

MAX_RANGE = timedelta(days=90)
MAX_RESULTS = 1000
MAX_IDS = 1000


# --- reading requests ------------------------------------------------------------------------------------

DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_datetime(value: str | None, name: str, zone: str | None = None) -> datetime | None:
    """An ISO 8601 date and time with a time zone, or a W3C date alone (YYYY-MM-DD): midnight at the start of
    that day in `zone` (the community's time zone), for start_date and end_date alike."""
    text = (value or "").strip()
    if not text:
        return None
    if DATE_ONLY.match(text) and zone:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _bad(_l("%(name)s must be an ISO 8601 date and time, such as 2026-12-01T08:00:00+08:00.",
                          name=name)) from None
        if not 2000 <= day.year <= 2100:
            raise _bad(_l("%(name)s is out of range.", name=name))
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
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


def parse_ids(value: str | None) -> list[int]:
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


def parse_request_query(community: Community, params: Mapping[str, str]) -> RequestQuery:
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
    zone = community.time_zone
    start = parse_datetime(params.get("start_date"), "start_date", zone)
    end = parse_datetime(params.get("end_date"), "end_date", zone)
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


def find_requests(community: Community, params: Mapping[str, str], *, now: datetime | None = None) -> list[dict]:
    """GET requests: by service_request_id (which overrides every other filter), or by service_code, status
    and a requested_datetime range of at most 90 days (the last 90 days by default), newest first."""
    return requests_for(community, parse_request_query(community, params), now=now)


def requests_for(community: Community, q: RequestQuery, *, now: datetime | None = None) -> list[dict]:
    now = now or utcnow()
    rows = db.select(*_ROW_COLUMNS).join(IssueCategory, IssueCategory.id == Issue.category_id) \
        .outerjoin(Building, Building.id == Issue.building_id) \
        .outerjoin(Organization, Organization.id == Issue.handling_org_id) \
        .where(*_matching(community, q, now)).order_by(Issue.submitted_at.desc(), Issue.id.desc())
    if q.ids is None:
        rows = rows.offset((q.page - 1) * q.page_size).limit(q.page_size)
    return serialize_rows(community, db.session.execute(rows).all())


def _answer_ids(community, q: RequestQuery, now):
    """The ids of the issues the answer lists, in its order and page (what `requests_for` reads): bounded by
    the page, not by every issue of the 90-day window."""
    ids = db.select(Issue.id).where(*_matching(community, q, now))
    if q.ids is None:
        ids = ids.order_by(Issue.submitted_at.desc(), Issue.id.desc()) \
            .offset((q.page - 1) * q.page_size).limit(q.page_size)
    return ids.subquery()


def requests_fingerprint(community: Community, q: RequestQuery, *, now: datetime | None = None) -> tuple:
    """A cheap sign of everything a GET requests answer is made of, in ONE statement: the set of issues the
    answer lists — its page of the query's issues, newest first, so at most `page_size` rows are read, not the
    whole window (count, sum and largest of their ids: one entering the page, leaving the 90-day window or
    being hidden changes it) — and the newest timeline entry, photo, Open311 request and audit entry of the
    portal (every status change adds a timeline entry; moderation, renames and settings write an audit entry)."""
    now = now or utcnow()
    from portal.audit.models import AuditEntry
    newest = [db.select(func.max(model.id)).scalar_subquery()
              for model in (IssueEvent, IssuePhoto, Open311Request, AuditEntry)]
    listed = _answer_ids(community, q, now)
    row = db.session.execute(db.select(func.count(listed.c.id), func.coalesce(func.sum(listed.c.id), 0),
                                       func.max(listed.c.id), *newest).select_from(listed)).one()
    return tuple(int(v) if v is not None else None for v in row)


def find_request(community: Community, request_id: int | str) -> list[dict]:
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


def serialize_rows(community: Community, found: list[dict]) -> list[dict]:
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

def request_for_issue(issue: Issue | None) -> Open311Request | None:
    if issue is None or issue.source != "hotline":
        return None
    return db.session.scalar(db.select(Open311Request).where(Open311Request.issue_id == issue.id)
                             .options(joinedload(Open311Request.key)))
