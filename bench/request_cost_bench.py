"""What every page pays around its own content: CPU time of one request alone, per page and per role.

    .venv/bin/python bench/request_cost_bench.py                       # pages_bench's kept data (bench_bench)
    .venv/bin/python bench/request_cost_bench.py --requests 50 --profile 'issue list'

Reads the data pages_bench.py keeps (`--keep`, then its state file in $TMPDIR) and writes only a signed-in
session row per role. For home, the community page, the issue list, the proposal list, the calendar, the
notification centre, an issue page, the consultation with the most comments and the actions tracker, signed
in as a resident, a committee member and a sub-district official, it prints the median CPU ms of
`--requests` requests through the Flask test client (after one warm-up request) and the SQL statements
each sent; with `--calls`, the Python function calls of a request instead of CPU ms (a count that a busy,
shared machine does not disturb). `--profile WORDS` runs cProfile over the pages whose label holds one of
the words and prints the functions with the most cumulative time."""
import argparse
import cProfile
import json
import pstats
import statistics
import time

import _common  # noqa: F401  (sys.path, a throwaway instance folder)
from _common import StatementCounter
from pages_bench import DEFAULT_URL, state_file

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db

PAGES = ("home", "community page", "issue list", "proposal list", "calendar", "notification centre",
         "issue page", "consultation", "tracker")


def personas(state):
    """role -> (login, community slug): each in a community they belong to."""
    return {"resident": (state["issues"]["resident"], state["issues"]["slug"]),
            "member": (committee_member_login(state["proposals"]["community_id"]), state["proposals"]["slug"]),
            "official": (state["dashboard"]["official"], state["dashboard"]["tracker"])}


def committee_member_login(community_id):
    from portal.auth.models import User
    from portal.committees.models import COMMITTEE_KINDS, Organization, OrgMembership
    return db.session.scalar(db.select(User.email).join(OrgMembership, OrgMembership.user_id == User.id)
                             .join(Organization).where(Organization.community_id == community_id,
                                                       Organization.kind.in_(COMMITTEE_KINDS)).limit(1))


def signed_in_client(app, login):
    """A test client whose session names the person, as after signing in: without the sign-in request and its
    audit entry; the only write to the kept data is the signed-in session's row the user loader asks for."""
    from portal.auth.models import User
    from portal.auth.services import open_session
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == login))
        open_session(user)
        db.session.commit()
        session_id = user.get_id()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True
    return client


def paths(slug, state):
    """The role's own community's pages, then the same issue page, consultation and tracker for every role."""
    issues, proposals, dashboard = state["issues"], state["proposals"], state["dashboard"]
    return {"home": "/", "community page": f"/c/{slug}", "issue list": f"/c/{slug}/issues",
            "proposal list": f"/c/{slug}/proposals", "calendar": f"/c/{slug}/calendar",
            "notification centre": "/notifications/",
            "issue page": f"/c/{issues['slug']}/issues/{issues['issue_ids'][0]}",
            "consultation": f"/c/{proposals['slug']}/proposals/{proposals['consultation']}",
            "tracker": f"/c/{dashboard['tracker']}/actions"}


def measure(client, counter, path, n, calls=False):
    """(median CPU ms, fewest and most statements); with `calls`, the Python function calls of one request
    (cProfile's count) instead of CPU ms: the same on a busy machine as on a quiet one."""
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code}")
    cpu, statements = [], []
    for _ in range(n):
        counter.count = 0
        if calls:
            profiler = cProfile.Profile()
            profiler.enable()
            client.get(path)
            profiler.disable()
            cpu.append(pstats.Stats(profiler).total_calls)
        else:
            start = time.process_time()
            client.get(path)
            cpu.append((time.process_time() - start) * 1000)
        statements.append(counter.count)
    return statistics.median(cpu), min(statements), max(statements)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", help="comma-separated words: cProfile the pages whose label has one")
    parser.add_argument("--top", type=int, default=40, help="functions printed per profile")
    parser.add_argument("--sort", default="cumulative", help="pstats order of a profile: cumulative, tottime, …")
    parser.add_argument("--calls", action="store_true",
                        help="count Python function calls per request instead of CPU ms (for a busy machine)")
    args = parser.parse_args(argv)
    state = json.loads(state_file(args.database_url).read_text())
    app = create_app(TestConfig(args.database_url))
    with app.app_context():
        counter = StatementCounter(db.engine)
        people = personas(state)
    words = [w.strip().lower() for w in (args.profile or "").split(",") if w.strip()]
    print(f"{'page':<22}" + "".join(f"{role:>22}" for role in people))
    unit = "calls" if args.calls else "CPU ms"
    print(f"{'':<22}" + "".join(f"{unit + '  statements':>22}" for _ in people))
    rows = {label: [] for label in PAGES}
    profiles = []
    for role, (login, slug) in people.items():
        client = signed_in_client(app, login)
        for label, path in paths(slug, state).items():
            rows[label].append(measure(client, counter, path, args.requests, args.calls))
            if words and any(w in label for w in words):
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.requests):
                    client.get(path)
                profiler.disable()
                profiles.append((f"{label} as {role}", profiler))
    for label, cells in rows.items():
        digits = 0 if args.calls else 2
        print(f"{label:<22}" + "".join(f"{cpu:>12.{digits}f}{(f'{lo}' if lo == hi else f'{lo}-{hi}'):>10}"
                                       for cpu, lo, hi in cells))
    for title, profiler in profiles:
        print(f"\n--- {title}: {args.requests} requests")
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
