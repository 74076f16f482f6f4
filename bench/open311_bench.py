"""Open311 GeoReport v2 at community scale: 20,000 issues over a year, each with two timeline entries.

Times the public reads a 311 client makes (the default 90-day list of up to 1000 requests in JSON and XML,
one page of 100, a comma list of 50 ids, one request) and the hotline's POST requests.json, through the
Flask test client: wall and CPU time, statements per request, size plain and gzip-compressed. Each read is
timed rendered afresh (the kept answers forgotten before every request); the lists also as a polling client
gets them again (the answer kept while the data is unchanged) and as a conditional GET (304).

    .venv/bin/python bench/open311_bench.py [--database-url postgresql://…/throwaway] [--issues 20000]
"""
import argparse
import gzip
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import _common  # noqa: F401  (first: sets up the path and a throwaway instance folder)
from _common import (
    Database,
    StatementCounter,
    add_database_arguments,
    analyze,
    bulk,
    community_with_residents,
    percentile,
    statement_range,
)

from portal.auth.models import User
from portal.extensions import db

try:  # the answers kept per query (absent before issue #15: then every request renders)
    from portal.open311.answers import answers

    def forget_answers():
        answers().clear()
except ImportError:
    forget_answers = None
from portal.issues import services as issues
from portal.issues.models import Issue, IssueEvent
from portal.open311 import services as open311

UTC = UTC


def build(args, now):
    rng = random.Random(11)
    community, buildings, user_ids = community_with_residents(50, now)
    categories = issues.ensure_default_categories(community)
    admin = db.session.get(User, user_ids[0])
    admin.is_admin = True
    key, token = open311.create_key(admin, name="Bench hotline", communities=[community], rate_limit=10000)
    rows = []
    for n in range(args.issues):
        category = rng.choice(categories)
        submitted = now - timedelta(minutes=rng.randrange(365 * 24 * 60))
        status = rng.choice(["submitted", "accepted", "in_progress", "resolved", "closed", "rejected"])
        rows.append({"community_id": community.id, "category_id": category.id, "title": f"Bench issue {n}",
                     "description": "Something is broken near the gate.", "building_id": rng.choice(buildings).id,
                     "reporter_name": "Caller", "source": "hotline", "show_name": False, "status": status,
                     "handling_org_id": category.default_org_id, "submitted_at": submitted,
                     "respond_by": submitted + timedelta(hours=24), "resolve_by": submitted + timedelta(days=7),
                     "respond_warned": 0, "resolve_warned": 0, "reopen_count": 0, "support_count": 0})
    bulk(Issue, rows)
    ids = list(db.session.execute(db.select(Issue.id, Issue.submitted_at)))
    events = []
    for issue_id, submitted in ids:
        events.append({"issue_id": issue_id, "kind": "hotline", "is_public": True, "at": submitted, "details": {}})
        events.append({"issue_id": issue_id, "kind": "update", "is_public": True, "body": "On our way.",
                       "at": submitted + timedelta(hours=2), "details": {}})
    bulk(IssueEvent, events)
    db.session.commit()
    return community.slug, token, [i for i, _ in ids]


def _timed(app, path, n, *, forget=False, headers=None, status=200):
    """(wall ms, CPU ms, statements) of n GETs and the last response; `forget`: no kept answer is reused."""
    client = app.test_client()
    with app.app_context():
        counter = StatementCounter(db.engine)
    client.get(path(), headers=headers)  # warm: templates, translations, the kept answer
    times, cpu, statements = [], [], []
    for _ in range(n):
        if forget and forget_answers is not None:
            with app.app_context():
                forget_answers()
        counter.count = 0
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(path(), headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        statements.append(counter.count)
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    return times, cpu, statements, response


def _row(label, times, cpu, statements, response):
    size = len(response.data)
    print(f"{label:<52} {statistics.median(times):>10.1f} {percentile(times, 95):>8.1f} "
          f"{statistics.median(cpu):>7.1f} {statement_range(statements):>11} {size / 1024:>7.1f} "
          f"{len(gzip.compress(response.data, 6)) / 1024:>8.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--issues", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=20, help="requests per page timed")
    args = parser.parse_args()
    database = Database(parser, args)
    app = database.app
    now = datetime.now(UTC)
    with app.app_context():
        database.recreate()
        started = time.perf_counter()
        slug, token, issue_ids = build(args, now)
        analyze()
        print(f"built {args.issues} issues in {time.perf_counter() - started:.1f} s")
    rng = random.Random(3)
    base = "/open311/v2/requests"
    pages = {
        "GET requests.json (last 90 days, up to 1000)": lambda: f"{base}.json?jurisdiction_id={slug}",
        "GET requests.xml (last 90 days, up to 1000)": lambda: f"{base}.xml?jurisdiction_id={slug}",
        "GET requests.json page_size=100 status=open": lambda: f"{base}.json?jurisdiction_id={slug}"
                                                             "&status=open&page_size=100&page=2",
        "GET requests.json service_request_id=50 ids": lambda: f"{base}.json?jurisdiction_id={slug}&service_request_id="
                                                              + ",".join(map(str, rng.sample(issue_ids, 50))),
        "GET requests/<id>.json": lambda: f"{base}/{rng.choice(issue_ids)}.json?jurisdiction_id={slug}",
    }
    print(f"\n{'request':<52} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'statements':>11} {'KB':>7} "
          f"{'gzip KB':>8}")
    # Each list rendered afresh (the kept answers forgotten before every request), then as a client polling
    # the same query gets it (the answer kept, the data unchanged), then a conditional GET with its ETag.
    for label, path in pages.items():
        times, cpu, statements, response = _timed(app, path, args.requests, forget=True)
        _row(label, times, cpu, statements, response)
    if forget_answers is not None:
        for label in list(pages)[:3]:
            times, cpu, statements, response = _timed(app, pages[label], args.requests)
            _row(label.replace("GET ", "again: ", 1), times, cpu, statements, response)
        for label in list(pages)[:2]:
            etag = app.test_client().get(pages[label]()).headers["ETag"]
            times, cpu, statements, response = _timed(app, pages[label], args.requests, headers={"If-None-Match": etag},
                                                      status=304)
            _row(label.replace("GET ", "304: ", 1), times, cpu, statements, response)
    client = app.test_client()
    with app.app_context():
        counter = StatementCounter(db.engine)
    times, statements = [], []
    for n in range(args.requests * 5):
        counter.count = 0
        start = time.perf_counter()
        response = client.post(f"{base}.json", data={"api_key": token, "jurisdiction_id": slug, "service_code": "lift",
                                                     "address_id": "1", "description": f"Lift stuck {n}",
                                                     "phone": "13800138000"})
        times.append((time.perf_counter() - start) * 1000)
        statements.append(counter.count)
        assert response.status_code == 201, response.get_data(as_text=True)
    print(f"{'POST requests.json (creates an issue)':<52} {statistics.median(times):>10.1f} "
          f"{percentile(times, 95):>8.1f} {'—':>7} {statement_range(statements):>11}")
    database.finish()


if __name__ == "__main__":
    main()
