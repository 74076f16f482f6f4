"""Creating an agreed action: from a passed proposal, a meeting, a resolved issue or an official's
hotspot; the responsible organizations a community may choose, the budget and funding checks, and a
sub-action under its parent."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l

from portal.actions.models import SOURCES, Action
from portal.actions.services._common import (
    BUDGET_MAX,
    FUNDING_MAX,
    TEXT_MAX,
    TITLE_MAX,
    _add_update,
    _members,
    _now,
    _others,
    _payload,
    _require,
    _text,
    local_date,
)
from portal.actions.services.progress import _roll_up
from portal.audit.services import record
from portal.auth import permissions, roles
from portal.committees.models import COMMITTEE_KINDS, SOCIAL_KINDS, Organization
from portal.errors import DomainError
from portal.extensions import db
from portal.outbox import notify

if TYPE_CHECKING:
    from portal.auth.models import User
    from portal.committees.models import Decision
    from portal.issues.models import Issue
    from portal.places.models import Community
    from portal.proposals.models import Proposal

# --- creating --------------------------------------------------------------------------------------------

def _check_budget(budget):
    if budget in (None, ""):
        return None
    try:
        value = Decimal(str(budget).replace(",", "").strip())
    except InvalidOperation:
        raise DomainError(_l("Give the budget as an amount in yuan, like 12000 or 12000.50."), "budget") from None
    if not value.is_finite() or value < 0 or value > BUDGET_MAX or value != value.quantize(Decimal("0.01")):
        raise DomainError(_l("Give the budget as an amount in yuan, like 12000 or 12000.50."), "budget")
    return value


# Who can own an action in a community: its committees, its property company, its social organizations and
# volunteer teams (社会组织, 志愿服务队); and its sub-district's departments.
COMMUNITY_RESPONSIBLE_KINDS = (*COMMITTEE_KINDS, "property_company", *SOCIAL_KINDS)


def responsible_orgs(community: Community) -> list[Organization]:
    """Who can be responsible: the community's committees, property company, social organizations and
    volunteer teams, and its sub-district's departments."""
    return db.session.scalars(db.select(Organization).where(db.or_(
        db.and_(Organization.community_id == community.id,
                Organization.kind.in_(COMMUNITY_RESPONSIBLE_KINDS)),
        db.and_(Organization.sub_district_id == community.sub_district_id, Organization.kind == "department"),
    )).order_by(Organization.kind, Organization.name)).all()


def _check_org(community, org):
    if org is None:
        raise DomainError(_l("Choose the responsible organization."), "responsible_org")
    ok = (org.community_id == community.id and org.kind in COMMUNITY_RESPONSIBLE_KINDS) or (
        org.kind == "department" and org.sub_district_id == community.sub_district_id)
    if not ok:
        raise DomainError(_l("The responsible organization must be a committee, the property company, a social "
                             "organization or a volunteer team of this community, or a department of its "
                             "sub-district."), "responsible_org")


def _check_source(community, source, *, proposal, decision, issue, hotspot, forecast, parent):
    if source not in SOURCES:
        raise DomainError(_l("Unknown source."), "source")
    if parent is not None:
        if parent.community_id != community.id:
            raise DomainError(_l("That action belongs to another community."), "parent")
        if parent.parent_id is not None:
            raise DomainError(_l("A step cannot be split into further steps."), "parent")
        if parent.status == "done":
            raise DomainError(_l("That action is already done."), "parent")
        return
    given = {"proposal": proposal, "decision": decision, "issue": issue, "hotspot": hotspot, "forecast": forecast}
    if source == "budget":  # a budget round's winning project: its proposal, of kind "project"
        given["budget"] = given.pop("proposal")
    if given[source] is None or any(v is not None for k, v in given.items() if k != source):
        raise DomainError(_l("Say what this action comes from."), "source")
    if source == "proposal":
        if proposal.community_id != community.id or proposal.status not in ("implementing", "evaluated") \
                or proposal.outcome != "passed":
            raise DomainError(_l("Only a passed proposal whose public notice has ended becomes an action."),
                              "source")
    elif source == "budget":
        if proposal.community_id != community.id or proposal.kind != "project" or proposal.outcome != "passed":
            raise DomainError(_l("Only a project funded by a budget round's result becomes its action."), "source")
    elif source == "decision":
        if decision.meeting is None or decision.meeting.community_id != community.id:
            raise DomainError(_l("That decision was made by a meeting of another community."), "source")
    elif source == "issue":
        if issue.community_id != community.id or issue.status not in ("resolved", "closed"):
            raise DomainError(_l("Only a resolved or closed issue can need follow-up work."), "source")
    elif source == "forecast":
        category, month = forecast.get("category"), forecast.get("month")
        if category is None or category.community_id != community.id:
            raise DomainError(_l("That forecast is not in this community."), "source")
        try:
            datetime.strptime(month or "", "%Y-%m")
        except ValueError:
            raise DomainError(_l("Give the month as YYYY-MM."), "source") from None
    else:
        building, category, month = (hotspot.get(k) for k in ("building", "category", "month"))
        if building is None or category is None or building.community_id != community.id or \
                category.community_id != community.id:
            raise DomainError(_l("That hotspot is not in this community."), "source")
        try:
            datetime.strptime(month or "", "%Y-%m")
        except ValueError:
            raise DomainError(_l("Give the month as YYYY-MM."), "source") from None


def create_action(actor: User, community: Community, *, source: str, title: str, description: str = "",
                  responsible_org: Organization, owner: User | None = None, due_date: date,
                  budget: str | Decimal | None = None, funding_source: str = "", parent: Action | None = None,
                  proposal: Proposal | None = None, decision: Decision | None = None, issue: Issue | None = None,
                  hotspot: dict | None = None, forecast: dict | None = None, now: datetime | None = None) -> Action:
    """A forecast source is an expected rise ({"category", "month"}) that an official or a committee member
    acts on before the complaints come (insight keeps which forecast the action answers)."""
    now = _now(now)
    if parent is not None:
        source, proposal, decision, issue = parent.source, parent.proposal, parent.decision, parent.issue
        hotspot = forecast = None
        _require(permissions.can_update_action(actor, parent) or permissions.can_create_action(actor, community))
    else:
        _require(permissions.can_create_action(actor, community, hotspot if source == "hotspot" else None))
    _check_source(community, source, proposal=proposal, decision=decision, issue=issue, hotspot=hotspot,
                  forecast=forecast, parent=parent)
    title = _text(title, "title", maximum=TITLE_MAX, required=True, empty_message=_l("Say what will be done."))
    description = _text(description, "description", maximum=TEXT_MAX, required=False)
    _check_org(community, responsible_org)
    if owner is not None and not roles.is_member_of(owner, responsible_org):
        raise DomainError(_l("The owner must be a current member of the responsible organization."), "owner")
    if not isinstance(due_date, date) or isinstance(due_date, datetime):
        raise DomainError(_l("Give the due date."), "due_date")
    if due_date < local_date(community, now):
        raise DomainError(_l("The due date cannot be before today."), "due_date")
    budget = _check_budget(budget)
    funding_source = _text(funding_source, "funding_source", maximum=FUNDING_MAX, required=False)

    action = Action(community=community, parent=parent, title=title, description=description, source=source,
                    proposal=proposal, decision=decision, issue=issue, responsible_org=responsible_org,
                    owner=owner, due_date=due_date, budget=budget, funding_source=funding_source or None,
                    status="planned", progress=0, created_by_id=actor.id, created_at=now)
    if hotspot is not None:
        action.hotspot_building, action.hotspot_category = hotspot["building"], hotspot["category"]
        action.hotspot_month = hotspot["month"]
    if forecast is not None:
        action.hotspot_category, action.hotspot_month = forecast["category"], forecast["month"]
    db.session.add(action)
    _add_update(action, "created", actor, body=description, at=now)
    db.session.flush()
    if parent is not None:
        _roll_up(parent, actor, now)
    record(actor, "action.created", action, source=source, org=responsible_org.id)
    notify(_others(_members([responsible_org.id]), actor), "actions.assigned", action,
           **_payload(action, due=due_date.isoformat()))
    return action
