"""Counting the SQL statements a page or a piece of code sends, for the tests that hold them constant."""
from contextlib import contextmanager

from sqlalchemy import event

from portal.extensions import db


@contextmanager
def recorded_statements():
    """The list of SQL statements the engine sends while the block runs (filled in as they are sent)."""
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def count_statements(fn) -> int:
    """How many statements calling fn() sends."""
    with recorded_statements() as statements:
        fn()
    return len(statements)


def count_queries(client, path) -> int:
    """How many statements a GET of `path` sends; the page must answer 200."""
    with recorded_statements() as statements:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(statements)


def assert_read_with_its_community(client, auth, path, table, viewers):
    """An item's page at `path` (/c/<slug>/<kind>/<id>) reads the community of its address in the same
    statement as the item's table, for each of `viewers` (None: a visitor), and the item is not found under
    another community's address nor an unknown one."""
    for who in viewers:
        if who is not None:
            auth.logout()
            auth.login(who)
        assert client.get(path).status_code == 200
        with recorded_statements() as statements:
            assert client.get(path).status_code == 200
        [found] = [s for s in statements if "community.slug =" in s]  # the address's community: one read
        assert f"FROM {table} JOIN community ON" in " ".join(found.split())
    slug = path.split("/")[2]
    assert client.get(path.replace(f"/c/{slug}/", "/c/no-such-place/", 1)).status_code == 404
