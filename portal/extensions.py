"""Extensions, created unbound here and bound to an app in `create_app`."""
import re
from functools import cache, lru_cache

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm.attributes import instance_dict, instance_state, set_committed_value

# Stable constraint names, so Alembic revisions name the same thing on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = Htmx()


def unproxied(obj):
    """The object behind a context-local proxy such as `current_user`, or `obj` itself."""
    unwrap = getattr(obj, "_get_current_object", None)
    return unwrap() if unwrap is not None else obj


# --- rows read without the ORM, as persistent objects ------------------------------------------------------
# Loading entities through the ORM costs more than the statement on a hot path (the user loader's, on every
# signed-in request): the row processors for each entity and eager load are built on every execution. A
# statement that selects the table's columns instead, through Core, and turns its rows into objects here gets
# the same persistent objects (in the identity map, nothing to flush, other attributes loaded when first read)
# for a fraction of that.

@cache
def table_columns(model) -> tuple:
    """(attribute name, table column) of every column `model` maps, in mapper order: what to select to make
    loaded() objects. Only plain columns of the model's own table (a model with column expressions or
    inherited tables is not for this)."""
    mapper = sa_inspect(model)
    pairs = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if len(prop.columns) != 1 or getattr(column, "table", None) is not mapper.local_table:
            raise TypeError(f"{model.__name__}.{prop.key} is not a plain column of {mapper.local_table.name}")
        pairs.append((prop.key, column))
    return tuple(pairs)


def columns_of(model) -> list:
    """The table columns of table_columns(model), to select."""
    return [column for _name, column in table_columns(model)]


def width(model) -> int:
    """How many columns of a row columns_of(model) takes."""
    return len(table_columns(model))


@cache
def _names(model) -> tuple:
    return tuple(name for name, _column in table_columns(model))


@cache
def _primary_key_positions(model) -> tuple:
    columns = columns_of(model)
    return tuple(columns.index(column) for column in sa_inspect(model).primary_key)


def loaded(model, values, **related):
    """The persistent `model` object for one row read without the ORM: `values` are its table_columns() in
    their order, `related` relationships read with it (objects, or lists for collections). The object already
    in the session with that primary key when there is one (as a query would return it), else a new one as if
    a query had loaded it: no pending changes, the relationships not given loaded on first access. None when
    the primary key is all NULL (an outer join that found no row)."""
    mapper = sa_inspect(model)
    session = db.session()
    primary_key = [values[i] for i in _primary_key_positions(model)]
    if all(value is None for value in primary_key):
        return None  # an outer join that found nothing
    key = mapper.identity_key_from_primary_key(primary_key)
    found = session.identity_map.get(key)
    if found is not None:
        return found
    obj = mapper.class_manager.new_instance()
    # Column values go straight into the instance's dict and the instance into the identity map, as the ORM's
    # own loading does with a query's rows (sqlalchemy.orm.loading._instance; SQLAlchemy is pinned).
    # Session.add would reach the same state, walking every relationship of the object for cascades first
    # (most of the cost, for nothing to cascade).
    state = instance_state(obj)
    state.key = key
    instance_dict(obj).update(zip(_names(model), values, strict=True))
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, key)
    for name, value in related.items():
        set_committed_value(obj, name, value)
    return obj


# --- read-only requests end with COMMIT, or need no transaction at all ---------------------------------------
# psycopg forgets every statement it has prepared, and how often it has seen each, whenever a connection rolls
# back; a request's transaction ended by rolling back (the session's close) so no statement was ever prepared,
# and PostgreSQL parsed and planned each one on every request. A transaction that wrote nothing ends with
# COMMIT instead (the same thing for PostgreSQL: nothing to keep), so the statements every page sends are
# prepared once per connection after a few uses. Anything that may have written still rolls back.
#
# On PostgreSQL a GET or HEAD request goes further: its connection starts in autocommit, so its SELECTs run
# without the BEGIN and COMMIT around them (two round trips of a signed-in page's three). Under READ COMMITTED
# every statement takes its own snapshot inside a transaction too, so a page reads what it read before. The
# first statement that may write or lock (anything but a plain SELECT: SELECT … FOR UPDATE or FOR SHARE and
# advisory transaction locks included) turns autocommit off before it runs, so psycopg opens a transaction
# there and what the request writes commits or rolls back together, as in any other request. The next checkout
# from the pool takes the connection out of autocommit again.

_READS_ONLY = "portal_reads_only"
_OUTSIDE = "portal_outside_transaction"  # this connection's reads run in autocommit until it may write
_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b|advisory_xact_lock", re.I)


@lru_cache(maxsize=4096)  # a handful of statements, each sent as the same string object on every request
def _selects(statement: str) -> bool:
    return statement.lstrip()[:6].upper() == "SELECT"


@lru_cache(maxsize=4096)
def _may_write(statement: str) -> bool:
    return not _selects(statement) or _LOCKING.search(statement) is not None


def _began(conn) -> None:
    from flask import g, has_request_context, request
    conn.info[_READS_ONLY] = True
    conn.info[_OUTSIDE] = False  # the info outlives the checkout: it is the pooled connection's
    if has_request_context():  # a request's few; a worker's or command's long context keeps no list
        g.setdefault("portal_transactions", []).append(conn)
        if request.method in ("GET", "HEAD") and conn.dialect.name == "postgresql":
            from psycopg.pq import TransactionStatus
            raw = conn.connection.dbapi_connection
            # (an engine made for AUTOCOMMIT, as for CREATE DATABASE, is left as it is)
            if not raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE:
                raw.autocommit = True
                conn.info[_OUTSIDE] = True


def _executing(conn, cursor, statement, parameters, context, executemany) -> None:
    # SELECT … FOR UPDATE takes locks, which COMMIT releases as ROLLBACK would; anything else (INSERT, UPDATE,
    # DELETE, WITH …, SAVEPOINT) counts as a write.
    if conn.info.get(_READS_ONLY) and not _selects(statement):
        conn.info[_READS_ONLY] = False
    if conn.info.get(_OUTSIDE) and _may_write(statement):
        conn.info[_OUTSIDE] = False
        cursor.connection.autocommit = False  # idle between autocommitted statements: psycopg sends BEGIN next


def _checked_out(dbapi_connection, record, proxy) -> None:
    if record.info.get(_OUTSIDE):  # a GET's connection, returned idle in the autocommit it was put in
        record.info[_OUTSIDE] = False
        dbapi_connection.autocommit = False


def end_reads_with_commit(app) -> None:
    from flask import g
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import Pool

    if not event.contains(Engine, "begin", _began):  # every engine, once per process
        event.listen(Engine, "begin", _began)
        event.listen(Engine, "before_cursor_execute", _executing)
        event.listen(Pool, "checkout", _checked_out)

    @app.teardown_appcontext  # registered after Flask-SQLAlchemy's, so it runs before the session is removed
    def finish_reads(exc):
        began_here = g.pop("portal_transactions", None)
        if exc is not None or not began_here:
            return
        session = db.session()  # the request's own Session (made already: a transaction began)
        if session.new or session.dirty or session.deleted or not session.in_transaction():
            return
        # A GET's connection still in autocommit has nothing to end: its statements committed as they ran.
        still_open = [c for c in began_here if not c.closed and c.in_transaction() and not c.info.get(_OUTSIDE)]
        if not still_open or not all(c.info.get(_READS_ONLY) for c in still_open):
            return
        # Each connection's transaction committed, not the session's: the session is removed next, so the ORM's
        # commit (a flush, every loaded object expired, the commit hooks, none with anything to do after
        # SELECTs alone) would be work thrown away. Its close then finds the transactions ended.
        for connection in still_open:
            try:
                connection.commit()
            except SQLAlchemyError:  # nothing was written; the session's close discards the connection's state
                pass
