"""The `world` fixture for the meetings tests: the votes world (tests/votes/__init__.py)."""
from tests.issues.conftest import world as issues_world  # noqa: F401
from tests.proposals.conftest import world as proposals_world  # noqa: F401
from tests.votes.conftest import world  # noqa: F401
