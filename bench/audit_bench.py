"""The audit log page at depth: 200,000 entries (an admin and 2,000 accounts, actions of every kind, details
with Chinese text, objects some of which have a page). Times GET /admin/audit/ on its first page, a page
reached by following "Older" 100 times deep (keyset: `before=<id>`), and the same depth by the old offset
paging (`LIMIT 50 OFFSET 5000`, with the total count the old pager ran), with the statements per request.

    .venv/bin/python bench/audit_bench.py [--database-url postgresql://…/throwaway] [--entries 200000]
"""
import argparse
import random
import time

import _common
from _common import PASSWORD, Database, analyze, bulk, percentile, statement_range, time_pages

from portal.extensions import db


def build(n_entries, rng):
    from portal.audit.labels import ACTION_LABELS
    from portal.audit.models import AuditEntry
    from portal.auth.models import User
    from portal.auth.services import hash_password
    from portal.clock import utcnow
    from tests.factories import gen_community, gen_organization
    now = utcnow()
    admin = User(display_name="Bench admin", email="admin@bench.test", password_hash=hash_password(PASSWORD),
                 consented_at=now, is_admin=True)
    db.session.add(admin)
    community = gen_community(name="花家地社区", slug="bench-audit")
    orgs = [gen_organization(community=community, name=f"组织 {n}") for n in range(20)]
    db.session.flush()
    bulk(User, [{"display_name": f"居民 {n}", "email": f"r{n}@bench.test", "password_hash": "x",
                 "consented_at": now, "created_at": now, "password_changed_at": now} for n in range(2000)])
    user_ids = list(db.session.scalars(db.select(User.id)))
    codes = sorted(ACTION_LABELS)
    rows = []
    for n in range(n_entries):
        code = rng.choice(codes)
        org = rng.random() < 0.2
        rows.append({"actor_id": rng.choice(user_ids), "action": code,
                     "object_type": "organization" if org else "user",
                     "object_id": rng.choice(orgs).id if org else rng.choice(user_ids),
                     "details": {"reason": "楼道灯坏了，已报修", "n": n, "personal": n % 2 == 0},
                     "created_at": now})
    bulk(AuditEntry, rows)
    db.session.commit()
    return admin


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_database_arguments(parser)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    database = Database(parser, args)
    rng = random.Random(16)
    with database.app.app_context():
        database.recreate()
        start = time.perf_counter()
        build(args.entries, rng)
        analyze()
        print(f"built {args.entries} entries in {time.perf_counter() - start:.1f} s")
        from portal.audit.models import AuditEntry
        newest = db.session.scalar(db.select(db.func.max(AuditEntry.id)))
    deep = newest - 100 * 50 + 1  # where following "Older" 100 times lands
    pages = {"first page": lambda: "/admin/audit/",
             "100 pages deep (keyset)": lambda: f"/admin/audit/?before={deep}",
             "first page, filtered by action": lambda: "/admin/audit/?action=issue."}
    results = time_pages(database.app, pages, "admin@bench.test", args.requests)
    print(f"\n{'page':36} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8} {'SQL':>5} {'KB':>6}")
    for label, (times, cpu, statements, size) in results.items():
        print(f"{label:36} {percentile(times, 50):10.1f} {percentile(times, 95):8.1f} "
              f"{percentile(cpu, 50):8.1f} {statement_range(statements):>5} {size / 1024:6.1f}")
    # The old pager at the same depth, for comparison: a count of every match and an offset.
    with database.app.app_context():
        from portal.audit.models import AuditEntry
        times = []
        for _ in range(args.requests):
            start = time.perf_counter()
            db.session.scalar(db.select(db.func.count()).select_from(AuditEntry))
            db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(50).offset(5000)).all()
            times.append((time.perf_counter() - start) * 1000)
            db.session.rollback()
        print(f"{'old offset paging, same depth (SQL only)':36} {percentile(times, 50):10.1f} "
              f"{percentile(times, 95):8.1f}")
    database.finish()


if __name__ == "__main__":
    main()
