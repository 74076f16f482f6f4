import pytest

from tests.conftest import reused_world
from tests.residents import build_world


def build_open311_world():
    """tests.residents.build_world() with x's property company and categories and a key for x (committed)."""
    from portal.extensions import db
    from portal.issues import services as issues
    from portal.open311 import services
    w = build_world()
    from portal.committees.models import Organization
    w.pc_x = db.session.scalar(db.select(Organization).where(
        Organization.kind == "property_company", Organization.community_id == w.x.id))
    w.x.postcode = "100102"
    w.categories = {c.code: c for c in issues.ensure_default_categories(w.x)}
    issues.ensure_default_categories(w.y)
    w.key, w.token = services.create_key(w.admin, name="Xicheng dispatch desk", communities=[w.x])
    db.session.commit()
    return w


@pytest.fixture
def world(app):
    return reused_world(build_open311_world)


@pytest.fixture(autouse=True)
def fresh_answers(app):
    """The kept answers of GET requests live as long as the app, which the whole test session shares, while
    each test starts from a new database whose ids and audit entries repeat: forget them between tests (as
    a server restarted after a database restore does)."""
    from portal.open311.answers import answers
    with app.app_context():
        answers().clear()
    yield
