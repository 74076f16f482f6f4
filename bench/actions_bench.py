"""The agreed-actions tracker of one community with 1,000 actions (issue #15).

Bulk-inserts one community (40 buildings, 200 verified residents), its residents' committee and property
company, a sub-district department, and `--actions` (1,000) top-level actions created over the last two years
in every state (40 % done, 30 % in progress, 20 % planned, 10 % blocked; about a quarter of those not done
are past their due date), `--steps` (300) sub-actions under 60 of them, 3–8 timeline entries per action
(created, started, progress reports with percentages, completion), a volunteer team among the responsible
organizations and `--volunteers` (3,000) residents' sign-ups on actions not done (a fifth of them withdrawn,
each action's volunteer_count set to its live ones); runs ANALYZE (VACUUM ANALYZE on
PostgreSQL); then requests each page `--requests` times through `app.test_client()` as a visitor:

- the tracker `GET /c/<slug>/actions` (first page with the overall figures), `?status=in_progress`,
  `?overdue=y`, page 20 reached by "Load more" (`?after=<cursor>`, the whole page) and the same with htmx
  (only the rows);
- an action page `GET /c/<slug>/actions/<id>` of an action with steps and updates, and of random ones.

Prints median and p95 wall time, median CPU time of this process, SQL statements per request, and the
page's size plain and gzip-compressed (what a compressing server sends).

    .venv/bin/python bench/actions_bench.py
    .venv/bin/python bench/actions_bench.py --database-url postgresql://postgres@127.0.0.1:5432/bench_tracker
    .venv/bin/python bench/actions_bench.py --serve 5077   # then keep serving the data for Lighthouse
"""
import argparse
import gzip
import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import _common  # noqa: F401  (first: puts the project on sys.path)
from _common import (
    Database,
    add_database_arguments,
    analyze,
    bulk,
    community_with_residents,
    percentile,
    statement_range,
    time_pages,
)

from portal.actions import services as actions
from portal.actions.models import Action, ActionUpdate, ActionVolunteer
from portal.committees.models import Organization
from portal.extensions import db

UTC = UTC
STATES = ["done"] * 4 + ["in_progress"] * 3 + ["planned"] * 2 + ["blocked"]
TITLES = ["更换{}号楼电梯钢丝绳", "修复{}号楼单元门禁", "{}号楼外墙防水维修", "Repaint the railings of building {}",
          "增设{}号楼电动自行车充电桩", "Fix the lights of the path behind building {}", "{}号楼楼道堆物清理"]


def build(args, now):
    rng = random.Random(15)
    community, buildings, user_ids = community_with_residents(200, now)
    rc = Organization(kind="residents_committee", name="Bench residents' committee", community_id=community.id)
    pc = Organization(kind="property_company", name="Bench property services", community_id=community.id)
    dept = Organization(kind="department", name="Housing department", sub_district_id=community.sub_district_id)
    team = Organization(kind="volunteer_team", name="Bench volunteer team", community_id=community.id)
    db.session.add_all([rc, pc, dept, team])
    db.session.flush()
    today = now.date()
    creator = user_ids[0]

    def action_row(n, parent_id=None, created=None):
        created = created or now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
        status = rng.choice(STATES)
        due = created.date() + timedelta(days=rng.randrange(14, 240))
        if status != "done":  # a quarter past due, the others due in the next months
            due = today - timedelta(days=rng.randrange(1, 60)) if rng.random() < 0.25 else \
                today + timedelta(days=rng.randrange(0, 120))
        progress = 100 if status == "done" else rng.randrange(0, 95, 5) if status != "planned" else 0
        return {"community_id": community.id, "parent_id": parent_id,
                "title": rng.choice(TITLES).format(rng.randrange(1, 41)), "description": "按照议事会决定落实。",
                "source": "hotspot", "hotspot_building_id": rng.choice(buildings).id, "hotspot_month": "2026-01",
                "responsible_org_id": rng.choice([rc.id, pc.id, pc.id, dept.id, team.id]), "owner_id": None,
                "due_date": due, "status": status, "progress": progress, "progress_set_by_hand": False,
                "blocked_reason": "等待街道审批" if status == "blocked" else None,
                "unblock_by": "街道" if status == "blocked" else None,
                "completion_note": "已完成并验收" if status == "done" else None, "created_by_id": creator,
                "created_at": created, "started_at": created + timedelta(days=1) if status != "planned" else None,
                "done_at": created + timedelta(days=10) if status == "done" else None,
                "evaluated_at": created + timedelta(days=24) if status == "done" else None}

    bulk(Action, [action_row(n) for n in range(args.actions)])
    top = list(db.session.execute(db.select(Action.id, Action.created_at, Action.status).order_by(Action.id)))
    parents = rng.sample([r for r in top if r.status != "done"], min(60, len(top)))
    steps = [action_row(n, parent_id=parents[n % len(parents)].id, created=parents[n % len(parents)].created_at)
             for n in range(args.steps)] if parents else []
    bulk(Action, steps)
    rows = list(db.session.execute(db.select(Action.id, Action.created_at, Action.status, Action.progress)))
    updates = []
    for action_id, created, status, progress in rows:
        updates.append({"action_id": action_id, "kind": "created", "author_id": creator, "body": "", "at": created,
                        "details": {}})
        if status == "planned":
            continue
        updates.append({"action_id": action_id, "kind": "started", "author_id": creator, "body": "",
                        "at": created + timedelta(days=1), "details": {}})
        for k in range(rng.randrange(1, 6)):
            updates.append({"action_id": action_id, "kind": "progress", "author_id": creator,
                            "body": f"第{k + 1}次进展：材料到场，施工中。", "percent": min(progress, 20 * (k + 1)),
                            "at": created + timedelta(days=2 + k), "details": {}})
        if status == "done":
            updates.append({"action_id": action_id, "kind": "done", "author_id": creator, "body": "已完成并验收",
                            "percent": 100, "at": created + timedelta(days=10), "details": {}})
    bulk(ActionUpdate, updates)
    open_ids = [r[0] for r in rows if r[2] != "done"]
    pairs = set()
    while open_ids and len(pairs) < min(args.volunteers, len(open_ids) * len(user_ids)):
        pairs.add((rng.choice(open_ids), rng.choice(user_ids)))
    signups = [{"action_id": a, "user_id": u, "show_name": rng.random() < 0.8,
                "signed_up_at": now - timedelta(days=rng.randrange(1, 60)),
                "withdrawn_at": now - timedelta(hours=rng.randrange(1, 24)) if rng.random() < 0.2 else None}
               for a, u in sorted(pairs)]
    bulk(ActionVolunteer, signups)
    live = {}
    for row in signups:
        if row["withdrawn_at"] is None:
            live[row["action_id"]] = live.get(row["action_id"], 0) + 1
    if live:
        db.session.execute(db.update(Action), [{"id": a, "volunteer_count": n} for a, n in live.items()])
    db.session.commit()
    return community, [p.id for p in parents], [r.id for r in top], len(updates)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_arguments(parser)
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--volunteers", type=int, default=3000, help="volunteer sign-ups on actions not done")
    parser.add_argument("--requests", type=int, default=40, help="requests per page timed")
    parser.add_argument("--serve", type=int, metavar="PORT",
                        help="afterwards serve the data on 127.0.0.1:PORT (Flask's server) until interrupted")
    args = parser.parse_args()
    database = Database(parser, args)
    app = database.app
    now = datetime.now(UTC)
    with app.app_context():
        database.recreate()
        started = time.perf_counter()
        community, parents, top, n_updates = build(args, now)
        analyze()
        slug = community.slug
        figures = actions.tracker_figures(community)
        cursor = None
        for _ in range(19):  # the cursor of page 20
            _page, cursor = actions.community_actions(community, after=cursor)
        print(f"built {args.actions} actions, {args.steps} steps, {n_updates} updates in "
              f"{time.perf_counter() - started:.1f} s; figures: {figures}")
    rng = random.Random(3)
    base = f"/c/{slug}/actions"
    pages = {
        "tracker, first page + overall figures": lambda: base,
        "tracker ?status=in_progress": lambda: f"{base}?status=in_progress",
        "tracker ?overdue=y": lambda: f"{base}?overdue=y",
        "tracker page 20 (?after=…, whole page)": lambda: f"{base}?after={cursor}",
        "action page with steps and updates": lambda: f"{base}/{parents[0]}",
        "random action page": lambda: f"{base}/{rng.choice(top)}",
    }
    results = time_pages(app, pages, None, args.requests)
    client = app.test_client()
    sizes = {label: _sizes(client.get(path()).data) for label, path in pages.items()}
    htmx = _htmx_rows(app, f"{base}?after={cursor}", args.requests)
    print(f"\n{'page':<42} {'median ms':>9} {'p95 ms':>7} {'CPU ms':>7} {'SQL':>5} {'KB':>6} {'gzip KB':>8}")
    for label, (times, cpu, statements, _size) in results.items():
        plain, packed = sizes[label]
        print(f"{label:<42} {statistics.median(times):>9.1f} {percentile(times, 95):>7.1f} "
              f"{statistics.median(cpu):>7.1f} {statement_range(statements):>5} {plain:>6.1f} {packed:>8.1f}")
    times, cpu, statements, data = htmx
    plain, packed = _sizes(data)
    print(f"{'tracker page 20 with htmx (rows only)':<42} {statistics.median(times):>9.1f} "
          f"{percentile(times, 95):>7.1f} {statistics.median(cpu):>7.1f} {statement_range(statements):>5} "
          f"{plain:>6.1f} {packed:>8.1f}")
    first = client.get(base).get_data(as_text=True)
    rows = len(re.findall(r'class="card issue-row', first))
    print(f"\nrows on the first page: {rows} of {args.actions} top-level actions")
    if args.serve:
        print(f"serving on http://127.0.0.1:{args.serve}{base} (Ctrl-C to stop)", flush=True)
        try:
            app.run(host="127.0.0.1", port=args.serve, threaded=True, use_reloader=False)
        except KeyboardInterrupt:
            pass
    database.finish()


def _sizes(data):
    return len(data) / 1024, len(gzip.compress(data, 6)) / 1024


def _htmx_rows(app, path, n):
    from _common import StatementCounter
    client = app.test_client()
    with app.app_context():
        counter = StatementCounter(db.engine)
    times, cpu, statements = [], [], []
    for _ in range(n):
        counter.count = 0
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, headers={"HX-Request": "true"})
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        statements.append(counter.count)
        assert response.status_code == 200 and b"<h1>" not in response.data
    return times, cpu, statements, response.data


if __name__ == "__main__":
    main()
