"""The privacy tests' world: the proposals world (tests/proposals/conftest.py: residents of x and y, committee
members, supporters) with uploads going to a fresh folder."""
import pytest

from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401


@pytest.fixture
def world(proposals_world, upload_dir):  # noqa: F811
    proposals_world.upload_dir = upload_dir
    return proposals_world
