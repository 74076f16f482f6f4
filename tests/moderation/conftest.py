"""The `world` fixture for the moderation tests: the proposals world (tests/proposals/__init__.py), which is
the issues world plus twelve verified supporters of x, so three different people can flag an item."""
from tests.issues.conftest import world as issues_world  # noqa: F401  (the world the proposals one extends)
from tests.proposals.conftest import world  # noqa: F401
