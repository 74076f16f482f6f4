"""The portal's psycopg cursor (portal.pgcursor): its description, built when read, is psycopg's own."""
import psycopg
import pytest
from sqlalchemy import text

from portal.extensions import db
from portal.pgcursor import Cursor, Description

COLUMNS = ("SELECT 1 AS a, 'x'::text AS b, now() AS c, 2.5::numeric(4, 2) AS d, NULL::int[] AS e, "
           "true AS f, '{}'::jsonb AS g, 7")


@pytest.fixture
def raw(app):
    """A driver connection of the app's engine: the cursor its connections are made with."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("psycopg's cursor")
        connection = db.engine.raw_connection()
        try:
            yield connection.driver_connection
        finally:
            connection.close()


def both(connection, statement):
    """(the portal cursor's description, psycopg's own) of one statement."""
    ours = connection.cursor()
    assert isinstance(ours, Cursor)
    ours.execute(statement)
    theirs = psycopg.Cursor(connection)  # psycopg's own: the description built at once
    theirs.execute(statement)
    return ours.description, theirs.description


def test_the_engine_makes_the_portals_cursor(raw):
    assert raw.cursor_factory is Cursor


def test_the_description_is_psycopgs_column_by_column(raw):
    ours, theirs = both(raw, COLUMNS)
    assert isinstance(ours, Description) and isinstance(theirs, list)
    assert len(ours) == len(theirs) == 8
    assert [tuple(c) for c in ours] == [tuple(c) for c in theirs]  # psycopg's Columns compare by identity
    assert ours == list(ours) and list(ours) == list(ours)  # built once, then the same Columns
    for mine, its in zip(ours, theirs, strict=True):
        assert (mine.name, mine.type_code, mine.internal_size, mine.precision, mine.scale, mine.type_display) == \
            (its.name, its.type_code, its.internal_size, its.precision, its.scale, its.type_display)
        assert tuple(mine) == tuple(its)
    assert [c.name for c in ours] == ["a", "b", "c", "d", "e", "f", "g", "?column?"]
    assert ours[-1].name == "?column?" and [c.name for c in ours[1:3]] == ["b", "c"]


def test_a_description_read_late_still_describes_its_own_result(raw):
    cursor = raw.cursor()
    cursor.execute(COLUMNS)
    first = cursor.description
    cursor.execute("SELECT 1 AS other")
    assert len(first) == 8 and first[0].name == "a" and first[-1].name == "?column?"
    assert [c.name for c in cursor.description] == ["other"]


def test_statements_without_rows_have_none_and_an_empty_select_an_empty_one(raw):
    cursor = raw.cursor()
    assert cursor.description is None  # nothing run yet
    cursor.execute("CREATE TEMPORARY TABLE t_pgcursor (n int)")
    assert cursor.description is None
    cursor.execute("INSERT INTO t_pgcursor VALUES (1)")
    assert cursor.description is None
    cursor.execute("INSERT INTO t_pgcursor VALUES (2) RETURNING n")
    assert [c.name for c in cursor.description] == ["n"]
    cursor.execute("SELECT ;")  # a result of rows without columns
    description = cursor.description
    assert description is not None and len(description) == 0 and list(description) == []
    raw.rollback()


def test_sqlalchemy_reads_names_and_rows_through_it(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("psycopg's cursor")
        for _ in range(3):  # the second time from the statement's kept result shape
            row = db.session.execute(text("SELECT 1 AS a, 'x' AS b")).one()
            assert row._mapping == {"a": 1, "b": "x"}
        result = db.session.execute(text("SELECT n AS m, n * 2 AS twice FROM generate_series(1, 3) AS n"))
        assert list(result.keys()) == ["m", "twice"] and result.all() == [(1, 2), (2, 4), (3, 6)]
        db.session.rollback()
