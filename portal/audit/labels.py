"""The audit log in words: each action code as a phrase (what the actor did, without the actor), each object
type as a noun, each details key as a label. The log and a person's own account activity show these; a code
nobody has named yet reads as its object's noun and its verb in plain words, never as a bare code."""
import json

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext

ACTION_LABELS = {
    # accounts
    "account.register": _l("created an account"),
    "account.login": _l("signed in"),
    "account.login_failed": _l("a sign-in failed"),
    "account.login_locked": _l("a sign-in was refused while the account was locked"),
    "account.password_changed": _l("changed the password"),
    "account.password_reset": _l("reset the password"),
    "account.reset_code_issued": _l("issued a password reset code"),
    "account.reset_link_sent": _l("sent a password reset link"),
    "account.preferences": _l("changed the account preferences"),
    "account.display_name": _l("changed the display name"),
    "account.signed_out_everywhere": _l("signed out on every device"),
    "notifications.preferences_changed": _l("changed the notification settings"),
    "notifications.push_subscribed": _l("turned on push notifications in a browser"),
    "notifications.push_removed": _l("removed a browser from push notifications"),
    "notifications.sms_preferences_changed": _l("changed the text message settings"),
    "account.sms_code_sent": _l("sent a sign-in code by text message"),
    "act_for.started": _l("started acting for a resident"),
    "act_for.stopped": _l("stopped acting for a resident"),
    # residents, owners, organizations
    "residency.claimed": _l("claimed a unit"),
    "residency.registered": _l("registered a resident at the counter"),
    "residency.verified": _l("verified a residence"),
    "residency.rejected": _l("did not accept a residence claim"),
    "residency.ended": _l("ended a residence"),
    "residency.consent_given": _l("allowed the committee to act for them"),
    "residency.consent_withdrawn": _l("withdrew the committee's permission to act for them"),
    "resident.viewed": _l("viewed a resident's record"),
    "owner.confirmed": _l("confirmed an owner in the register"),
    "owner.rename": _l("renamed an owner in the register"),
    "owner.merged": _l("merged two register entries of one owner"),
    "owner.kept_apart": _l("kept two owners with a shared phone or document apart"),
    "register.import": _l("imported the owner register"),
    "membership.added": _l("added a member to an organization"),
    "membership.ended": _l("ended a membership of an organization"),
    "organization.created": _l("created an organization"),
    "organization.grid_buildings": _l("set the buildings of a grid"),
    # places
    "sub_district.create": _l("created a sub-district"),
    "sub_district.update": _l("changed a sub-district"),
    "community.create": _l("created a community"),
    "community.update": _l("changed a community"),
    "estate.create": _l("added an estate"),
    "estate.rename": _l("renamed an estate"),
    "building.create": _l("added a building"),
    "building.update": _l("changed a building"),
    "household.create": _l("added a unit"),
    "household.update": _l("changed a unit"),
    "household.transfer": _l("recorded a change of a unit's owners"),
    "household.owners_start": _l("recorded a unit's first owners"),
    # issues
    "issue.reported": _l("reported an issue"),
    "issue.hotline_received": _l("received an issue from the hotline"),
    "issue.supported": _l("said “me too” on an issue"),
    "issue.accepted": _l("accepted an issue"),
    "issue.recategorized": _l("changed the category of an issue"),
    "issue.rejected": _l("rejected an issue"),
    "issue.started": _l("started work on an issue"),
    "issue.updated": _l("posted an update on an issue"),
    "issue.resolved": _l("resolved an issue"),
    "issue.rated": _l("rated an issue"),
    "issue.reopened": _l("reopened an issue"),
    "issue.closed_unrated": _l("closed an issue nobody rated"),
    "issue.merged": _l("merged a duplicate issue"),
    "issue.escalated": _l("turned an issue into a proposal"),
    "issue.handed_over": _l("handed an issue over"),
    "issue.handover_accepted": _l("accepted an issue handed over"),
    "issue.signed_for": _l("signed for a hotline work order"),
    "issue.sent_back": _l("sent a hotline work order back"),
    "issue.rerouted": _l("routed a sent-back work order"),
    "issue.returned_to_hotline": _l("returned a work order to the hotline"),
    "issue.extension_requested": _l("asked for more time on a work order"),
    "issue.whistle": _l("summoned organizations to an issue (whistle-blowing)"),
    "issue.reported_in": _l("reported in to a summons"),
    "issue.extension_decided": _l("decided a request for more time"),
    "issue.return_visit": _l("recorded a return visit call"),
    "issue.appealed": _l("appealed the rating of a work order"),
    "issue.appeal_decided": _l("decided an appeal against a rating"),
    "issue.caller_phone_viewed": _l("viewed a hotline caller's full phone number"),
    "issue_category.created": _l("created an issue category"),
    "issue_category.updated": _l("changed an issue category"),
    "chase.created": _l("chased overdue work"),
    # proposals and notices
    "proposal.created": _l("wrote a proposal"),
    "proposal.edited": _l("edited a proposal"),
    "proposal.published": _l("published a proposal"),
    "proposal.supported": _l("supported a proposal"),
    "proposal.support_withdrawn": _l("withdrew support from a proposal"),
    "proposal.threshold_reached": _l("a proposal reached its supports"),
    "proposal.moved_to_deliberation": _l("moved a proposal into deliberation"),
    "proposal.deliberation_closed": _l("closed a consultation"),
    "proposal.summary_written": _l("wrote a consultation summary"),
    "proposal.commented": _l("commented on a proposal"),
    "proposal.comment_edited": _l("edited a comment"),
    "proposal.comment_deleted": _l("deleted a comment"),
    "proposal.withdrawn": _l("withdrew a proposal"),
    "proposal.archived": _l("archived a proposal"),
    "proposal_settings.updated": _l("changed the proposal settings"),
    "notice.started": _l("began a public notice"),
    "notice.ended": _l("ended a public notice"),
    "notice.objection_lodged": _l("objected during a public notice"),
    "notice.objection_answered": _l("answered an objection"),
    # ballots, meetings, actions
    "ballot.created": _l("set up a ballot"),
    "owner_roll.unit_resolved": _l("recorded how a unit without an owner counts in owners' ballots"),
    "owner_roll.representative_named": _l("recorded the co-owners' representative of a unit"),
    "ballot.opened": _l("opened a ballot"),
    "ballot.extended": _l("extended a ballot"),
    "ballot.closed": _l("closed a ballot"),
    "ballot.paper_entered": _l("entered a paper ballot"),
    "ballot.proxy_recorded": _l("recorded an owner's written authorization of a proxy"),
    "ballot.proxy_revoked": _l("revoked an owner's proxy"),
    "ballot.outcome_recorded": _l("recorded a ballot's outcome"),
    "meeting.scheduled": _l("scheduled a meeting"),
    "meeting.cancelled": _l("cancelled a meeting"),
    "meeting.agenda_added": _l("added an agenda item"),
    "meeting.agenda_removed": _l("removed an agenda item"),
    "meeting.attendance": _l("recorded attendance"),
    "meeting.decision": _l("recorded a meeting decision"),
    "meeting.decision_ballot": _l("opened a ballot from a meeting decision"),
    "minutes.published": _l("published minutes"),
    "action.created": _l("created an agreed action"),
    "forecast.acted_on": _l("turned an expected rise into a proactive action"),
    "patrol.logged": _l("logged a patrol round"),
    "action.progress": _l("posted progress on an action"),
    "action.progress_by_hand": _l("set an action's progress"),
    "action.blocked": _l("marked an action blocked"),
    "action.unblocked": _l("unblocked an action"),
    "action.done": _l("marked an action done"),
    "action.rated": _l("rated an action"),
    "action.evaluated": _l("closed an action's evaluation"),
    "action.volunteered": _l("signed up as a volunteer for an action"),
    "action.volunteer_withdrawn": _l("withdrew as a volunteer from an action"),
    "action.whistle": _l("summoned organizations to an action (whistle-blowing)"),
    "action.reported_in": _l("reported in to a summons on an action"),
    "action.joint_created": _l("started the joint handling of a whistle-blown issue"),
    # moderation, the API, the dashboard
    "moderation.flag": _l("reported something for moderation"),
    "moderation.hide": _l("hid something"),
    "moderation.auto_hide": _l("hid something after several reports"),
    "moderation.restore": _l("restored something hidden"),
    "moderation.lock": _l("locked a discussion"),
    "moderation.unlock": _l("unlocked a discussion"),
    "open311_key.created": _l("issued an API key"),
    "open311_key.updated": _l("changed an API key"),
    "open311_key.revoked": _l("revoked an API key"),
    "open311_key.webhook_set": _l("set an integration's webhook"),
    "open311_key.webhook_removed": _l("removed an integration's webhook"),
    "open311_key.webhook_secret_rotated": _l("made a new webhook secret"),
    "open311.request_created": _l("received a hotline request"),
    "open311.request_refused": _l("refused a hotline request"),
    "dashboard.export": _l("exported the dashboard"),
    # funds and the ledger
    "fund.created": _l("opened a fund"),
    "fund.income": _l("recorded income in a fund's ledger"),
    "fund.allocation": _l("allocated money from a fund"),
    "fund.spending": _l("recorded spending from a fund"),
    "fund.refund": _l("recorded a refund to a fund"),
    "fund.correction": _l("corrected an entry of a fund's ledger"),
    "budget_round.created": _l("opened a budget round"),
    "budget_project.proposed": _l("proposed a project for a budget round"),
    "budget_project.reviewed": _l("reviewed a budget round's project"),
    "budget_round.published": _l("published a budget round's results"),
    # personal information
    "privacy.deletion_requested": _l("asked for an account to be deleted"),
    "privacy.deletion_cancelled": _l("cancelled a request to delete an account"),
    "privacy.deleted_at_counter": _l("deleted an account asked for at the counter"),
    "privacy.account_anonymized": _l("deleted an account (anonymized)"),
    "privacy.export_requested": _l("asked for a copy of their data"),
    "privacy.notice_accepted": _l("accepted the privacy notice"),
    "privacy.digest_consent": _l("changed their consent to e-mail digests"),
    "privacy.photo_removed": _l("removed a photo showing a person, at their request"),
}

# Said to the person whose own record it is ("You changed your password").
OWN_LABELS = {
    "account.register": _l("created your account"),
    "account.login": _l("signed in to your account"),
    "account.login_failed": _l("a sign-in to your account failed"),
    "account.login_locked": _l("a sign-in to your account was refused while it was locked"),
    "account.password_changed": _l("changed your password"),
    "account.password_reset": _l("reset your password"),
    "account.reset_code_issued": _l("issued a password reset code for you"),
    "account.reset_link_sent": _l("sent you a password reset link"),
    "account.preferences": _l("changed your preferences"),
    "account.display_name": _l("changed your display name"),
    "notifications.preferences_changed": _l("changed your notification settings"),
    "notifications.push_subscribed": _l("turned on push notifications in one of your browsers"),
    "notifications.push_removed": _l("removed one of your browsers from push notifications"),
    "notifications.sms_preferences_changed": _l("changed your text message settings"),
    "account.sms_code_sent": _l("sent you a sign-in code by text message"),
    "residency.claimed": _l("claimed a unit"),
    "residency.registered": _l("registered you and your residence at the counter"),
    "residency.verified": _l("verified your residence"),
    "residency.rejected": _l("did not accept your claim"),
    "residency.ended": _l("ended your residence (moved out)"),
    "residency.consent_given": _l("allowed the committee to act for you"),
    "residency.consent_withdrawn": _l("withdrew the committee's permission to act for you"),
    "owner.confirmed": _l("confirmed you as an owner in the register"),
    "resident.viewed": _l("viewed your record"),
    "act_for.started": _l("started acting for you"),
    "act_for.stopped": _l("stopped acting for you"),
    "membership.added": _l("added you to an organization"),
    "membership.ended": _l("ended your membership of an organization"),
    "privacy.deletion_requested": _l("asked for your account to be deleted"),
    "privacy.deletion_cancelled": _l("cancelled the request to delete your account"),
    "privacy.deleted_at_counter": _l("deleted your account at your request at the counter"),
    "privacy.account_anonymized": _l("deleted your account"),
    "privacy.export_requested": _l("asked for a copy of your data"),
    "privacy.notice_accepted": _l("accepted the privacy notice"),
    "privacy.digest_consent": _l("changed your consent to e-mail digests"),
}

def _object_labels() -> dict:
    # Message contexts keep these short words apart from the same English words elsewhere.
    return {
        "user": pgettext("audit object", "Account"), "sub_district": pgettext("audit object", "Sub-district"),
        "community": pgettext("audit object", "Community"), "building": pgettext("audit object", "Building"),
        "estate": pgettext("audit object", "Estate"),
        "household": pgettext("audit object", "Unit"), "owner": pgettext("audit object", "Owner"),
        "residency": pgettext("audit object", "Residence"),
        "organization": pgettext("audit object", "Organization"),
        "org_membership": pgettext("audit object", "Membership"), "issue": pgettext("audit object", "Issue"),
        "issue_category": pgettext("audit object", "Issue category"),
        "proposal": pgettext("audit object", "Proposal"), "proposal_comment": pgettext("audit object", "Comment"),
        "public_notice": pgettext("audit object", "Public notice"),
        "notice_objection": pgettext("audit object", "Objection"), "ballot": pgettext("audit object", "Ballot"),
        "meeting": pgettext("audit object", "Meeting"), "minutes_version": pgettext("audit object", "Minutes"),
        "meeting_decision": pgettext("audit object", "Decision"),
        "action": pgettext("audit object", "Agreed action"),
        "action_update": pgettext("audit object", "Progress update"), "chase": pgettext("audit object", "Chase"),
        "open311_key": pgettext("audit object", "API key"),
        "open311_request": pgettext("audit object", "Hotline request"),
        "forecast": pgettext("audit object", "Forecast"),
        "patrol_round": pgettext("audit object", "Patrol round"),
        "fund": pgettext("audit object", "Fund"), "fund_ledger_entry": pgettext("audit object", "Ledger entry"),
        "budget_round": pgettext("audit object", "Budget round"),
        "budget_project": pgettext("audit object", "Budget round project"),
    }


def _detail_labels() -> dict:
    return {
        "reason": pgettext("audit detail", "Reason"), "note": pgettext("audit detail", "Note"),
        "format": pgettext("audit detail", "File type"), "personal": pgettext("audit detail", "Personal data"),
        "community": pgettext("audit detail", "Community"), "category": pgettext("audit detail", "Category"),
        "org": pgettext("audit detail", "Organization"), "month_from": pgettext("audit detail", "From month"),
        "month_to": pgettext("audit detail", "To month"), "ip": pgettext("audit detail", "IP address"),
        "old": pgettext("audit detail", "Before"), "new": pgettext("audit detail", "After"),
        "name": pgettext("audit detail", "Name"), "title": pgettext("audit detail", "Title"),
        "status": pgettext("audit detail", "Status"), "to": pgettext("audit detail", "To"),
        "from": pgettext("audit detail", "From"), "supports": pgettext("audit detail", "Supports"),
        "fund_id": pgettext("audit detail", "Fund"), "amount_fen": pgettext("audit detail", "Amount (fen)"),
        "round_id": pgettext("audit detail", "Budget round"), "decision": pgettext("audit detail", "Decision"),
        "merged_into": pgettext("audit detail", "Merged into project"),
        "funded": pgettext("audit detail", "Projects funded"), "total_fen": pgettext("audit detail", "Total (fen)"),
        "voters": pgettext("audit detail", "Voters"), "days": pgettext("audit detail", "Days"),
        "outcome": pgettext("audit detail", "Outcome"), "item_type": pgettext("audit detail", "Item"),
        "flags": pgettext("audit detail", "Reports"), "locale": pgettext("audit detail", "Language"),
        # accounts
        "method": pgettext("audit detail", "Method"), "reset_id": pgettext("audit detail", "Reset code number"),
        "issued_by": pgettext("audit detail", "Code issued by"),
        "large_text": pgettext("audit detail", "Larger text"),
        # residents, owners, organizations
        "unit": pgettext("audit detail", "Unit"), "residency_id": pgettext("audit detail", "Residence"),
        "phone_matched": pgettext("audit detail", "Phone number matches"),
        "demo": pgettext("audit detail", "Demo data"), "kind": pgettext("audit detail", "Kind"),
        "organization": pgettext("audit detail", "Organization"),
        "organization_id": pgettext("audit detail", "Organization"),
        "start_date": pgettext("audit detail", "Start date"), "end_date": pgettext("audit detail", "End date"),
        # places and the owner register
        "slug": pgettext("audit detail", "Short name"), "sub_district_id": pgettext("audit detail", "Sub-district"),
        "community_id": pgettext("audit detail", "Community"), "time_zone": pgettext("audit detail", "Time zone"),
        "postcode": pgettext("audit detail", "Postcode"), "members_only": pgettext("audit detail", "Members only"),
        "estate_id": pgettext("audit detail", "Estate"), "scope": pgettext("audit detail", "Who decides"),
        "scope_units": pgettext("audit detail", "Buildings and entrances"),
        "code": pgettext("audit detail", "Code"), "entrance": pgettext("audit detail", "Entrance"),
        "room": pgettext("audit detail", "Room"), "area_m2": pgettext("audit detail", "Floor area (m²)"),
        "on_date": pgettext("audit detail", "With effect from"), "owner_ids": pgettext("audit detail", "Owners"),
        "previous_owner_ids": pgettext("audit detail", "Owners before"),
        "resolution": pgettext("audit detail", "Counts as"), "owner_id": pgettext("audit detail", "Owner"),
        "previous_owner_id": pgettext("audit detail", "Owner before"),
        "before": pgettext("audit detail", "Before"), "after": pgettext("audit detail", "After"),
        "filename": pgettext("audit detail", "File name"), "added": pgettext("audit detail", "Units added"),
        "changed": pgettext("audit detail", "Units changed"),
        "unchanged": pgettext("audit detail", "Units unchanged"),
        "renamed": pgettext("audit detail", "Owners renamed"),
        "units_added": pgettext("audit detail", "Units added (list)"),
        "units_changed": pgettext("audit detail", "Units changed (list)"),
        "area_source": pgettext("audit detail", "Source of the area"),
        "merged_owner_id": pgettext("audit detail", "Owner merged"),
        "merged_name": pgettext("audit detail", "Name of the owner merged"),
        "holdings_moved": pgettext("audit detail", "Holdings moved"),
        "holdings_removed": pgettext("audit detail", "Duplicate holdings removed"),
        "other_owner_id": pgettext("audit detail", "Other owner"),
        "other_name": pgettext("audit detail", "Name of the other owner"),
        # issues
        "issue_id": pgettext("audit detail", "Issue"), "deadline_class": pgettext("audit detail", "Deadline class"),
        "respond_hours": pgettext("audit detail", "Respond within (hours)"),
        "resolve_hours": pgettext("audit detail", "Resolve within (hours)"),
        "default_org_id": pgettext("audit detail", "Sent to by default"),
        "is_active": pgettext("audit detail", "Residents can choose it"),
        "basis": pgettext("audit detail", "Basis of the responsibility"),
        "report_minutes": pgettext("audit detail", "Minutes to report in when summoned"),
        "keywords": pgettext("audit detail", "Keywords"),
        "from_category": pgettext("audit detail", "Category before"),
        "to_category": pgettext("audit detail", "Category after"),
        "organization_ids": pgettext("audit detail", "Organizations summoned"),
        "report_by": pgettext("audit detail", "Report by"),
        "attendee": pgettext("audit detail", "Who comes"),
        "will_do": pgettext("audit detail", "What will be done"),
        "photos": pgettext("audit detail", "Photos"), "public": pgettext("audit detail", "Public"),
        "to_org_id": pgettext("audit detail", "Handed over to"),
        "from_org_id": pgettext("audit detail", "Handed over from"),
        "into_id": pgettext("audit detail", "Merged into"),
        "supporters_moved": pgettext("audit detail", "Supporters moved over"),
        "resolved": pgettext("audit detail", "Resolved"), "satisfaction": pgettext("audit detail", "Satisfaction"),
        "late": pgettext("audit detail", "Late"), "resolve_by": pgettext("audit detail", "Resolve by"),
        "attempt": pgettext("audit detail", "Attempt"), "contacted": pgettext("audit detail", "Caller reached"),
        "caller_contacted": pgettext("audit detail", "Caller contacted"),
        "contact_method": pgettext("audit detail", "Contacted by"),
        # moderation, notices, notification settings
        "was": pgettext("audit detail", "Previously"), "objection_id": pgettext("audit detail", "Objection"),
        "changes": pgettext("audit detail", "Changes"),
        "browser": pgettext("audit detail", "Browser"),
        # meetings
        "starts_at": pgettext("audit detail", "Starts"), "is_public": pgettext("audit detail", "Public meeting"),
        "agenda": pgettext("audit detail", "Agenda items"),
        "agenda_item_id": pgettext("audit detail", "Agenda item"),
        "statuses": pgettext("audit detail", "Attendance"), "minutes_id": pgettext("audit detail", "Minutes"),
        "version": pgettext("audit detail", "Version"), "given": pgettext("audit detail", "Consent given"),
        "decision_id": pgettext("audit detail", "Decision"),
        "follow_up": pgettext("audit detail", "Follow-up"), "ballot_id": pgettext("audit detail", "Ballot"),
        # proposals
        "proposal_id": pgettext("audit detail", "Proposal"),
        "threshold": pgettext("audit detail", "Support threshold"),
        "previous_threshold": pgettext("audit detail", "Threshold before"),
        "previous_days": pgettext("audit detail", "Support window before (days)"),
        "notice_days": pgettext("audit detail", "Notice period (days)"),
        "previous_notice_days": pgettext("audit detail", "Notice period before (days)"),
        "attachments": pgettext("audit detail", "Attachments"),
        "source_issue_id": pgettext("audit detail", "From issue"), "stance": pgettext("audit detail", "Stance"),
        "parent_id": pgettext("audit detail", "Reply to comment"),
        "silent": pgettext("audit detail", "Without the “edited” mark"),
        "text_changed": pgettext("audit detail", "Text changed"),
        "attachments_added": pgettext("audit detail", "Attachments added"),
        "attachments_removed": pgettext("audit detail", "Attachments removed"),
        # ballots
        "matter": pgettext("audit detail", "Matter"), "secret": pgettext("audit detail", "Secret ballot"),
        "results_hidden": pgettext("audit detail", "Results hidden until voting closes"),
        "resident_rule": pgettext("audit detail", "Residents' vote rule"),
        "opens_at": pgettext("audit detail", "Voting opens"), "closes_at": pgettext("audit detail", "Voting closes"),
        "original_closes_at": pgettext("audit detail", "Voting was to close"),
        "voter_id": pgettext("audit detail", "Voter"), "result": pgettext("audit detail", "Result"),
        "early": pgettext("audit detail", "Closed early"), "voted": pgettext("audit detail", "Voted"),
        "electorate": pgettext("audit detail", "Electorate"),
        "proxy": pgettext("audit detail", "Proxy"), "proxy_account": pgettext("audit detail", "Proxy's account"),
        "signed_on": pgettext("audit detail", "Authorization dated"), "scan": pgettext("audit detail", "Scan attached"),
        # agreed actions and chasing
        "source": pgettext("audit detail", "Comes from"), "percent": pgettext("audit detail", "Progress (%)"),
        "files": pgettext("audit detail", "Evidence files"), "show_name": pgettext("audit detail", "Name shown"),
        "new_due": pgettext("audit detail", "New due date"),
        # forecasts and patrols
        "action_id": pgettext("audit detail", "Agreed action"),
        "grid": pgettext("audit detail", "Grid"), "building_id": pgettext("audit detail", "Building"),
        "buildings": pgettext("audit detail", "Buildings"),
        # the hotline API
        "prefix": pgettext("audit detail", "Key starts with"),
        "key_prefix": pgettext("audit detail", "Key starts with"),
        "communities": pgettext("audit detail", "Communities"),
        "media_hosts": pgettext("audit detail", "Photo hosts"),
        "rate_limit": pgettext("audit detail", "Requests per minute"),
        "webhook_url": pgettext("audit detail", "Webhook address"),
        "key_id": pgettext("audit detail", "API key"), "key_name": pgettext("audit detail", "Key name"),
        "service_code": pgettext("audit detail", "Kind of problem"), "media": pgettext("audit detail", "Photo"),
        "description": pgettext("audit detail", "Description"),
    }


def _words(code_part: str) -> str:
    return code_part.replace("_", " ").replace(".", " ").strip()


def action_label(code: str | None) -> str:
    """The phrase for an action code; an unnamed one as its object's noun and its verb in words."""
    code = code or ""
    if code in ACTION_LABELS:
        return str(ACTION_LABELS[code])
    subject, _dot, verb = code.partition(".")
    noun_text = _object_labels().get(subject) or _words(subject).capitalize()
    return pgettext("audit action", "%(object)s: %(what)s", object=noun_text, what=_words(verb)) \
        if verb else noun_text


# Said without anyone doing it: nobody signed in when a sign-in failed.
WITHOUT_ACTOR = {"account.login_failed", "account.login_locked"}


def own_label(code: str | None) -> str:
    """The phrase for an entry about the reader's own record (their account activity)."""
    if code in OWN_LABELS:
        return str(OWN_LABELS[code])
    return action_label(code)


def own_line(entry, person_id: int) -> tuple[str | None, str]:
    """(who, what) for a line of a person's own account activity: "You" when they did it themselves, the
    actor's name otherwise, "system" for the portal's own steps, nobody for a failed sign-in."""
    what = own_label(entry.action)
    if entry.action in WITHOUT_ACTOR:
        return None, what
    if entry.actor_id == person_id:
        return _("You"), what
    if entry.actor is not None:
        return entry.actor.display_name, what
    return _("system"), what


def object_label(object_type: str | None) -> str:
    if not object_type:
        return ""
    return _object_labels().get(object_type) or _words(object_type).capitalize()


def details_text(details) -> list[tuple[str, str]]:
    """The details as (label, value) pairs in readable words: no JSON, no \\u escapes; yes/no for flags,
    lists joined with commas, nested values as compact JSON that keeps its characters."""
    if not isinstance(details, dict):
        return [] if details in (None, "") else [("", str(details))]
    pairs, names = [], _detail_labels()
    for key, value in details.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        pairs.append((names.get(key) or _words(str(key)).capitalize(), _value_text(value)))
    return pairs


def _value_text(value) -> str:
    if isinstance(value, bool):
        return pgettext("audit detail", "yes") if value else pgettext("audit detail", "no")
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
