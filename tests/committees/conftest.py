import pytest

from tests.conftest import reused_world
from tests.residents.conftest import build_committed_world


@pytest.fixture
def world(app):
    return reused_world(build_committed_world)
