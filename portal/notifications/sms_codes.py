"""Signing in (and recovering an account) with a one-time code sent by SMS to a mobile account's number,
when the SMS channel and its "code" template are configured. Beside the in-person reset code of the
committee (portal.auth.services), which stays for residents without a phone.

- A code is 6 digits, works for 5 minutes and for 5 tries; asking again ends the earlier code.
- Asking is rate-limited per number and per client address with the sign-in lock-out's counter
  (portal.auth.services: LoginAttempt rows under the keys "sms:<number>" and "sms-ip:<address>"); trying a
  code counts as a sign-in try of the account and the address, so codes are not guessed faster than passwords.
- Nothing tells whether a number has an account: every request writes a code row and gets the same answer,
  and the message itself is sent after the page has answered (portal.notifications.sms_views), so the time
  of the answer is the same too. Only a number with an active account and the "code" group on gets a text."""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.auth import services as auth
from portal.auth.models import LoginAttempt, User
from portal.clock import utcnow
from portal.errors import DomainError
from portal.extensions import db
from portal.notifications import sms
from portal.notifications.sms_models import SmsCode, SmsMessage

CODE_DIGITS = 6
MAX_TRIES = 5
CODES_PER_NUMBER = 3  # asked within the sign-in window (LOGIN_WINDOW_MINUTES)
CODES_PER_ADDRESS = 20

ENTER_NUMBER = _l("Enter an 11-digit mainland China mobile number.")
NOT_AVAILABLE = _l("Sign-in by text message is not available on this portal.")
BAD_CODE = _l("This code is not right, has expired or was already used. Check it, or ask for a new one.")


def available() -> bool:
    """Can people sign in with an SMS code on this portal now?"""
    return sms.group_available("code")


def _digest(phone: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"sms-code:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _phone(value: str) -> str:
    phone = auth.normalize_login(value or "")
    if not auth.is_phone(phone):
        raise DomainError(ENTER_NUMBER, "phone")
    return phone


def _check_rate(phone: str, ip: str, now: datetime) -> None:
    untils = [u for u in (auth._tripped_until(LoginAttempt.account, f"sms:{phone}", CODES_PER_NUMBER, now),
                          auth._tripped_until(LoginAttempt.account, f"sms-ip:{ip}"[:254], CODES_PER_ADDRESS, now))
              if u is not None]
    if untils:
        raise auth.LockedOut(max(untils), now, "phone")
    # Counted with the lock-out's own rows; the address column stays empty so that asking for codes does not
    # count toward the address's password lock-out.
    db.session.add(LoginAttempt(account=f"sms:{phone}", ip="", at=now))
    db.session.add(LoginAttempt(account=f"sms-ip:{ip}"[:254], ip="", at=now))


def request_code(number: str, ip: str, now: datetime | None = None) -> int | None:
    """Ask for a sign-in code for `number`. Returns the id of the text message to send after answering, or
    None when no text goes (no such account, inactive, or the person turned codes off); callers answer the
    same either way. DomainError for a malformed number; LockedOut when asked too often."""
    now = now or utcnow()
    if not available():
        raise DomainError(NOT_AVAILABLE, "phone")
    phone = _phone(number)
    if db.engine.dialect.name == "postgresql":  # concurrent requests for one number wait for each other
        db.session.execute(db.select(db.func.pg_advisory_xact_lock(auth._try_lock_key(f"sms:{phone}"))))
    _check_rate(phone, ip, now)
    db.session.execute(db.update(SmsCode).where(SmsCode.phone == phone, SmsCode.used_at.is_(None),
                                                SmsCode.expires_at > now).values(expires_at=now))
    user = db.session.scalar(db.select(User).where(User.phone == phone))
    wanted = (user is not None and user.is_active
              and sms.choices_of([user.id])[user.id]["code"])
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    db.session.add(SmsCode(phone=phone, user_id=user.id if wanted else None, code_digest=_digest(phone, code),
                           created_at=now, expires_at=now + sms.CODE_LIFETIME))
    if not wanted:
        db.session.flush()
        return None
    message = SmsMessage(kind="code", recipient_id=user.id, group="code", urgent=True, created_at=now,
                         params={"code": code, "minutes": str(int(sms.CODE_LIFETIME.total_seconds() // 60))})
    db.session.add(message)
    db.session.flush()
    record(None, "account.sms_code_sent", user, subject_user=user, ip=ip)
    return message.id


def sign_in_with_code(number: str, code: str, ip: str, *, new_password: str | None = None,
                      now: datetime | None = None) -> User:
    """The account whose number received `code`; with `new_password`, its password is set too (recovery).
    A wrong code counts as a failed sign-in. The caller commits whether this returns or raises."""
    now = now or utcnow()
    if not available():
        raise DomainError(NOT_AVAILABLE, "code")
    phone = _phone(number)
    if new_password and len(new_password) < auth.MIN_PASSWORD_LENGTH:
        raise DomainError(_l("Use at least %(n)d characters.", n=auth.MIN_PASSWORD_LENGTH), "password")
    user = db.session.scalar(db.select(User).where(User.phone == phone))
    key = user.login_name if user is not None else phone
    auth._start_try(key, ip, user, now, "code")
    code = "".join((code or "").split())
    row = db.session.scalar(db.select(SmsCode).where(
        SmsCode.phone == phone, SmsCode.used_at.is_(None), SmsCode.expires_at > now, SmsCode.tries < MAX_TRIES)
        .order_by(SmsCode.id.desc()).limit(1))
    right = False
    if row is not None:
        row.tries += 1
        right = (len(code) == CODE_DIGITS and code.isdigit()
                 and hmac.compare_digest(row.code_digest, _digest(phone, code)))
    if not right or row.user_id is None or user is None or row.user_id != user.id or not user.is_active:
        auth._failed_try(key, ip, user, now, "sms_code", "code")
        raise DomainError(BAD_CODE, "code")
    row.used_at = now
    auth.clear_failed_logins(user)
    user.last_login_at = now
    record(user, "account.login", user, subject_user=user, ip=ip, method="sms")
    if new_password:
        auth._set_password(user, new_password, now)
        record(user, "account.password_reset", user, subject_user=user, method="sms")
    return user


def lifetime() -> timedelta:
    return sms.CODE_LIFETIME
