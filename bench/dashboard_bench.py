"""Dashboard figures at sub-district scale: 20 communities, 200,000 issues over 3 years, 20,000 actions.

Times portal.dashboard.services.summary (everything the dashboard page shows) directly — from the rollups
and, interleaved, straight from the issues as before them — and its parts, then the real page
`/dashboard` through the Flask test client signed in as an official of the sub-district (the default
12-month view, and one community), with the statements per call or request.

    .venv/bin/python bench/dashboard_bench.py [--database-url postgresql://…/throwaway] [--issues 200000]
"""
import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta

import _common
from _common import (
    PASSWORD,
    Database,
    add_database_arguments,
    analyze,
    bulk,
    percentile,
    statement_range,
    time_pages,
    views_built,
)

from portal.actions.models import Action, Chase
from portal.auth.models import User
from portal.auth.services import hash_password
from portal.committees.models import Organization, OrgMembership
from portal.dashboard import services as S
from portal.dashboard.rollups import rebuild_rollups
from portal.extensions import db
from portal.issues.models import Issue, IssueCategory
from portal.places.models import Building, Community, Estate, SubDistrict

UTC = UTC
OFFICIAL_LOGIN = "official@bench.test"


def build(args, now):
    rng = random.Random(8)
    sd = SubDistrict(name="Bench", slug="bench")
    db.session.add(sd)
    db.session.flush()
    user = User(email="bench@example.org", display_name="Bench", password_hash="x", consented_at=now)
    db.session.add(user)
    dept = Organization(kind="department", name="Dept", sub_district_id=sd.id)
    db.session.add(dept)
    # The official who opens the page: a current member of the sub-district office.
    office = Organization(kind="subdistrict_office", name="Bench office", sub_district_id=sd.id)
    official = User(email=OFFICIAL_LOGIN, display_name="Official", password_hash=hash_password(PASSWORD),
                    consented_at=now, created_at=now, password_changed_at=now)
    db.session.add_all([office, official])
    db.session.flush()
    db.session.add(OrgMembership(user_id=official.id, organization_id=office.id, title="member",
                                 start_date=(now - timedelta(days=30)).date()))
    comms, cats, builds, orgs = [], {}, {}, {}
    for k in range(20):
        c = Community(sub_district_id=sd.id, name=f"Community {k:02d}", slug=f"bench-{k}")
        db.session.add(c)
        db.session.flush()
        comms.append(c)
        pc = Organization(kind="property_company", name=f"PC {k}", community_id=c.id)
        db.session.add(pc)
        cats[c.id] = [IssueCategory(community_id=c.id, code=f"cat{j}", name=f"Category {j}", respond_hours=24,
                                    resolve_hours=168) for j in range(10)]
        # One estate for the 30 buildings (left to the default, each building added by community_id would
        # create its own: the estates of the session are not flushed yet).
        estate = Estate(community_id=c.id, name=c.name)
        builds[c.id] = [Building(community_id=c.id, estate=estate, code=str(j), name=f"Building {j}")
                        for j in range(30)]
        db.session.add_all(cats[c.id] + builds[c.id])
        db.session.flush()
        orgs[c.id] = [pc.id, dept.id]
    db.session.flush()
    start = now - timedelta(days=3 * 365)
    span = int((now - start).total_seconds())
    rows = []
    for _ in range(args.issues):
        c = rng.choice(comms)
        sub = start + timedelta(seconds=rng.randrange(span))
        fr = sub + timedelta(hours=rng.uniform(0.5, 40)) if rng.random() < 0.9 else None
        done = fr and rng.random() < 0.8
        rated = done and rng.random() < 0.6
        rows.append(dict(community_id=c.id, category_id=rng.choice(cats[c.id]).id, title="t", description="",
                         building_id=rng.choice(builds[c.id]).id, reporter_id=user.id, source="portal",
                         show_name=False, status=("closed" if done else "in_progress"),
                         handling_org_id=rng.choice(orgs[c.id]), submitted_at=sub,
                         respond_by=sub + timedelta(hours=24), resolve_by=sub + timedelta(hours=168),
                         first_response_at=fr,
                         resolved_at=(fr + timedelta(hours=rng.uniform(1, 200)) if done else None),
                         rated_at=(now if rated else None), rating_resolved=(rng.random() < 0.8 if rated else None),
                         rating_satisfaction=(rng.choice(S.SATISFIED + ("dissatisfied",)) if rated else None),
                         respond_warned=0, resolve_warned=0, reopen_count=0, support_count=0))
    bulk(Issue, rows)
    rows = []
    for _ in range(args.actions):
        c = rng.choice(comms)
        rows.append(dict(community_id=c.id, title="a", description="", source="issue",
                         responsible_org_id=rng.choice(orgs[c.id]),
                         due_date=(now + timedelta(days=rng.randint(-300, 100))).date(),
                         status=rng.choice(["planned", "in_progress", "done"]), progress=0,
                         progress_set_by_hand=False, created_by_id=user.id, created_at=now - timedelta(days=400)))
    bulk(Action, rows)
    rows = [dict(item_type="issue", item_id=1, community_id=rng.choice(comms).id, organization_id=dept.id,
                 official_id=user.id, note="n", new_due=now, created_at=now - timedelta(days=rng.randint(0, 900)))
            for _ in range(2000)]
    bulk(Chase, rows)
    db.session.commit()
    return sd


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    add_database_arguments(parser)
    parser.add_argument("--issues", type=int, default=200_000)
    parser.add_argument("--actions", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--slowest", action="store_true", help="print the statements of each page's slowest request")
    args = parser.parse_args()
    database = Database(parser, args)
    now = datetime.now(UTC)
    with database.app.app_context():
        database.recreate()
        t = time.perf_counter()
        sd = build(args, now)
        print(f"built in {time.perf_counter() - t:.0f} s")
        # The issues went in through bulk INSERTs, past the session events that keep the rollups.
        t = time.perf_counter()
        counted = rebuild_rollups()
        db.session.commit()
        print(f"rollups rebuilt from {counted} issues in {time.perf_counter() - t:.1f} s")
        analyze()
        month_to = date(now.year, now.month, 1)
        f = S.Filters(sub_district=sd, month_from=S.add_months(month_to, -11), month_to=month_to)
        counter = _common.StatementCounter(db.engine)

        def timed(fn):
            db.session.expire_all()
            before = counter.count
            t = time.perf_counter()
            fn()
            return (time.perf_counter() - t) * 1000, counter.count - before

        # Each figure from the rollups and straight from the issues (the reference the tests hold the
        # rollups to; summary "direct" is the dashboard as it was before the rollups), interleaved so that
        # both see the same machine load.
        # The figures are looked up in the modules that call them (overview imports medians and hotspots).
        from portal.dashboard.services import overview, rates
        direct = (rates._cube_direct, S.medians_direct, S.hotspots_direct, S.removed_by_appeal_count_direct,
                  S.work_orders_on_time_direct)
        kept = (rates._cube, overview.medians, overview.hotspots, overview.removed_by_appeal_count,
                overview.work_orders_on_time)

        def swap(found):
            (rates._cube, overview.medians, overview.hotspots, overview.removed_by_appeal_count,
             overview.work_orders_on_time) = found

        def summary_direct():
            swap(direct)
            try:
                S.summary(f, now=now)
            finally:
                swap(kept)
        parts = {"summary(), rollups": lambda: S.summary(f, now=now),
                 "summary(), direct (before)": summary_direct,
                 "three_rates(), rollups + live late part": lambda: S.three_rates(f, now=now),
                 "three_rates_direct()": lambda: S.three_rates_direct(f, now=now),
                 "medians(), IssueDuration (percentile_cont on PG)": lambda: S.medians(f),
                 "medians_direct()": lambda: S.medians_direct(f),
                 "hotspots(), IssueBuildingRollup": lambda: S.hotspots(f, f.month_to),
                 "hotspots_direct()": lambda: S.hotspots_direct(f, f.month_to),
                 "appeals + work orders, IssueRollup": lambda: (S.removed_by_appeal_count(f),
                                                                S.work_orders_on_time(f)),
                 "appeals + work orders, direct": lambda: (S.removed_by_appeal_count_direct(f),
                                                           S.work_orders_on_time_direct(f))}
        found = {label: ([], []) for label in parts}
        for _ in range(args.requests):
            for label, fn in parts.items():
                ms, n = timed(fn)
                found[label][0].append(ms)
                found[label][1].append(n)
        print(f"{'12 months, 20 communities (' + str(args.requests) + ' calls)':<48} {'median ms':>9} {'p95 ms':>7} "
              f"{'SQL':>5}")
        for label, (times, statements) in found.items():
            print(f"{label:<48} {percentile(times, 50):>9.1f} {percentile(times, 95):>7.1f} "
                  f"{statement_range(statements):>5}")
        assert S.three_rates(f, now=now) == S.three_rates_direct(f, now=now), "rollups differ from the issues"
        assert S.medians(f) == S.medians_direct(f), "durations differ from the issues"
        assert S.hotspots(f, f.month_to) == S.hotspots_direct(f, f.month_to), "building rollups differ"
        assert S.removed_by_appeal_count(f) == S.removed_by_appeal_count_direct(f), "appeal counts differ"
        assert S.work_orders_on_time(f) == S.work_orders_on_time_direct(f), "work-order counts differ"
        sd_id = sd.id
        one = db.session.scalar(db.select(Community.slug).where(Community.sub_district_id == sd_id)
                                .order_by(Community.name).limit(1))
        db.session.remove()

    if views_built(database.app, "dashboard.index"):
        pages = {"dashboard, 12 months, 20 communities": lambda: f"/dashboard?sub_district={sd_id}",
                 f"dashboard, 12 months, community {one}": lambda: f"/dashboard?sub_district={sd_id}&community={one}"}
        results = time_pages(database.app, pages, OFFICIAL_LOGIN, args.requests, slowest=args.slowest)
        print()
        print(f"{'page (' + str(args.requests) + ' requests)':<48} {'median ms':>9} {'p95 ms':>7} {'CPU med':>8} "
              f"{'CPU p95':>8} {'SQL/req':>8} {'KB':>6}")
        for label, (wall, cpu, stmts, size) in results.items():
            print(f"{label:<48} {percentile(wall, 50):>9.1f} {percentile(wall, 95):>7.1f} "
                  f"{percentile(cpu, 50):>8.1f} {percentile(cpu, 95):>8.1f} {statement_range(stmts):>8} "
                  f"{size / 1024:>6.1f}")
    else:
        print("dashboard view not built yet: skipping the page timings")
    database.finish()


if __name__ == "__main__":
    main()
