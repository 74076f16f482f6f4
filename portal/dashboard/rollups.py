"""Keeping `IssueRollup` and `IssueBuildingRollup` exact in the same transaction as every change of an issue.

The issues area knows nothing of the dashboard (it sits below it), so the rollups follow the issue rows
through SQLAlchemy session events, registered once when the app is created (`listen()`):

- `before_flush` reads, for the issues about to change or go, their current row from the database (the
  bucket they leave and what they count there); `after_flush` reads the rows again (the bucket they enter)
  and adds the difference to the rollup rows with one upsert of increments. Increments, not recounts:
  two transactions changing issues of the same bucket at once both count, as PostgreSQL serializes the
  row updates. Buckets are upserted in key order, so two such transactions cannot deadlock.
- `do_orm_execute` does the same around bulk UPDATE / DELETE statements on the issue table that touch a
  counted column (the only one in the portal today, the support counter, touches none).
- A community's time zone change moves its issues between months: its rollups are rebuilt from the issues.

Writers that bypass the session entirely (bulk INSERT through Core, as the bench loaders do) call
`rebuild_rollups()` afterwards (also `flask dashboard rebuild-rollups`).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal import versions
from portal.clock import DEFAULT_TIME_ZONE
from portal.dashboard.models import ALL_COUNTS, IssueBuildingRollup, IssueDuration, IssueRollup
from portal.extensions import db
from portal.issues.models import OPEN_STATES, Issue
from portal.places.models import Community

SATISFIED = ("satisfied", "basically_satisfied")
# The issue columns a rollup depends on: a change of any other column (title, support count…) moves nothing.
COUNTED = ("status", "community_id", "category_id", "handling_org_id", "submitted_at", "first_response_at",
           "respond_by", "resolved_at", "rating_resolved", "rating_satisfaction", "rating_excluded", "reopen_count",
           "building_id", "source", "resolve_by", "original_resolve_by")
_CHUNK = 500

_zone_cache: dict[str, ZoneInfo] = {}


def _zone(name: str | None) -> ZoneInfo:
    name = name or DEFAULT_TIME_ZONE
    found = _zone_cache.get(name)
    if found is None:
        found = _zone_cache[name] = ZoneInfo(name)
    return found


def month_number(at, zone_name: str | None) -> int:
    """year × 12 + (month − 1) of the instant `at` (aware, UTC) in the zone."""
    local = at.astimezone(_zone(zone_name))
    return local.year * 12 + local.month - 1


def contribution(row, zone_name):
    """(bucket key, counts) of one issue row (attributes as COUNTED), None for a duplicate."""
    if row.status == "duplicate":
        return None
    responded = row.first_response_at is not None
    key = (row.community_id, row.category_id, row.handling_org_id or 0, month_number(row.submitted_at, zone_name))
    # As portal.dashboard.services.rates._rate_conditions: an upheld appeal removes the rating from both
    # rates; a reopened issue being redone is not "resolved: yes".
    kept = not row.rating_excluded
    redone = bool(row.reopen_count) and row.status in OPEN_STATES
    return key, (1, int(responded), int(responded and row.first_response_at <= row.respond_by),
                 int(kept and row.rating_resolved is True and not redone),
                 int(kept and row.rating_resolved is not None),
                 int(kept and row.rating_satisfaction in SATISFIED), int(kept and row.rating_satisfaction is not None),
                 int(bool(row.rating_excluded)), *_work_order(row))


def _work_order(row) -> tuple:
    """(resolved, on time by the resolve-by before any extension, on time by the resolve-by, extended) of a
    hotline work order, as portal.dashboard.services.rates.work_orders_on_time_direct; zeros for others."""
    if row.source != "hotline" or row.resolved_at is None:
        return 0, 0, 0, 0
    first = row.original_resolve_by if row.original_resolve_by is not None else row.resolve_by
    return (1, int(first is not None and row.resolved_at <= first),
            int(row.resolve_by is not None and row.resolved_at <= row.resolve_by),
            int(row.original_resolve_by is not None))


def building_key(row, zone_name):
    """The IssueBuildingRollup key (community, month, building, category, org_key) of one issue row (as
    COUNTED), None for a duplicate or an issue without a building (the hotspots count neither)."""
    if row.status == "duplicate" or row.building_id is None:
        return None
    return (row.community_id, month_number(row.submitted_at, zone_name), row.building_id, row.category_id,
            row.handling_org_id or 0)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def _whole_seconds(start, end):
    """Seconds from `start` to `end`, each truncated to the second first (as the direct SQL does)."""
    if end is None:
        return None
    return (end - _EPOCH) // _SECOND - (start - _EPOCH) // _SECOND


def duration_row(issue_id, row, zone_name) -> dict:
    """The IssueDuration row of a non-duplicate issue row."""
    return dict(issue_id=issue_id, community_id=row.community_id, category_id=row.category_id,
                org_key=row.handling_org_id or 0, month=month_number(row.submitted_at, zone_name),
                first_response_s=_whole_seconds(row.submitted_at, row.first_response_at),
                resolution_s=_whole_seconds(row.submitted_at, row.resolved_at))


def _rows_stmt():
    return (select(Issue.id, *[getattr(Issue, c) for c in COUNTED], Community.time_zone)
            .join(Community, Community.id == Issue.community_id))


def _read(conn, ids, durations=None) -> dict:
    """issue id → (its contribution, its building key) now (each None when it counts in none; missing ids
    are gone). With a `durations` list, also appends the IssueDuration rows of the non-duplicates."""
    out, ids = {}, sorted(set(ids))
    for i in range(0, len(ids), _CHUNK):
        for row in conn.execute(_rows_stmt().where(Issue.id.in_(ids[i:i + _CHUNK]))):
            found = contribution(row, row.time_zone)
            out[row.id] = (found, building_key(row, row.time_zone))
            if durations is not None and found is not None:
                durations.append(duration_row(row.id, row, row.time_zone))
    return out


def _insert(conn):
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)


def _write_durations(conn, ids, rows) -> None:
    """Make the IssueDuration rows of the issues `ids` be `rows` (an issue without one has none)."""
    table = IssueDuration.__table__
    kept = {r["issue_id"] for r in rows}
    gone = sorted(set(ids) - kept)
    for i in range(0, len(gone), _CHUNK):
        conn.execute(delete(table).where(table.c.issue_id.in_(gone[i:i + _CHUNK])))
    if rows:
        stmt = _insert(conn)(table)
        stmt = stmt.on_conflict_do_update(index_elements=["issue_id"],
                                          set_={c.name: stmt.excluded[c.name] for c in table.c if c.name != "issue_id"})
        conn.execute(stmt, sorted(rows, key=lambda r: r["issue_id"]))


def _add(deltas, building_deltas, found, sign):
    for c, b in found.values():
        if b is not None:
            building_deltas[b] += sign
        if c is not None:
            total = deltas[c[0]]
            for i, v in enumerate(c[1]):
                total[i] += sign * v


def _upsert(conn, deltas) -> None:
    """Add `deltas` ({bucket key: [an increment per ALL_COUNTS]}) to the rollup rows, creating missing ones."""
    rows = [dict(community_id=k[0], category_id=k[1], org_key=k[2], month=k[3], **dict(zip(ALL_COUNTS, v)))
            for k, v in sorted(deltas.items()) if any(v)]
    if not rows:
        return
    table = IssueRollup.__table__
    stmt = _insert(conn)(table)
    stmt = stmt.on_conflict_do_update(index_elements=["community_id", "category_id", "org_key", "month"],
                                      set_={c: table.c[c] + stmt.excluded[c] for c in ALL_COUNTS})
    conn.execute(stmt, rows)


def _upsert_buildings(conn, deltas) -> None:
    """Add `deltas` ({building key: increment}) to the IssueBuildingRollup rows, creating missing ones."""
    rows = [dict(community_id=k[0], month=k[1], building_id=k[2], category_id=k[3], org_key=k[4], issues=v)
            for k, v in sorted(deltas.items()) if v]
    if not rows:
        return
    table = IssueBuildingRollup.__table__
    stmt = _insert(conn)(table)
    stmt = stmt.on_conflict_do_update(index_elements=["community_id", "month", "building_id", "category_id", "org_key"],
                                      set_={"issues": table.c.issues + stmt.excluded.issues})
    conn.execute(stmt, rows)


def apply_changes(conn, before: dict, ids) -> None:
    """Move the issues `ids` from what they counted `before` (as `_read`) to their rows now."""
    deltas = defaultdict(lambda: [0] * len(ALL_COUNTS))
    building_deltas = defaultdict(int)
    durations = []
    _add(deltas, building_deltas, before, -1)
    _add(deltas, building_deltas, _read(conn, ids, durations), +1)
    _upsert(conn, deltas)
    _upsert_buildings(conn, building_deltas)
    _write_durations(conn, ids, durations)


def rebuild_rollups(community_ids=None) -> int:
    """Recompute the rollups from the issues (all communities, or those listed), in the current
    transaction; returns the number of issues counted. For the migration's backfill, bench loaders and
    any writer that bypasses the session. The communities' versions change with them (portal.versions: the
    dashboard keeps its figures)."""
    conn = db.session.connection()
    counted = _rebuild(conn, community_ids)
    versions.touch(db.session, community_ids)
    return counted


def _rebuild(conn, community_ids=None) -> int:
    stmt = _rows_stmt().where(Issue.status != "duplicate")
    wipes = [delete(IssueRollup.__table__), delete(IssueDuration.__table__), delete(IssueBuildingRollup.__table__)]
    if community_ids is not None:
        community_ids = list(community_ids)
        stmt = stmt.where(Issue.community_id.in_(community_ids))
        wipes = [w.where(w.table.c.community_id.in_(community_ids)) for w in wipes]
    for wipe in wipes:
        conn.execute(wipe)
    totals = defaultdict(lambda: [0] * len(ALL_COUNTS))
    building_totals = defaultdict(int)
    counted, last = 0, 0
    while True:  # in pages of issue ids, writing each page's durations before reading the next
        page = conn.execute(stmt.where(Issue.id > last).order_by(Issue.id).limit(5000)).all()
        if not page:
            break
        durations = []
        for row in page:
            key, values = contribution(row, row.time_zone)
            total = totals[key]
            for i, v in enumerate(values):
                total[i] += v
            durations.append(duration_row(row.id, row, row.time_zone))
            building = building_key(row, row.time_zone)
            if building is not None:
                building_totals[building] += 1
        conn.execute(IssueDuration.__table__.insert(), durations)
        counted += len(page)
        last = page[-1].id
    _upsert(conn, totals)
    _upsert_buildings(conn, building_totals)
    return counted


# --- session events ---------------------------------------------------------------------------------------

def _identity(obj):
    """The issue's id without loading anything (a new issue has its id in its dict once inserted)."""
    state = inspect(obj)
    return state.identity[0] if state.identity else state.dict.get("id")


def _parameter_sets(orm_execute_state):
    params = orm_execute_state.parameters
    if params is None:
        return []
    return params if isinstance(params, list) else [params]


class IssueWatch:
    """Keeps figures derived from the issues exact in the transaction that changes them, whichever way the
    issues change: ORM flushes (new, changed, deleted issues; a community's time zone moving its months) and
    bulk UPDATE/DELETE statements. `read(conn, ids)` reads the issues' counted rows, `apply(conn, before, ids)`
    subtracts what they counted before and adds what they count now, `rebuild(conn, community_ids)` recounts
    communities, and `tables` are emptied when every issue goes. Used by the dashboard's rollups (below) and
    the insight area's monthly counts."""

    def __init__(self, name: str, counted: tuple, read, apply, rebuild, tables: tuple):
        self.counted, self.read, self.apply, self.rebuild, self.tables = counted, read, apply, rebuild, tables
        self._keys = tuple(f"{name}.{part}" for part in ("old", "new", "zones"))
        self._watched = None

    def watched_attributes(self) -> tuple:
        """The counted columns and the relationships that set them (`issue.handling_org = org` changes
        handling_org_id only during the flush, after before_flush has looked)."""
        if self._watched is None:
            relations = [r.key for r in inspect(Issue).relationships
                         if any(c.key in self.counted for c in r.local_columns)]
            self._watched = self.counted + tuple(relations)
        return self._watched

    def changed(self, obj) -> bool:
        attrs = inspect(obj).attrs
        return any(attrs[c].history.has_changes() for c in self.watched_attributes())

    def before_flush(self, session, flush_context, instances) -> None:
        old_key, new_key, zones_key = self._keys
        for name in self._keys:  # left by a flush that failed
            session.info.pop(name, None)
        moving = [_identity(o) for o in session.dirty if isinstance(o, Issue) and self.changed(o)]
        moving += [_identity(o) for o in session.deleted if isinstance(o, Issue)]
        moving = [i for i in moving if i is not None]
        new = [o for o in session.new if isinstance(o, Issue)]
        zones = [_identity(o) for o in session.dirty if isinstance(o, Community)
                 and inspect(o).attrs["time_zone"].history.has_changes()]
        if not (moving or new or zones):
            return
        session.info[old_key] = self.read(session.connection(), moving) if moving else {}
        session.info[new_key] = new
        session.info[zones_key] = zones

    def after_flush(self, session, flush_context) -> None:
        old_key, new_key, zones_key = self._keys
        before = session.info.pop(old_key, None)
        if before is None:
            return
        new = session.info.pop(new_key, [])
        zones = session.info.pop(zones_key, [])
        ids = set(before) | {i for i in map(_identity, new) if i is not None}
        conn = session.connection()
        if ids:
            self.apply(conn, before, ids)
        if zones:
            self.rebuild(conn, zones)

    def _bulk_issue_statement(self, orm_execute_state) -> bool:
        if not (orm_execute_state.is_update or orm_execute_state.is_delete):
            return False
        statement = orm_execute_state.statement
        # An ORM statement's table is an annotated copy of the issue table: compare names.
        if getattr(getattr(statement, "table", None), "name", None) != Issue.__tablename__:
            return False
        if orm_execute_state.is_delete:
            return True
        keys = {getattr(k, "key", k) for k in (statement._values or {})}
        for params in _parameter_sets(orm_execute_state):
            keys |= set(params)
        return bool(keys & set(self.counted))

    def on_execute(self, orm_execute_state):
        if not self._bulk_issue_statement(orm_execute_state):
            return None
        statement = orm_execute_state.statement
        conn = orm_execute_state.session.connection()
        if (statement.whereclause is None and orm_execute_state.is_delete
                and not _parameter_sets(orm_execute_state)):
            # Every issue goes (as when the tests empty the tables): so do all their counts.
            result = orm_execute_state.invoke_statement()
            for table in self.tables:
                conn.execute(delete(table))
            return result
        if statement.whereclause is not None:
            ids = list(conn.execute(select(Issue.id).where(statement.whereclause)).scalars())
        else:  # bulk UPDATE by primary key: one parameter set per row
            ids = [p["id"] for p in _parameter_sets(orm_execute_state) if "id" in p]
        before = self.read(conn, ids)
        result = orm_execute_state.invoke_statement()
        self.apply(conn, before, ids)
        return result

    def listen(self) -> None:
        """Register the session events (idempotent; called when the app is created)."""
        for name, fn in (("before_flush", self.before_flush), ("after_flush", self.after_flush),
                         ("do_orm_execute", self.on_execute)):
            if not event.contains(Session, name, fn):
                event.listen(Session, name, fn)


_watch = IssueWatch("dashboard.rollup", COUNTED, _read, apply_changes, _rebuild,
                    (IssueDuration.__table__, IssueRollup.__table__, IssueBuildingRollup.__table__))


def listen() -> None:
    """Register the session events (idempotent; called when the app is created)."""
    _watch.listen()
