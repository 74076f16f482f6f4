"""Accounts: creating them, passwords, sign-in with lock-out, preferences."""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import event, func

from portal.audit.services import record
from portal.auth import permissions
from portal.auth.models import LoginAttempt, PasswordReset, SignedInSession, User, session_key_digest
from portal.clock import utcnow
from portal.due import due_step
from portal.errors import DomainError, NotAllowed
from portal.extensions import db, unproxied
from portal.formatting import absolute_url, mask_phone  # noqa: F401  (auth.views uses mask_phone from here)
from portal.outbox import Notification, notify, register_event

_hashers: dict[tuple, PasswordHasher] = {}


def _hasher() -> PasswordHasher:
    """Argon2id with the configured cost (argon2-cffi's recommended defaults unless ARGON2_PARAMS says
    otherwise: the test suite makes it cheap, since it hashes thousands of throwaway passwords)."""
    params = tuple(sorted((current_app.config.get("ARGON2_PARAMS") or {}).items()))
    if params not in _hashers:
        _hashers[params] = PasswordHasher(**dict(params))
    return _hashers[params]

PHONE_RE = re.compile(r"^1\d{10}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        _hasher().verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
    return True


def normalize_login(value: str) -> str:
    """A phone number without spaces or +86, or a lower-cased e-mail."""
    value = (value or "").strip()
    digits = re.sub(r"[\s-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    if PHONE_RE.match(digits):
        return digits
    return value.lower()


def is_phone(value: str) -> bool:
    return bool(PHONE_RE.match(value or ""))


def find_by_login(login: str) -> User | None:
    login = normalize_login(login)
    column = User.phone if is_phone(login) else User.email
    return db.session.scalar(db.select(User).where(column == login))


def update_preferences(user: User, *, locale: str | None = None, large_text: bool | None = None) -> None:
    user = unproxied(user)
    changed = {}
    if locale is not None and locale != user.locale:
        user.locale = locale
        changed["locale"] = locale
    if large_text is not None and large_text != user.large_text:
        user.large_text = large_text
        changed["large_text"] = large_text
    if changed:
        record(user, "account.preferences", user, subject_user=user, **changed)


def create_user(*, display_name: str, password: str, email: str | None = None, phone: str | None = None,
                locale: str | None = None, is_admin: bool = False, registered_by: User | None = None) -> User:
    """A new account; raises DomainError (with the field) when the login is taken or malformed."""
    email = email.strip().lower() if email else None
    phone = normalize_login(phone) if phone else None
    if not email and not phone:
        raise DomainError(_l("Enter a mobile number or an e-mail address."), "login")
    if phone and not is_phone(phone):
        raise DomainError(_l("Enter a mainland mobile number: 11 digits starting with 1."), "login")
    if email and not EMAIL_RE.match(email):
        raise DomainError(_l("Enter a valid e-mail address."), "login")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), "password")
    if phone and db.session.scalar(db.select(User.id).where(User.phone == phone)):
        raise DomainError(_l("An account with this mobile number already exists."), "login")
    if email and db.session.scalar(db.select(User.id).where(User.email == email)):
        raise DomainError(_l("An account with this e-mail address already exists."), "login")
    user = User(display_name=display_name.strip(), email=email, phone=phone,
                password_hash=hash_password(password), locale=locale, is_admin=is_admin,
                consented_at=utcnow(), registered_by=registered_by,
                consent_in_person=registered_by is not None)
    db.session.add(user)
    db.session.flush()
    record(registered_by or user, "account.register", user, subject_user=user,
           on_behalf_of=user if registered_by else None)
    return user


# --- Registration -----------------------------------------------------------------------------------

def parse_login(login: str) -> tuple[str, str]:
    """("phone", "13812345678") or ("email", "a@example.org") from what a person typed in the one
    login field; DomainError on that field when it is neither."""
    value = normalize_login(login)
    if not value:
        raise DomainError(_l("Enter a mobile number or an e-mail address."), "login")
    if "@" not in value and re.fullmatch(r"[\d\s+\-()]+", value):
        if not is_phone(value):
            raise DomainError(_l("Enter a mainland mobile number: 11 digits starting with 1."), "login")
        return "phone", value
    if not EMAIL_RE.match(value):
        raise DomainError(_l("Enter a mainland mobile number (11 digits starting with 1) or an e-mail address."),
                          "login")
    return "email", value


register_event("registration_attempt",
               _l("Someone tried to register a new account with your mobile number or e-mail address. If it "
                  "was you: you already have an account, so sign in, or reset your password if you have "
                  "forgotten it. If it was not you, there is nothing to do."),
               link=lambda n: absolute_url("auth.login"), group="account")


def register_account(*, login: str, display_name: str, password: str, locale: str | None = None,
                     now: datetime | None = None) -> User | None:
    """A person registering themself with a mobile number or an e-mail address in one field.
    The consent they gave on the form is recorded as the account's creation time.

    Returns None when the login already has an account: its owner is told (once a day at most), nothing
    else happens, and the caller must answer exactly as for a new account, so the registration page does not
    reveal who has an account."""
    now = now or utcnow()
    kind, value = parse_login(login)
    existing = find_by_login(value)
    if existing is None:
        return create_user(display_name=display_name, password=password, locale=locale, **{kind: value})
    hash_password(password or "")  # as long as creating the account would have taken
    told = db.session.scalar(db.select(Notification.id).where(
        Notification.recipient_id == existing.id, Notification.event == "registration_attempt",
        Notification.created_at > now - timedelta(days=1)).limit(1))
    if told is None and existing.is_active:
        notify([existing], "registration_attempt", existing)
    return None


# --- Sign-in and lock-out ---------------------------------------------------------------------------

class LockedOut(DomainError):
    """Too many failed sign-ins for this account or from this address; `until` says when it lifts."""

    def __init__(self, until: datetime, now: datetime, field: str = "login"):
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(_ln("Too many unsuccessful tries. For your safety, signing in is paused: "
                             "please try again in about %(num)d minute.",
                             "Too many unsuccessful tries. For your safety, signing in is paused: "
                             "please try again in about %(num)d minutes.", minutes), field)
        self.until = until


def _tripped_until(column, value: str, limit: int, now: datetime) -> datetime | None:
    """When the lock on this account or address lifts, or None when there is none.

    `limit` failures within the window lock further tries for the window from the failure that tripped
    it. Tries refused while locked are not recorded, so a lock cannot be stretched forever."""
    window = timedelta(minutes=current_app.config["LOGIN_WINDOW_MINUTES"])
    times = sorted(db.session.scalars(
        db.select(LoginAttempt.at).where(column == value, LoginAttempt.at > now - 2 * window)
        .order_by(LoginAttempt.at.desc()).limit(10 * limit)))
    until = None
    for i in range(limit - 1, len(times)):
        if times[i] - times[i - limit + 1] <= window:
            candidate = times[i] + window
            until = candidate if until is None or candidate > until else until
    return until if until is not None and until > now else None


def account_key(login: str) -> str:
    """What failures are counted against: the account's own login name when it exists, else what was typed."""
    user = find_by_login(login)
    return user.login_name if user is not None else normalize_login(login)


def _check_key(key: str, ip: str, now: datetime, field: str = "login") -> None:
    # An account is locked after LOGIN_FAILURE_LIMIT failures from anywhere. An address is counted
    # separately, against a far higher limit: many people share one address (a housing estate's network, a
    # mobile carrier's gateway), and a few of them mistyping must not lock out the rest.
    config = current_app.config
    untils = [u for u in (_tripped_until(LoginAttempt.account, key, config["LOGIN_FAILURE_LIMIT"], now),
                          _tripped_until(LoginAttempt.ip, ip, config["LOGIN_ADDRESS_FAILURE_LIMIT"], now))
              if u is not None]
    if untils:
        raise LockedOut(max(untils), now, field)


def check_lockout(login: str, ip: str, now: datetime | None = None) -> None:
    """Raise LockedOut while this account, or this client address, is locked."""
    _check_key(account_key(login), ip, now or utcnow())


def _try_lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"yishi.sign_in:{name}".encode()).digest()[:8], "big", signed=True)


def _start_try(key: str, ip: str, user: User | None, now: datetime, field: str = "login") -> None:
    """Check the lock and record this try as a failure, as one step: a try that turns out right removes
    the record again (clear_failed_logins). On PostgreSQL, tries for the same account or from the same
    address wait for each other until the transaction ends, so guesses sent at once cannot all pass the
    check before any of them is recorded (SQLite writes one transaction at a time)."""
    if db.engine.dialect.name == "postgresql":
        for name in sorted((f"account:{key}", f"address:{ip}")):  # one order everywhere: no deadlock
            db.session.execute(db.select(db.func.pg_advisory_xact_lock(_try_lock_key(name))))
    try:
        _check_key(key, ip, now, field)
    except LockedOut:
        record(None, "account.login_locked", user, subject_user=user, ip=ip)
        raise
    db.session.add(LoginAttempt(account=key[:254], ip=ip[:45], at=now))
    db.session.flush()


def _failed_try(key: str, ip: str, user: User | None, now: datetime, reason: str, field: str = "login") -> None:
    """Audit a failed try (recorded by _start_try); when it was the one that tripped the lock, say so."""
    # Only known accounts are named in the audit log: what was typed may be a mistyped password.
    record(None, "account.login_failed", user, subject_user=user, ip=ip, reason=reason)
    _check_key(key, ip, now, field)


def clear_failed_logins(user: User) -> None:
    db.session.execute(db.delete(LoginAttempt).where(LoginAttempt.account == user.login_name))


@due_step("expire_login_attempts")
def forget_old_login_attempts(now: datetime) -> int:
    """Failed sign-ins older than a day no longer count toward anything."""
    return db.session.execute(db.delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1))).rowcount


_WRONG_LOGIN = _l("The mobile number, e-mail or password is not right.")


def authenticate(login: str, password: str, ip: str, now: datetime | None = None) -> User:
    """The account for these credentials, or DomainError on the `login` field.

    Every outcome is written (failure count, audit entry): the caller commits whether this returns
    or raises. A locked account refuses even the right password."""
    now = now or utcnow()
    user = find_by_login(login)
    key = user.login_name if user is not None else normalize_login(login)
    _start_try(key, ip, user, now)
    if user is None:
        _waste_a_hash_check(password)
    if user is None or not user.is_active or not check_password(user, password):
        _failed_try(key, ip, user, now, "password")
        raise DomainError(_WRONG_LOGIN, "login")
    clear_failed_logins(user)
    user.last_login_at = now
    record(user, "account.login", user, subject_user=user, ip=ip)
    return user


_dummy_hashes: dict[int, str] = {}


def _waste_a_hash_check(password: str) -> None:
    """Take as long for an unknown account as for a known one, so timing does not tell which exist."""
    hasher = _hasher()
    if id(hasher) not in _dummy_hashes:
        _dummy_hashes[id(hasher)] = hasher.hash("not a real password")
    dummy = _dummy_hashes[id(hasher)]
    try:
        hasher.verify(dummy, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


def open_session(user: User, now: datetime | None = None) -> str:
    """A new signed-in session for this browser: its key, which the session and remember-me cookies carry
    (User.get_id); the database keeps only its digest, and nothing about the browser (the privacy notice
    promises only when one signed in)."""
    user = unproxied(user)
    key = secrets.token_urlsafe(16)
    now = now or utcnow()
    db.session.add(SignedInSession(user_id=user.id, key_digest=session_key_digest(key), created_at=now,
                                   last_seen_at=now))
    user.session_key = key
    return key


def _end_session_rows(user: User, now: datetime, keep: str | None = None) -> None:
    condition = [SignedInSession.user_id == user.id, SignedInSession.ended_at.is_(None)]
    if keep:
        condition.append(SignedInSession.key_digest != session_key_digest(keep))
    db.session.execute(db.update(SignedInSession).where(*condition).values(ended_at=now))


def end_sessions(user: User, keep: str | None = None, now: datetime | None = None) -> None:
    """Every session and remember-me cookie of this person stops working, on every device: they carry the
    session generation (User.get_id), and the user loader refuses one that is not the current one. `keep`,
    the key of the session that asked (a password change), stays open: its caller signs it in again under
    the new generation."""
    user = unproxied(user)
    user.session_generation = (user.session_generation or 0) + 1
    _end_session_rows(user, now or utcnow(), keep)


def sign_out(user: User, key: str | None, now: datetime | None = None) -> None:
    """Signing out ends this browser's session on the server, so a copy of its cookies taken earlier is
    worthless too. The person's other browsers stay signed in."""
    user = unproxied(user)
    if user is None or not key:
        return
    db.session.execute(db.update(SignedInSession).where(
        SignedInSession.user_id == user.id, SignedInSession.key_digest == session_key_digest(key),
        SignedInSession.ended_at.is_(None)).values(ended_at=now or utcnow()))


def sign_out_everywhere(actor: User, user: User) -> None:
    actor, user = unproxied(actor), unproxied(user)
    if actor is None or actor.id != user.id:
        raise NotAllowed(_l("You can only sign yourself out."))
    end_sessions(user)
    record(actor, "account.signed_out_everywhere", user, subject_user=user)


def forget_ended_sessions(before: datetime) -> int:
    """Rows of sessions that ended before `before` (the privacy retention step's sign-in period)."""
    return db.session.execute(db.delete(SignedInSession).where(SignedInSession.ended_at < before)).rowcount


@event.listens_for(User.is_active_account, "set")
def _end_sessions_when_locked(user, value, oldvalue, initiator):
    # Locking an account (an administrator's lock, a deletion) ends its sessions for good: unlocking it
    # later does not bring old cookies back to life.
    if oldvalue is True and value is False:
        user.session_generation = (user.session_generation or 0) + 1
        # Its session rows are ended by whoever locks it (anonymize); the generation alone already refuses them.


# --- Account page -----------------------------------------------------------------------------------

def update_profile(actor: User, user: User, *, display_name: str, locale: str | None, large_text: bool) -> None:
    actor, user = unproxied(actor), unproxied(user)
    if actor is None or actor.id != user.id:
        raise NotAllowed(_l("You can only change your own account."))
    display_name = (display_name or "").strip()
    if not display_name:
        raise DomainError(_l("Enter the name others will see."), "display_name")
    if locale not in (None, *current_app.config["LANGUAGES"]):
        raise DomainError(_l("Choose a language from the list."), "locale")
    if display_name != user.display_name:
        record(actor, "account.display_name", user, subject_user=user, old=user.display_name, new=display_name)
        user.display_name = display_name
    update_preferences(user, locale=locale, large_text=large_text)


def _set_password(user: User, password: str, now: datetime, keep_session: str | None = None) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), "password")
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    # A reset link or code still lying around must not undo the change.
    db.session.execute(db.update(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None),
        PasswordReset.expires_at > now).values(expires_at=now))
    clear_failed_logins(user)
    end_sessions(user, keep=keep_session, now=now)
    notify([user], "password_changed", user)


def change_password(actor: User, user: User, *, current_password: str, new_password: str,
                    ip: str = "unknown", now: datetime | None = None) -> None:
    """The signed-in person changes their own password; every other session ends (the caller signs this
    one, the actor's session_key, in again under the new generation). A wrong current password counts as a
    failed sign-in, so a session left open on a shared computer cannot be used to guess the password faster
    than the sign-in page allows: the caller commits the refusal too."""
    now = now or utcnow()
    actor, user = unproxied(actor), unproxied(user)
    if actor is None or actor.id != user.id:
        raise NotAllowed(_l("You can only change your own password."))
    _start_try(user.login_name, ip, user, now, "current_password")
    if not check_password(user, current_password or ""):
        _failed_try(user.login_name, ip, user, now, "current_password", "current_password")
        raise DomainError(_l("This is not your current password."), "current_password")
    _set_password(user, new_password, now, keep_session=actor.session_key)
    record(actor, "account.password_changed", user, subject_user=user)


# --- Password recovery ------------------------------------------------------------------------------

RESET_LINK_LIFETIME = timedelta(minutes=30)
RESET_CODE_LIFETIME = timedelta(hours=24)
RESET_LINKS_PER_LIFETIME = 3
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed by hand
CODE_LENGTH = 8
RESET_SALT = "password-reset"

register_event("password_reset_link",
               _l("You asked to reset your password. Open this link within 30 minutes to choose a new one: "
                  "%(url)s — if it was not you, ignore this message."),
               link=lambda n: n.payload.get("url"))
register_event("password_changed",
               _l("Your password was changed. If this was not you, contact your residents' committee "
                  "or an administrator at once."))
register_event("password_reset_code_issued",
               _l("%(issuer)s issued a password reset code for your account. If you did not ask for one, "
                  "contact your residents' committee."))


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=RESET_SALT)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def request_password_reset(login: str, now: datetime | None = None) -> PasswordReset | None:
    """Send a reset link to an e-mail account. Returns the reset, or None when nothing was sent;
    callers must show the same message either way so the page does not reveal who has an account."""
    now = now or utcnow()
    user = find_by_login(login)
    if user is None or not user.is_active or not user.email:
        return None
    recent = db.session.scalar(db.select(func.count(PasswordReset.id)).where(
        PasswordReset.user_id == user.id, PasswordReset.kind == "link",
        PasswordReset.created_at > now - RESET_LINK_LIFETIME))
    if recent >= RESET_LINKS_PER_LIFETIME:
        return None  # enough links are already on their way; do not let anyone flood a mailbox
    nonce = secrets.token_urlsafe(16)
    reset = PasswordReset(user=user, kind="link", code_hash=_digest(nonce), created_at=now,
                          expires_at=now + RESET_LINK_LIFETIME)
    db.session.add(reset)
    db.session.flush()
    token = _reset_serializer().dumps({"id": reset.id, "n": nonce})
    notify([user], "password_reset_link", user, url=absolute_url("auth.reset_password", token=token))
    record(None, "account.reset_link_sent", user, subject_user=user)
    return reset


_BAD_LINK = _l("This reset link is not valid: it has expired, was already used, or was copied incompletely. "
               "Please ask for a new one.")


def reset_for_token(token: str, now: datetime | None = None) -> PasswordReset:
    """The open reset a link stands for, or DomainError when the link is expired, used or altered."""
    now = now or utcnow()
    try:
        data = _reset_serializer().loads(token, max_age=int(RESET_LINK_LIFETIME.total_seconds()))
        reset = db.session.get(PasswordReset, int(data["id"]))
        nonce = str(data["n"])
    except (BadData, KeyError, TypeError, ValueError):
        raise DomainError(_BAD_LINK) from None
    if (reset is None or reset.kind != "link" or reset.used_at is not None or reset.expires_at <= now
            or not hmac.compare_digest(reset.code_hash or "", _digest(nonce))):
        raise DomainError(_BAD_LINK)
    return reset


def reset_password_with_link(token: str, new_password: str, now: datetime | None = None) -> User:
    now = now or utcnow()
    reset = reset_for_token(token, now)
    user = reset.user
    _set_password(user, new_password, now)
    reset.used_at = now
    record(user, "account.password_reset", user, subject_user=user, method="link")
    return user


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def issue_reset_code(issuer: User, target: User, now: datetime | None = None) -> str:
    """A one-time code a committee member or admin hands to a person who cannot receive e-mail.
    Only its hash is kept; earlier open codes for the person stop working."""
    now = now or utcnow()
    issuer = unproxied(issuer)
    if not permissions.can_issue_reset_code(issuer, target):
        raise NotAllowed(_l("Only a committee member of this person's community, or an administrator, "
                            "can issue a reset code."))
    if target.is_admin and not issuer.is_admin:
        # Whoever issues a code could use it: an administrator's account is reset only by another one.
        raise NotAllowed(_l("Only another administrator can issue a reset code for an administrator."))
    db.session.execute(db.update(PasswordReset).where(
        PasswordReset.user_id == target.id, PasswordReset.kind == "code", PasswordReset.used_at.is_(None),
        PasswordReset.expires_at > now).values(expires_at=now))
    code = _new_code()
    reset = PasswordReset(user=target, kind="code", code_hash=hash_password(code), issued_by=issuer,
                          created_at=now, expires_at=now + RESET_CODE_LIFETIME)
    db.session.add(reset)
    db.session.flush()
    record(issuer, "account.reset_code_issued", target, subject_user=target, reset_id=reset.id)
    notify([target], "password_reset_code_issued", target, issuer=issuer.display_name)
    return code


_BAD_CODE = _l("This code is not right, has expired or was already used. Check it, or ask your "
               "committee for a new one.")


def reset_password_with_code(login: str, code: str, new_password: str, ip: str,
                             now: datetime | None = None) -> User:
    """Set a new password with a handed-over code. A wrong code counts as a failed sign-in, so codes
    cannot be guessed faster than passwords."""
    now = now or utcnow()
    if len(new_password or "") < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), "password")
    user = find_by_login(login)
    key = user.login_name if user is not None else normalize_login(login)
    _start_try(key, ip, user, now)
    code = normalize_code(code)
    reset = None
    if user is not None and len(code) == CODE_LENGTH:
        for candidate in db.session.scalars(db.select(PasswordReset).where(
                PasswordReset.user_id == user.id, PasswordReset.kind == "code",
                PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)):
            try:
                _hasher().verify(candidate.code_hash, code)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                continue
            reset = candidate
            break
    else:
        _waste_a_hash_check(code)
    if reset is None or not user.is_active:
        _failed_try(key, ip, user, now, "reset_code")
        raise DomainError(_BAD_CODE, "code")
    _set_password(user, new_password, now)
    reset.used_at = now
    record(user, "account.password_reset", user, subject_user=user, method="code", issued_by=reset.issued_by_id)
    return user
