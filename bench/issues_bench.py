"""Timing the issues area at the size of a large community: 20,000 issues (100,000 with --issues 100000) over
two years, a fifth of them still open, and 200,000 supports.

Run by hand, never by the test suite (see bench/README.md):

    .venv/bin/python bench/issues_bench.py                      # a throwaway SQLite file
    .venv/bin/python bench/issues_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test_b

It DROPS AND RECREATES every table of the database it is given, fills it with bulk inserts, then measures
(a) "similar open issues" for realistic Chinese and English titles and (b) the server time, CPU time and
SQL statement count of the issue list (each order, and filtered) and detail pages, signed in as a
resident."""
import argparse
import random
import statistics
import time
from datetime import timedelta

from _common import (
    Database,
    add_database_arguments,
    analyze,
    bulk,
    chunks,
    community_with_residents,
    pareto_counts,
    percentile,
    statement_range,
    time_pages,
    views_built,
)
from sqlalchemy import text

from portal.extensions import db

CLOSED_STATES = ("resolved", "closed", "closed", "closed", "rejected", "duplicate")

ZH_THINGS = ["电梯", "楼道灯", "水管", "暖气", "垃圾桶", "车位", "门禁", "绿化带", "下水道", "路灯", "健身器材",
             "消防通道", "单元门", "窨井盖", "监控", "充电桩", "外墙", "屋顶", "自行车棚", "快递柜"]
ZH_PROBLEMS = ["坏了", "又坏了", "漏水", "不亮", "没人清运", "被占用", "太吵", "堵了", "不热", "脱落",
               "有异味", "松动", "停用好几天了", "一直没人修", "存在安全隐患", "需要维修"]
ZH_PLACES = ["{b}号楼", "{b}号楼{u}单元", "小区东门", "小区南门", "地下车库", "{b}号楼前", ""]
EN_THINGS = ["lift", "stairwell light", "water pipe", "heating", "rubbish bin", "parking space", "entry gate",
             "street light", "drain", "bicycle shed", "charging point", "roof", "front door", "playground"]
EN_PROBLEMS = ["is broken", "is broken again", "is leaking", "does not work", "not collected for days",
               "is blocked", "is too noisy", "has been out for a week", "needs repair", "is dangerous"]
EN_PLACES = ["in building {b}", "at the east gate", "near unit {u} of building {b}", "in the car park", ""]


def title(rng: random.Random) -> str:
    b, u = rng.randint(1, 40), rng.randint(1, 6)
    if rng.random() < 0.7:
        place = rng.choice(ZH_PLACES).format(b=b, u=u)
        return f"{place}{rng.choice(ZH_THINGS)}{rng.choice(ZH_PROBLEMS)}"
    place = rng.choice(EN_PLACES).format(b=b, u=u)
    return " ".join(filter(None, [f"The {rng.choice(EN_THINGS)}", place, rng.choice(EN_PROBLEMS)]))


def build(n_issues, n_supports, n_users, rng):
    """One community, its buildings and residents, and the issues: bulk inserts, no ORM objects per row."""
    from portal.clock import utcnow
    from portal.committees.models import Organization
    from portal.issues import services as issues_services
    from portal.issues import similar
    from portal.issues.models import (
        DEADLINE_CLASSES,
        OPEN_STATES,
        Issue,
        IssueCategory,
        IssueEvent,
        IssueSupport,
    )

    now = utcnow()
    community, buildings, user_ids = community_with_residents(n_users, now)
    org = Organization(kind="property_company", community=community, name="Bench property company")
    db.session.add(org)
    db.session.flush()
    categories = []
    for code, deadline_class in [("lift", "emergency"), ("water", "utilities"), ("heating", "utilities"),
                                 ("rubbish", "ordinary"), ("parking", "ordinary"), ("facilities", "complex")]:
        respond, resolve = DEADLINE_CLASSES[deadline_class]
        categories.append(IssueCategory(community=community, code=code, name=code.title(),
                                        deadline_class=deadline_class, respond_hours=respond,
                                        resolve_hours=resolve, default_org=org))
    db.session.add_all(categories)
    db.session.flush()

    issues = []
    for _ in range(n_issues):
        category = rng.choice(categories)
        submitted = now - timedelta(minutes=rng.randint(10, 60 * 24 * 730))
        respond_by = submitted + timedelta(hours=category.respond_hours)
        resolve_by = submitted + timedelta(hours=category.resolve_hours)
        # Recent issues are mostly open; after a month nearly all are done (a fifth open overall).
        recent = now - submitted < timedelta(days=30)
        status = rng.choice(OPEN_STATES) if rng.random() < (0.8 if recent else 0.18) else rng.choice(CLOSED_STATES)
        responded = None if status == "submitted" else submitted + timedelta(hours=1)
        done_at = submitted + timedelta(days=rng.randint(1, 10)) if status not in OPEN_STATES else None
        issues.append({
            "community_id": community.id, "category_id": category.id, "title": title(rng), "description": "",
            "building_id": rng.choice(buildings).id, "reporter_id": rng.choice(user_ids), "source": "portal",
            "status": status, "first_response_at": responded,
            "handling_org_id": org.id, "submitted_at": submitted,
            "respond_by": respond_by, "resolve_by": resolve_by,
            "resolved_at": done_at if status in ("resolved", "closed") else None,
            "closed_at": done_at if status == "closed" else None,
            # As if run-due had already warned about every deadline that has passed.
            "respond_warned": 2 if respond_by < now else 0, "resolve_warned": 2 if resolve_by < now else 0,
            "support_count": 0,
        })
    bulk(Issue, issues)
    # Bulk inserts bypass the ORM hook that keeps the stored next deadline: one UPDATE fills it.
    issues_services.rebuild_next_deadlines([community.id])
    rows = db.session.execute(db.select(Issue.id, Issue.title, Issue.reporter_id, Issue.submitted_at,
                                        Issue.status).order_by(Issue.id)).all()
    bulk(IssueEvent, [{"issue_id": r.id, "kind": "reported", "actor_id": r.reporter_id, "is_public": True,
                       "at": r.submitted_at, "details": {}} for r in rows])
    similar.rebuild_index(community.id)  # the weighted words of the open issues, and their counts

    # Supports: a few issues gather many, most a handful (a Pareto tail), scaled to n_supports in all.
    counts = pareto_counts(rng, len(rows), n_supports, len(user_ids))
    supports = []
    for r, k in zip(rows, counts):
        supports.extend({"issue_id": r.id, "user_id": u, "created_at": now} for u in rng.sample(user_ids, k))
    bulk(IssueSupport, supports)
    for part in chunks([{"i": r.id, "n": k} for r, k in zip(rows, counts) if k]):
        db.session.execute(text("UPDATE issue SET support_count = :n WHERE id = :i"), part)
    db.session.commit()
    return community, user_ids[0], len(rows), len(supports)


def time_similar(community, n_queries, rng):
    from portal.issues import similar
    times, found = [], []
    for _ in range(n_queries):
        text_ = title(rng)
        start = time.perf_counter()
        result = similar.similar_open_issues(community, text_)
        times.append((time.perf_counter() - start) * 1000)
        found.append(len(result))
        db.session.rollback()
    return times, found


def issue_pages(community_slug, issue_ids, building_id, rng):
    base = f"/c/{community_slug}/issues"
    return {
        "GET /c/<slug>/issues": lambda: base,
        "GET /c/<slug>/issues?sort=supported": lambda: f"{base}?sort=supported",
        "GET /c/<slug>/issues?sort=due": lambda: f"{base}?sort=due",
        "GET …?status=open&building=<b>&sort=due": lambda: f"{base}?status=open&building={building_id}&sort=due",
        "GET …?overdue=y&sort=due": lambda: f"{base}?overdue=y&sort=due",
        "GET /c/<slug>/issues/<id>": lambda: f"{base}/{rng.choice(issue_ids)}",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--supports", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)

    database = Database(parser, args)
    app = database.app
    rng = random.Random(args.seed)
    with app.app_context():
        database.recreate()
        start = time.perf_counter()
        community, resident_id, n_issues, n_supports = build(args.issues, args.supports, args.users, rng)
        analyze()
        print(f"built {n_issues:,} issues, {n_supports:,} supports, {args.users:,} residents "
              f"in {time.perf_counter() - start:.1f} s")
        from portal.auth.models import User
        from portal.issues.models import Issue
        resident_email = db.session.get(User, resident_id).email
        issue_ids = list(db.session.scalars(db.select(Issue.id)))
        building_id = db.session.scalar(db.select(Issue.building_id).order_by(Issue.id).limit(1))
        slug = community.slug

        rows = []
        times, found = time_similar(community, args.queries, rng)
        rows.append((f"similar_open_issues ({args.queries} titles)", times, None, None))
        print(f"similar: {statistics.mean(found):.1f} issues found per title on average, "
              f"{sum(1 for n in found if n == 0)} titles found none")
        db.session.remove()

    if views_built(app, "issues.index", "issues.detail"):
        results = time_pages(app, issue_pages(slug, issue_ids, building_id, rng), resident_email, args.requests)
        for label, (times, cpu, statements, _size) in results.items():
            rows.append((f"{label} ({args.requests} requests)", times, statements, cpu))
    else:
        print("views not built yet: skipping the page timings")

    print()
    print(f"{'measure':<62} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'SQL/request':>12}")
    for label, times, statements, cpu in rows:
        sql = "" if statements is None else statement_range(statements)
        cpu = "" if cpu is None else f"{statistics.median(cpu):.1f}"
        print(f"{label:<62} {statistics.median(times):>10.1f} {percentile(times, 95):>8.1f} {cpu:>7} {sql:>12}")
    database.finish()


if __name__ == "__main__":
    main()
