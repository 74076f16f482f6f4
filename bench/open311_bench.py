"""Open311 GeoReport v2 at community scale: 20,000 issues over a year, each with two timeline entries.

Times the public reads a 311 client makes (the default 90-day list of up to 1000 requests in JSON and XML,
one page of 100, a comma list of 50 ids, one request) and the hotline's POST requests.json, through the
Flask test client, with the statements per request.

    .venv/bin/python bench/open311_bench.py [--database-url postgresql://…/throwaway] [--issues 20000]
"""
import argparse
import random
import statistics
import time
from datetime import datetime, timedelta, timezone

import _common  # noqa: F401  (first: sets up the path and a throwaway instance folder)
from _common import (Database, StatementCounter, add_database_arguments, analyze, bulk, community_with_residents,
                     percentile, statement_range, time_pages)

from portal.auth.models import User
from portal.extensions import db
from portal.issues import services as issues
from portal.issues.models import Issue, IssueEvent
from portal.open311 import services as open311

UTC = timezone.utc


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--issues", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=10, help="requests per page timed")
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
    results = time_pages(app, pages, None, args.requests)
    print(f"\n{'request':<52} {'median ms':>10} {'p95 ms':>8} {'statements':>12} {'bytes':>10}")
    for label, (times, _cpu, statements, size) in results.items():
        print(f"{label:<52} {statistics.median(times):>10.1f} {percentile(times, 95):>8.1f} "
              f"{statement_range(statements):>12} {size:>10}")
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
          f"{percentile(times, 95):>8.1f} {statement_range(statements):>12}")
    database.finish()


if __name__ == "__main__":
    main()
