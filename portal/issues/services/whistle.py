"""Whistle-blowing (吹哨报到, issue #20): on an issue one organization cannot solve, the sub-district office
summons one or more organizations with a time to report by (default: the category's own time, else 30
minutes for an emergency category, 24 hours otherwise); each summoned organization reports in (报到) naming
who comes and what it will do, by when. Both are on the issue's timeline; a report after report-by, or none
once it has passed, is late."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.audit.services import record
from portal.auth import permissions
from portal.auth.models import User
from portal.committees.models import Organization
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.events import issue_reported_in
from portal.extensions import db
from portal.issues.models import IssueSummons
from portal.issues.services._common import (
    REASON_MAX,
    _add_event,
    _clean_text,
    _detail_link,
    _now,
    _payload,
    members_of,
)
from portal.outbox import instant, notify, register_event

if TYPE_CHECKING:
    from portal.issues.models import Issue
    from portal.places.models import Community

ATTENDEE_MAX = 200
REPORT_WITHIN_MAX = 7 * 24 * 60  # minutes
EMERGENCY_REPORT_WITHIN = 30
DEFAULT_REPORT_WITHIN = 24 * 60

register_event("issue_summons_late",
               _l("%(org)s has not reported in to “%(title)s”: report-by was %(report_by)s."),
               _detail_link, group="handling", times=("report_by",))
register_event("issue_summoned", _l("%(org)s is summoned to “%(title)s”: report in by %(report_by)s."),
               _detail_link, group="handling", times=("report_by",))


def default_report_within(issue: Issue) -> int:
    """Minutes to report in: the category's own time when it has one, else 30 for an emergency category and
    24 hours otherwise."""
    category = issue.category
    if category is not None and category.report_minutes:
        return category.report_minutes
    return EMERGENCY_REPORT_WITHIN if getattr(category, "deadline_class", None) == "emergency" \
        else DEFAULT_REPORT_WITHIN


def summons_recipients(summons: object) -> list[User]:
    """Who hears that a summons is late: the summoned organization's members and the official who summoned
    (an issue's or, for portal.actions, an action's summons)."""
    people = members_of([summons.organization_id])
    if summons.summoned_by_id is not None:
        people = [*people, db.session.get(User, summons.summoned_by_id)]
    return list(dict.fromkeys(p for p in people if p is not None))


def report_minutes(value: int | str | None, field: str = "report_within") -> int:
    """A time to report in, in whole minutes from 1 to 7 days, or a DomainError on `field`."""
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise DomainError(_l("The time to report is a whole number of minutes."), field) from None
    if not 1 <= minutes <= REPORT_WITHIN_MAX:
        raise DomainError(_l("The time to report is 1 minute to 7 days."), field)
    return minutes


def summons_targets(issue: Issue) -> list[Organization]:
    """The organizations of the issue's community and its sub-district that can be summoned."""
    return summonable(issue.community)


def summonable(community: Community) -> list[Organization]:
    """The organizations of a community and its sub-district that can be summoned (to an issue or, by
    portal.actions, to an agreed action)."""
    return db.session.scalars(db.select(Organization).where(db.or_(
        Organization.community_id == community.id, Organization.sub_district_id == community.sub_district_id))
        .order_by(Organization.kind, Organization.name)).all()


def summons_of(issue: Issue) -> list[IssueSummons]:
    return db.session.scalars(db.select(IssueSummons).where(IssueSummons.issue_id == issue.id).options(
        joinedload(IssueSummons.organization)).order_by(IssueSummons.id)).all()


def check_summons(organizations: list[Organization | None], targets: list[Organization], waiting: set[int],
                  report_within: int | str | None, reason: str | None, *, default_within: Callable[[], int],
                  now: datetime) -> tuple[list[Organization], datetime, str]:
    """A summons's checks, the same for an issue and (portal.actions) an agreed action: at least one
    organization, each among `targets` and none still `waiting` to report in (their ids); the time to report
    in minutes (`default_within()` when none is given); a reason. Returns the organizations without repeats,
    report-by and the cleaned reason; DomainError on `organizations`, `report_within` or `reason`."""
    organizations = [o for o in organizations if o is not None]
    if not organizations:
        raise DomainError(_l("Choose at least one organization to summon."), "organizations")
    allowed = {o.id for o in targets}
    if any(o.id not in allowed for o in organizations):
        raise DomainError(_l("Choose an organization of this community or its sub-district."), "organizations")
    if any(o.id in waiting for o in organizations):
        raise DomainError(_l("An organization you chose is already summoned and has not reported in yet."),
                          "organizations")
    minutes = report_minutes(default_within() if report_within in (None, "") else report_within)
    reason = _clean_text(reason, "reason", required=True, maximum=REASON_MAX,
                         empty_message=_l("Say why the organizations are summoned."))
    return list(dict.fromkeys(organizations)), now + timedelta(minutes=minutes), reason


def blow_whistle(official: User, issue: Issue, organizations: list[Organization], *,
                 report_within: int | str | None, reason: str, now: datetime | None = None) -> list[IssueSummons]:
    """Summon each organization to the issue, to report in within `report_within` minutes."""
    now = _now(now)
    if not permissions.can_blow_whistle(official, issue):
        raise NotAllowed(_l("Only the sub-district's officials can summon organizations to an issue."))
    waiting = set(db.session.scalars(db.select(IssueSummons.organization_id).where(
        IssueSummons.issue_id == issue.id, IssueSummons.reported_at.is_(None))))
    organizations, report_by, reason = check_summons(
        organizations, summons_targets(issue), waiting, report_within, reason,
        default_within=lambda: default_report_within(issue), now=now)
    made = []
    for org in organizations:
        summons = IssueSummons(issue=issue, organization=org, summoned_by_id=official.id, summoned_at=now,
                               report_by=report_by, reason=reason)
        db.session.add(summons)
        made.append(summons)
    names = "、".join(s.organization.name for s in made)
    _add_event(issue, "whistle", official, body=reason, at=now, organizations=names,
               report_by=report_by.isoformat(timespec="minutes"))
    db.session.flush()
    record(official, "issue.whistle", issue, organization_ids=",".join(str(s.organization_id) for s in made),
           report_by=report_by.isoformat(timespec="minutes"), reason=reason)
    for summons in made:
        notify(members_of([summons.organization_id]), "issue_summoned", issue,
               **_payload(issue, org=summons.organization.name, report_by=instant(report_by)))
    return made


def report_in(member: User, summons: IssueSummons, *, attendee: str, action: str,
              action_due: datetime | None = None, now: datetime | None = None) -> IssueSummons:
    """The summoned organization reports in: who comes, what it will do, optionally by when."""
    now = _now(now)
    if not permissions.can_report_in(member, summons):
        raise NotAllowed(_l("Only a member of the summoned organization can report in."))
    attendee, action = check_report(attendee, action, action_due, now)
    summons.reported_at = now
    summons.reported_by_id = member.id
    summons.attendee = attendee
    summons.action = action
    summons.action_due = action_due
    late = summons.is_late(now)
    details = {"organization": summons.organization.name, "attendee": attendee, "late": late}
    if action_due is not None:
        details["action_due"] = action_due.isoformat(timespec="minutes")
    event = _add_event(summons.issue, "reported_in", member, body=action, at=now, **details)
    event.organization_id = summons.organization_id
    db.session.flush()
    record(member, "issue.reported_in", summons.issue, organization_id=summons.organization_id, attendee=attendee,
           will_do=action, late=late)
    # The joint handling (the issue's joint action, each commitment with a date a sub-action of it) is kept
    # by portal.actions, which this area may not import.
    issue_reported_in.send(summons, issue=summons.issue, member=member, now=now)
    return summons


def check_report(attendee: str | None, action: str | None, action_due: datetime | None,
                 now: datetime) -> tuple[str, str]:
    """A report-in's texts, cleaned: who comes and what the organization will do (both required), and its
    optional due instant, which must be in the future. DomainError on `attendee`, `action` or `action_due`.
    Also used by portal.actions for a report-in to an agreed action."""
    attendee = _clean_text(attendee, "attendee", required=True, maximum=ATTENDEE_MAX,
                           empty_message=_l("Say who comes."))
    action = _clean_text(action, "action", required=True, maximum=REASON_MAX,
                         empty_message=_l("Say what your organization will do."))
    if action_due is not None and action_due <= now:
        raise DomainError(_l("The due date must be in the future."), "action_due")
    return attendee, action


@due_step("issues_summons_late")
def warn_late_summonses(now: datetime) -> int:
    """Each summons whose report-by has passed with no report: the office's official who summoned and the
    summoned organization's members are told once (the issue page and the dashboard already show it late)."""
    late = db.session.scalars(db.select(IssueSummons).where(
        IssueSummons.reported_at.is_(None), IssueSummons.late_warned_at.is_(None), IssueSummons.report_by <= now)
        .options(joinedload(IssueSummons.organization), joinedload(IssueSummons.issue))
        .order_by(IssueSummons.id)).all()
    for summons in late:
        summons.late_warned_at = now
        notify(summons_recipients(summons), "issue_summons_late", summons.issue,
               **_payload(summons.issue, org=summons.organization.name,
                          report_by=instant(summons.report_by)))
    if late:
        db.session.flush()
    return len(late)
