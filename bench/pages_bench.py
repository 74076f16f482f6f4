"""The pages residents and officials open daily, at city scale, under load, beside a trivial "ceiling" app.

Run by hand, never by the test suite (see bench/README.md):

    .venv/bin/python bench/pages_bench.py --scale 0.02              # a quick look (a minute or two to build)
    .venv/bin/python bench/pages_bench.py --keep                    # full size on bench_bench, data kept
    .venv/bin/python bench/pages_bench.py --reuse --keep            # measure again on the kept data

It DROPS AND RECREATES every table of the PostgreSQL database it is given (default bench_bench), then builds,
with the builders of the other bench scripts: an owners' ballot of 300,000 units (~285,000 voters) with
1,000,000 log entries (open) and a second one on the same register (closed); 100,000 issues in one community;
20,000 proposals and a consultation with 1,000 comments; 200,000 issues across 20 communities for the dashboard
(1,000 actions in each community's tracker); and notices, meetings and notifications of its own. It then serves
the portal with gunicorn -w 4 (wsgi:app) and bench/ceiling.py with gunicorn -w 4, and for each page runs
`wrk -t2 -c16` on the ceiling and on the page back to back, in interleaved rounds, printing req/s, the share
of the ceiling's req/s, p50/p95/p99, SQL statements per request (through the Flask test client), the
bytes sent with and without `Accept-Encoding: gzip, br`, and (on Linux) the CPU time per request of the
portal's workers and of PostgreSQL during the page's runs. Two reference rows close the table: the privacy
notice for a visitor and for someone signed in, what every page costs before its own work."""
import argparse
import inspect
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import _common  # noqa: F401  (first: puts the project on sys.path, sets a throwaway instance folder)
from _common import ROOT, Database, Gunicorn, StatementCounter, analyze, http_get, sign_in, sign_in_http
from sqlalchemy import inspect as inspect_database
from sqlalchemy import text

from portal.extensions import db

BENCH = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/bench_bench"
SECRET_KEY = "pages-bench-fixed-secret-key-not-for-production"

# Full sizes (issue #15); --scale multiplies them.
SIZES = {"units": 300_000, "log": 1_000_000, "closed_log": 250_000, "issues": 100_000, "issue_supports": 200_000,
         "users": 2_000, "proposals": 20_000, "proposal_supports": 120_000, "comments": 1_000, "likes": 8_000,
         "dashboard_issues": 200_000, "dashboard_actions": 20_000}
FLOORS = {"users": 100, "comments": 100, "units": 2_000, "log": 3_000, "closed_log": 1_000}

# Stored derived data other parts of issue #15 add; their rebuild functions are looked up by name at run time,
# so this script runs before and after they land. (module, candidate names, what to call them with)
DERIVED = [
    ("ballot running totals", ("portal.votes.totals", "portal.votes.services"),
     ("rebuild_running_totals", "rebuild_totals", "recount_running_totals"), "ballot"),
    ("issues' next deadline", ("portal.issues.deadlines", "portal.issues.services"),
     ("rebuild_next_deadlines", "rebuild_next_deadline", "refresh_next_deadlines", "backfill_next_deadline",
      "backfill_next_deadlines"), "community"),
    ("dashboard rollups", ("portal.dashboard.rollups", "portal.dashboard.services"),
     ("rebuild_rollups", "rebuild_rollup"), "community"),
]

WRK_SCRIPT = """
local paths = {%(paths)s}
local n = 0
request = function()
  n = n %% #paths + 1
  return wrk.format(nil, paths[n])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def sizes(scale):
    return {k: max(FLOORS.get(k, 1), round(v * scale)) for k, v in SIZES.items()}


def state_file(url):
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return Path(tempfile.gettempdir()) / f"yishi-pages-bench-{name}.json"


# --- building -----------------------------------------------------------------------------------------------

def rename(community_slug, new_slug, new_sd_slug, email_domain=None):
    """The builders all name their community "bench": give each its own slug (and its users their own e-mail
    domain) before the next builder runs."""
    from portal.places.models import Community, SubDistrict
    community = db.session.scalar(db.select(Community).where(Community.slug == community_slug))
    community.slug = new_slug
    db.session.get(SubDistrict, community.sub_district_id).slug = new_sd_slug
    if email_domain:
        db.session.execute(text("UPDATE \"user\" SET email = replace(email, '@bench.test', :d) "
                                "WHERE email LIKE 'resident%@bench.test'"), {"d": f"@{email_domain}"})
    db.session.commit()
    return community


def build_ballots(n, rng, now):
    """votes_bench's register (explicit ids: it goes first, on empty tables), an open owners' ballot with
    n["log"] log entries, and a closed one on the same register (n["closed_log"] entries, voting 24–9 days
    ago, closed at `now` by apply_due)."""
    import votes_bench

    from portal.proposals.models import Proposal
    from portal.votes import services
    from portal.votes.models import Ballot

    counter = StatementCounter(db.engine)
    loader = votes_bench.Loader()
    t = time.perf_counter()
    community, committee, proposal, counts = votes_bench.build_register(n["units"], rng, loader)
    analyze()
    print(f"  register in {time.perf_counter() - t:.0f} s: {counts['units']:,} units, {counts['owners']:,} owners")
    published = now - timedelta(days=90)
    second = Proposal(community_id=community.id, author_id=committee[1], title="是否同意续聘现物业服务企业",
                      summary="现物业服务合同即将到期，征求全体业主意见。", body="", body_html="",
                      category="maintenance_fund", status="deliberation", support_threshold=10,
                      support_deadline=published + timedelta(days=30), created_at=published, updated_at=published,
                      published_at=published, deliberation_at=published + timedelta(days=3))
    db.session.add(second)
    db.session.commit()

    t = time.perf_counter()
    ballot, _ = votes_bench.open_ballot(committee[0], proposal, now, counter)
    counts = votes_bench.load_log(ballot, n["log"], now, rng, loader)[0]  # (counts, hashing s, …)
    open_id = ballot.id
    print(f"  open ballot in {time.perf_counter() - t:.0f} s: {counts['voters']:,} voters, "
          f"{counts['log entries']:,} log entries")

    t = time.perf_counter()
    earlier = now - timedelta(days=23)  # announced 39 days ago, open 24 to 9 days ago
    closed, _ = votes_bench.open_ballot(committee[0], second, earlier, counter)
    counts = votes_bench.load_log(closed, n["closed_log"], now - timedelta(days=10), rng, loader)[0]
    closed_id = closed.id
    db.session.expire_all()
    services.apply_due(db.session.get(Ballot, closed_id), now=now)
    db.session.commit()
    closed = db.session.get(Ballot, closed_id)
    assert closed.status == "closed", closed.status
    print(f"  closed ballot in {time.perf_counter() - t:.0f} s: {counts['voters']:,} voters, "
          f"{counts['log entries']:,} log entries, {closed.result}")

    owner = votes_bench.pick_casters(db.session.get(Ballot, open_id), 1, rng)[0][0]
    meetings(community, committee[0], now, rng)
    community = rename("bench", "ballots", "ballots-sd")
    return {"slug": community.slug, "community_id": community.id, "open": open_id, "closed": closed_id,
            "owner": f"owner{owner}@bench.test"}


def meetings(community, creator_id, now, rng):
    """40 meetings of the community's committees over the next 90 days (the calendar's events)."""
    from portal.committees.models import Meeting, Organization
    orgs = list(db.session.scalars(db.select(Organization.id).where(Organization.community_id == community.id)))
    for k in range(40):
        starts = now + timedelta(days=rng.uniform(0, 89), hours=rng.randint(0, 10))
        db.session.add(Meeting(organization_id=rng.choice(orgs), community_id=community.id,
                               title=f"第{k + 1}次业主大会筹备会议", starts_at=starts, ends_at=starts + timedelta(hours=2),  # noqa: E501
                               place="社区活动中心二楼", is_public=k % 4 != 0, status="scheduled",
                               created_by_id=creator_id, created_at=now - timedelta(days=3)))
    db.session.commit()


def community_with_residents_beside(n_users, now):
    """_common.community_with_residents for tables that already hold other communities: the same rows, but
    its residents and households are only those it inserts (the original takes every user and household in
    the tables, right only on empty ones, as the other benches have them). Put in place of the original in
    issues_bench and proposals_bench while they build (see `beside`)."""
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
    last_user = db.session.scalar(db.select(db.func.max(User.id))) or 0
    last_household = db.session.scalar(db.select(db.func.max(Household.id))) or 0
    password_hash = hash_password(_common.PASSWORD)
    _common.bulk(User, [{"display_name": f"Resident {n}", "email": f"resident{n}@bench.test",
                         "password_hash": password_hash, "consented_at": now, "created_at": now,
                         "password_changed_at": now} for n in range(n_users)])
    user_ids = list(db.session.scalars(db.select(User.id).where(User.id > last_user).order_by(User.id)))
    _common.bulk(Household, [{"building_id": buildings[n % len(buildings)].id, "entrance": "1", "room": f"{n:04d}",
                              "area_m2": 88} for n in range(n_users)])
    household_ids = list(db.session.scalars(db.select(Household.id).where(Household.id > last_household)
                                            .order_by(Household.id)))
    _common.bulk(Residency, [{"user_id": u, "community_id": community.id, "household_id": h, "status": "verified",
                              "claimed_at": now, "decided_at": now} for u, h in zip(user_ids, household_ids)])
    return community, buildings, user_ids


class beside:
    """`with beside(module):` the module's community_with_residents is community_with_residents_beside."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.original = self.module.community_with_residents
        self.module.community_with_residents = community_with_residents_beside

    def __exit__(self, *exc):
        self.module.community_with_residents = self.original


def build_issues(n, rng, now):
    import issues_bench

    from portal.auth.models import User
    from portal.issues.models import Issue
    with beside(issues_bench):
        community, resident_id, n_issues, n_supports = issues_bench.build(n["issues"], n["issue_supports"],
                                                                          n["users"], rng)
    resident = db.session.get(User, resident_id)
    notifications(resident, community, now, rng)
    community = rename("bench", "issues", "issues-sd", "issues.bench.test")
    ids = list(db.session.scalars(db.select(Issue.id).where(Issue.community_id == community.id)))
    print(f"  {n_issues:,} issues, {n_supports:,} supports")
    return {"slug": community.slug, "community_id": community.id, "issue_ids": rng.sample(ids, min(50, len(ids))),
            "resident": db.session.get(User, resident_id).email}


def notifications(resident, community, now, rng, count=300):
    """`count` notifications about the resident's own issues over the last 60 days, two thirds read."""
    from portal.issues.models import Issue
    from portal.notifications.models import Notification
    issues = db.session.execute(db.select(Issue.id, Issue.title).where(Issue.community_id == community.id)
                                .limit(count)).all()
    rows = []
    for k in range(count):
        issue_id, title = rng.choice(issues)
        event = rng.choice(["issue_accepted", "issue_in_progress", "issue_update", "issue_resolved"])
        at = now - timedelta(minutes=rng.randint(1, 60 * 24 * 60))
        rows.append({"recipient_id": resident.id, "event": event, "object_type": "issue", "object_id": issue_id,
                     "payload": {"title": title, "org": "Bench property company", "slug": "issues",
                                 "issue_id": issue_id},
                     "created_at": at, "read_at": at + timedelta(hours=3) if k % 3 else None,
                     "email_status": "sent", "emailed_at": at})
    _common.bulk(Notification, rows)
    db.session.commit()


def build_proposals(n, rng, now):
    import proposals_bench

    from portal.auth.models import User
    from portal.proposals.models import Proposal
    with beside(proposals_bench):
        community, resident_id, _member_id, big_id, proposal_ids, n_supports, n_likes = proposals_bench.build(
            n["proposals"], n["proposal_supports"], n["users"], n["comments"], n["likes"], rng)
    # The builder's list holds every proposal in the tables (the two ballots' too): sample this community's.
    proposal_ids = list(db.session.scalars(db.select(Proposal.id).where(Proposal.community_id == community.id)))
    n_notices = notices(community, now, rng)
    community = rename("bench", "proposals", "proposals-sd", "proposals.bench.test")
    print(f"  {len(proposal_ids):,} proposals, {n_supports:,} supports, {n['comments']:,} comments, "
          f"{n_likes:,} likes, {n_notices:,} notices")
    return {"slug": community.slug, "community_id": community.id, "consultation": big_id,
            "proposal_ids": rng.sample(proposal_ids, min(50, len(proposal_ids))),
            "resident": db.session.get(User, resident_id).email}


def notices(community, now, rng):
    """A notice for every decided proposal that has none yet (the builder may write some): open for those in
    their notice period, ended for the others."""
    from portal.notices.models import Notice
    from portal.proposals.models import Proposal
    rows = []
    for proposal_id, status, published in db.session.execute(
            db.select(Proposal.id, Proposal.status, Proposal.published_at).where(
                Proposal.community_id == community.id,
                Proposal.status.in_(["notice", "implementing", "evaluated", "decided"]),
                ~db.select(Notice.id).where(Notice.proposal_id == Proposal.id).exists())):
        is_open = status == "notice"
        starts = now - timedelta(days=rng.randint(1, 5)) if is_open else published + timedelta(days=40)
        ends = starts + timedelta(days=7)
        rows.append({"proposal_id": proposal_id, "community_id": community.id, "outcome": rng.choice(
            ["passed", "rejected"]), "statement": "经表决，同意票过半数，议题通过。", "how_to_object":
            "如有异议，请在公示期内向居委会书面提出。", "starts_at": starts, "ends_at": ends,
            "status": "open" if is_open else "ended", "ended_at": None if is_open else ends})
    _common.bulk(Notice, rows)
    db.session.commit()
    return len(rows)


def build_dashboard(n, now):
    import dashboard_bench

    from portal.places.models import Community
    sd = dashboard_bench.build(argparse.Namespace(issues=n["dashboard_issues"], actions=n["dashboard_actions"]), now)
    tracker = db.session.scalar(db.select(Community).where(Community.sub_district_id == sd.id)
                                .order_by(Community.name).limit(1))
    print(f"  {n['dashboard_issues']:,} issues and {n['dashboard_actions']:,} actions in 20 communities")
    return {"sub_district": sd.id, "tracker": tracker.slug, "tracker_id": tracker.id,
            "official": dashboard_bench.OFFICIAL_LOGIN}


def rebuild_derived(state):
    """Call the rebuild functions of the stored derived data, where they exist (see DERIVED)."""
    import importlib

    from portal.places.models import Community
    from portal.votes.models import Ballot
    objects = {"ballot": lambda: [db.session.get(Ballot, state["ballots"][k]) for k in ("open", "closed")],
               "community": lambda: list(db.session.scalars(db.select(Community).order_by(Community.id)))}
    for label, modules, names, kind in DERIVED:
        found = None
        for module_name in modules:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            found = next(((module_name, name, getattr(module, name)) for name in names
                          if callable(getattr(module, name, None))), None)
            if found:
                break
        if not found:
            print(f"  {label}: no rebuild function found (looked for {', '.join(names)}) — skipped")
            continue
        module_name, name, fn = found
        required = [p for p in inspect.signature(fn).parameters.values()
                    if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        t = time.perf_counter()
        if required:
            for obj in objects[kind]():
                fn(obj)
        else:
            fn()
        db.session.commit()
        print(f"  {label}: {module_name}.{name}({kind if required else ''}) in {time.perf_counter() - t:.1f} s")


def build(n, seed):
    from portal.clock import utcnow
    now = utcnow()
    rng = random.Random(seed)
    state = {}
    steps = [("ballots", lambda: build_ballots(n, rng, now)), ("issues", lambda: build_issues(n, rng, now)),
             ("proposals", lambda: build_proposals(n, rng, now)), ("dashboard", lambda: build_dashboard(n, now))]
    for name, step in steps:
        t = time.perf_counter()
        print(f"building {name}…", flush=True)
        state[name] = step()
        print(f"  {name} built in {time.perf_counter() - t:.0f} s", flush=True)
    print("derived data:")
    rebuild_derived(state)
    t = time.perf_counter()
    analyze()
    print(f"VACUUM ANALYZE in {time.perf_counter() - t:.0f} s")
    return state


# --- the pages ----------------------------------------------------------------------------------------------

def missing_columns() -> list[str]:
    """The models' columns the database lacks ("table.column"): kept data built before a model change."""
    found = inspect_database(db.engine)
    tables = set(found.get_table_names())
    return [f"{table.name}.{column.name}" for table in db.metadata.sorted_tables if table.name in tables
            for column in table.columns
            if column.name not in {c["name"] for c in found.get_columns(table.name)}]


def pages(state):
    """label -> (persona, [paths]); a page with several paths is requested round-robin."""
    i, p, b, d = state["issues"], state["proposals"], state["ballots"], state["dashboard"]
    return {
        "home": ("visitor", ["/"]),
        "community page": ("resident", [f"/c/{i['slug']}"]),
        "issue list, newest": ("resident", [f"/c/{i['slug']}/issues"]),
        "issue list, supported": ("resident", [f"/c/{i['slug']}/issues?sort=supported"]),
        "issue list, due": ("resident", [f"/c/{i['slug']}/issues?sort=due"]),
        "issue page": ("resident", [f"/c/{i['slug']}/issues/{k}" for k in i["issue_ids"]]),
        "proposal list": ("neighbour", [f"/c/{p['slug']}/proposals"]),
        "proposal page": ("neighbour", [f"/c/{p['slug']}/proposals/{k}" for k in p["proposal_ids"]]),
        "consultation, first page": ("neighbour", [f"/c/{p['slug']}/proposals/{p['consultation']}"]),
        "ballot page, open": ("owner", [f"/c/{b['slug']}/ballots/{b['open']}"]),
        "ballot page, closed": ("owner", [f"/c/{b['slug']}/ballots/{b['closed']}"]),
        "tracker": ("official", [f"/c/{d['tracker']}/actions"]),
        "notices": ("neighbour", [f"/c/{p['slug']}/notices"]),
        "calendar": ("owner", [f"/c/{b['slug']}/calendar"]),
        "notification centre": ("resident", ["/notifications/"]),
        "dashboard": ("official", [f"/dashboard?sub_district={d['sub_district']}"]),
        "Open311 requests.json": ("visitor", [f"/open311/v2/requests.json?jurisdiction_id={i['slug']}"]),
        # Not daily pages: the privacy notice reads nothing but the person, so it shows what any page costs
        # before its own work, for a visitor and for someone signed in (the user loader's statement, the
        # transaction around it, the signed-in header) — the most a page can reach.
        "floor, visitor (/privacy)": ("visitor", ["/privacy"]),
        "floor, signed in (/privacy)": ("resident", ["/privacy"]),
    }


def logins(state):
    return {"visitor": None, "resident": state["issues"]["resident"], "neighbour": state["proposals"]["resident"],
            "owner": state["ballots"]["owner"], "official": state["dashboard"]["official"]}


def measure_in_process(app, page_list, persona_logins, n_requests):
    """{label: (statements per request, median ms alone, status)} through the Flask test client, one client
    per persona, after a warm-up request. The JSON line each request logs is left out of the printout."""
    logging.getLogger("portal.request").disabled = True
    with app.app_context():
        counter = StatementCounter(db.engine)
    clients = {}
    results = {}
    for label, (persona, paths) in page_list.items():
        if persona not in clients:
            clients[persona] = app.test_client()
            if persona_logins[persona]:
                sign_in(clients[persona], persona_logins[persona])
        client = clients[persona]
        client.get(paths[0])
        statements, times, status = [], [], 200
        for k in range(n_requests):
            counter.count = 0
            start = time.perf_counter()
            response = client.get(paths[k % len(paths)])
            times.append((time.perf_counter() - start) * 1000)
            statements.append(counter.count)
            status = response.status_code if response.status_code != 200 else status
        results[label] = (statements, statistics.median(times), status)
    return results


def wrk(url, paths, cookie, seconds, threads, connections, script_dir):
    """One wrk run: {'rps', 'p50', 'p95', 'p99' (ms), 'requests', 'errors', 'non2xx'}."""
    script = Path(script_dir) / f"wrk-{abs(hash(tuple(paths)))}.lua"
    script.write_text(WRK_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in paths)})
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script),
               "-H", "Accept-Encoding: gzip, br"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK "))
    requests, duration_us, p50, p95, p99, errors, non2xx = map(int, line.split()[1:])
    return {"rps": requests / (duration_us / 1e6), "p50": p50 / 1000, "p95": p95 / 1000, "p99": p99 / 1000,
            "requests": requests, "errors": errors, "non2xx": non2xx}


def cpu_ticks(master_pid):
    """(CPU clock ticks of the gunicorn workers of `master_pid`, of every PostgreSQL process) so far, from
    /proc (Linux); None elsewhere."""
    if not os.path.isdir("/proc"):
        return None
    app = database = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:  # ended meanwhile
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        if int(fields[1]) == master_pid:
            app += ticks
        elif name.startswith("postgres"):
            database += ticks
    return app, database


def cpu_per_request(before, after, requests):
    """(app, PostgreSQL) CPU ms per request between two cpu_ticks() readings: where a page's cost goes under
    load (the ceiling has no database)."""
    if before is None or after is None or not requests:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return tuple((a - b) * 1000 / hz / requests for a, b in zip(after, before))


def sizes_sent(url, cookie):
    """(status, bytes sent with Accept-Encoding: gzip, br, its Content-Encoding, bytes sent without, and those
    gzipped here at level 6: what compression anywhere on the way would send)."""
    import gzip
    base = {"Cookie": cookie} if cookie else {}
    status, headers, body = http_get(url, {**base, "Accept-Encoding": "gzip, br"})
    _, _, plain = http_get(url, {**base, "Accept-Encoding": "identity"})
    return status, len(body), headers.get("Content-Encoding") or "-", len(plain), len(gzip.compress(plain, 6))


def ensure_wrk():
    if shutil.which("wrk"):
        return
    print("wrk is missing: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"a THROWAWAY PostgreSQL database (all its tables are dropped); default {DEFAULT_URL}")
    parser.add_argument("--keep", action="store_true", help="leave the data in place afterwards (for --reuse)")
    parser.add_argument("--reuse", action="store_true",
                        help="skip building: use the data an earlier run with --keep left, at the same --scale")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this (0.02: a quick run)")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (ceiling, page) per page")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers for each app")
    parser.add_argument("--warm-up", type=int, default=2, dest="warm_up",
                        help="seconds of wrk on each page before its rounds, not counted: every worker has then "
                             "served each of its addresses (a server that has run for a while has)")
    parser.add_argument("--requests", type=int, default=5, help="test-client requests per page for the SQL count")
    parser.add_argument("--only", help="comma-separated words: measure only the pages whose label contains one")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        parser.error("pages_bench serves the data with gunicorn: it needs PostgreSQL")
    ensure_wrk()

    database = Database(parser, args)
    app = database.app
    n = sizes(args.scale)
    saved = state_file(args.database_url)
    started = time.perf_counter()
    if args.reuse:
        if not saved.exists():
            parser.error(f"--reuse: no {saved} (run once with --keep first)")
        state = json.loads(saved.read_text())
        if state["scale"] != args.scale:
            parser.error(f"--reuse: the kept data is at scale {state['scale']}, not {args.scale}")
        with app.app_context():
            missing = missing_columns()
        if missing:
            parser.error("--reuse: the kept data predates a change of the models (no column "
                         + ", ".join(missing) + "): build it again without --reuse")
        print(f"reusing the data built {state['built_at']} at scale {state['scale']} ({saved})")
    else:
        saved.unlink(missing_ok=True)
        print("sizes: " + ", ".join(f"{k} {v:,}" for k, v in n.items()))
        with app.app_context():
            database.recreate()
            state = build(n, args.seed)
            db.session.remove()
        state["scale"] = args.scale
        state["built_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        state["build_seconds"] = round(time.perf_counter() - started)
        saved.write_text(json.dumps(state, indent=1))
        print(f"built in {state['build_seconds']} s")

    page_list = pages(state)
    if args.only:
        words = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        page_list = {k: v for k, v in page_list.items() if any(w in k.lower() for w in words)}
    persona_logins = logins(state)
    in_process = measure_in_process(app, page_list, persona_logins, args.requests)

    env = {"DATABASE_URL": args.database_url, "SECRET_KEY": SECRET_KEY, "PYTHONPATH": str(ROOT)}
    portal = ceiling = None
    script_dir = tempfile.mkdtemp(prefix="yishi-pages-bench-")
    rows = []
    try:
        port = _common.free_port()
        env["PORTAL_BASE_URL"] = f"http://127.0.0.1:{port}"
        # The request log stays on, as in production; it is written to a file rather than between the rows.
        log = Path(tempfile.gettempdir()) / "yishi-pages-bench-portal.log"
        portal = Gunicorn("wsgi:app", workers=args.workers, chdir=ROOT, env=env, probe="/healthz", port=port, log=log)
        ceiling = Gunicorn("ceiling:app", workers=args.workers, chdir=BENCH)
        print(f"\nportal {portal.url} (gunicorn -w {args.workers} wsgi:app), ceiling {ceiling.url} "
              f"(gunicorn -w {args.workers} ceiling:app); wrk -t{args.threads} -c{args.connections} "
              f"-d{args.seconds}s, {args.rounds} rounds per page after {args.warm_up} s of warm-up; the portal's log "
              f"in {log}\n", flush=True)
        cookies = {persona: sign_in_http(portal.url, login) if login else None
                   for persona, login in persona_logins.items()}
        for label, (persona, paths) in page_list.items():
            cookie = cookies[persona]
            status, sent, encoding, plain, gzipped = sizes_sent(portal.url + paths[0], cookie)
            load_before = os.getloadavg()[0]
            ceiling_runs, page_runs = [], []
            if status == 200:
                if args.warm_up > 0:
                    wrk(portal.url, paths, cookie, args.warm_up, args.threads, args.connections, script_dir)
                for _ in range(args.rounds):
                    ceiling_runs.append(wrk(ceiling.url, ["/"], None, args.seconds, args.threads, args.connections,
                                            script_dir))
                    before = cpu_ticks(portal.process.pid)
                    page_runs.append(wrk(portal.url, paths, cookie, args.seconds, args.threads, args.connections,
                                         script_dir))
                    page_runs[-1]["cpu"] = cpu_per_request(before, cpu_ticks(portal.process.pid),
                                                           page_runs[-1]["requests"])
            row = {"label": label, "as": persona, "status": status, "sent": sent, "encoding": encoding,
                   "plain": plain, "gzipped": gzipped, "load": (load_before, os.getloadavg()[0]),
                   "ceiling": ceiling_runs, "page": page_runs, "sql": in_process[label][0],
                   "alone": in_process[label][1]}
            rows.append(row)
            print_row(row, header=len(rows) == 1)
    finally:
        for server in (portal, ceiling):
            if server:
                server.stop()
        shutil.rmtree(script_dir, ignore_errors=True)

    print_summary(rows, args)
    if not args.keep:
        database.finish()
        saved.unlink(missing_ok=True)
    else:
        print(f"\nkept: {args.database_url} (measure again with --reuse --scale {args.scale}); state in {saved}")


HEADER = (f"{'page':<26} {'as':<9} {'req/s':>7} {'ceil':>7} {'ratio':>6} {'p50':>6} {'p95':>6} {'p99':>6} "
          f"{'SQL':>5} {'alone':>6} {'sent KB':>8} {'enc':>4} {'plain KB':>8} {'gz KB':>6} {'load':>9}")


def print_row(row, header=False):
    if header:
        print(HEADER)
        print(f"{'':<26} {'':<9} {'':>7} {'req/s':>7} {'%':>6} {'ms':>6} {'ms':>6} {'ms':>6} {'/req':>5} "
              f"{'ms':>6}")
    load = f"{row['load'][0]:.1f}→{row['load'][1]:.1f}"
    sql = min(row["sql"]), max(row["sql"])
    sql = f"{sql[0]}" if sql[0] == sql[1] else f"{sql[0]}-{sql[1]}"
    if not row["page"]:
        print(f"{row['label']:<26} {row['as']:<9} HTTP {row['status']}: not measured")
        return
    for k, (c, p) in enumerate(zip(row["ceiling"], row["page"])):
        errors = f"  ({p['errors']} errors, {p['non2xx']} non-2xx)" if p["errors"] or p["non2xx"] else ""
        fixed = (row["label"], row["as"], sql, f"{row['alone']:.1f}", f"{row['sent'] / 1024:.1f}", row["encoding"],
                 f"{row['plain'] / 1024:.1f}", f"{row['gzipped'] / 1024:.1f}", load) if k == 0 else ("",) * 9
        print(f"{fixed[0]:<26} {fixed[1]:<9} {p['rps']:>7.1f} {c['rps']:>7.0f} {100 * p['rps'] / c['rps']:>6.1f} "
              f"{p['p50']:>6.1f} {p['p95']:>6.1f} {p['p99']:>6.1f} {fixed[2]:>5} {fixed[3]:>6} {fixed[4]:>8} "
              f"{fixed[5]:>4} {fixed[6]:>8} {fixed[7]:>6} {fixed[8]:>9}{errors}", flush=True)


def print_summary(rows, args):
    """One line per page: the rounds' mean req/s and ratio, the worst round's p95."""
    measured = [r for r in rows if r["page"]]
    if not measured:
        return
    print(f"\nsummary over {args.rounds} rounds (ratio: the page's req/s ÷ the ceiling's in the same round; "
          f"targets of issue #15: ≥ 25 %, p95 ≤ 50 ms; dashboard ≥ 5 %)")
    print(f"{'page':<26} {'req/s':>7} {'ratio %':>8} {'p95 ms':>7} {'SQL':>5} {'sent KB':>8} "
          f"{'app CPU ms':>10} {'PG CPU ms':>9}")
    for r in measured:
        rps = statistics.mean(p["rps"] for p in r["page"])
        ratio = statistics.mean(100 * p["rps"] / c["rps"] for c, p in zip(r["ceiling"], r["page"]))
        cpu = [p["cpu"] for p in r["page"] if p.get("cpu")]
        split = (f"{statistics.mean(c[0] for c in cpu):>10.2f} {statistics.mean(c[1] for c in cpu):>9.2f}"
                 if cpu else f"{'—':>10} {'—':>9}")
        print(f"{r['label']:<26} {rps:>7.1f} {ratio:>8.1f} {max(p['p95'] for p in r['page']):>7.1f} "
              f"{max(r['sql']):>5} {r['sent'] / 1024:>8.1f} {split}")
    ceiling = [c["rps"] for r in measured for c in r["ceiling"]]
    print(f"ceiling: {statistics.mean(ceiling):.0f} req/s on average ({min(ceiling):.0f}–{max(ceiling):.0f}), "
          f"p95 {statistics.mean(c['p95'] for r in measured for c in r['ceiling']):.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
