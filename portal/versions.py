"""What a community's pages show, kept between requests and never stale.

A community row carries `content_version`, a random number that changes in the same transaction as any row
of a tracked table that belongs to the community (its buildings, households, organizations, kinds of
problem, issues, actions, meetings, the ballots' questions and times, the proposals' hidden state, and the
community row itself). `remember(name, community, compute, *key)` keeps what `compute()` returned (the
community page's counts, the issue list's filter choices, a rendered page of issue rows, the tracker, the
calendar) under the community's version as it was loaded with the community, so a page that loads its
community anyway (every community page does, in one statement) asks nothing more of the database until
something tracked changes; then the version read next is another, and the old entry is never asked for
again. What the clock alone changes (a deadline passing, "due in 3 hours" becoming "in 2 hours", a new day)
is said by the computation as `Kept(value, until=…)`; what differs by viewer is either in `key` or not kept.

Which tables are tracked is said by the areas (`track`, next to their models), so this core module imports
none. A tracked row's community is its `community_id`, or what the area's `community_of` says (a household
belongs to its building's community). Changes are seen however the portal makes them: ORM flushes, bulk
INSERT/UPDATE/DELETE statements through the session (their rows are not read: every community's version
changes, as for SQL text that writes a tracked table). The versions change just before the transaction
commits, as its last statements and in community order, so two writers never wait on each other in a
circle through them; a transaction rolled back takes its version change back with its writes. A change
made outside the portal (psql by hand) is not seen: `flask renew-versions` afterwards.

Entries live in each server process (a small LRU); versions are random, not counters, so a database that
is emptied and filled again (the tests) never meets an entry of an earlier life, and a restored backup
brings back versions that name exactly the data restored. What a transaction computes after writing a
tracked table, before its commit, is not kept: it may hold what the transaction will yet take back."""
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from portal import clock
from portal.extensions import db

ALL = "*"  # a mark: every community's version changes
_CHANGED, _WRITTEN = "versions.changed", "versions.written"
_WRITES = re.compile(r'\b(?:UPDATE|INSERT\s+(?:OR\s+\w+\s+)?INTO|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
# One entry for each page variant (name, community, key), at its latest version: a rendered page of rows is
# 10–20 KB, a sub-district's dashboard ~300 KB; the LRU drops the variants read least recently.
MAX_ENTRIES = 1024
# One person's values (their supports, flags, drafts, notification page) are kept apart, so that many people
# active at once never push the pages everyone reads out of the LRU above.
MAX_PERSONAL = 2048

# table name -> None (the row's own community_id) or community_of(session, obj, new) -> community ids
_tracked: dict[str, Callable | None] = {"community": None}
_columns: dict[str, frozenset[str]] = {}  # table name -> the only columns whose change counts
_ignored: dict[str, frozenset[str]] = {}  # table name -> the columns whose change alone does not count
_entries: OrderedDict = OrderedDict()
_personal: OrderedDict = OrderedDict()
_lock = threading.Lock()


def new_version() -> int:
    return secrets.randbits(62)


def track(table: str, community_of: Callable[[Session, object, bool], Iterable[int]] | None = None, *,
          columns: Iterable[str] | None = None, ignoring: Iterable[str] = ()) -> None:
    """Rows of `table` belong to a community: a change to one changes the community's version. Without
    `community_of`, the row's `community_id` (before and after the change) says which. With `columns`, only
    a change to one of those (or a row added or deleted) counts: what pages keep reads no other (a ballot's
    running totals change with every vote; the calendar shows only its times and question). With `ignoring`,
    a bulk UPDATE that sets only those columns changes no version (a proposal's likes_version, which its
    comments' likes change so); a row written through the ORM counts whatever it changed (a column set to an
    SQL expression leaves no trace after the flush)."""
    _tracked[table] = community_of
    if columns is not None:
        _columns[table] = frozenset(columns) | {"community_id"}
    if ignoring:
        _ignored[table] = frozenset(ignoring)


def through(column: str, parent: str) -> Callable[[Session, object, bool], list]:
    """`community_of` for a row that belongs to a community through a parent row: `column` is its key to
    the `parent` table, which has a community_id (a household's building, a comment's proposal). Before
    and after a move to another parent; every community when the old parent was never loaded."""
    def community_of(session, obj, new):
        parents = _column_values(obj, column, new)
        if not parents:  # moved from a parent never loaded, or the key never loaded
            return [ALL]
        table = db.metadata.tables[parent]
        return session.connection().execute(
            select(table.c.community_id).where(table.c.id.in_(parents))).scalars().all()
    return community_of


def or_sub_district(column: str = "sub_district_id") -> Callable[[Session, object, bool], list]:
    """`community_of` for a row that belongs to one community or, with no community_id, to a whole
    sub-district (`column`): a sub-district's department is named on the pages of all its communities."""
    def community_of(session, obj, new):
        own = _row_values(obj, "community_id", new)
        if own is None:
            return [ALL]
        if None not in own:
            return list(own)
        districts = _row_values(obj, column, new)
        if districts is None or districts == {None}:
            return [ALL]
        table = db.metadata.tables["community"]
        return [i for i in own if i is not None] + session.connection().execute(
            select(table.c.id).where(table.c.sub_district_id.in_([d for d in districts if d is not None]))
        ).scalars().all()
    return community_of


def tracked_tables() -> frozenset[str]:
    return frozenset(_tracked)


class Kept(NamedTuple):
    """What `compute()` may return to say more than its value: the moment the value stops being right
    though nothing was written (a text that counts down to a deadline), and whether it may be kept at all
    (a page that shows something only some viewers may see)."""
    value: object
    until: datetime | None = None
    keep: bool = True


def remember(name: str, community, compute: Callable, *key, also: tuple = (), person: int | None = None):
    """`compute()`'s value for the community (and `key`), kept until the community's version changes (or
    its `Kept.until` comes). The value is shared by every request: plain data (tuples, numbers, strings,
    markup), never rows of a session. `also` is more of the version, read by the caller (a ballot's log head,
    which votes move and the community's version does not follow): unlike `key`, a new one replaces the
    entry instead of adding one. `person`: one person's value (their supports here), kept apart."""
    version = community.content_version
    what = (name, community.id, *key) if person is None else (name, community.id, person, *key)
    return _remember(what, None if version is None else (version, also), compute, personal=person is not None)


def remember_across(name: str, communities: Iterable, compute: Callable, *key, also: tuple = ()):
    """`remember` for what several communities' rows make (a sub-district's dashboard): kept until the version
    of any of them changes, or one joins or leaves the set. `also` is more of the version, read by the caller
    (the heads of ballots' logs, which votes move and no community version follows)."""
    communities = list(communities)
    versions = tuple(c.content_version for c in communities)
    return _remember((name, tuple(c.id for c in communities), *key), None if None in versions else (versions, also),
                     compute)


def remember_each(name: str, community, *key) -> dict:
    """A dict kept under the community's version, which callers fill on first need with values read at this
    version or later (the version came with the community, read first): a short link's code, the actions
    that include an item. One entry for all the community's items instead of one each; dropped, with every
    value in it, when the version changes (not kept at all by a request that wrote a tracked row first)."""
    return remember(name, community, dict, *key)


def remember_item(name: str, community, item, compute: Callable):
    """`compute()`'s value for one item of the community (an issue's photos, a proposal's tally), kept in
    the community's `remember_each` dict under `item`."""
    kept = remember_each(name, community)
    found = kept.get(item)
    if found is None:
        found = kept[item] = compute()
    return found


def remember_as(name: str, version, compute: Callable, person: int, *key):
    """`remember` for one person's value that belongs to no community (their notifications): kept apart,
    under the `version` the caller read, which must change with everything the value shows (None: not kept)."""
    return _remember((name, person, *key), None if version is None else (version,), compute, personal=True)


def _remember(what: tuple, version, compute: Callable, *, personal: bool = False):
    """The value kept for `what` (a name, the community or communities, the caller's key) at `version`. One
    entry for each `what`: the value of an earlier version is dropped when the next one is kept, so that an
    entry no request will ask for again (its version is gone) does not wait for the LRU to push it out."""
    entries, limit = (_personal, MAX_PERSONAL) if personal else (_entries, MAX_ENTRIES)
    with _lock:
        entry = entries.get(what)
        if entry is not None:
            entries.move_to_end(what)
    if entry is not None and entry[0] == version and (entry[2] is None or clock.utcnow() < entry[2]):
        return entry[1]
    result = compute()
    value, until, keep = result if isinstance(result, Kept) else (result, None, True)
    if keep and version is not None and not db.session.info.get(_WRITTEN):
        with _lock:
            entries[what] = (version, value, until)
            entries.move_to_end(what)
            while len(entries) > limit:
                entries.popitem(last=False)
    return value


def touch(session: Session, community_ids: Iterable[int] | None = None) -> None:
    """A write the session cannot see (Core statements on its connection, as a rebuild of the dashboard's
    rollups): the communities' versions (every community's, without ids) change when the transaction commits."""
    _mark(session, [ALL] if community_ids is None else community_ids)


def renew_all() -> None:
    """Every community's version anew (after the database was changed outside the portal): every server
    reads afresh on its next request."""
    table = db.metadata.tables["community"]
    db.session.connection().execute(update(table).values(content_version=new_version()))


# --- seeing changes --------------------------------------------------------------------------------------------

def _mark(session, ids) -> None:
    changed = session.info.setdefault(_CHANGED, set())
    changed.update(i for i in ids if i is not None)
    session.info[_WRITTEN] = True


def _column_values(obj, column: str, new: bool) -> set | None:
    """The column's values before and after the flush (a row that moved holds two); None when the row moved
    from a value never loaded (which one is not known here); empty when the column was never loaded."""
    history = getattr(inspect(obj).attrs, column).history
    if history.added and not (history.deleted or history.unchanged) and not new:
        return None
    return {*(history.added or ()), *(history.deleted or ()), *(history.unchanged or ())}


def _row_values(obj, column: str, new: bool) -> set | None:
    """`_column_values`, the column read from the row when it was never loaded; None when which values is not
    known (moved from a value never loaded, or deleted with the column never loaded)."""
    found = _column_values(obj, column, new)
    if found is None:
        return None
    if found:
        return found
    state = inspect(obj)
    return None if state.deleted or state.was_deleted else {getattr(obj, column)}


def _communities_of(session, obj, table: str, new: bool) -> list:
    community_of = _tracked[table]
    if community_of is not None:
        return list(community_of(session, obj, new))
    state = inspect(obj)
    if table == "community":
        return [state.identity[0]] if state.identity else [ALL]
    ids = _row_values(obj, "community_id", new)
    return [ALL] if ids is None else list(ids)


def _after_flush(session, flush_context) -> None:
    # After the flush, so foreign keys set through relationships (issue.community = c) hold their ids; the
    # session's lists and the attributes' history still show what the flush wrote.
    for kind, group in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in group:
            table = getattr(getattr(obj, "__table__", None), "name", None)
            if table not in _tracked:
                continue
            if table == "community" and (kind == "new" or kind == "dirty" and not session.is_modified(
                    obj, include_collections=False)):
                # A new community has a version of its own; one that only gained a row in a collection
                # (an estate, a meeting) changed nothing of its own.
                continue
            # Any other dirty row counts, even when is_modified() says no: a column set to an SQL
            # expression (count = count + 1) is not "modified" in its eyes, yet it wrote.
            if kind == "dirty" and table in _columns:
                attrs = inspect(obj).attrs
                if not any(attrs[c].history.has_changes() for c in _columns[table] if c in attrs):
                    continue
            _mark(session, _communities_of(session, obj, table, kind == "new"))


def _on_execute(orm_execute_state) -> None:
    statement, session = orm_execute_state.statement, orm_execute_state.session
    if orm_execute_state.is_update or orm_execute_state.is_delete or orm_execute_state.is_insert:
        name = getattr(getattr(statement, "table", None), "name", None)
        if name not in _tracked:
            return
        sets = _sets(orm_execute_state)
        if orm_execute_state.is_update and name in _columns and not sets & _columns[name]:
            return  # only columns nothing kept reads (a comment's likes, a ballot's running totals)
        if orm_execute_state.is_update and name in _ignored and sets and sets <= _ignored[name]:
            return  # only columns with a version of their own (a proposal's likes_version)
        _mark(session, _bulk_communities(session, name, statement, sets, orm_execute_state))
    elif isinstance(statement, TextClause):
        if any(name in _tracked for name in _WRITES.findall(statement.text)):
            _mark(session, [ALL])


def _bulk_communities(session, name, statement, sets, orm_execute_state) -> list:
    """The communities whose rows a bulk statement writes, read before it runs (the rows it will update or
    delete; an INSERT's own values); every community when that cannot be told (a row moved to another
    community, a table reached through a parent, no WHERE)."""
    table = db.metadata.tables[name]
    if orm_execute_state.is_insert:
        params = orm_execute_state.parameters
        rows = params if isinstance(params, list) else [params] if params else []
        found = [row.get("community_id") for row in rows]
        return found if found and None not in found and "community_id" in table.c else [ALL]
    where = statement.whereclause
    if where is None or "community_id" not in table.c or "community_id" in sets:
        return [ALL]
    conn = session.connection()  # not session.execute: that would come back here
    return conn.execute(select(table.c.community_id).where(where).distinct()).scalars().all()


def _sets(orm_execute_state) -> set[str]:
    """The columns a bulk UPDATE sets, by name."""
    keys = {getattr(k, "key", k) for k in (getattr(orm_execute_state.statement, "_values", None) or {})}
    params = orm_execute_state.parameters
    for row in params if isinstance(params, list) else [params] if params else []:
        keys |= set(row)
    return keys


def _before_commit(session) -> None:
    if session.in_nested_transaction():
        # A savepoint released: the outer transaction commits the change (or takes it back). Taking the
        # community's row lock only at that last commit keeps it from being held while other rows are
        # locked, so no two writers can wait on each other through it.
        return
    session.flush()  # what the commit would flush next may write a tracked row
    changed = session.info.pop(_CHANGED, None)
    if not changed:
        return
    table = db.metadata.tables["community"]
    conn = session.connection()  # not session.execute: that would be seen as a bulk write of the table
    if ALL in changed:
        conn.execute(update(table).values(content_version=new_version()))
        return
    for community_id in sorted(changed):
        conn.execute(update(table).where(table.c.id == community_id).values(content_version=new_version()))


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)
        session.info.pop(_WRITTEN, None)


def listen() -> None:
    """Register the session events (idempotent; called when the app is created)."""
    for name, fn in (("after_flush", _after_flush), ("do_orm_execute", _on_execute),
                     ("before_commit", _before_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
