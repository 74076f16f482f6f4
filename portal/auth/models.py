"""Accounts, their signed-in sessions, sign-in attempts and password resets."""
import hashlib

from flask_login import UserMixin
from sqlalchemy import CheckConstraint

from portal import versions
from portal.clock import UTCDateTime, utcnow
from portal.extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_login"),
    )

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), unique=True)
    phone = db.Column(db.String(11), unique=True)
    display_name = db.Column(db.String(80), nullable=False)
    password_hash = db.Column(db.String(255), nullable=False)
    locale = db.Column(db.String(8))
    large_text = db.Column(db.Boolean, nullable=False, default=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    is_active_account = db.Column(db.Boolean, nullable=False, default=True)
    consented_at = db.Column(UTCDateTime, nullable=False)
    # Set when a committee member registered this person at the counter; the consent was given in person.
    registered_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    consent_in_person = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    password_changed_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(UTCDateTime)
    # Part of every session and remember-me cookie (see get_id): raising it ends them all, on the server.
    session_generation = db.Column(db.Integer, nullable=False, default=0, server_default="0")

    registered_by = db.relationship("User", remote_side=[id])

    @property
    def is_active(self):
        return self.is_active_account

    # This browser's session key (see SignedInSession), set by the user loader or when a session starts;
    # not a column: each signed-in browser has its own.
    session_key = None

    def get_id(self) -> str:
        """What sessions and remember-me cookies carry: the id, the session generation they were started
        under and this browser's session key, so a copy kept from before a sign-out (of this browser), a
        password change or a lock (of every browser) no longer loads anyone."""
        return f"{self.id}:{self.session_generation}:{self.session_key or ''}"

    @staticmethod
    def parse_session_id(value: str) -> tuple[int, int, str] | None:
        """(id, generation, session key) from get_id's text; a bare id is generation 0, and a missing key is
        "" (which no session has: such a cookie loads nobody). None when it is neither."""
        user_id, _, rest = str(value).partition(":")
        generation, _, key = rest.partition(":")
        try:
            return int(user_id), int(generation or 0), key
        except ValueError:
            return None

    @property
    def login_name(self) -> str:
        return self.email or self.phone

    def __repr__(self):
        return f"<User {self.id} {self.display_name}>"


def session_key_digest(key: str) -> str:
    """What the database keeps of a session key: a copy of the table cannot be turned into cookies."""
    return hashlib.sha256((key or "").encode()).hexdigest()


class SignedInSession(db.Model):
    """One browser signed in: its session and remember-me cookies carry the key whose digest this row
    keeps. Signing out ends this row only; the person's other browsers stay signed in."""

    __tablename__ = "signed_in_session"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    key_digest = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at = db.Column(UTCDateTime)
    ended_at = db.Column(UTCDateTime)


class LoginAttempt(db.Model):
    """One failed sign-in; counted per account and per client address to lock out guessing."""

    __tablename__ = "login_attempt"

    id = db.Column(db.Integer, primary_key=True)
    account = db.Column(db.String(254), nullable=False, index=True)
    ip = db.Column(db.String(45), nullable=False, index=True)
    at = db.Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class PasswordReset(db.Model):
    """A single-use reset: an e-mailed link (kind 'link') or a code handed over in person (kind 'code')."""

    __tablename__ = "password_reset"
    __table_args__ = (CheckConstraint("kind IN ('link', 'code')", name="kind"),)

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False, index=True)
    kind = db.Column(db.String(8), nullable=False)
    code_hash = db.Column(db.String(255))
    issued_by_id = db.Column(db.Integer, db.ForeignKey("user.id"))
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = db.Column(UTCDateTime, nullable=False)
    used_at = db.Column(UTCDateTime)

    user = db.relationship("User", foreign_keys=[user_id])
    issued_by = db.relationship("User", foreign_keys=[issued_by_id])


def _named_anywhere(session, user, new) -> list:
    """A person's name is shown on pages of any community they wrote in (an issue's timeline, a reporter who
    shows their name): renaming or erasing a person changes every community's version; a new person is on
    no page yet. Names change seldom."""
    return [] if new else [versions.ALL]


versions.track("user", community_of=_named_anywhere, columns=("display_name",))
