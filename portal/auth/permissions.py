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
# Committee members of a community verify its residents and see their phone numbers; so does its community
# service station (社区服务站), whose counter registers residents, verifies their claims and acts for them.
# Officials (the sub-district office) read every community of their own sub-district with phones masked;
# property staff, departments, the Party committee, social organizations and volunteer teams do none of it.
# Nothing here crosses from one community, or sub-district, to another.

def _kind_community_ids(user, kinds) -> set[int]:
    return {o.community_id for o in roles.organizations(user, kinds)}


def _counter_community_ids(user) -> set[int]:
    """Communities whose residents this person serves at the counter: committees and the service station."""
    from portal.committees.models import COMMITTEE_KINDS, COUNTER_KINDS
    return _kind_community_ids(user, COMMITTEE_KINDS + COUNTER_KINDS)


def _at_counter(user, community) -> bool:
    return community is not None and community.id in _counter_community_ids(user)


def _party_member(user, community) -> bool:
    """A current member of the community's Party committee (社区党委)."""
    from portal.committees.models import PARTY_KINDS
    return community is not None and community.id in _kind_community_ids(user, PARTY_KINDS)

def _open_residency_community_ids(person) -> set[int]:
    return roles.open_residency_community_ids(person.id)


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
    """See pending claims, verify or reject them, confirm owners: committee members and service station
    staff of that community."""
    return _signed_in(user) and _at_counter(user, community)


def can_register_on_behalf(user, community) -> bool:
    return can_verify_residents(user, community)


def can_view_residents(user, community) -> bool:
    """Read a community's residents (masked phones): its committee and service station, officials of its
    sub-district, admins."""
    if not _signed_in(user) or community is None:
        return False
    return user.is_admin or _at_counter(user, community) or \
        community.sub_district_id in roles.official_sub_district_ids(user)


def can_see_full_phone(user, person) -> bool:
    """The person themself, admins, and committee members and service station staff of a community the
    person has a pending or verified residency in. Everyone else sees the number masked."""
    if not _signed_in(user) or person is None:
        return False
    if user.id == person.id or user.is_admin:
        return True
    return bool(_counter_community_ids(user) & _open_residency_community_ids(person))


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
    """Act on a resident's behalf: a committee member or service station staff of a community the resident
    lives in (or has claimed a unit in), when the resident was registered in person at the counter or has
    agreed to it."""
    if not _signed_in(user) or person is None or user.id == person.id or not person.is_active:
        return False
    from portal.extensions import db
    from portal.places.models import OPEN_RESIDENCY_STATES, Residency
    shared = _counter_community_ids(user) & _open_residency_community_ids(person)
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


def can_view_sms_usage(user) -> bool:
    """The text message counts against the caps (portal.notifications.sms): admins only."""
    return is_admin(user)


def can_edit_community(user, community) -> bool:
    return is_admin(user) and community is not None


def can_edit_register(user, community) -> bool:
    """A community's buildings, households and owners: admins and the community's committee members."""
    if not _signed_in(user) or community is None:
        return False
    return user.is_admin or roles.is_committee_member(user, community)


def can_edit_estates(user, community) -> bool:
    """Add and rename a community's estates (小区): admins and the community's committee members, who keep
    its register."""
    if not _signed_in(user) or community is None:
        return False
    return user.is_admin or roles.is_committee_member(user, community)


def can_view_register(user, community) -> bool:
    """The household register names owners and their phones: only those who keep it."""
    return can_edit_register(user, community)


def can_import_register(user, community) -> bool:
    return can_edit_register(user, community)


def can_decide_owner_duplicates(user, community) -> bool:
    """Merging two register entries of one owner, or keeping them apart: those who keep the register."""
    return can_edit_register(user, community)


def can_share_card(kind: str, item: object) -> bool:
    """Whether an item's share card and preview image may name it: only what a visitor who is not signed in
    may read (a card travels beyond the person who shared it). Never a draft, a members-only community, or
    anything moderators hid or were asked to look at."""
    if item is None:
        return False
    if kind == "issue":
        return item.hidden_state is None and can_view_issue(None, item)
    if kind == "proposal":
        return item.hidden_state is None and can_view_proposal(None, item)
    if kind in ("ballot", "notice"):
        return item.proposal.hidden_state is None and can_view_proposal(None, item.proposal)
    if kind == "action":
        return can_view_community(None, item.community)
    return False


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


def can_recategorize_issue(user, issue) -> bool:
    """Saying what kind of problem an issue is: whoever may handle it (the suggester learns from it)."""
    return can_handle_issue(user, issue)


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


# --- the 12345 work order (issue #20) ---
# The receiving organization signs a hotline issue for (or sends it back) and later asks for more time and
# appeals a rating; the sub-district office re-routes what was sent back, decides extensions and appeals and
# makes the return visits (its staff who are not of the handling organization); only the handling
# organization's staff see the caller's full number, to call back.

def _in_handling_org(user, issue) -> bool:
    return issue.handling_org_id is not None and any(o.id == issue.handling_org_id for o in roles.organizations(user))


def _official_for(user, issue) -> bool:
    return user.is_admin or roles.is_official_over(user, issue.community)


def _work_order(user, issue) -> bool:
    return _signed_in(user) and issue is not None and issue.source == "hotline"


def _awaiting_signature(issue) -> bool:
    return issue.status == "submitted" and issue.signed_at is None and issue.work_order_state is None \
        and issue.handover_org_id is None


def can_sign_for_issue(user, issue) -> bool:
    """Signing for (签收) a hotline issue: its receiving organization's members, and admins."""
    return _work_order(user, issue) and _awaiting_signature(issue) and (user.is_admin or _in_handling_org(user, issue))


def can_send_back_issue(user, issue) -> bool:
    """Sending a hotline issue back (退单) before signing for it: as signing for it (the time limit is the
    service's rule, with its own message)."""
    return can_sign_for_issue(user, issue)


def can_route_sent_back_issue(user, issue) -> bool:
    """Re-routing a sent-back hotline issue or returning it to the hotline: the sub-district's officials."""
    return _work_order(user, issue) and issue.work_order_state == "sent_back" and _official_for(user, issue)


def can_request_extension(user, issue) -> bool:
    """Asking for more time (延期): the handling organization's members (and admins), on a signed, open issue."""
    return _work_order(user, issue) and issue.signed_at is not None and issue.status in (
        "accepted", "in_progress", "reopened") and (user.is_admin or _in_handling_org(user, issue))


def can_decide_extension(user, issue) -> bool:
    """Approving or refusing an extension: the sub-district's officials, and admins."""
    return _work_order(user, issue) and issue.status in ("accepted", "in_progress", "reopened") \
        and _official_for(user, issue)


def can_return_visit(user, issue) -> bool:
    """The return visit (回访) of a resolved hotline issue: the sub-district's officials who are not of the
    organization that handled it, and admins."""
    return _work_order(user, issue) and issue.status == "resolved" and _official_for(user, issue) \
        and not _in_handling_org(user, issue)


def can_appeal_rating(user, issue) -> bool:
    """Appealing (申诉) a dissatisfied or unsolved rating of a hotline issue: the handling organization's members."""
    return _work_order(user, issue) and issue.rated_at is not None and not issue.rating_excluded and (
        issue.rating_resolved is False or issue.rating_satisfaction == "dissatisfied") \
        and (user.is_admin or _in_handling_org(user, issue))


def can_decide_appeal(user, issue) -> bool:
    """Deciding an appeal: the sub-district's officials who are not of the appealing organization, and admins."""
    return _work_order(user, issue) and _official_for(user, issue) and (
        user.is_admin or not _in_handling_org(user, issue))


# --- whistle-blowing (吹哨报到, issue #20) ---

def can_blow_whistle(user, issue) -> bool:
    """Summoning organizations to an open issue: the sub-district's officials (who re-route work orders), admins."""
    return _signed_in(user) and issue is not None and issue.status in (
        "submitted", "accepted", "in_progress", "reopened") and _official_for(user, issue)


def can_report_in(user, summons) -> bool:
    """Reporting in (报到) to a summons not yet answered (an issue's IssueSummons or an agreed action's
    ActionSummons): members of the summoned organization, and admins."""
    return _signed_in(user) and summons is not None and summons.reported_at is None and (
        user.is_admin or any(o.id == summons.organization_id for o in roles.organizations(user)))


def can_see_caller_phone(user, issue) -> bool:
    """The hotline caller's full number: the handling organization's staff, who call back. Everyone else who
    may see the reporter sees it masked."""
    return _work_order(user, issue) and _in_handling_org(user, issue)


def can_escalate_issue(user, issue) -> bool:
    """Turn an issue that needs a community decision into a proposal: the community's committee members."""
    return _signed_in(user) and issue is not None and roles.is_committee_member(user, issue.community)


# --- proposals ---
# Verified residents propose, support and take part in the consultation; the community's committee (or its
# Party committee, which leads) moves a proposal to consultation; the committee closes it and writes its
# summary; admins never write residents' words. A committee member who wrote a proposal or comment for a
# resident at the counter (created_by) may keep working on it while they may still act for that resident.

_PROPOSAL_AFTER_DELIBERATION = ("deliberation", "voting", "decided", "notice", "implementing", "evaluated")


def _wrote(user, item) -> bool:
    """The author of a proposal or comment, or the member who wrote it for them and may still act for them."""
    if not _signed_in(user) or item is None:
        return False
    if user.id == item.author_id:
        return True
    return item.created_by_id == user.id and can_act_for(user, item.author)


def _verified_here(user, community) -> bool:
    # A proposal page asks this for every comment it shows (may this person like it?): roles reads the
    # person's residencies once per request.
    return roles.is_verified_resident(user, community)


def _takes_part(user, community) -> bool:
    """Verified residents and committee members of the community."""
    return _signed_in(user) and community is not None and (
        roles.is_committee_member(user, community) or _verified_here(user, community))


def _committee_or_admin(user, community) -> bool:
    return _signed_in(user) and community is not None and (
        user.is_admin or roles.is_committee_member(user, community))


def can_view_proposal(user, proposal) -> bool:
    """A draft: its author, the member who wrote it for them, admins. Published: as the community's pages."""
    if proposal is None:
        return False
    if proposal.status == "draft":
        return _signed_in(user) and (user.is_admin or user.id in (proposal.author_id, proposal.created_by_id))
    return can_view_community(user, proposal.community)


def can_create_proposal(user, community) -> bool:
    return _takes_part(user, community)


def can_edit_proposal(user, proposal) -> bool:
    """The author, while the proposal is a draft, collecting supports or in an open consultation."""
    return (proposal is not None and proposal.status in ("draft", "collecting", "deliberation")
            and proposal.comments_closed_at is None and _wrote(user, proposal))


def can_publish_proposal(user, proposal) -> bool:
    return proposal is not None and proposal.status == "draft" and _wrote(user, proposal)


def can_withdraw_proposal(user, proposal) -> bool:
    return proposal is not None and proposal.status in ("draft", "collecting", "deliberation") and \
        _wrote(user, proposal)


def can_support_proposal(user, proposal) -> bool:
    """Verified residents of the community, while supports are collected, not for their own proposal."""
    if not _signed_in(user) or proposal is None or proposal.status != "collecting":
        return False
    return user.id != proposal.author_id and _verified_here(user, proposal.community)


def can_move_to_deliberation(user, proposal) -> bool:
    """Opening the consultation: the community's committee members, its Party committee's members, admins."""
    return proposal is not None and proposal.status == "collecting" and (
        _committee_or_admin(user, proposal.community) or
        (_signed_in(user) and _party_member(user, proposal.community)))


def can_close_deliberation(user, proposal) -> bool:
    return proposal is not None and proposal.status == "deliberation" and proposal.comments_closed_at is None \
        and _committee_or_admin(user, proposal.community)


def can_comment(user, proposal) -> bool:
    """Verified residents and committee members, while the consultation is open (not closed, not locked)."""
    return proposal is not None and proposal.consultation_open and _takes_part(user, proposal.community)


def can_edit_comment(user, comment) -> bool:
    """The author, while the comment is open to edits (comment_open_to_edits)."""
    return comment_open_to_edits(comment) and _wrote(user, comment)


def comment_open_to_edits(comment) -> bool:
    """Whether its author may still edit a comment: the consultation is open and the comment is neither
    deleted, hidden nor in a locked thread."""
    if comment is None or comment.deleted_at is not None or comment.hidden_state is not None:
        return False
    if comment.locked_at is not None or (comment.parent is not None and comment.parent.locked_at is not None):
        return False
    return comment.proposal.consultation_open


def can_delete_comment(user, comment) -> bool:
    """The author, even after the consultation closed; a deleted comment stays deleted."""
    return comment is not None and comment.deleted_at is None and _wrote(user, comment)


def can_like_comment(user, comment) -> bool:
    if comment is None or comment.deleted_at is not None or comment.hidden_state is not None:
        return False
    return _signed_in(user) and user.id != comment.author_id and _takes_part(user, comment.proposal.community)


def can_write_summary(user, proposal) -> bool:
    """The pinned consultation summary: committee members (and admins), from the consultation on."""
    return proposal is not None and proposal.status in _PROPOSAL_AFTER_DELIBERATION and \
        _committee_or_admin(user, proposal.community)


def can_manage_proposal_settings(user, community) -> bool:
    """The support threshold and window of a community: its committee members and admins."""
    return _committee_or_admin(user, community)


# --- moderation ---
# Anyone verified in a community (resident, committee member, property staff) may flag its content; its
# committee members and admins moderate it. Nobody moderates their own content (checked by the services,
# which know the item's author).

def can_flag(user, community) -> bool:
    return _takes_part(user, community) or (_signed_in(user) and roles.is_property_staff(user, community))


def can_moderate(user, community) -> bool:
    return _committee_or_admin(user, community)


def can_view_moderation_queue(user) -> bool:
    return _signed_in(user) and (user.is_admin or bool(roles.committee_community_ids(user)))


# --- votes ---
# The community's committee members open a ballot on a proposal in consultation (which committee may open
# which method, the services check); the opening organization's members enter paper ballots, extend, close
# early and record the outcome; whoever the frozen electorate names casts. Admins run the platform: they
# neither vote nor close. Signed ballots (who voted what) are for owners and the committee on owners'
# ballots, for anyone who may see a public committee or residents' ballot, and for nobody on a secret one.

def _opener_member(user, ballot) -> bool:
    return _signed_in(user) and ballot is not None and roles.is_member_of(user, ballot.organization)


def can_open_ballot(user, proposal) -> bool:
    return _signed_in(user) and proposal is not None and proposal.status == "deliberation" and \
        roles.is_committee_member(user, proposal.community)


def can_keep_owner_roll(user, community) -> bool:
    """Resolving units without an owner and recording co-owners' representatives for owners' ballots: who
    opens those ballots — the homeowners' committee, or the residents' committee where there is none."""
    if not _signed_in(user) or community is None:
        return False
    mine = {o.kind for o in roles.organizations(user, ("homeowners_committee", "residents_committee"))
            if o.community_id == community.id}
    if "homeowners_committee" in mine:
        return True
    if "residents_committee" not in mine:
        return False
    from portal.committees.models import Organization
    from portal.extensions import db
    return db.session.scalar(db.select(Organization.id).where(
        Organization.community_id == community.id, Organization.kind == "homeowners_committee").limit(1)) is None


def can_view_ballot(user, ballot) -> bool:
    return ballot is not None and can_view_proposal(user, ballot.proposal)


def can_vote(user, ballot) -> bool:
    """While voting is open, for the accounts the frozen electorate lets cast a vote (one indexed lookup)."""
    if not _signed_in(user) or ballot is None or ballot.status != "open":
        return False
    from portal.extensions import db
    from portal.votes.models import BallotCaster, BallotProxy
    if db.session.scalar(db.select(BallotCaster.id).where(
            BallotCaster.ballot_id == ballot.id, BallotCaster.user_id == user.id).limit(1)) is not None:
        return True
    # A proxy holder casts the principal's vote (owners' ballots only; the services check the rest).
    return ballot.method == "owners" and db.session.scalar(db.select(BallotProxy.id).where(
        BallotProxy.ballot_id == ballot.id, BallotProxy.proxy_user_id == user.id,
        BallotProxy.revoked_at.is_(None)).limit(1)) is not None


def can_enter_paper(user, ballot) -> bool:
    return ballot is not None and ballot.status == "open" and _opener_member(user, ballot)


def can_print_ballot(user, ballot) -> bool:
    """The print views of an owners' ballot (announcement, named ballot forms, tally sheet): the opening
    committee's members, from the announcement on (the forms need the electorate, frozen at opening)."""
    return ballot is not None and ballot.method == "owners" and _opener_member(user, ballot)


def can_record_proxy(user, ballot) -> bool:
    """An owner's written authorization (书面委托) is recorded by the opening committee while voting is open."""
    return ballot is not None and ballot.method == "owners" and ballot.status == "open" and \
        _opener_member(user, ballot)


def can_revoke_proxy(user, proxy) -> bool:
    """The owner (any account casting the principal's vote) or the opening committee, while voting is open;
    the services refuse once the proxy has voted."""
    if not _signed_in(user) or proxy is None or proxy.revoked_at is not None:
        return False
    from portal.extensions import db
    from portal.votes.models import Ballot, BallotCaster
    ballot = db.session.get(Ballot, proxy.ballot_id)
    if ballot is None or ballot.status != "open":
        return False
    return _opener_member(user, ballot) or db.session.scalar(db.select(BallotCaster.id).where(
        BallotCaster.voter_id == proxy.voter_id, BallotCaster.user_id == user.id).limit(1)) is not None


def can_view_ballot_scan(user, ballot) -> bool:
    """Scans of signed paper forms and authorizations: the opening committee at any time; those who may
    inspect the signed log (owners, on owners' ballots) once voting has closed."""
    if ballot is None:
        return False
    if _opener_member(user, ballot):
        return True
    return ballot.status == "closed" and can_inspect_ballots(user, ballot)


def can_close_ballot(user, ballot) -> bool:
    """Closing early, with a reason."""
    return ballot is not None and ballot.status == "open" and _opener_member(user, ballot)


def can_extend_ballot(user, ballot) -> bool:
    """Once, while voting is open (the services also refuse after the close time)."""
    return ballot is not None and ballot.status == "open" and ballot.extended_at is None and \
        _opener_member(user, ballot)


def can_record_outcome(user, ballot) -> bool:
    return ballot is not None and ballot.status == "closed" and _opener_member(user, ballot)


def can_inspect_ballots(user, ballot) -> bool:
    """Who may see names next to choices (the published log of a closed ballot)."""
    if ballot is None or ballot.secret or not can_view_ballot(user, ballot):
        return False
    if ballot.method != "owners":
        return True
    return _signed_in(user) and (roles.is_committee_member(user, ballot.community)
                                 or roles.is_owner_in(user, ballot.community))


# --- meetings ---
# The members of a community's committee or property company schedule its meetings and keep their
# agendas, attendance, minutes and decisions. A public meeting (its agenda, published minutes and
# decisions) is seen as the community's pages are; a non-public one by the organization's members, the
# members of the community's Party committee (who sit in its meetings) and admins only.

def can_schedule_meeting(user, organization) -> bool:
    return _signed_in(user) and organization is not None and organization.community_id is not None and \
        roles.is_member_of(user, organization)


def can_manage_meeting(user, meeting) -> bool:
    """Agenda, cancelling, attendance, minutes and decisions: current members of the meeting's organization."""
    return _signed_in(user) and meeting is not None and roles.is_member_of(user, meeting.organization)


def can_view_meeting(user, meeting) -> bool:
    if meeting is None:
        return False
    if meeting.is_public:
        return can_view_community(user, meeting.community)
    return _signed_in(user) and (user.is_admin or roles.is_member_of(user, meeting.organization)
                                 or _party_member(user, meeting.community))


# --- notices ---
# A public notice (公示) of a decided proposal: verified residents of the community object during the
# notice period (once each, the services check); members of the answering organization, or of the
# community's committees, answer objections publicly.

def can_object(user, notice) -> bool:
    if not _signed_in(user) or notice is None or notice.status != "open":
        return False
    from portal.clock import utcnow
    now = utcnow()
    if not notice.starts_at <= now < notice.ends_at:
        return False
    return roles.is_verified_resident(user, notice.community)


def can_answer_objection(user, notice) -> bool:
    if not _signed_in(user) or notice is None:
        return False
    if notice.organization is not None and roles.is_member_of(user, notice.organization):
        return True
    return roles.is_committee_member(user, notice.community)


# --- actions ---
# Agreed actions (落实事项): the community's committee members create them from a passed proposal, a meeting
# decision or a resolved issue, and so do the officials of its sub-district (who alone turn a hotspot into
# one); the responsible organization's members and the committee members report progress; verified
# residents rate a done action within its rating window and sign up to help while it is not done; officials
# of the sub-district chase overdue items. Social organizations and volunteer teams of the community may be
# the responsible organization (the services check which kinds), whose members then report progress.

def _official_here(user, community) -> bool:
    return roles.is_official_over(user, community)


def can_create_action(user, community, source_obj=None) -> bool:
    """A hotspot (a dict): officials of the sub-district and admins. Otherwise also committee members."""
    if not _signed_in(user) or community is None:
        return False
    if user.is_admin or _official_here(user, community):
        return True
    return not isinstance(source_obj, dict) and roles.is_committee_member(user, community)


def can_update_action(user, action) -> bool:
    """Progress, blocking, completing: current members of the responsible organization, the community's
    committee members, admins."""
    if not _signed_in(user) or action is None:
        return False
    return user.is_admin or roles.is_member_of(user, action.responsible_org) or \
        roles.is_committee_member(user, action.community)


def can_rate_action(user, action, now=None) -> bool:
    """Verified residents of the community, once the action is done and within its rating window."""
    if not _signed_in(user) or action is None or action.status != "done" or action.done_at is None:
        return False
    from datetime import timedelta

    from portal.actions.models import RATING_DAYS
    from portal.clock import utcnow
    if action.evaluated_at is not None or (now or utcnow()) >= action.done_at + timedelta(days=RATING_DAYS):
        return False
    return roles.is_verified_resident(user, action.community)


def can_volunteer(user, action) -> bool:
    """Sign up to help: verified residents of the action's community, while the action is not done."""
    if not _signed_in(user) or action is None or action.status == "done":
        return False
    return roles.is_verified_resident(user, action.community)


def can_withdraw_volunteer(user, action) -> bool:
    """Take back one's own sign-up (the service checks there is one), while the action is not done; a resident
    who has moved out may still withdraw."""
    return _signed_in(user) and action is not None and action.status != "done"


def can_blow_whistle_on_action(user, action) -> bool:
    """Summoning organizations to an agreed action not yet done (吹哨报到; not to a sub-action): the
    sub-district's officials, as for an issue, and admins."""
    return _signed_in(user) and action is not None and action.parent_id is None and action.status in (
        "planned", "in_progress", "blocked") and (user.is_admin or _official_here(user, action.community))


def can_chase(user, item) -> bool:
    """An issue or an action: officials of its community's sub-district (the service checks it is overdue)."""
    return _signed_in(user) and item is not None and _official_here(user, item.community)


# --- insight: forecasts, expected rises, patrols ---
# Forecasts and expected rises are for the officials of the sub-district (on its dashboard) and the
# community's committee members (its own page); either turns an expected rise into a proactive action.
# Grid workers (网格员, members of a grid organization of the community) patrol and file what they find as
# issues; their patrol log is also read by the committee members and officials. Admins see, but do not
# patrol.

def can_view_forecasts(user, sub_district=None, community=None) -> bool:
    return can_view_dashboard(user, sub_district=sub_district, community=community) and (
        sub_district is not None or community is not None)


def can_act_on_rise(user, forecast) -> bool:
    """An expected rise not yet acted on, by the officials of its sub-district, its community's committee
    members and admins."""
    if not _signed_in(user) or forecast is None or not forecast.rise or forecast.action_id is not None:
        return False
    return user.is_admin or _official_here(user, forecast.community) or \
        roles.is_committee_member(user, forecast.community)


def can_patrol(user, community) -> bool:
    """Log a patrol round and file its findings: the community's current grid workers."""
    return _signed_in(user) and roles.is_grid_worker(user, community)


def can_set_grid_buildings(user, grid) -> bool:
    """Which buildings a grid covers: the community's committee members and admins."""
    if not _signed_in(user) or grid is None or grid.kind != "grid":
        return False
    return user.is_admin or roles.is_committee_member(user, grid.community)


def can_view_patrol_log(user, community) -> bool:
    if not _signed_in(user) or community is None:
        return False
    return user.is_admin or roles.is_grid_worker(user, community) or _official_here(user, community) or \
        roles.is_committee_member(user, community)



# --- insight: did it work, rankings, public statistics ---
# Rankings compare communities and organizations against each other: the sub-district's officials (and
# admins) only, not committee members or residents. A community's public statistics are figures of what its
# public pages already show: whoever may see those pages (members-only communities: members only).

def can_view_rankings(user, sub_district) -> bool:
    if not _signed_in(user) or sub_district is None:
        return False
    return user.is_admin or roles.is_official_of(user, sub_district)


def can_view_public_statistics(user, community) -> bool:
    return can_view_community(user, community)

# --- dashboard ---
# Officials see every community of their sub-district; committee members their own community; admins all.
# Names and phones in exports: officials and admins only.

def can_view_dashboard(user, sub_district=None, community=None) -> bool:
    if not _signed_in(user):
        return False
    if user.is_admin:
        return True
    if community is not None:
        return _official_here(user, community) or roles.is_committee_member(user, community)
    if sub_district is not None:
        return roles.is_official_of(user, sub_district)
    return bool(roles.official_sub_district_ids(user) or roles.committee_community_ids(user))


def can_export_personal_data(user, sub_district=None, community=None) -> bool:
    if not _signed_in(user):
        return False
    if user.is_admin:
        return True
    if community is not None:
        return _official_here(user, community)
    if sub_district is not None:
        return roles.is_official_of(user, sub_district)
    return bool(roles.official_sub_district_ids(user))


# --- Web Push ---

def can_subscribe_push(user) -> bool:
    """Anyone signed in may have their own browsers told of their notifications."""
    return _signed_in(user)


def can_manage_push_subscription(user, subscription) -> bool:
    """A browser's subscription is its person's alone to see and remove."""
    return _signed_in(user) and subscription is not None and subscription.user_id == user.id


# --- funds and the ledger ---
# A fund's page (居务公开) is public as its community is; receipts are for the people of that community (its
# verified residents and owners, its committees), those who keep the ledger, the sub-district's officials and
# admins. The managing organization's current members keep the ledger (and, for a sub-district's fund, its
# officials); committee members of the community and officials open funds.

def can_create_fund(user, community=None, sub_district=None) -> bool:
    if not _signed_in(user):
        return False
    if user.is_admin:
        return True
    if community is not None:
        return roles.is_committee_member(user, community) or _official_here(user, community)
    return sub_district is not None and roles.is_official_of(user, sub_district)


def can_view_fund(user, fund) -> bool:
    if fund is None:
        return False
    return can_view_community(user, fund.community) if fund.community is not None else True


def can_keep_fund_ledger(user, fund) -> bool:
    if not _signed_in(user) or fund is None:
        return False
    if user.is_admin or roles.is_member_of(user, fund.managing_org):
        return True
    return fund.community is None and roles.is_official_of(user, fund.sub_district)


# Budget rounds: the fund's managing organization opens a round and publishes its results (on a community's
# fund, not an estate's maintenance fund, which spends on owners' decisions); the community's verified
# residents and committee propose projects; the committee, the fund's keepers and the sub-district's
# officials (the departments concerned) review them; the round page is public as the fund's page is.

def can_manage_budget_round(user, fund) -> bool:
    return fund is not None and fund.community_id is not None and fund.kind != "maintenance" and \
        can_keep_fund_ledger(user, fund)


def can_view_budget_round(user, round_) -> bool:
    return round_ is not None and can_view_fund(user, round_.fund)


def can_propose_budget_project(user, round_) -> bool:
    return round_ is not None and round_.fund.community is not None and \
        can_create_proposal(user, round_.fund.community)


def can_review_budget_project(user, round_) -> bool:
    if not _signed_in(user) or round_ is None or round_.fund.community is None:
        return False
    community = round_.fund.community
    return can_keep_fund_ledger(user, round_.fund) or roles.is_committee_member(user, community) or \
        _official_here(user, community)


def can_see_fund_receipts(user, fund) -> bool:
    if not _signed_in(user) or fund is None:
        return False
    if can_keep_fund_ledger(user, fund) or roles.is_official_of(user, fund.sub_district):
        return True
    community = fund.community
    return community is not None and (roles.is_verified_resident(user, community)
                                      or roles.is_owner_in(user, community)
                                      or roles.is_committee_member(user, community))


# --- the month's problem and programmes (insight, issue #22) ----------------------------------------------

def can_view_topics(user, sub_district) -> bool:
    """A sub-district's topics of the month: who sees its dashboard (its officials, admins)."""
    return sub_district is not None and can_view_dashboard(user, sub_district=sub_district)


def can_pick_month_problem(user, sub_district) -> bool:
    """Pick (or change) the month's problem: the sub-district's officials and admins."""
    return _signed_in(user) and sub_district is not None and (user.is_admin or roles.is_official_of(user, sub_district))


def can_manage_programmes(user, sub_district) -> bool:
    """Open a programme, set its status, link or create its actions: the sub-district's officials and admins."""
    return can_pick_month_problem(user, sub_district)


def can_view_programme(user, programme) -> bool:
    """A programme's page: the sub-district's officials, admins and the committee members of its communities."""
    if not _signed_in(user) or programme is None:
        return False
    if user.is_admin or roles.is_official_of(user, programme.sub_district):
        return True
    return any(roles.is_committee_member(user, c) for c in programme.communities)
