"""Extensions, created unbound here and bound to an app in `create_app`."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData

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


# --- read-only requests end with COMMIT --------------------------------------------------------------------
# psycopg forgets every statement it has prepared, and how often it has seen each, whenever a connection rolls
# back; a request's transaction ended by rolling back (the session's close) so no statement was ever prepared,
# and PostgreSQL parsed and planned each one on every request. A transaction that wrote nothing ends with
# COMMIT instead (the same thing for PostgreSQL: nothing to keep), so the statements every page sends are
# prepared once per connection after a few uses. Anything that may have written still rolls back.

_READS_ONLY = "portal_reads_only"


def _began(conn) -> None:
    from flask import g, has_request_context
    conn.info[_READS_ONLY] = True
    if has_request_context():  # a request's few; a worker's or command's long context keeps no list
        g.setdefault("portal_transactions", []).append(conn)


def _executing(conn, cursor, statement, parameters, context, executemany) -> None:
    # SELECT … FOR UPDATE takes locks, which COMMIT releases as ROLLBACK would; anything else (INSERT, UPDATE,
    # DELETE, WITH …, SAVEPOINT) counts as a write.
    if conn.info.get(_READS_ONLY) and statement.lstrip()[:6].upper() != "SELECT":
        conn.info[_READS_ONLY] = False


def end_reads_with_commit(app) -> None:
    from flask import g
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.exc import SQLAlchemyError

    if not event.contains(Engine, "begin", _began):  # every engine, once per process
        event.listen(Engine, "begin", _began)
        event.listen(Engine, "before_cursor_execute", _executing)

    @app.teardown_appcontext  # registered after Flask-SQLAlchemy's, so it runs before the session is removed
    def finish_reads(exc):
        began_here = g.pop("portal_transactions", None)
        if exc is not None or not began_here:
            return
        session = db.session()  # the request's own Session (made already: a transaction began)
        if session.new or session.dirty or session.deleted or not session.in_transaction():
            return
        still_open = [c for c in began_here if not c.closed and c.in_transaction()]
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
