"""Reporting an issue (by a resident, on a resident's behalf, or from the 12345 hotline) and "me too":
what a report must hold, where it is routed, when its deadlines fall, and that a person supports an issue
once."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal.audit.services import record
from portal.auth import permissions
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.issues.models import DESCRIPTION_MAX, TITLE_MAX, Issue, IssueSupport
from portal.issues.services._common import (
    LOCATION_MAX,
    REPORTER_NAME_MAX,
    REPORTER_PHONE_MAX,
    _add_event,
    _check_photos,
    _clean_text,
    _handlers,
    _index_terms,
    _now,
    _others,
    _payload,
    _save_photos,
    _urgent,
)
from portal.outbox import notify

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from portal.auth.models import User
    from portal.issues.models import IssueCategory
    from portal.places.models import Building, Community, Household


# Issues a grid worker files from a patrol (or from checking an expected rise): the proactive ones.
PATROL_SOURCES = ("patrol", "forecast")


def _coordinate(value, field, limit):
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise DomainError(_l("Give the position as a number of degrees."), field) from None
    if not number.is_finite() or not -limit <= number <= limit:
        if field == "latitude":
            raise DomainError(_l("Latitude is between -90 and 90 degrees."), field)
        raise DomainError(_l("Longitude is between -180 and 180 degrees."), field)
    return number.quantize(Decimal("0.000001"))


def _check_category(community, category):
    if category is None or category.community_id != community.id or not category.is_active:
        raise DomainError(_l("Choose one of this community's categories."), "category")


def _deadlines(category, start):
    return start + timedelta(hours=category.respond_hours), start + timedelta(hours=category.resolve_hours)


# --- reporting -------------------------------------------------------------------------------------------

def report_problems(community: Community, *, category: IssueCategory, title: str,
                    description: str = "") -> list[DomainError]:
    """What is wrong with a report's fields, every one at once (report_issue stops at the first), so that a
    form shows the missing title and the missing category together rather than one per send."""
    checks = (lambda: _check_category(community, category),
              lambda: _clean_text(title, "title", required=True, maximum=TITLE_MAX,
                                  empty_message=_l("Give the issue a short title.")),
              lambda: _clean_text(description, "description", required=False, maximum=DESCRIPTION_MAX))
    problems = []
    for check in checks:
        try:
            check()
        except DomainError as problem:
            problems.append(problem)
    return problems


def report_issue(reporter: User, community: Community, *, category: IssueCategory, title: str, description: str = "",
                 building: Building | None = None, household: Household | None = None, location_text: str | None = None,
                 latitude: str | float | None = None, longitude: str | float | None = None, show_name: bool = False,
                 photos: Iterable[bytes] = (), on_behalf_of: User | None = None, source: str = "portal",
                 now: datetime | None = None) -> Issue:
    """A verified resident reports a problem; a committee member at the counter may report for a resident
    (`reporter` is then the member, `on_behalf_of` the resident, who becomes the issue's reporter). A grid
    worker files a patrol finding (source "patrol", or "forecast" when the round checked an expected rise)
    in their own name: found before any resident complained (未诉先办)."""
    now = _now(now)
    person = on_behalf_of or reporter
    if source in PATROL_SOURCES:
        if on_behalf_of is not None or not permissions.can_patrol(reporter, community):
            raise NotAllowed(_l("Only the community's grid workers file patrol findings."))
    elif source != "portal":
        raise DomainError(_l("Unknown source."), "source")
    elif on_behalf_of is not None and not permissions.can_act_for(reporter, on_behalf_of):
        raise NotAllowed(_l("You may not act for this person."))
    elif not permissions.can_report_issue(person, community):
        raise NotAllowed(_l("Only verified residents of this community can report issues here."))
    _check_category(community, category)
    title = _clean_text(title, "title", required=True, maximum=TITLE_MAX,
                        empty_message=_l("Give the issue a short title."))
    description = _clean_text(description, "description", required=False, maximum=DESCRIPTION_MAX)
    if building is not None and building.community_id != community.id:
        raise DomainError(_l("Choose a building of this community."), "building")
    if household is not None:
        if household.building.community_id != community.id:
            raise DomainError(_l("Choose a unit of this community."), "household")
        if building is not None and household.building_id != building.id:
            raise DomainError(_l("This unit is not in the chosen building."), "household")
        building = household.building
    location_text = _clean_text(location_text, "location_text", required=False, maximum=LOCATION_MAX) or None
    latitude = _coordinate(latitude, "latitude", 90)
    longitude = _coordinate(longitude, "longitude", 180)
    if (latitude is None) != (longitude is None):
        raise DomainError(_l("Give both latitude and longitude, or neither."),
                          "longitude" if longitude is None else "latitude")
    prepared = _check_photos(photos)

    respond_by, resolve_by = _deadlines(category, now)
    issue = Issue(community=community, category=category, title=title, description=description, building=building,
                  household=household, location_text=location_text, latitude=latitude, longitude=longitude,
                  reporter=person, source=source, show_name=bool(show_name), status="submitted",
                  handling_org=category.default_org, submitted_at=now, respond_by=respond_by, resolve_by=resolve_by)
    db.session.add(issue)
    event = _add_event(issue, "reported", reporter, on_behalf_of=on_behalf_of, at=now)
    db.session.flush()
    _save_photos(prepared, issue, reporter, event)
    _index_terms(issue)
    record(reporter, "issue.reported", issue, on_behalf_of=on_behalf_of, subject_user=on_behalf_of,
           community_id=community.id, category=category.code, photos=len(prepared),
           **({"source": source} if source != "portal" else {}))
    notify(_others(_handlers(issue), reporter), "issue_reported", issue,
           **_payload(issue, community=community.name), **_urgent(issue))
    return issue


def report_from_hotline(community: Community, *, category: IssueCategory, title: str, description: str,
                        reporter_name: str, reporter_phone: str, now: datetime | None = None) -> Issue:
    """An issue dispatched by the city hotline: no account, contact fields only handlers see. The clock
    starts at dispatch (`now`)."""
    now = _now(now)
    _check_category(community, category)
    title = _clean_text(title, "title", required=True, maximum=TITLE_MAX,
                        empty_message=_l("Give the issue a short title."))
    description = _clean_text(description, "description", required=False, maximum=DESCRIPTION_MAX)
    reporter_name = _clean_text(reporter_name, "reporter_name", required=True, maximum=REPORTER_NAME_MAX)
    reporter_phone = _clean_text(reporter_phone, "reporter_phone", required=False, maximum=REPORTER_PHONE_MAX) or None
    respond_by, resolve_by = _deadlines(category, now)
    issue = Issue(community=community, category=category, title=title, description=description,
                  reporter_name=reporter_name, reporter_phone=reporter_phone, source="hotline", show_name=False,
                  status="submitted", handling_org=category.default_org, submitted_at=now, respond_by=respond_by,
                  resolve_by=resolve_by)
    db.session.add(issue)
    _add_event(issue, "hotline", None, at=now)
    db.session.flush()
    _index_terms(issue)
    record(None, "issue.hotline_received", issue, community_id=community.id, category=category.code)
    notify(_handlers(issue), "issue_reported", issue, **_payload(issue, community=community.name), **_urgent(issue))
    return issue


def has_supported(user: User, issue: Issue) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return db.session.scalar(db.select(IssueSupport.id).where(
        IssueSupport.issue_id == issue.id, IssueSupport.user_id == user.id)) is not None


def supported_issue_ids(user: User, issue_ids: Iterable[int]) -> set[int]:
    """Which of these issues the person supports (one query, for lists)."""
    issue_ids = list(issue_ids)
    if not getattr(user, "is_authenticated", False) or not issue_ids:
        return set()
    return set(db.session.scalars(db.select(IssueSupport.issue_id).where(
        IssueSupport.user_id == user.id, IssueSupport.issue_id.in_(issue_ids))))


def supported_in(user: User, community: Community) -> frozenset[int]:
    """The issues of the community the person supports (one query)."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    return frozenset(db.session.scalars(db.select(IssueSupport.issue_id).join(Issue).where(
        IssueSupport.user_id == user.id, Issue.community_id == community.id)))


def support_issue(user: User, issue: Issue, *, now: datetime | None = None) -> bool:
    """"Me too". False, changing nothing, when the person already supports it (a double click included)."""
    if not permissions.can_support_issue(user, issue):
        raise NotAllowed(_l("Only verified residents of this community can support an open issue they did "
                            "not report."))
    if has_supported(user, issue):
        return False
    try:
        with db.session.begin_nested():
            db.session.add(IssueSupport(issue_id=issue.id, user_id=user.id, created_at=_now(now)))
    except IntegrityError:
        return False
    db.session.execute(db.update(Issue).where(Issue.id == issue.id)
                       .values(support_count=Issue.support_count + 1))
    db.session.refresh(issue, ["support_count"])
    record(user, "issue.supported", issue)
    return True
