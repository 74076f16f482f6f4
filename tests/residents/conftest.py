import pytest

from portal.extensions import db
from tests.conftest import reused_world
from tests.residents import build_world


def build_committed_world():
    """tests.residents.build_world(), committed (the committees' tests use it too)."""
    w = build_world()
    db.session.commit()
    return w


@pytest.fixture
def world(app):
    return reused_world(build_committed_world)
