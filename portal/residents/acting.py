"""Acting for a resident: a committee member helping at the counter uses the resident's pages for them.

The resident's id sits in the member's session; before every request it is checked again against
`can_act_for` and dropped when the member may no longer act. `g.acting_for` is the resident (or None);
pages pass it to services as `on_behalf_of`, so the audit log names both the member and the resident."""
from flask import g, session
from flask_login import current_user

from portal.auth import permissions
from portal.auth.models import User
from portal.extensions import db
from portal.residents import bp, services

SESSION_KEY = "acting_for"


@bp.before_app_request
def load_acting_for():
    g.acting_for = None
    person_id = session.get(SESSION_KEY)
    if person_id is None:
        return
    if not current_user.is_authenticated:
        session.pop(SESSION_KEY, None)
        return
    person = db.session.get(User, person_id)
    if person is not None and permissions.can_act_for(current_user, person):
        g.acting_for = person
    else:
        session.pop(SESSION_KEY, None)


def acting_for():
    """The resident the signed-in member is acting for on this request, or None."""
    return g.get("acting_for")


def current_person():
    """Whose pages these are: the resident being helped, else the signed-in person."""
    return acting_for() or current_user


def start(person) -> None:
    session[SESSION_KEY] = person.id
    g.acting_for = person


def stop() -> None:
    session.pop(SESSION_KEY, None)
    g.acting_for = None


@bp.app_context_processor
def residents_helpers():
    return {"acting_for": g.get("acting_for"), "phone_for": services.phone_for, "unit_label": services.unit_label}

