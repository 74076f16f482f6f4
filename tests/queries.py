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
