"""Jurisdictions and services: a community as an Open311 jurisdiction, its issue categories as the
service list, and each service's definition with its attributes."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.issues import services as issues
from portal.issues.models import IssueCategory
from portal.open311.services._common import Open311Error, _bad
from portal.places.models import Community

# --- jurisdictions and services --------------------------------------------------------------------------

def jurisdiction(jurisdiction_id: str | None) -> Community:
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


def service_list(community: Community) -> list[dict]:
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


def service_definition(community: Community, service_code: str) -> dict:
    category = _category(community, service_code)
    if category is None:
        raise Open311Error(404, _l("Unknown service_code."))
    return {"service_code": category.code, "attributes": _attributes(community)}
