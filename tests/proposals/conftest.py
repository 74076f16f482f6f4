"""The `world` fixture for the proposals tests (see tests/proposals/__init__.py for what it holds)."""
import pytest

from tests.conftest import reused_world
from tests.factories import gen_household, gen_residency, gen_user
from tests.issues.conftest import build_issues_world
from tests.issues.conftest import world as issues_world  # noqa: F401  (imported by name from here)
from tests.proposals import THRESHOLD


def build_proposals_world():
    """The issues world and what tests/proposals/__init__.py lists (committed)."""
    from portal.extensions import db
    w = build_issues_world()
    w.supporters = []
    for n in range(12):
        person = gen_user(display_name=f"Supporter {n + 1}", phone=f"1371111{n:04d}")
        gen_residency(person, household=gen_household(w.bx, entrance="2", room=f"{n + 1:02d}01"))
        w.supporters.append(person)
    w.pending = gen_user(display_name="Pending Q", phone="13722220000")
    gen_residency(w.pending, household=gen_household(w.bx, entrance="3", room="0101"), status="pending")
    w.x.proposal_support_threshold = THRESHOLD
    w.x.proposal_support_days = 30
    db.session.commit()  # committed, so requests made by the test client see it
    return w


@pytest.fixture
def world(app):
    return reused_world(build_proposals_world)
