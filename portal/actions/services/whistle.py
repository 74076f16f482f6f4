"""Whistle-blowing on an agreed action (吹哨报到, issue #20), and the joint handling as sub-actions.

On an action one organization cannot carry out, the sub-district office summons one or more organizations
with a time to report by (default: the time of the action's issue category when it has one, else 24 hours;
set per summons); each summoned organization reports in (报到): who comes, what it will do, by when. Both are
on the action's timeline; a report-in after report-by, or none once it has passed, is late (warned once by
the run-due step `actions_summons_late`, counted on the dashboard with the issues' summonses).

A report-in that names a due date becomes a SUB-ACTION (its parent the summoned action, responsible the
reporting organization, no owner, due the commitment's date in the community's zone). An ISSUE's report-in
arrives by the signal `portal.events.issue_reported_in` (issues are below actions): the first one creates the
issue's joint-handling action (source "issue", responsible the issue's handling organization, "Joint
handling: <title>"), and each commitment with a date becomes a sub-action of it. The joint action is the
record of the joint handling, so unlike follow-up work it does not wait for the issue to be resolved. Both
are idempotent: one joint action per issue (action.joint_issue_id is unique), one sub-action per report-in
(action_summons.sub_action_id and action.issue_summons_id are unique)."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from portal.actions.models import Action, ActionSummons
from portal.actions.services._common import (
    TITLE_MAX,
    _add_update,
    _link,
    _members,
    _now,
    _others,
    _payload,
    _require,
    local_date,
)
from portal.actions.services.progress import _roll_up
from portal.audit.services import record
from portal.auth import permissions
from portal.due import due_step
from portal.errors import DomainError
from portal.events import issue_reported_in
from portal.extensions import db
from portal.i18n import default_language
from portal.issues.services.whistle import (
    DEFAULT_REPORT_WITHIN,
    check_report,
    check_summons,
    summonable,
    summons_recipients,
)
from portal.outbox import instant, notify, register_event

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.committees.models import Organization
    from portal.issues.models import Issue, IssueSummons

register_event("actions.summoned", _l("%(org)s is summoned to “%(title)s”: report in by %(report_by)s."),
               _link, group="handling", times=("report_by",))
register_event("actions.summons_late",
               _l("%(org)s has not reported in to “%(title)s”: report-by was %(report_by)s."),
               _link, group="handling", times=("report_by",))


def default_report_within(action: Action) -> int:
    """Minutes to report in: the time of the action's issue category (its issue's, or its hotspot's) when it
    has one, else 24 hours."""
    category = action.issue.category if action.issue is not None else action.hotspot_category
    if category is not None and category.report_minutes:
        return category.report_minutes
    return DEFAULT_REPORT_WITHIN


def action_summons_targets(action: Action) -> list[Organization]:
    """The organizations of the action's community and its sub-district that can be summoned."""
    return summonable(action.community)


def action_summons_of(action: Action) -> list[ActionSummons]:
    return db.session.scalars(db.select(ActionSummons).where(ActionSummons.action_id == action.id).options(
        joinedload(ActionSummons.organization), joinedload(ActionSummons.sub_action))
        .order_by(ActionSummons.id)).all()


def blow_whistle_on_action(official: User, action: Action, organizations: list[Organization], *,
                           report_within: int | str | None, reason: str,
                           now: datetime | None = None) -> list[ActionSummons]:
    """Summon each organization to the action, to report in within `report_within` minutes."""
    now = _now(now)
    _require(permissions.can_blow_whistle_on_action(official, action),
             _l("Only the sub-district's officials can summon organizations to an action that is not done."))
    waiting = set(db.session.scalars(db.select(ActionSummons.organization_id).where(
        ActionSummons.action_id == action.id, ActionSummons.reported_at.is_(None))))
    organizations, report_by, reason = check_summons(
        organizations, action_summons_targets(action), waiting, report_within, reason,
        default_within=lambda: default_report_within(action), now=now)
    made = [ActionSummons(action=action, organization=org, summoned_by_id=official.id, summoned_at=now,
                          report_by=report_by, reason=reason) for org in organizations]
    db.session.add_all(made)
    _add_update(action, "whistle", official, body=reason, at=now,
                organizations="、".join(s.organization.name for s in made),
                report_by=report_by.isoformat(timespec="minutes"))
    db.session.flush()
    record(official, "action.whistle", action, organization_ids=",".join(str(s.organization_id) for s in made),
           report_by=report_by.isoformat(timespec="minutes"), reason=reason)
    for summons in made:
        notify(_members([summons.organization_id]), "actions.summoned", action,
               **_payload(action, org=summons.organization.name, report_by=instant(report_by)))
    return made


def report_in_to_action(member: User, summons: ActionSummons, *, attendee: str, action: str,
                        action_due: datetime | None = None, now: datetime | None = None) -> ActionSummons:
    """The summoned organization reports in: who comes, what it will do, optionally by when (the end of a
    local day); a commitment with a date becomes a sub-action of the summoned action."""
    now = _now(now)
    _require(permissions.can_report_in(member, summons),
             _l("Only a member of the summoned organization can report in."))
    attendee, will_do = check_report(attendee, action, action_due, now)
    parent = summons.action
    if action_due is not None and parent.status == "done":
        raise DomainError(_l("The action is already done: report in without a date."), "action_due")
    summons.reported_at, summons.reported_by_id = now, member.id
    summons.attendee, summons.will_do, summons.will_do_due = attendee, will_do, action_due
    late = summons.is_late(now)
    details = {"organization": summons.organization.name, "attendee": attendee, "late": late}
    if action_due is not None:
        details["action_due"] = action_due.isoformat(timespec="minutes")
    _add_update(parent, "reported_in", member, body=will_do, at=now, **details)
    if action_due is not None:
        summons.sub_action = _file_commitment(member, parent, summons.organization, will_do, attendee,
                                              action_due, now)
    db.session.flush()
    record(member, "action.reported_in", parent, organization_id=summons.organization_id, attendee=attendee,
           will_do=will_do, late=late)
    return summons


def _commitment_title(org: Organization, will_do: str) -> str:
    title = f"{org.name}: {' '.join(will_do.split())}"
    return title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"


def _file_commitment(member: User, parent: Action, org: Organization, will_do: str, attendee: str,
                     due: datetime, now: datetime, **extra) -> Action:
    """The sub-action of a report-in's commitment: responsible the reporting organization, no owner, due the
    commitment's local date. Reporting in is the permission (the reporter need not manage the action)."""
    with force_locale(default_language()):  # stored text: the portal's language, not the reporter's
        description = f"{will_do}\n\n{_('Who comes: %(who)s', who=attendee)}" if attendee else will_do
    sub = Action(community=parent.community, parent=parent, title=_commitment_title(org, will_do),
                 description=description, source=parent.source, proposal_id=parent.proposal_id,
                 decision_id=parent.decision_id, issue_id=parent.issue_id,
                 hotspot_building_id=parent.hotspot_building_id, hotspot_category_id=parent.hotspot_category_id,
                 hotspot_month=parent.hotspot_month, responsible_org=org, owner=None,
                 due_date=local_date(parent.community, due), status="planned", progress=0,
                 created_by_id=member.id, created_at=now, **extra)
    db.session.add(sub)
    _add_update(sub, "created", member, body=description, at=now)
    db.session.flush()
    _roll_up(parent, member, now)
    record(member, "action.created", sub, source=sub.source, org=org.id)
    notify(_others(_members([org.id]), member), "actions.assigned", sub,
           **_payload(sub, due=sub.due_date.isoformat()))
    return sub


# --- an issue's report-ins: the joint-handling action ------------------------------------------------------

def joint_action_of(issue: Issue) -> Action | None:
    """The joint-handling action of a whistle-blown issue, or None before its first report-in."""
    return db.session.scalar(db.select(Action).where(Action.joint_issue_id == issue.id))


def file_issue_report_in(summons: IssueSummons, member: User, now: datetime | None = None) -> Action:
    """The joint handling of the summons' issue: its joint action (created on the first report-in), and the
    report-in's commitment as a sub-action of it when it names a due date. Idempotent."""
    now = _now(now)
    issue = summons.issue
    joint = joint_action_of(issue)
    if joint is None:
        org = issue.handling_org or summons.organization
        due = max(local_date(issue.community, issue.resolve_by), local_date(issue.community, now))
        with force_locale(default_language()):  # stored text: the portal's language, not the reporter's
            title = _("Joint handling: %(title)s", title=issue.title)
        title = title if len(title) <= TITLE_MAX else title[:TITLE_MAX - 1] + "…"
        joint = Action(community=issue.community, title=title, description=summons.reason or "", source="issue",
                       issue=issue, joint_issue_id=issue.id, responsible_org=org, due_date=due, status="planned",
                       progress=0, created_by_id=member.id, created_at=now)
        db.session.add(joint)
        _add_update(joint, "created", member, body=joint.description, at=now)
        db.session.flush()
        record(member, "action.joint_created", joint, issue_id=issue.id, org=org.id)
        notify(_others(_members([org.id]), member), "actions.assigned", joint,
               **_payload(joint, due=due.isoformat()))
    if summons.action_due is not None and db.session.scalar(
            db.select(Action.id).where(Action.issue_summons_id == summons.id)) is None:
        _file_commitment(member, joint, summons.organization, summons.action, summons.attendee or "",
                         summons.action_due, now, issue_summons_id=summons.id)
    return joint


@issue_reported_in.connect
def _on_issue_reported_in(summons: IssueSummons, **kwargs: object) -> None:
    file_issue_report_in(summons, kwargs["member"], kwargs.get("now"))


# --- late report-ins ----------------------------------------------------------------------------------------

@due_step("actions_summons_late")
def warn_late_action_summonses(now: datetime) -> int:
    """Each action summons whose report-by has passed with no report: the official who summoned and the
    summoned organization's members are told once (the action's page and the dashboard already show it)."""
    late = db.session.scalars(db.select(ActionSummons).where(
        ActionSummons.reported_at.is_(None), ActionSummons.late_warned_at.is_(None), ActionSummons.report_by <= now)
        .options(joinedload(ActionSummons.organization), joinedload(ActionSummons.action))
        .order_by(ActionSummons.id)).all()
    for summons in late:
        summons.late_warned_at = now
        notify(summons_recipients(summons), "actions.summons_late", summons.action,
               **_payload(summons.action, org=summons.organization.name, report_by=instant(summons.report_by)))
    if late:
        db.session.flush()
    return len(late)
