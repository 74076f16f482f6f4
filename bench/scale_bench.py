"""Two app servers behind nginx, one killed in the middle of a mixed load: what fails, what is kept.

    .venv/bin/python bench/scale_bench.py                       # PostgreSQL bench_ops, 45 s of load
    .venv/bin/python bench/scale_bench.py --duration 90 --users 12 --reuse

It (1) rebuilds the THROWAWAY PostgreSQL database given (default bench_ops; every table is dropped) with
`flask db upgrade` and the demo (`seed-demo`), unless --reuse finds it seeded already; (2) starts two gunicorn
servers of the portal (deploy/gunicorn.conf.py, `portal:create_app()`, each from an empty folder of its own,
sharing the database, SECRET_KEY and one upload folder) and Debian's nginx in front of them with the
deployment kit's own deploy/nginx/yishi-locations.conf and yishi-proxy.conf (nginx-light and the brotli
filter are installed with apt-get when nginx is missing); (3) drives a mixed load from Python threads through
nginx for --duration seconds: residents reading the home page, issue and proposal lists and pages and the
ballot page, supporting issues ("me too", htmx), commenting in a consultation and reporting issues with a
photo; owners voting (and changing their votes, htmx) in the demo's open homeowners' ballot; an official on
the dashboard — each virtual person signed in with a real CSRF token; (4) SIGKILLs the first server's master
and workers a third of the way in, starts it again at two thirds, and runs the last third once it answers
again (so the load lasts --duration plus the restart); then (5) checks in the
database that every acknowledged write is there and prints requests, failures (those on the killed server
in flight at the kill are expected; nginx retries idempotent requests on the other server), and throughput
with two servers, one server, and two again. Only loopback addresses are used; the load stops by itself."""
import argparse
import http.client
import io
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "demo-pass-2026"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
RECEIPT = re.compile(r'<p class="receipt-line">[^<]*<code class="receipt-code">([^<]+)</code>')


# --- processes ---------------------------------------------------------------------------------------------

def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask(env, *args):
    done = subprocess.run([str(VENV_BIN / "flask"), "--app", "portal", *args], env=env, capture_output=True,
                          text=True, cwd=env["PORTAL_INSTANCE_DIR"])
    if done.returncode:
        sys.exit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def rebuild_database(url, env, reuse):
    from sqlalchemy import create_engine, text
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        seeded = conn.scalar(text("SELECT to_regclass('public.user') IS NOT NULL")) and conn.scalar(
            text('SELECT COUNT(*) FROM "user"')) > 0
    if reuse and seeded:
        print("database: reusing the seeded demo")
        engine.dispose()
        return
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    started = time.monotonic()
    flask(env, "db", "upgrade")
    flask(env, "seed-demo")
    print(f"database: migrated and seeded the demo in {time.monotonic() - started:.0f} s")


class AppServer:
    """One gunicorn server of the portal, in a process group of its own (master and workers)."""

    def __init__(self, name, port, env, workers, folder):
        self.name, self.port, self.workers = name, port, workers
        self.folder = folder / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers),
                        PORTAL_INSTANCE_DIR=str(self.folder / "instance"),
                        PROMETHEUS_MULTIPROC_DIR=str(self.folder / "metrics"))
        self.process = None

    def start(self):
        log = open(self.folder / "server.log", "ab")
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
             "portal:create_app()"],
            env=self.env, cwd=self.folder, stdout=log, stderr=log, start_new_session=True)

    def kill(self):
        """SIGKILL to the master and every worker at once: a machine that dies, not a graceful stop."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def wait_until_up(port, path="/healthz", timeout=60.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers on 127.0.0.1:{port}{path}")


def ensure_nginx():
    if shutil.which("nginx"):
        return
    print("nginx: installing Debian's nginx-light and libnginx-mod-http-brotli-filter")
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light", "libnginx-mod-http-brotli-filter"],
                   check=True, stdout=subprocess.DEVNULL)


def static_folder(env) -> str:
    out = subprocess.run([sys.executable, "-c", "from portal import create_app; print(create_app().static_folder)"],
                         env=env, check=True, capture_output=True, text=True, cwd=env["PORTAL_INSTANCE_DIR"])
    return out.stdout.strip().splitlines()[-1]


class Nginx:
    """Debian's nginx in a scratch prefix, serving the deployment kit's locations on a loopback port."""

    def __init__(self, port, upstreams, static, folder):
        self.port, self.folder = port, folder / "nginx"
        snippets = self.folder / "snippets"
        snippets.mkdir(parents=True, exist_ok=True)
        (self.folder / "logs").mkdir(exist_ok=True)
        for name in ("yishi-locations.conf", "yishi-proxy.conf"):
            text = (ROOT / "deploy" / "nginx" / name).read_text()
            text = text.replace("/etc/nginx/snippets/", f"{snippets}/").replace("/srv/yishi/static", static)
            (snippets / name).write_text(text)
        brotli = Path("/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so")
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=2 fail_timeout=10s;" for p in upstreams)
        (self.folder / "nginx.conf").write_text(f"""
{f"load_module {brotli};" if brotli.exists() else ""}
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {self.folder}/nginx.pid;
error_log {self.folder}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log {self.folder}/logs/access.log;
    client_body_temp_path {self.folder}/body;
    proxy_temp_path {self.folder}/proxy;
    upstream yishi_app {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        # Which server answered (bench only): failures are put down to the killed server or not.
        add_header X-Upstream $upstream_addr always;
        include {snippets}/yishi-locations.conf;
    }}
}}
""")
        self.process = None

    def start(self):
        subprocess.run(["nginx", "-t", "-q", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")],
                       check=True)
        self.process = subprocess.Popen(["nginx", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                                         "-g", "daemon off;"], start_new_session=True)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


# --- the load ----------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    started: float
    ended: float
    method: str
    kind: str
    status: int  # 0: no answer at all
    upstream: str = ""


@dataclass
class Ledger:
    """What the servers acknowledged, to find in the database afterwards."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    issues: dict = field(default_factory=dict)      # issue id -> title
    supports: set = field(default_factory=set)      # (issue id, user id)
    comments: dict = field(default_factory=dict)    # comment id -> body
    receipts: set = field(default_factory=set)      # ballot log receipts

    def add(self, what, key, value=None):
        with self.lock:
            target = getattr(self, what)
            if isinstance(target, set):
                target.add(key)
            else:
                target[key] = value


class Browser:
    """One person's browser: keep-alive connection to nginx, cookies, the CSRF token of their session."""

    def __init__(self, port, outcomes):
        self.port, self.outcomes = port, outcomes
        self.cookies = {}
        self.conn = None
        self.csrf = None

    def request(self, method, path, kind, body=None, headers=None, record=True):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.monotonic()
        status, upstream, data, location = 0, "", b"", ""
        for attempt in (1, 2):  # a keep-alive connection nginx closed meanwhile: open a new one, once
            response = None
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                upstream = response.getheader("X-Upstream", "")
                data = response.read()
                status, location = response.status, response.getheader("Location", "")
                for value in response.headers.get_all("Set-Cookie") or []:
                    for name, morsel in SimpleCookie(value).items():
                        if morsel["max-age"] == "0" or morsel.value == "":
                            self.cookies.pop(name, None)
                        else:
                            self.cookies[name] = morsel.value
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                self.conn = None
                if response is not None or attempt == 2 or (
                        method != "GET" and not isinstance(error, http.client.RemoteDisconnected)):
                    break
            except (OSError, http.client.HTTPException):  # refused, timed out, or an answer cut short
                self.conn = None
                status = 0
                break
        if record:
            self.outcomes.append(Outcome(started, time.monotonic(), method, kind, status, upstream))
        return status, data.decode("utf-8", "replace"), location

    def sign_in(self, login):
        _status, page, _ = self.request("GET", "/login", "sign-in", record=False)
        token = CSRF.search(page).group(1)
        status, _page, _ = self.request("POST", "/login", "sign-in", record=False,
                                        body=urlencode({"login": login, "password": PASSWORD, "csrf_token": token}),
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"{login} could not sign in ({status})")
        _status, page, _ = self.request("GET", "/", "home", record=False)
        match = CSRF.search(page) or re.search(r'"X-CSRFToken": "([^"]+)"', page)
        self.csrf = match.group(1)

    def post_form(self, path, kind, fields, htmx=False):
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": self.csrf}
        if htmx:
            headers["HX-Request"] = "true"
        return self.request("POST", path, kind, body=urlencode({**fields, "csrf_token": self.csrf}),
                            headers=headers)


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, content, mimetype in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                  f"Content-Type: {mimetype}\r\n\r\n".encode())
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def a_photo(seed) -> bytes:
    from PIL import Image
    rng = random.Random(seed)
    image = Image.effect_noise((800, 600), 40).convert("RGB")
    image = Image.blend(image, Image.new("RGB", image.size, tuple(rng.randrange(256) for _ in range(3))), 0.6)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


@dataclass
class Scene:
    slug: str
    issue_ids: list        # (issue id, reporter id)
    proposal_ids: list
    consultation_id: int
    ballot_id: int
    category_id: int
    building_id: int
    residents: list        # (login, user id)
    voters: list           # (login, user id)
    official: str


def read_scene(url) -> Scene:
    from sqlalchemy import create_engine, text
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        community_id, slug = conn.execute(text("SELECT id, slug FROM community ORDER BY id LIMIT 1")).one()
        q = lambda sql, **kw: conn.execute(text(sql), {"c": community_id, **kw}).all()  # noqa: E731
        issues = [tuple(r) for r in q("SELECT id, reporter_id FROM issue WHERE community_id = :c AND status IN "
                                      "('submitted', 'accepted', 'in_progress') ORDER BY id")]
        proposals = [r[0] for r in q("SELECT id FROM proposal WHERE community_id = :c AND status <> 'draft' "
                                     "ORDER BY id")]
        consultation = q("SELECT id FROM proposal WHERE community_id = :c AND status = 'deliberation' "
                         "ORDER BY id LIMIT 1")[0][0]
        ballot = q("SELECT b.id FROM ballot b JOIN proposal p ON p.id = b.proposal_id WHERE p.community_id = :c "
                   "AND b.status = 'open' AND b.method = 'owners' ORDER BY b.id LIMIT 1")[0][0]
        category = q("SELECT id FROM issue_category WHERE is_active ORDER BY id LIMIT 1")[0][0]
        building = q("SELECT id FROM building WHERE community_id = :c ORDER BY id LIMIT 1")[0][0]
        residents = [(r[0], r[1]) for r in q(
            "SELECT u.phone, u.id FROM \"user\" u JOIN residency r ON r.user_id = u.id "
            "WHERE r.community_id = :c AND r.status = 'verified' AND u.phone LIKE '1380000000%' ORDER BY u.id")]
        voters = [(r[0], r[1]) for r in q(
            "SELECT DISTINCT u.phone, u.id FROM ballot_caster bc JOIN \"user\" u ON u.id = bc.user_id "
            "WHERE bc.ballot_id = :b AND u.phone IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ballot_vote v "
            "JOIN ballot_voter bv ON bv.id = v.voter_id WHERE v.ballot_id = :b AND v.is_paper "
            "AND bv.id = bc.voter_id) ORDER BY u.id LIMIT 40", b=ballot)]
    engine.dispose()
    return Scene(slug, issues, proposals, consultation, ballot, category, building, residents, voters,
                 official="13800000031")


def resident(browser: Browser, scene: Scene, me, ledger: Ledger, rng: random.Random, photo: bytes):
    slug = f"/c/{scene.slug}"
    roll = rng.random()
    if roll < 0.14:
        browser.request("GET", "/", "home")
    elif roll < 0.30:
        browser.request("GET", f"{slug}/issues", "issue list")
    elif roll < 0.46:
        browser.request("GET", f"{slug}/issues/{rng.choice(scene.issue_ids)[0]}", "issue page")
    elif roll < 0.58:
        browser.request("GET", f"{slug}/proposals", "proposal list")
    elif roll < 0.70:
        browser.request("GET", f"{slug}/proposals/{rng.choice(scene.proposal_ids)}", "proposal page")
    elif roll < 0.78:
        browser.request("GET", f"{slug}/ballots/{scene.ballot_id}", "ballot page")
    elif roll < 0.86:
        issue_id = rng.choice([i for i, reporter in scene.issue_ids if reporter != me[1]])  # not my own
        status, page, _ = browser.post_form(f"{slug}/issues/{issue_id}/support", "support (POST)", {}, htmx=True)
        if status == 200 and ("support is counted" in page or "already support" in page):
            ledger.add("supports", (issue_id, me[1]))
    elif roll < 0.94:
        body = f"bench comment {uuid.uuid4().hex[:12]}: the lift should stop at every floor"
        status, _page, location = browser.post_form(
            f"{slug}/proposals/{scene.consultation_id}/comments", "comment (POST)",
            {"stance": rng.choice(["for", "against", "neutral"]), "body": body})
        match = re.search(r"#comment-(\d+)$", location)
        if status == 302 and match:
            ledger.add("comments", int(match.group(1)), body)
    else:
        title = f"Bench: broken light {uuid.uuid4().hex[:10]}"
        data, content_type = multipart(
            {"csrf_token": browser.csrf, "title": title, "description": "Stairwell light out since Monday.",
             "category": scene.category_id, "building": scene.building_id, "household": "",
             "location_text": "east stairwell", "latitude": "", "longitude": ""},
            [("photos", "light.jpg", photo, "image/jpeg")])
        status, _page, location = browser.request("POST", f"{slug}/issues/new", "report with photo (POST)",
                                                  body=data, headers={"Content-Type": content_type})
        match = re.search(r"/issues/(\d+)$", urlsplit(location).path)
        if status == 302 and match:
            ledger.add("issues", int(match.group(1)), title)


def owner(browser: Browser, scene: Scene, me, ledger: Ledger, rng: random.Random, state: dict):
    path = f"/c/{scene.slug}/ballots/{scene.ballot_id}"
    if rng.random() < 0.4 or "form" not in state:
        status, page, _ = browser.request("GET", path, "ballot page")
        votes = re.findall(r'name="voter_id" value="(\d+)"', page)
        options = sorted(set(re.findall(r'name="option_id" value="(\d+)"', page)))
        if status == 200 and votes and options:
            state["form"] = (votes[0], options)
        return
    voter_id, options = state["form"]
    status, page, _ = browser.post_form(f"{path}/vote", "vote (POST)",
                                        {"voter_id": voter_id, "option_id": rng.choice(options)}, htmx=True)
    match = RECEIPT.search(page) if status == 200 else None
    if match and "Your vote is counted" in page:
        ledger.add("receipts", re.sub(r"[\s-]", "", match.group(1)).upper())


def official(browser: Browser, scene: Scene, me, ledger, rng: random.Random):
    if rng.random() < 0.7:
        browser.request("GET", "/dashboard", "dashboard")
    else:
        browser.request("GET", "/dashboard/issues?rate=response&part=denominator", "dashboard issues")


def person_loop(role, login, user_id, port, scene, ledger, outcomes, stop, seed, photo, ready, errors):
    """One person until stop["at"] (set once everyone has signed in)."""
    rng = random.Random(seed)
    browser = Browser(port, outcomes)
    try:
        browser.sign_in(login)
    except Exception as error:
        errors.append(f"{login}: {error}")
        ready.wait()
        return
    ready.wait()
    state = {}
    while time.monotonic() < stop["at"]:
        try:
            if role == "resident":
                resident(browser, scene, (login, user_id), ledger, rng, photo)
            elif role == "owner":
                owner(browser, scene, (login, user_id), ledger, rng, state)
            else:
                official(browser, scene, (login, user_id), ledger, rng)
        except Exception as error:  # a bench bug must not pass for a server failure
            errors.append(f"{role} {login}: {type(error).__name__}: {error}")
            time.sleep(0.2)


# --- checking what was acknowledged ------------------------------------------------------------------------

def check_acknowledged(url, ledger: Ledger):
    from sqlalchemy import bindparam, create_engine, text
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    rows = {}
    with engine.connect() as conn:
        def present(sql, keys):
            if not keys:
                return set()
            statement = text(sql).bindparams(bindparam("keys", expanding=True))
            return set(conn.execute(statement, {"keys": list(keys)}).all())
        found = present("SELECT id, title FROM issue WHERE id IN :keys", ledger.issues)
        rows["issues reported (with a photo)"] = (len(ledger.issues), sum(
            1 for i, t in ledger.issues.items() if (i, t) in found and conn.scalar(
                text("SELECT COUNT(*) FROM issue_photo WHERE issue_id = :i"), {"i": i}) > 0))
        found = present("SELECT id, body FROM proposal_comment WHERE id IN :keys", ledger.comments)
        rows["comments"] = (len(ledger.comments), sum(1 for c, b in ledger.comments.items() if (c, b) in found))
        supports = set(conn.execute(text("SELECT issue_id, user_id FROM issue_support")).all())
        rows["supports"] = (len(ledger.supports), len(ledger.supports & supports))
        found = present("SELECT receipt FROM ballot_log_entry WHERE receipt IN :keys", ledger.receipts)
        rows["votes (receipts in the ballot log)"] = (len(ledger.receipts), len({r[0] for r in found}))
    engine.dispose()
    return rows


# --- the report ----------------------------------------------------------------------------------------------

def phase_of(outcome, marks):
    for name, (start, end) in marks.items():
        if start <= outcome.started < end:
            return name
    return None


def report(outcomes, marks, killed_port, kill_at, restart_ready, acknowledged, errors, args):
    ok = lambda o: 200 <= o.status < 400  # noqa: E731
    print(f"\nrequests: {len(outcomes)} through nginx, {args.users} people, {args.duration:.0f} s")
    by_kind = defaultdict(Counter)
    for o in outcomes:
        by_kind[o.kind]["all"] += 1
        by_kind[o.kind]["ok" if ok(o) else "failed"] += 1
    print(f"{'kind':<28}{'requests':>10}{'failed':>8}")
    for kind in sorted(by_kind):
        print(f"{kind:<28}{by_kind[kind]['all']:>10}{by_kind[kind]['failed']:>8}")

    failures = [o for o in outcomes if not ok(o)]
    in_flight = [o for o in failures
                 if o.started <= kill_at <= o.ended + 0.05 and (f":{killed_port}" in o.upstream or not o.upstream)]
    other = [o for o in failures if o not in in_flight]
    print(f"\nfailures: {len(failures)}")
    print(f"  in flight on the killed server at the kill: {len(in_flight)} "
          f"({', '.join(f'{k} {v}' for k, v in Counter(f'{o.method} {o.status}' for o in in_flight).items()) or '-'})")
    print(f"  GET requests that failed: {sum(1 for o in failures if o.method == 'GET')} (nginx retries a GET "
          "on the other server unless the killed one had begun to answer it)")
    print(f"  any other failure: {len(other)}"
          + (f" — {dict(Counter(f'{o.kind} {o.status} {o.upstream}' for o in other))}" if other else ""))
    if errors:
        print(f"  bench errors (not server failures): {len(errors)}, e.g. {errors[:3]}")

    print("\nacknowledged writes found in the database afterwards:")
    for name, (acked, present) in acknowledged.items():
        print(f"  {name:<36}{present:>6} of {acked:<6}{'ok' if present == acked else 'MISSING'}")

    print("\nthroughput (all requests, successful ones per second):")
    for name, (start, end) in marks.items():
        done = [o for o in outcomes if start <= o.ended < end and ok(o)]
        seconds = max(end - start, 1e-9)
        lat = sorted(o.ended - o.started for o in done)
        p95 = lat[int(0.95 * (len(lat) - 1))] * 1000 if lat else float("nan")
        print(f"  {name:<34}{len(done) / seconds:>8.1f} req/s   p50 {lat[len(lat) // 2] * 1000 if lat else 0:>6.0f} ms"
              f"   p95 {p95:>6.0f} ms   ({seconds:.1f} s)")
    print(f"  the killed server answered /healthz again {restart_ready:.1f} s after it was started again")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/bench_ops",
                        help="a THROWAWAY PostgreSQL database: its schema is dropped (default bench_ops)")
    parser.add_argument("--reuse", action="store_true", help="keep the database when it already holds the demo")
    parser.add_argument("--duration", type=float, default=45.0, help="seconds of load (default 45)")
    parser.add_argument("--users", type=int, default=10, help="simultaneous people (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("two servers share one database: PostgreSQL only")
    if args.database_url.rstrip("/").rsplit("/", 1)[-1] in ("test", "yishi", "portal"):
        parser.error("refusing to drop what looks like a shared or real database")

    folder = Path(tempfile.mkdtemp(prefix="yishi-scale-"))
    (folder / "uploads").mkdir()
    (folder / "setup").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("FLASK_", "GUNICORN_"))}
    env.update(DATABASE_URL=args.database_url, SECRET_KEY=secrets.token_hex(32), UPLOAD_DIR=str(folder / "uploads"),
               PORTAL_INSTANCE_DIR=str(folder / "setup"), PROXY_HOPS="1", REQUEST_LOG="1",
               PORTAL_BASE_URL="http://127.0.0.1", PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    env.pop("REDIS_URL", None)
    env.pop("METRICS_TOKEN", None)
    servers, proxy = [], None
    try:
        ensure_nginx()
        rebuild_database(args.database_url, env, args.reuse)
        scene = read_scene(args.database_url)
        servers = [AppServer(name, free_port(), env, args.workers, folder) for name in ("app1", "app2")]
        for server in servers:
            server.start()
        for server in servers:
            wait_until_up(server.port)
        proxy = Nginx(free_port(), [s.port for s in servers], static_folder(env), folder)
        proxy.start()
        wait_until_up(proxy.port)
        print(f"servers: nginx 127.0.0.1:{proxy.port} → gunicorn {', '.join(f'127.0.0.1:{s.port}' for s in servers)}"
              f" ({args.workers} workers each); uploads shared in {folder / 'uploads'}")

        people = [("official", scene.official, None)]
        for i in range(args.users - 1):
            if i % 3 == 2 and scene.voters:
                login, user_id = scene.voters[(i // 3) % len(scene.voters)]
                people.append(("owner", login, user_id))
            else:
                login, user_id = scene.residents[i % len(scene.residents)]
                people.append(("resident", login, user_id))
        roles = Counter(role for role, _l, _u in people)
        print(f"people: {dict(roles)}; scene: community {scene.slug}, {len(scene.issue_ids)} open issues, "
              f"consultation {scene.consultation_id}, owners' ballot {scene.ballot_id}")

        ledger, outcomes, errors = Ledger(), [], []
        photo = a_photo(args.seed)
        ready = threading.Barrier(len(people) + 1)
        stop = {"at": float("inf")}
        threads = [threading.Thread(target=person_loop, daemon=True,
                                    args=(role, login, user_id, proxy.port, scene, ledger, outcomes, stop,
                                          args.seed + n, photo, ready, errors))
                   for n, (role, login, user_id) in enumerate(people)]
        # Each person signs in, then waits at the barrier; the clock starts when all have.
        for thread in threads:
            thread.start()
        stop["at"] = time.monotonic() + 120 + args.duration  # a bound even if the barrier were never met
        ready.wait(timeout=120)
        t0 = time.monotonic()
        stop["at"] = t0 + args.duration + 120  # set again once the killed server is back
        third = args.duration / 3
        time.sleep(third)
        kill_at = time.monotonic()
        servers[0].kill()
        print(f"t={kill_at - t0:5.1f} s  SIGKILL {servers[0].name} (master and workers)")
        time.sleep(max(0.0, t0 + 2 * third - time.monotonic()))
        restart_at = time.monotonic()
        servers[0].start()
        restart_ready = wait_until_up(servers[0].port)
        back_at = time.monotonic()
        stop["at"] = back_at + third  # the last third runs once the restarted server answers
        print(f"t={restart_at - t0:5.1f} s  {servers[0].name} started again; answering at t={back_at - t0:.1f} s")
        for thread in threads:
            thread.join(timeout=args.duration + 60)
        end = time.monotonic()
        marks = {"two servers": (t0, kill_at), "one server (the other killed)": (kill_at, restart_at),
                 "two servers again (after restart)": (back_at, end)}
        acknowledged = check_acknowledged(args.database_url, ledger)
        report(outcomes, marks, servers[0].port, kill_at, restart_ready, acknowledged, errors, args)
    finally:
        if proxy:
            proxy.stop()
        for server in servers:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")


if __name__ == "__main__":
    main()
