"""The `world` fixture for the issues tests (see tests/issues/__init__.py for what it holds)."""
import pytest

from tests.conftest import reused_world
from tests.factories import gen_residency, gen_user
from tests.residents import build_world


def build_issues_world():
    """tests.residents.build_world() and what tests/issues/__init__.py lists (committed)."""
    from portal.committees.models import Organization
    from portal.extensions import db
    from portal.issues import services
    w = build_world()
    w.pc_x = db.session.scalar(db.select(Organization).where(
        Organization.kind == "property_company", Organization.community_id == w.x.id))
    w.dept_a = db.session.scalar(db.select(Organization).where(
        Organization.kind == "department", Organization.sub_district_id == w.sd_a.id))
    w.reporter = gen_user(display_name="Reporter P", phone="13811110001")
    gen_residency(w.reporter, household=w.hx)
    w.neighbour = gen_user(display_name="Neighbour N", phone="13811110002")
    gen_residency(w.neighbour, household=w.hx2)
    w.resident_y = gen_user(display_name="Resident Y", phone="13811110003")
    gen_residency(w.resident_y, household=w.hy)
    w.categories = {c.code: c for c in services.ensure_default_categories(w.x)}
    db.session.commit()  # committed, so requests made by the test client see it
    return w


@pytest.fixture
def world(app):
    return reused_world(build_issues_world)
