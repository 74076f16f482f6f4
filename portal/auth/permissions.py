"""Named permission rules, `can_<action>(user, obj)`: the one place each "may this person do this?" lives.

Views call them before acting and templates call them (as `can.can_x(...)`) to decide what to show.
Every rule denies anyone not signed in."""
from portal.auth import roles


def _signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def is_admin(user) -> bool:
    return _signed_in(user) and user.is_admin


def can_read_audit_log(user) -> bool:
    return is_admin(user)


def can_issue_reset_code(user, target) -> bool:
    """Admins, and committee members of a community the target lives in (or has claimed a unit in)."""
    if not _signed_in(user) or target is None or user.id == target.id:
        return False
    if user.is_admin:
        return True
    if target.is_admin:
        return False  # a committee member must never be able to take over an administrator's account
    from portal.extensions import db
    from portal.places.models import Residency
    community_ids = roles.committee_community_ids(user)
    return db.session.scalar(db.select(Residency.id).where(
        Residency.user_id == target.id, Residency.community_id.in_(community_ids),
        Residency.status.in_(("pending", "verified"))).limit(1)) is not None


# --- residents and organizations ---
# Committee members of a community verify its residents and see their phone numbers; officials (the
# sub-district office) read every community of their own sub-district with phones masked; property
# staff and departments do neither. Nothing here crosses from one community, or sub-district, to another.

def _open_residency_community_ids(person) -> set[int]:
    from portal.extensions import db
    from portal.places.models import OPEN_RESIDENCY_STATES, Residency
    return set(db.session.scalars(db.select(Residency.community_id).where(
        Residency.user_id == person.id, Residency.status.in_(OPEN_RESIDENCY_STATES))))


def can_manage_organizations(user) -> bool:
    """Create organizations: admins only."""
    return is_admin(user)


def can_manage_members(user, organization) -> bool:
    """Add and end memberships: admins for any organization, a current chair for their own."""
    if not _signed_in(user) or organization is None:
        return False
    if user.is_admin:
        return True
    return any(m.organization_id == organization.id and m.title == "chair" for m in roles.memberships(user))


def can_verify_residents(user, community) -> bool:
    """See pending claims, verify or reject them, confirm owners: committee members of that community."""
    return _signed_in(user) and roles.is_committee_member(user, community)


def can_register_on_behalf(user, community) -> bool:
    return can_verify_residents(user, community)


def can_view_residents(user, community) -> bool:
    """Read a community's residents (masked phones): its committee, officials of its sub-district, admins."""
    if not _signed_in(user) or community is None:
        return False
    return user.is_admin or roles.is_committee_member(user, community) or \
        community.sub_district_id in roles.official_sub_district_ids(user)


def can_see_full_phone(user, person) -> bool:
    """The person themself, admins, and committee members of a community the person has a pending or
    verified residency in. Everyone else sees the number masked."""
    if not _signed_in(user) or person is None:
        return False
    if user.id == person.id or user.is_admin:
        return True
    return bool(roles.committee_community_ids(user) & _open_residency_community_ids(person))


def can_end_residency(user, residency) -> bool:
    """Moving out: the resident themself, or a committee member of the residency's community."""
    if not _signed_in(user) or residency is None:
        return False
    return user.id == residency.user_id or roles.is_committee_member(user, residency.community)


def can_see_residency(user, residency) -> bool:
    """A resident sees only their own claims; the community's committee, its officials and admins see all."""
    if not _signed_in(user) or residency is None:
        return False
    return user.id == residency.user_id or can_view_residents(user, residency.community)


def can_act_for(user, person) -> bool:
    """Act on a resident's behalf: a committee member of a community the resident lives in (or has claimed
    a unit in), when the resident was registered in person at the counter or has agreed to it."""
    if not _signed_in(user) or person is None or user.id == person.id or not person.is_active:
        return False
    from portal.extensions import db
    from portal.places.models import OPEN_RESIDENCY_STATES, Residency
    shared = roles.committee_community_ids(user) & _open_residency_community_ids(person)
    if not shared:
        return False
    if person.consent_in_person:
        return True
    return db.session.scalar(db.select(Residency.id).where(
        Residency.user_id == person.id, Residency.community_id.in_(shared),
        Residency.status.in_(OPEN_RESIDENCY_STATES), Residency.act_for_consent_at.is_not(None)).limit(1)) is not None


# --- places ---

def can_manage_places(user) -> bool:
    """Create and edit sub-districts and communities: admins only."""
    return is_admin(user)


def can_edit_community(user, community) -> bool:
    return is_admin(user) and community is not None


def can_edit_register(user, community) -> bool:
    """A community's buildings, households and owners: admins and the community's committee members."""
    if not _signed_in(user) or community is None:
        return False
    return user.is_admin or roles.is_committee_member(user, community)


def can_view_register(user, community) -> bool:
    """The household register names owners and their phones: only those who keep it."""
    return can_edit_register(user, community)


def can_import_register(user, community) -> bool:
    return can_edit_register(user, community)


def can_view_community(user, community) -> bool:
    """Anyone, unless the community is members only: then its residents, owners, organizations' members,
    the sub-district's officials and admins."""
    if community is None:
        return False
    if not community.members_only:
        return True
    if not _signed_in(user):
        return False
    return (user.is_admin or any(c.id == community.id for c in roles.communities_of(user))
            or roles.is_owner_in(user, community))


# --- issues ---
# Verified residents report and support; the organization handling an issue (or the one it is handed to),
# the sub-district's officials and admins handle it; the reporter rates it. Who reported is for handlers,
# the reporter and admins (the public sees a name only when the reporter chose so). Photos of a rejected
# issue are hidden from the public.

def _issue_handler_org_ids(issue) -> set[int]:
    return {i for i in (issue.handling_org_id, issue.handover_org_id) if i}


def can_report_issue(user, community) -> bool:
    return _signed_in(user) and community is not None and roles.is_verified_resident(user, community)


def can_handle_issue(user, issue) -> bool:
    """Current members of the handling organization or of the one it is handed to, officials of the issue's
    sub-district, admins."""
    if not _signed_in(user) or issue is None:
        return False
    if user.is_admin:
        return True
    orgs = roles.organizations(user)
    org_ids = _issue_handler_org_ids(issue)
    return any(o.id in org_ids or (o.kind == "subdistrict_office"
                                   and o.sub_district_id == issue.community.sub_district_id) for o in orgs)


def can_accept_handover(user, issue) -> bool:
    """Taking over a handed-over issue: members of the receiving organization, and admins."""
    if not _signed_in(user) or issue is None or issue.handover_org_id is None or issue.status not in (
            "submitted", "accepted", "in_progress", "reopened"):
        return False
    return user.is_admin or any(o.id == issue.handover_org_id for o in roles.organizations(user))


def can_view_issue(user, issue) -> bool:
    """As the community's pages (members-only communities stay closed), and always for its handlers."""
    if issue is None:
        return False
    return can_view_community(user, issue.community) or can_handle_issue(user, issue)


def can_rate_issue(user, issue) -> bool:
    """The reporter, once per resolution."""
    if not _signed_in(user) or issue is None or issue.reporter_id != user.id or issue.status != "resolved":
        return False
    return issue.rated_at is None or (issue.resolved_at is not None and issue.rated_at < issue.resolved_at)


def can_see_reporter(user, issue) -> bool:
    if not _signed_in(user) or issue is None:
        return False
    return user.is_admin or (issue.reporter_id is not None and issue.reporter_id == user.id) or \
        can_handle_issue(user, issue)


def can_see_issue_photos(user, issue) -> bool:
    if not can_view_issue(user, issue):
        return False
    if issue.status != "rejected":
        return True
    return can_see_reporter(user, issue)


def can_manage_issue_categories(user, community) -> bool:
    return is_admin(user) and community is not None


def can_support_issue(user, issue) -> bool:
    """"Me too": verified residents of the community, on an open issue they did not report."""
    if not _signed_in(user) or issue is None or issue.status not in ("submitted", "accepted", "in_progress",
                                                                     "reopened"):
        return False
    return issue.reporter_id != user.id and roles.is_verified_resident(user, issue.community)


def can_escalate_issue(user, issue) -> bool:
    """Turn an issue that needs a community decision into a proposal: the community's committee members."""
    return _signed_in(user) and issue is not None and roles.is_committee_member(user, issue.community)
