"""The dashboard page, the issues behind a number and the export send the same number of statements
however much data there is."""
from tests.dashboard.conftest import add_issues
from tests.queries import count_queries, recorded_statements


def _export_count(client, path):
    with recorded_statements() as statements:
        assert client.get(path).status_code == 200
    return len(statements)


def test_constant_statements_for_small_and_larger_data(client, auth, world):
    from tests.issues import gen_issue  # noqa: F401
    auth.login(world.official_a)
    paths = ["/dashboard", "/dashboard?community=x",
             "/dashboard/issues?rate=response&part=denominator&group=overall"]
    small = [count_queries(client, p) for p in paths]
    small_export = _export_count(client, "/dashboard/export?format=csv")
    add_issues(world, 25)
    add_issues(world, 10, category="water", late=True, responded=False)
    add_issues(world, 8, community=world.y, category="lift", rated=False)
    larger = [count_queries(client, p) for p in paths]
    assert larger == small
    assert _export_count(client, "/dashboard/export?format=csv") == small_export
