import pytest

from portal.extensions import db
from tests.residents import build_world


@pytest.fixture
def world(app):
    w = build_world()
    db.session.commit()
    return w
