"""Rendered answers of GET requests, kept per process and reused while the data they were made of is unchanged.

A 311 client polls the same query (usually the default: the last 90 days, up to 1,000 requests) again and
again; rendering it is ~500 KB of JSON or XML. Each entry is keyed by the jurisdiction, the normalized query,
the format and the language (service names are translated), and remembers the data's fingerprint
(services.requests_fingerprint: one cheap statement); a request whose fingerprint differs renders afresh. So
several processes or servers never serve each other's stale answers: each checks the database on every
request. Entries also expire after MAX_AGE, a bound for changes that leave no trace in the fingerprint."""
import hashlib
import time
from collections import OrderedDict
from threading import Lock

from flask import current_app

MAX_ENTRIES = 64
MAX_AGE = 300  # seconds


class Answer:
    __slots__ = ("fingerprint", "body", "etag", "made")

    def __init__(self, fingerprint, body: bytes):
        self.fingerprint, self.body, self.made = fingerprint, body, time.monotonic()
        self.etag = hashlib.sha256(body).hexdigest()[:32]


class Answers:
    """A small LRU of rendered answers (thread-safe: gunicorn may run threads)."""

    def __init__(self, size=MAX_ENTRIES, max_age=MAX_AGE):
        self.size, self.max_age = size, max_age
        self._entries = OrderedDict()
        self._lock = Lock()

    def get(self, key, fingerprint) -> Answer | None:
        with self._lock:
            answer = self._entries.get(key)
            if answer is None:
                return None
            if answer.fingerprint != fingerprint or time.monotonic() - answer.made > self.max_age:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return answer

    def put(self, key, fingerprint, body: bytes) -> Answer:
        answer = Answer(fingerprint, body)
        if self.size <= 0:
            return answer
        with self._lock:
            self._entries[key] = answer
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return answer

    def clear(self):
        with self._lock:
            self._entries.clear()


def answers() -> Answers:
    """This app's answers (one per app, so tests and several apps in a process never share)."""
    found = current_app.extensions.get("open311_answers")
    if found is None:
        found = current_app.extensions["open311_answers"] = Answers(
            current_app.config.get("OPEN311_CACHE_ENTRIES", MAX_ENTRIES))
    return found
