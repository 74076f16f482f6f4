"""What every bench script shares: a throwaway database (and instance folder), bulk inserts, a community of
verified residents, signing in, timing pages with their SQL statement count, and the percentiles.

Imported first by each script (`import _common`): it puts the project on sys.path and sets a throwaway
instance folder before the portal is imported."""
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The app keeps a generated secret key in its instance folder: a throwaway one, removed at exit.
if "PORTAL_INSTANCE_DIR" not in os.environ:
    _instance = tempfile.TemporaryDirectory(prefix="yishi-bench-instance-")
    os.environ["PORTAL_INSTANCE_DIR"] = _instance.name

from sqlalchemy import event, insert, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.config import TestConfig  # noqa: E402
from portal.extensions import db  # noqa: E402

PASSWORD = "bench password 42"
CHUNK = 5000


# --- the database ------------------------------------------------------------------------------------------

def add_database_arguments(parser):
    parser.add_argument("--database-url", help="a THROWAWAY database (all its tables are dropped); "
                                               "default: a temporary SQLite file")
    parser.add_argument("--keep", action="store_true", help="leave the data in place afterwards (for EXPLAIN)")


class Database:
    """The database named by --database-url (else a temporary SQLite file) and an app on it."""

    def __init__(self, parser, args):
        self.keep = args.keep
        self.tmp = None
        self.url = args.database_url
        if not self.url:
            self.tmp = tempfile.NamedTemporaryFile(prefix="yishi-bench-", suffix=".sqlite3", delete=False)
            self.url = f"sqlite:///{self.tmp.name}"
        elif self.url.rstrip("/").rsplit("/", 1)[-1] in ("test", "yishi", "portal"):
            parser.error("refusing to drop the tables of what looks like a shared or real database")
        self.app = create_app(TestConfig(self.url))

    def recreate(self):
        """Every table dropped and created again; inside an app context."""
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        db.drop_all()
        db.create_all()

    def finish(self):
        """Drop what was built (and the SQLite file), unless --keep."""
        if self.keep:
            print(f"\nkept: {self.url}")
            return
        with self.app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
        if self.tmp:
            os.unlink(self.tmp.name)


def analyze():
    """Statistics for the planner, and on PostgreSQL the visibility map that index-only scans need (what
    autovacuum does shortly after a bulk load in production)."""
    statement = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text(statement))


# --- building data -----------------------------------------------------------------------------------------

def chunks(rows, size=CHUNK):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def bulk(model, rows):
    for part in chunks(rows):
        db.session.execute(insert(model), part)


def pareto_counts(rng, n_items, total, cap):
    """`total` spread over `n_items`: a few gather many, most a handful."""
    weights = [rng.paretovariate(1.2) for _ in range(n_items)]
    scale = total / sum(weights)
    counts = [min(cap, int(w * scale)) for w in weights]
    for i in rng.sample(range(n_items), k=n_items):
        if sum(counts) >= total:
            break
        counts[i] = min(cap, counts[i] + total - sum(counts))
    return counts


def community_with_residents(n_users, now):
    """One community with 40 buildings and `n_users` verified residents (password PASSWORD), by bulk
    inserts: (community, buildings, user ids in order)."""
    from portal.auth.models import User
    from portal.auth.services import hash_password
    from portal.places.models import Building, Community, Household, Residency, SubDistrict

    sd = SubDistrict(name="Bench sub-district", slug="bench-sd")
    community = Community(sub_district=sd, name="Bench community", slug="bench")
    db.session.add_all([sd, community])
    db.session.flush()
    buildings = [Building(community=community, code=str(n), name=f"Building {n}") for n in range(1, 41)]
    db.session.add_all(buildings)
    db.session.flush()

    password_hash = hash_password(PASSWORD)
    bulk(User, [{"display_name": f"Resident {n}", "email": f"resident{n}@bench.test", "password_hash": password_hash,
                 "consented_at": now, "created_at": now, "password_changed_at": now} for n in range(n_users)])
    user_ids = list(db.session.scalars(db.select(User.id).order_by(User.id)))
    bulk(Household, [{"building_id": buildings[n % len(buildings)].id, "entrance": "1", "room": f"{n:04d}",
                      "area_m2": 88} for n in range(n_users)])
    household_ids = list(db.session.scalars(db.select(Household.id).order_by(Household.id)))
    bulk(Residency, [{"user_id": u, "community_id": community.id, "household_id": h, "status": "verified",
                      "claimed_at": now, "decided_at": now} for u, h in zip(user_ids, household_ids)])
    return community, buildings, user_ids


# --- measuring ---------------------------------------------------------------------------------------------

class StatementCounter:
    """Every SQL statement the engine sends (with its parameters), from now on."""

    def __init__(self, engine):
        self.count = 0
        self.statements = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        self.statements.append((statement, parameters))


def sign_in(client, login):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    assert response.status_code in (302, 303), f"sign-in failed: {response.status_code}"


def time_pages(app, pages, login, n_requests, slowest=False):
    """{label: (wall ms, CPU ms, statements) per request, and the last response's size} for each of `pages`
    ({label: a function giving the path}), signed in as `login` (None: a visitor). With `slowest`, print the
    statements of each page's slowest request."""
    # Requests run outside any app context of ours, each in its own, as in production: nothing is
    # cached in a shared session between them.
    client = app.test_client()
    if login:
        sign_in(client, login)
    with app.app_context():
        counter = StatementCounter(db.engine)
    results = {}
    for label, path in pages.items():
        client.get(path())  # warm caches (templates, translations)
        times, cpu, statements, worst = [], [], [], (0, None)
        for _ in range(n_requests):
            counter.count, counter.statements = 0, []
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(path())
            elapsed = (time.perf_counter() - start) * 1000
            times.append(elapsed)
            cpu.append((time.process_time() - start_cpu) * 1000)
            statements.append(counter.count)
            if elapsed > worst[0]:
                worst = (elapsed, list(counter.statements))
            if response.status_code != 200:
                raise SystemExit(f"{label}: {response.status_code} for {response.request.path}\n"
                                 f"{response.get_data(as_text=True)[:2000]}")
        results[label] = (times, cpu, statements, len(response.data))
        if slowest:
            print(f"\n--- {label}: the statements of the slowest request ({worst[0]:.1f} ms)")
            for statement, parameters in worst[1]:
                print("  " + " ".join(statement.split())[:300], parameters if len(str(parameters)) < 200 else "")
    return results


def views_built(app, *endpoints):
    return set(endpoints) <= {rule.endpoint for rule in app.url_map.iter_rules()}


# --- reporting ---------------------------------------------------------------------------------------------

def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def statement_range(statements) -> str:
    """"12" when every request sent as many statements, else "12–14"."""
    low, high = min(statements), max(statements)
    return f"{low}" if low == high else f"{low}–{high}"


# --- serving over HTTP (pages_bench.py) ---------------------------------------------------------------------

def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, headers=None, timeout=60):
    """(status, headers, body as sent: still compressed if the server compressed it) of one GET."""
    import http.client
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def _cookies(headers, jar):
    from http.cookies import SimpleCookie
    for value in headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie()
        cookie.load(value)
        for name, morsel in cookie.items():
            jar[name] = morsel.value
    return jar


def sign_in_http(base_url, login) -> str:
    """Sign in over HTTP as `login` (password PASSWORD): the value of a Cookie header carrying the session."""
    import http.client
    from urllib.parse import urlencode, urlsplit
    parts = urlsplit(base_url)
    status, headers, body = http_get(f"{base_url}/login")
    jar = _cookies(headers, {})
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', body.decode()).group(1)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("POST", "/login", urlencode({"login": login, "password": PASSWORD, "csrf_token": token}),
                     {"Content-Type": "application/x-www-form-urlencoded",
                      "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
        response = conn.getresponse()
        response.read()
        if response.status not in (302, 303):
            raise RuntimeError(f"sign-in over HTTP as {login} failed: {response.status}")
        _cookies(response.headers, jar)
    finally:
        conn.close()
    return "; ".join(f"{k}={v}" for k, v in jar.items())


class Gunicorn:
    """`gunicorn -w <workers> <app>` (sync workers) on a free loopback port, in a process of its own; stopped
    (SIGTERM to the process it started, then waited for) by stop(). With `log`, what the servers write (the
    portal's JSON line per request) goes to that file, emptied first, instead of the terminal."""

    def __init__(self, app, *, workers=4, chdir=ROOT, env=None, probe="/", port=None, log=None):
        import subprocess
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log = open(log, "wb") if log else None  # noqa: SIM115  (closed by stop())
        self.process = subprocess.Popen(
            [str(gunicorn), "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{self.port}", "--chdir", str(chdir),
             "--log-level", "warning", "--timeout", "120", app],
            env={**os.environ, **(env or {})}, stderr=self.log)
        deadline = time.monotonic() + 90
        while True:
            try:
                status, _, _ = http_get(self.url + probe, timeout=30)
                if status < 500:
                    break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn {app} did not start on port {self.port}")
            time.sleep(0.3)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except Exception:
                self.process.kill()
                self.process.wait()
        if self.log:
            self.log.close()
