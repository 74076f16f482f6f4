"""Accounts: creating them, passwords, sign-in with lock-out, preferences."""
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l

from portal.audit.services import record
from portal.auth.models import User
from portal.clock import utcnow
from portal.errors import DomainError
from portal.extensions import db

_hasher = PasswordHasher()

PHONE_RE = re.compile(r"^1\d{10}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
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


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:]


def update_preferences(user: User, *, locale=None, large_text=None) -> None:
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
