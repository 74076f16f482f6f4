"""How each person wants each group of events by e-mail: at once, in a daily digest, or not at all; and the
signed links in every e-mail that turn a group off without signing in.

Defaults (no row stored): what needs someone to act or concerns their own business comes at once — their
issues, issues their organization handles, ballots, actions they own, moderation; what is good to know
comes in the daily digest — proposals, meetings, public notices. The "account" group (password, residence)
always comes at once and cannot be changed or unsubscribed."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal import events
from portal.audit.services import record
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.notifications.models import MODES, MailboxState, NotificationPreference
from portal.notifications.services import GROUPS

FIXED_GROUP = "account"
DEFAULTS = {"account": "now", "my_issues": "now", "handling": "now", "votes": "now", "actions": "now",
            "moderation": "now", "proposals": "digest", "meetings": "digest", "notices": "digest"}
MODE_LABELS = {"now": _l("At once"), "digest": _l("Daily digest"), "off": _l("Off")}
# The unsubscribe link of a daily digest stands for every group the person gets in digests.
DIGEST = "digest"
UNSUBSCRIBE_SALT = "notification-unsubscribe"
UNSUBSCRIBE_MAX_AGE = 60 * 24 * 3600  # links in old e-mails keep working for 60 days


def default_mode(group: str) -> str:
    return DEFAULTS.get(group, "now")


def changeable_groups() -> list[str]:
    return [g for g in GROUPS if g != FIXED_GROUP]


def modes_of(user_ids) -> dict[int, dict[str, str]]:
    """{user id: {group: mode}} for every group, defaults filled in; one query for many people."""
    user_ids = list(set(user_ids))
    result = {uid: {g: default_mode(g) for g in GROUPS} for uid in user_ids}
    if not user_ids:
        return result
    rows = db.session.execute(db.select(NotificationPreference.user_id, NotificationPreference.group,
                                        NotificationPreference.mode)
                              .where(NotificationPreference.user_id.in_(user_ids)))
    for user_id, group, mode in rows:
        if group in GROUPS and group != FIXED_GROUP:
            result[user_id][group] = mode
    return result


def mode_for(user, group: str) -> str:
    return modes_of([user.id])[user.id][group]


def set_modes(actor, user, choices: dict[str, str]) -> list[str]:
    """Store a person's choices ({group: mode}); returns the groups that changed. Only the person may."""
    if actor.id != user.id:
        raise NotAllowed(_l("You can only change your own e-mail settings."))
    current = modes_of([user.id])[user.id]
    changed = []
    for group, mode in choices.items():
        if group == FIXED_GROUP:
            raise DomainError(_l("E-mails about your account always come at once."), group)
        if group not in GROUPS or mode not in MODES:
            raise DomainError(_l("Choose at once, daily digest or off."), group)
        if current[group] == mode:
            continue
        row = db.session.scalar(db.select(NotificationPreference).where(
            NotificationPreference.user_id == user.id, NotificationPreference.group == group))
        if row is None:
            db.session.add(NotificationPreference(user_id=user.id, group=group, mode=mode))
        else:
            row.mode = mode
        changed.append(group)
    if changed:
        db.session.flush()
        record(actor, "notifications.preferences_changed", user, subject_user=user,
               changes={g: choices[g] for g in changed})
    return changed


@events.digest_consent_withdrawn.connect
def turn_digests_off(user, **kwargs) -> None:
    """Consent to e-mail digests withdrawn: every group the person gets as a digest goes off."""
    digests = {group: "off" for group, mode in modes_of([user.id])[user.id].items() if mode == DIGEST}
    if digests:
        set_modes(user, user, digests)


@events.account_anonymized.connect
def forget_mail_settings(user, **kwargs) -> None:
    """A deleted account keeps no e-mail choices and no bounced address."""
    db.session.execute(db.delete(NotificationPreference).where(NotificationPreference.user_id == user.id))
    db.session.execute(db.delete(MailboxState).where(MailboxState.user_id == user.id))


# --- one-click unsubscribe ---------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(user_id: int, group: str) -> str:
    return _serializer().dumps({"u": user_id, "g": group})


class BadUnsubscribeLink(DomainError):
    pass


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """(user id, group or DIGEST) from a link's token; BadUnsubscribeLink when forged, damaged or too old."""
    try:
        data = _serializer().loads(token, max_age=UNSUBSCRIBE_MAX_AGE)
    except SignatureExpired:
        raise BadUnsubscribeLink(_l("This unsubscribe link has expired. Sign in and choose your e-mail "
                                    "settings instead.")) from None
    except BadSignature:
        raise BadUnsubscribeLink(_l("This unsubscribe link is not valid. It may have been copied incompletely. "
                                    "Sign in and choose your e-mail settings instead.")) from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or \
            (data.get("g") not in GROUPS and data.get("g") != DIGEST):
        raise BadUnsubscribeLink(_l("This unsubscribe link is not valid. Sign in and choose your e-mail "
                                    "settings instead."))
    return data["u"], data["g"]


def unsubscribe(user, group: str) -> list[str]:
    """Turn a group off (or, for DIGEST, every group the person gets in digests); returns the groups turned off."""
    if group == FIXED_GROUP:
        raise DomainError(_l("E-mails about your account (such as password reset links) cannot be turned off."))
    current = modes_of([user.id])[user.id]
    if group == DIGEST:
        groups = [g for g in changeable_groups() if current[g] == "digest"]
    else:
        groups = [group]
    return set_modes(user, user, dict.fromkeys(groups, "off"))


# --- the demo ------------------------------------------------------------------------------------------------

DEMO_PREFERENCES = [
    # (login, choices): a committee chair who wants committee business at once, a resident who reads one
    # digest a day and no notices, and the administrator who keeps moderation for the digest.
    ("13800000010", {"proposals": "now", "meetings": "now", "notices": "digest"}),
    ("13800000001", {"my_issues": "digest", "votes": "digest", "proposals": "digest", "notices": "off"}),
    ("admin@yishi.demo", {"handling": "off", "moderation": "digest"}),
]


def seed_demo_preferences() -> list[str]:
    """E-mail settings for a few demo accounts (only for accounts that have chosen nothing yet: idempotent)."""
    from portal.auth.services import find_by_login
    lines = []
    for login, choices in DEMO_PREFERENCES:
        person = find_by_login(login)
        if person is None or db.session.scalar(db.select(NotificationPreference.id).where(
                NotificationPreference.user_id == person.id).limit(1)) is not None:
            continue
        set_modes(person, person, choices)
        lines.append(f"e-mail settings for {login}: " + ", ".join(f"{g} {m}" for g, m in choices.items()))
    return lines
