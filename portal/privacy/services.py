"""The rules of personal information (PIPL arts. 44–47).

- Deleting an account: the person asks (or a committee member or an admin takes the request at the counter and
  carries it out at once); after a cooling-off period in which it can be cancelled, run-due anonymizes the
  account. What the record requires stays without the person: ballots stay counted, issues, comments and
  proposals stay, bylined "deleted participant"; the owner register keeps the owner (the committee's record)
  without the link to the account.
- A copy of one's data: a ZIP of JSON and the person's own photos, prepared at once for a small account and
  by run-due otherwise, offered for EXPORT_KEEP_DAYS, then removed.
- Retention: hotline callers' contact data, sign-in addresses, unconfirmed registrations and exports are
  removed after the configured periods (run-due).
- Consent: the privacy notice has a version; a person who accepted an older one is asked to accept the
  current one. Consent to optional processing (e-mail digests) can be withdrawn at any time."""
import io
import json
import secrets
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from portal import events
from portal.actions.models import ActionRating, ActionVolunteer
from portal.audit.models import AuditEntry
from portal.audit.services import record
from portal.auth import permissions
from portal.auth.models import LoginAttempt, PasswordReset, SignedInSession, User
from portal.auth.services import forget_ended_sessions, hash_password
from portal.clock import utcnow
from portal.committees.models import OrgMembership
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db, unproxied
from portal.issues import photos as issue_photos
from portal.issues.models import Issue, IssuePhoto, IssueSupport
from portal.moderation.models import Flag
from portal.notices.models import Objection
from portal.open311.models import Open311Request
from portal.outbox import Notification
from portal.places.models import OPEN_RESIDENCY_STATES, Community, Owner, OwnerPhone, Ownership, Residency
from portal.privacy.models import ConsentRecord, DataExport, DeletionRequest
from portal.proposals.models import Comment, CommentLike, Proposal, ProposalSupport
from portal.votes.models import Ballot, BallotCaster, BallotLogEntry, BallotOption

DELETED_NAME = _l("deleted participant")
CONTACT_REMOVED = _l("caller (contact removed)")
SIGN_IN_ACTIONS = ("account.login", "account.login_failed", "account.login_locked")
# An account with at most this many photos is copied at once, in the request; a larger one by run-due.
IMMEDIATE_EXPORT_PHOTOS = 20

SETTINGS = {  # config key → default, in days
    "DELETION_COOLING_OFF_DAYS": 7,
    "EXPORT_KEEP_DAYS": 7,
    "RETENTION_HOTLINE_CONTACT_DAYS": 180,
    "RETENTION_SIGN_IN_DAYS": 90,
    "RETENTION_UNCONFIRMED_DAYS": 30,
}


def setting(name: str) -> int:
    return int(current_app.config.get(name, SETTINGS[name]))


def retention_periods() -> dict[str, int]:
    """Every period in days, for the privacy page."""
    return {name: setting(name) for name in SETTINGS}


# --- Who may ----------------------------------------------------------------------------------------------

def can_manage_own_data(user: object) -> bool:
    """Ask for one's own copy, deletion, or withdraw consent: any signed-in, active account."""
    return bool(getattr(user, "is_authenticated", False)) and user.is_active


def can_delete_at_counter(user: object, person: User | None) -> bool:
    """Carry out a deletion asked for at the counter: an admin, or a committee member or service station staff
    of a community the person lives in (or has claimed a unit in). Never one's own account this way, nor an
    admin's."""
    if not getattr(user, "is_authenticated", False) or person is None or user.id == person.id:
        return False
    if not person.is_active or person.is_admin:
        return False
    if user.is_admin:
        return True
    communities = set(db.session.scalars(db.select(Residency.community_id).where(
        Residency.user_id == person.id, Residency.status.in_(OPEN_RESIDENCY_STATES))))
    return any(permissions.can_verify_residents(user, db.session.get(Community, cid)) for cid in communities)


# --- Deleting an account ----------------------------------------------------------------------------------

def open_deletion(user: User) -> DeletionRequest | None:
    return db.session.scalar(db.select(DeletionRequest).where(
        DeletionRequest.user_id == user.id, DeletionRequest.cancelled_at.is_(None),
        DeletionRequest.carried_out_at.is_(None)))


def request_deletion(actor: User, user: User, now: datetime | None = None) -> DeletionRequest:
    """The person asks for their account to be deleted; it happens after the cooling-off period."""
    now = now or utcnow()
    actor, user = unproxied(actor), unproxied(user)
    if actor is None or actor.id != user.id or not can_manage_own_data(actor):
        raise NotAllowed(_l("You can only ask to delete your own account."))
    if user.is_admin:
        raise DomainError(_l("An administrator's account is deleted by another administrator after the role "
                             "is handed over."))
    if open_deletion(user) is not None:
        raise DomainError(_l("You have already asked to delete your account."))
    days = setting("DELETION_COOLING_OFF_DAYS")
    deletion = DeletionRequest(user_id=user.id, requested_at=now, due_at=now + timedelta(days=days))
    db.session.add(deletion)
    record(actor, "privacy.deletion_requested", user, subject_user=user, days=days)
    return deletion


def cancel_deletion(actor: User, user: User, now: datetime | None = None) -> DeletionRequest:
    now = now or utcnow()
    actor, user = unproxied(actor), unproxied(user)
    if actor is None or actor.id != user.id:
        raise NotAllowed(_l("You can only cancel your own request."))
    deletion = open_deletion(user)
    if deletion is None:
        raise DomainError(_l("There is no request to delete your account."))
    deletion.cancelled_at = now
    record(actor, "privacy.deletion_cancelled", user, subject_user=user)
    return deletion


def delete_at_counter(actor: User, person: User, now: datetime | None = None) -> DeletionRequest:
    """A committee member or an admin carries out a deletion the person asked for in person: at once,
    recorded with who took it."""
    now = now or utcnow()
    actor, person = unproxied(actor), unproxied(person)
    if not can_delete_at_counter(actor, person):
        raise NotAllowed(_l("You may not delete this account."))
    deletion = open_deletion(person)
    if deletion is None:
        deletion = DeletionRequest(user_id=person.id, requested_at=now, due_at=now)
        db.session.add(deletion)
    deletion.requested_by_id = actor.id
    record(actor, "privacy.deleted_at_counter", person, subject_user=person)
    anonymize(person, now)
    deletion.carried_out_at = now
    return deletion


def deleted_name() -> str:
    """The name a deleted account shows, in the deployment's own language (stored, so every page shows it)."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "en")):
        return str(DELETED_NAME)


def anonymize(user: User, now: datetime) -> None:
    """Remove the person from the account and keep what the record needs: the row (ballots, issues, comments
    and proposals point at it) with the name "deleted participant", no contact, no usable password, signed
    out everywhere (a new password generation ends every session and remember-me cookie)."""
    user_id = user.id
    old_logins = [value for value in (user.email, user.phone) if value]
    user.display_name = deleted_name()
    user.email = f"deleted-{user_id}@deleted.invalid"  # a sign-in name nobody has; the row needs one
    user.phone = None
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.password_changed_at = now
    user.is_active_account = False
    user.locale = None
    user.large_text = False
    user.last_login_at = None
    today = now.date()
    for residency in db.session.scalars(db.select(Residency).where(
            Residency.user_id == user_id, Residency.status.in_(OPEN_RESIDENCY_STATES))):
        residency.status = "ended"
        residency.ended_at = now
    db.session.execute(db.update(OrgMembership).where(
        OrgMembership.user_id == user_id, OrgMembership.end_date.is_(None),
        OrgMembership.start_date <= today).values(end_date=today))
    db.session.execute(db.delete(OrgMembership).where(
        OrgMembership.user_id == user_id, OrgMembership.start_date > today))
    # The register's owner stays the committee's record; only the link to the account goes.
    db.session.execute(db.update(Owner).where(Owner.user_id == user_id).values(user_id=None))
    db.session.execute(db.update(Issue).where(Issue.reporter_id == user_id).values(reporter_phone=None))
    db.session.execute(db.delete(PasswordReset).where(PasswordReset.user_id == user_id))
    db.session.execute(db.update(SignedInSession).where(
        SignedInSession.user_id == user_id, SignedInSession.ended_at.is_(None)).values(ended_at=now))
    if old_logins:
        db.session.execute(db.delete(LoginAttempt).where(LoginAttempt.account.in_(old_logins)))
    events.account_anonymized.send(user, now=now)
    db.session.execute(db.delete(Notification).where(Notification.recipient_id == user_id))
    for export in db.session.scalars(db.select(DataExport).where(
            DataExport.user_id == user_id, DataExport.status != "removed")):
        _remove_export(export, now)
    record(None, "privacy.account_anonymized", user, subject_user=user)


@due_step("privacy_deletions")
def carry_out_due_deletions(now: datetime) -> int:
    """Anonymize each account whose cooling-off period has ended."""
    due = db.session.scalars(db.select(DeletionRequest).where(
        DeletionRequest.cancelled_at.is_(None), DeletionRequest.carried_out_at.is_(None),
        DeletionRequest.due_at <= now).order_by(DeletionRequest.id).limit(200)).all()
    for deletion in due:
        anonymize(deletion.user, now)
        deletion.carried_out_at = now
    return len(due)


def can_remove_photo(user: object, photo: IssuePhoto | None) -> bool:
    """Remove an issue photo that shows a person who asked for it to go: the community's committee members
    (the moderators) and admins."""
    return bool(getattr(user, "is_authenticated", False)) and photo is not None \
        and permissions.can_moderate(user, photo.issue.community)


def remove_photo_on_request(actor: User, photo: IssuePhoto) -> None:
    """The photo's files and its row go; the audit log keeps who removed it from which issue."""
    actor = unproxied(actor)
    if not can_remove_photo(actor, photo):
        raise NotAllowed(_l("You may not remove this photo."))
    record(actor, "privacy.photo_removed", photo.issue, issue_id=photo.issue_id)
    for size in issue_photos.SIZES:
        issue_photos.path_for(photo, size).unlink(missing_ok=True)
    db.session.delete(photo)


# --- A copy of one's data ---------------------------------------------------------------------------------

def export_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "exports"


def export_path(export: DataExport) -> Path:
    return export_dir() / f"{export.key}.zip"


def current_exports(user: User) -> list[DataExport]:
    return db.session.scalars(db.select(DataExport).where(
        DataExport.user_id == user.id, DataExport.status != "removed").order_by(DataExport.id.desc())).all()


def request_export(actor: User, user: User, now: datetime | None = None) -> DataExport:
    """The person asks for their copy: made at once when the account is small, else by run-due."""
    now = now or utcnow()
    actor, user = unproxied(actor), unproxied(user)
    if actor is None or actor.id != user.id or not can_manage_own_data(actor):
        raise NotAllowed(_l("You can only download your own data."))
    if db.session.scalar(db.select(DataExport.id).where(
            DataExport.user_id == user.id, DataExport.status == "pending")) is not None:
        raise DomainError(_l("Your copy is being prepared already."))
    export = DataExport(user_id=user.id, key=secrets.token_hex(16), requested_at=now,
                        expires_at=now + timedelta(days=setting("EXPORT_KEEP_DAYS")))
    db.session.add(export)
    record(actor, "privacy.export_requested", user, subject_user=user)
    photos = db.session.scalar(db.select(db.func.count(IssuePhoto.id)).where(IssuePhoto.uploaded_by_id == user.id))
    if photos <= IMMEDIATE_EXPORT_PHOTOS:
        prepare_export(export, now)
    return export


def export_for_download(actor: User, export_id: int, now: datetime | None = None) -> DataExport | None:
    """The person's own ready copy, if still offered; None otherwise (nobody else's, ever)."""
    now = now or utcnow()
    export = db.session.get(DataExport, export_id)
    if export is None or actor is None or export.user_id != actor.id or export.status != "ready" \
            or export.expires_at <= now or not export_path(export).is_file():
        return None
    return export


def prepare_export(export: DataExport, now: datetime) -> DataExport:
    user = export.user
    data = personal_data(user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2, default=_json_value))
        for photo in _own_photos(user):
            path = issue_photos.path_for(photo, max(issue_photos.SIZES))
            if path.is_file():
                archive.write(path, f"photos/{path.name}")
    target = export_path(export)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(buffer.getvalue())
    partial.replace(target)
    export.size = target.stat().st_size
    export.status = "ready"
    export.ready_at = now
    return export


@due_step("privacy_exports")
def prepare_pending_exports(now: datetime) -> int:
    pending = db.session.scalars(db.select(DataExport).where(DataExport.status == "pending")
                                 .order_by(DataExport.id).limit(20)).all()
    for export in pending:
        prepare_export(export, now)
    return len(pending)


def _own_photos(user: User) -> list[IssuePhoto]:
    return db.session.scalars(db.select(IssuePhoto).where(IssuePhoto.uploaded_by_id == user.id)
                              .order_by(IssuePhoto.id)).all()


def _json_value(value):
    """What json.dumps cannot write itself: times and days as ISO 8601, anything else (Decimal) as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _rows(model, *conditions, leave_out: tuple = ()) -> list[dict]:
    columns = [c for c in model.__table__.columns if c.key not in leave_out]
    rows = db.session.scalars(db.select(model).where(*conditions).order_by(model.id)).all()
    return [{c.key: getattr(row, c.key) for c in columns} for row in rows]


def personal_data(user: User) -> dict:
    """Everything the portal keeps about this person and nothing about anyone else: their account, residences
    and ownerships, what they wrote and supported, their own ballots with their receipts (the choice only on
    ballots that are not secret), notifications, consents and the audit entries about their record."""
    uid = user.id
    owners = _rows(Owner, Owner.user_id == uid)
    owner_ids = [o["id"] for o in owners]
    return {
        "account": _rows(User, User.id == uid, leave_out=("password_hash",))[0],
        "residencies": _rows(Residency, Residency.user_id == uid),
        "owners": owners,
        "owner_phones": _rows(OwnerPhone, OwnerPhone.owner_id.in_(owner_ids)) if owner_ids else [],
        "ownerships": _rows(Ownership, Ownership.owner_id.in_(owner_ids)) if owner_ids else [],
        "memberships": _rows(OrgMembership, OrgMembership.user_id == uid),
        "issues": _rows(Issue, Issue.reporter_id == uid),
        "issue_photos": [{**row, "file": f"photos/{row['key']}-{max(issue_photos.SIZES)}.jpg"}
                         for row in _rows(IssuePhoto, IssuePhoto.uploaded_by_id == uid)],
        "issue_supports": _rows(IssueSupport, IssueSupport.user_id == uid),
        "proposals": _rows(Proposal, Proposal.author_id == uid),
        "proposal_supports": _rows(ProposalSupport, ProposalSupport.user_id == uid),
        "comments": _rows(Comment, Comment.author_id == uid),
        "comment_likes": _rows(CommentLike, CommentLike.user_id == uid),
        "action_ratings": _rows(ActionRating, ActionRating.user_id == uid),
        "action_volunteers": _rows(ActionVolunteer, ActionVolunteer.user_id == uid),
        "objections": _rows(Objection, Objection.user_id == uid),
        "flags": _rows(Flag, Flag.user_id == uid),
        "ballots": _own_ballots(uid),
        "notifications": _rows(Notification, Notification.recipient_id == uid,
                               leave_out=("email_attempts", "email_rejections", "next_attempt_at", "last_error")),
        "consents": {"registration": user.consented_at,
                     "records": _rows(ConsentRecord, ConsentRecord.user_id == uid)},
        "audit_entries": _rows(AuditEntry, AuditEntry.subject_user_id == uid),
        "signed_in_sessions": _rows(SignedInSession, SignedInSession.user_id == uid, leave_out=("key_digest",)),
    }


def _own_ballots(user_id: int) -> list[dict]:
    """Each ballot this person cast for a vote of their own (not paper ballots a committee member entered
    for others): when, the receipt, and the choice unless the ballot is secret."""
    own_voters = db.select(BallotCaster.voter_id).where(BallotCaster.user_id == user_id)
    rows = db.session.execute(
        db.select(BallotLogEntry, Ballot.question, Ballot.secret, BallotOption.label)
        .join(Ballot, Ballot.id == BallotLogEntry.ballot_id)
        .join(BallotOption, BallotOption.id == BallotLogEntry.option_id)
        .where(BallotLogEntry.cast_by_id == user_id, BallotLogEntry.voter_id.in_(own_voters))
        .order_by(BallotLogEntry.id)).all()
    return [{"ballot_id": entry.ballot_id, "ballot": question, "cast_at": entry.at, "receipt": entry.receipt,
             "paper": entry.is_paper, "choice": None if secret else label}
            for entry, question, secret, label in rows]


def _remove_export(export: DataExport, now: datetime) -> None:
    export_path(export).unlink(missing_ok=True)
    export.status = "removed"
    export.removed_at = now


@due_step("privacy_retention")
def enforce_retention(now: datetime) -> int:
    """Remove what has been kept for as long as the configured periods allow."""
    return (remove_expired_exports(now) + remove_hotline_contacts(now) + forget_sign_in_addresses(now)
            + remove_unconfirmed_registrations(now))


def remove_expired_exports(now: datetime) -> int:
    expired = db.session.scalars(db.select(DataExport).where(
        DataExport.status != "removed", DataExport.expires_at <= now)).all()
    for export in expired:
        _remove_export(export, now)
    return len(expired)


def remove_hotline_contacts(now: datetime) -> int:
    """Hotline callers' name and number (on the issue and the Open311 request) once the issue has been
    closed for RETENTION_HOTLINE_CONTACT_DAYS."""
    cutoff = now - timedelta(days=setting("RETENTION_HOTLINE_CONTACT_DAYS"))
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "en")):
        placeholder = str(CONTACT_REMOVED)
    closed = db.select(Issue.id).where(Issue.reporter_id.is_(None), Issue.closed_at.is_not(None),
                                       Issue.closed_at <= cutoff)
    changed = db.session.execute(db.update(Issue).where(
        Issue.id.in_(closed), db.or_(Issue.reporter_phone.is_not(None), Issue.reporter_name != placeholder))
        .values(reporter_name=placeholder, reporter_phone=None)).rowcount
    changed += db.session.execute(db.update(Open311Request).where(
        Open311Request.issue_id.in_(closed),
        db.or_(Open311Request.email.is_not(None), Open311Request.phone.is_not(None),
               Open311Request.first_name.is_not(None), Open311Request.last_name.is_not(None)))
        .values(email=None, phone=None, first_name=None, last_name=None)).rowcount
    return changed


def forget_sign_in_addresses(now: datetime) -> int:
    """Sign-in records older than RETENTION_SIGN_IN_DAYS: failed attempts and sessions ended before go, and the
    audit log's sign-in entries lose their IP address (the entry itself stays)."""
    cutoff = now - timedelta(days=setting("RETENTION_SIGN_IN_DAYS"))
    changed = db.session.execute(db.delete(LoginAttempt).where(LoginAttempt.at < cutoff)).rowcount
    changed += forget_ended_sessions(cutoff)
    # Only entries that still hold an address: the step runs every minute over a log that only grows.
    entries = db.session.scalars(db.select(AuditEntry).where(
        AuditEntry.action.in_(SIGN_IN_ACTIONS), AuditEntry.created_at < cutoff,
        AuditEntry.details["ip"].as_string().is_not(None))).all()
    for entry in entries:
        entry.details = {k: v for k, v in entry.details.items() if k != "ip"}
    return changed + len(entries)


def remove_unconfirmed_registrations(now: datetime) -> int:
    """An account nobody ever confirmed (no residence verified, no membership, no owner record, not an admin,
    nothing written) and not used for RETENTION_UNCONFIRMED_DAYS is anonymized; its pending claims end."""
    cutoff = now - timedelta(days=setting("RETENTION_UNCONFIRMED_DAYS"))
    confirmed = db.select(Residency.user_id).where(Residency.status.in_(("verified", "ended")))
    members = db.select(OrgMembership.user_id)
    owners = db.select(Owner.user_id).where(Owner.user_id.is_not(None))
    wrote = db.union(db.select(Issue.reporter_id).where(Issue.reporter_id.is_not(None)),
                     db.select(Proposal.author_id), db.select(Comment.author_id))
    people = db.session.scalars(db.select(User).where(
        User.is_active_account.is_(True), User.is_admin.is_(False), User.created_at < cutoff,
        db.or_(User.last_login_at.is_(None), User.last_login_at < cutoff),
        User.id.not_in(confirmed), User.id.not_in(members), User.id.not_in(owners),
        User.id.not_in(wrote)).limit(200)).all()
    for person in people:
        anonymize(person, now)
    return len(people)


# --- Consent ----------------------------------------------------------------------------------------------

def notice_version() -> str:
    return str(current_app.config.get("PRIVACY_NOTICE_VERSION", "2"))


def notice_since() -> datetime | None:
    """When the current notice version came into force: an account that agreed at registration after it
    agreed to this version."""
    value = current_app.config.get("PRIVACY_NOTICE_SINCE", "2026-12-06")
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def accepted_notice_version(user: User) -> str | None:
    latest = db.session.scalar(db.select(ConsentRecord.version).where(
        ConsentRecord.user_id == user.id, ConsentRecord.purpose == "privacy_notice",
        ConsentRecord.given.is_(True)).order_by(ConsentRecord.id.desc()).limit(1))
    return latest


def needs_notice_acceptance(user: User) -> bool:
    """Has this person yet to accept the current version of the privacy notice?"""
    since = notice_since()
    if since is None or user.consented_at >= since:
        return False
    return accepted_notice_version(user) != notice_version()


def accept_notice(actor: User, now: datetime | None = None) -> ConsentRecord:
    now = now or utcnow()
    actor = unproxied(actor)
    if not can_manage_own_data(actor):
        raise NotAllowed(_l("Sign in to accept the privacy notice."))
    consent = ConsentRecord(user_id=actor.id, purpose="privacy_notice", version=notice_version(), given=True,
                            at=now)
    db.session.add(consent)
    record(actor, "privacy.notice_accepted", actor, subject_user=actor, version=notice_version())
    return consent


def digest_consent(user: User) -> bool:
    """Whether the person allows e-mail digests (optional processing); yes until withdrawn."""
    latest = db.session.scalar(db.select(ConsentRecord.given).where(
        ConsentRecord.user_id == user.id, ConsentRecord.purpose == "email_digest")
        .order_by(ConsentRecord.id.desc()).limit(1))
    return latest is None or bool(latest)


def set_digest_consent(actor: User, user: User, given: bool, now: datetime | None = None) -> ConsentRecord:
    """Give or withdraw consent to e-mail digests. Withdrawing turns every group sent as a digest off."""
    now = now or utcnow()
    actor, user = unproxied(actor), unproxied(user)
    if actor is None or actor.id != user.id or not can_manage_own_data(actor):
        raise NotAllowed(_l("Only you can change your consent."))
    if digest_consent(user) == given:
        raise DomainError(_l("Your consent is already recorded that way."))
    if not given:
        events.digest_consent_withdrawn.send(user)
    consent = ConsentRecord(user_id=user.id, purpose="email_digest", given=given, at=now)
    db.session.add(consent)
    record(actor, "privacy.digest_consent", user, subject_user=user, given=given)
    return consent

