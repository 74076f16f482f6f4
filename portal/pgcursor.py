"""A psycopg cursor whose `description` describes a result's columns only when someone reads them.

psycopg builds a `Column` object for every column of every result as soon as `cursor.description` is asked
for (~1.2 µs a column), and SQLAlchemy asks for it after every statement that returns rows, only to see that
it is not None: once a statement has run, SQLAlchemy keeps the result's shape with the compiled statement and
never reads the description again. A ballot page reads 164 columns in three statements. Here the description
is a sequence that knows its length and builds the same `Column` objects on the first look inside, from the
result it was made for (even when the cursor has run another statement since)."""
from collections.abc import Sequence
from types import SimpleNamespace

import psycopg
from psycopg import Column
from psycopg.pq import ExecStatus

_ROWS = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)


class Description(Sequence):
    """psycopg's list of `Column`s for one result, built when first read."""
    __slots__ = ("_cursor", "_result", "_columns")

    def __init__(self, cursor, result):
        self._cursor, self._result, self._columns = cursor, result, None

    def _list(self) -> list[Column]:
        if self._columns is None:
            cursor = self._cursor
            # Column reads the result, encoding and adapters from what it is given: the result of this
            # description, not the cursor's latest.
            source = SimpleNamespace(pgresult=self._result, _encoding=cursor._encoding, adapters=cursor.adapters)
            self._columns = [Column(source, i) for i in range(self._result.nfields)]
            self._cursor = None
        return self._columns

    def __len__(self) -> int:
        return self._result.nfields if self._columns is None else len(self._columns)

    def __getitem__(self, index):
        return self._list()[index]

    def __iter__(self):
        return iter(self._list())

    def __eq__(self, other):
        return self._list() == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return repr(self._list())


class Cursor(psycopg.Cursor):
    """psycopg's cursor with a description built on demand (Description)."""
    __slots__ = ()

    @property
    def description(self):
        result = self.pgresult
        if result and (result.nfields or result.status in _ROWS):
            return Description(self, result)
        return None
