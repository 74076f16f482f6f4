"""Timing the proposals area at the size of a large community: 5,000 proposals and one with 1,000 comments.

Run by hand, never by the test suite (see bench/README.md):

    .venv/bin/python bench/proposals_bench.py                      # a throwaway SQLite file
    .venv/bin/python bench/proposals_bench.py --database-url postgresql://postgres@127.0.0.1:5432/test_d

It DROPS AND RECREATES every table of the database it is given, fills it with bulk inserts, then measures
the server time and SQL statement count of the proposal list (first page, a filtered page, a search, a deep
page), the page of the proposal with 1,000 comments (oldest first and most liked first), a random proposal
page and the Atom feed, signed in as a resident. The anchor: Decidim's proposal list took over 7 s at 900
proposals; these pages should take tens of milliseconds."""
import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
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

ZH_WHAT = ["加装电梯", "增设充电桩", "改造自行车棚", "更换楼道灯", "增加健身器材", "修缮外墙", "整治地下车库",
           "增设快递柜", "改造绿化带", "增加监控", "设置垃圾分类亭", "修建儿童游乐区", "维修屋顶防水",
           "增设无障碍坡道", "规范停车秩序", "建立议事公约", "开设老年食堂", "组织周末集市"]
ZH_WHERE = ["{b}号楼", "小区东门", "小区南门", "中心花园", "地下车库", "{b}号楼{u}单元", "全小区"]
ZH_WHY = ["老人上下楼困难，希望尽快解决。", "现在很不方便，居民意见很大。", "存在安全隐患，建议大家一起商量。",
          "费用可以申请维修基金，请大家支持。", "已经和物业沟通过，需要业主同意。"]
EN_WHAT = ["Add a lift", "Install charging points", "Rebuild the bicycle shed", "Replace the stairwell lights",
           "Add exercise equipment", "Repair the outer wall", "Tidy the underground car park",
           "Add parcel lockers", "Replant the green belt", "Add a ramp for wheelchairs", "Open a seniors' canteen"]
EN_WHERE = ["in building {b}", "at the east gate", "in the central garden", "for the whole community", ""]
EN_WHY = ["Older neighbours struggle with the stairs.", "It has been unsafe for months.",
          "The maintenance fund could pay for most of it.", "The property company agreed to help if we vote."]

BODY = """## 背景 Background

{why}

## 建议 What we propose

1. 向街道申请补贴 Apply for the sub-district subsidy
2. 按楼层分摊剩余费用 Share the rest by floor
3. 请物业出具施工方案 Ask the property company for a plan

> 参考：[民政部关于加装电梯的指引](https://www.mca.gov.cn/)

| 项目 Item | 费用 Cost |
|---|--:|
| 设备 Equipment | 450,000 |
| 施工 Works | 150,000 |
"""

# Mixed states as a community two years in would have them (no drafts: they are never listed).
STATE_MIX = [("collecting", 30), ("deliberation", 15), ("voting", 5), ("decided", 10), ("notice", 3),
             ("implementing", 7), ("evaluated", 5), ("withdrawn", 8), ("archived", 17)]
CATEGORY_FOR = {"电梯": "lift", "lift": "lift", "充电桩": "parking", "charging": "parking", "车库": "parking",
                "停车": "parking", "car park": "parking", "绿化": "environment", "green": "environment",
                "监控": "safety", "坡道": "facilities", "ramp": "facilities", "公约": "rules", "集市": "activities",
                "食堂": "activities", "canteen": "activities", "外墙": "maintenance_fund", "wall": "maintenance_fund"}


def proposal_text(rng: random.Random) -> tuple[str, str, str]:
    b, u = rng.randint(1, 40), rng.randint(1, 6)
    if rng.random() < 0.7:
        title = f"{rng.choice(ZH_WHERE).format(b=b, u=u)}{rng.choice(ZH_WHAT)}"
        why = rng.choice(ZH_WHY)
    else:
        title = " ".join(filter(None, [rng.choice(EN_WHAT), rng.choice(EN_WHERE).format(b=b, u=u)]))
        why = rng.choice(EN_WHY)
    category = next((c for word, c in CATEGORY_FOR.items() if word in title), "facilities")
    return title[:120], f"{title}。{why}"[:500], category


def chunks(rows, size=CHUNK):
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def bulk(model, rows):
    for part in chunks(rows):
        db.session.execute(insert(model), part)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


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


def build(n_proposals, n_supports, n_users, n_comments, n_likes, rng):
    """One community, its residents and committee, the proposals and the big discussion: bulk inserts."""
    from portal.auth.models import User
    from portal.auth.services import hash_password
    from portal.clock import utcnow
    from portal.committees.models import OrgMembership, Organization
    from portal.issues import similar
    from portal.markup import render_markdown
    from portal.places.models import Building, Community, Household, Residency, SubDistrict
    from portal.proposals.models import (STANCES, Comment, CommentLike, Proposal, ProposalEvent, ProposalSupport,
                                         ProposalTerm, ProposalVersion)

    now = utcnow()
    sd = SubDistrict(name="Bench sub-district", slug="bench-sd")
    community = Community(sub_district=sd, name="Bench community", slug="bench")
    db.session.add_all([sd, community])
    db.session.flush()
    committee = Organization(kind="residents_committee", community=community, name="Bench residents' committee")
    db.session.add(committee)
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
    member_id = user_ids[-1]
    db.session.add(OrgMembership(user_id=member_id, organization=committee, title="member",
                              start_date=(now - timedelta(days=800)).date()))

    states = [s for s, weight in STATE_MIX for _ in range(weight)]
    body_cache = {}
    proposals = []
    for n in range(n_proposals):
        title, summary, category = proposal_text(rng)
        status = rng.choice(states)
        published = now - timedelta(minutes=rng.randint(60, 60 * 24 * 730))
        why = summary.split("。", 1)[-1]
        if why not in body_cache:
            body = BODY.format(why=why)
            body_cache[why] = (body, render_markdown(body))
        body, body_html = body_cache[why]
        deadline = published + timedelta(days=30)
        if status == "collecting":  # still open: published within the window
            published = now - timedelta(minutes=rng.randint(60, 60 * 24 * 29))
            deadline = published + timedelta(days=30)
        ended = status in ("withdrawn", "archived")
        proposals.append({
            "community_id": community.id, "author_id": rng.choice(user_ids), "title": title, "summary": summary,
            "body": body, "body_html": body_html, "category": category, "whole_community": True, "version": 1,
            "status": status, "outcome": rng.choice(["passed", "rejected"]) if status == "decided" else None,
            "withdrawn_reason": "no_longer_needed" if status == "withdrawn" else None,
            "support_threshold": 10, "support_deadline": deadline, "support_count": 0, "comment_count": 0,
            "created_at": published - timedelta(hours=2), "updated_at": published, "published_at": published,
            "deliberation_at": published + timedelta(days=5) if status not in ("collecting", "withdrawn",
                                                                                "archived") else None,
            "ended_at": deadline if ended else None,
        })
    bulk(Proposal, proposals)
    rows = db.session.execute(db.select(Proposal.id, Proposal.title, Proposal.summary, Proposal.body,
                                        Proposal.category, Proposal.author_id, Proposal.published_at,
                                        Proposal.status).order_by(Proposal.id)).all()
    bulk(ProposalEvent, [{"proposal_id": r.id, "kind": "published", "from_state": "draft", "to_state": "collecting",
                          "actor_id": r.author_id, "at": r.published_at, "details": {}} for r in rows])
    bulk(ProposalVersion, [{"proposal_id": r.id, "version": 1, "title": r.title, "summary": r.summary,
                            "body": r.body, "category": r.category, "building_ids": [], "edited_by_id": r.author_id,
                            "edited_at": r.published_at} for r in rows])
    bulk(ProposalTerm, [{"proposal_id": r.id, "community_id": community.id, "term": term}
                        for r in rows for term in sorted(similar.terms(r.title) | similar.terms(r.summary))])

    counts = pareto_counts(rng, len(rows), n_supports, len(user_ids))
    supports = []
    for r, k in zip(rows, counts):
        supports.extend({"proposal_id": r.id, "user_id": u, "created_at": r.published_at}
                        for u in rng.sample(user_ids, k))
    bulk(ProposalSupport, supports)
    for part in chunks([{"i": r.id, "n": k} for r, k in zip(rows, counts) if k]):
        db.session.execute(text("UPDATE proposal SET support_count = :n WHERE id = :i"), part)

    # The big discussion: the newest proposal in consultation, 70 % top-level comments, 30 % replies.
    big = db.session.get(Proposal, max(r.id for r in rows if r.status == "deliberation"))
    start = big.published_at + timedelta(days=5)
    n_top = round(n_comments * 0.7)

    def comment_row(n, parent_id=None):
        return {"proposal_id": big.id, "parent_id": parent_id, "author_id": rng.choice(user_ids),
                "stance": rng.choice(STANCES), "body": f"第{n}条意见：{rng.choice(ZH_WHY)} {rng.choice(EN_WHY)}",
                "created_at": start + timedelta(minutes=n), "like_count": 0,
                "deleted_at": start + timedelta(minutes=n + 5) if rng.random() < 0.02 else None}
    bulk(Comment, [comment_row(n) for n in range(n_top)])
    top_ids = list(db.session.scalars(db.select(Comment.id).where(Comment.proposal_id == big.id)
                                      .order_by(Comment.id)))
    bulk(Comment, [comment_row(n_top + n, rng.choice(top_ids[: max(1, len(top_ids) // 2)]))
                   for n in range(n_comments - n_top)])
    comment_ids = list(db.session.scalars(db.select(Comment.id).where(Comment.proposal_id == big.id)))
    like_counts = pareto_counts(rng, len(comment_ids), n_likes, len(user_ids))
    bulk(CommentLike, [{"comment_id": c, "user_id": u, "created_at": now}
                       for c, k in zip(comment_ids, like_counts) for u in rng.sample(user_ids, k)])
    for part in chunks([{"i": c, "n": k} for c, k in zip(comment_ids, like_counts) if k]):
        db.session.execute(text("UPDATE proposal_comment SET like_count = :n WHERE id = :i"), part)
    big.comment_count = n_comments
    db.session.commit()
    return community, user_ids[0], member_id, big.id, [r.id for r in rows], len(supports), sum(like_counts)


def analyze():
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


class StatementCounter:
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


def deep_cursor(community, viewer, pages):
    """The cursor of the list's page `pages + 1`, as "load more" would reach it."""
    from portal.proposals import services
    cursor = None
    for _ in range(pages):
        _, cursor = services.community_proposals(community, viewer, after=cursor)
    return cursor


def time_pages(app, pages, login, n_requests, slowest):
    # Requests run outside any app context of ours, each in its own, as in production.
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


def views_built(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    return {"proposals.index", "proposals.detail", "proposals.feed"} <= endpoints


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a THROWAWAY database (all its tables are dropped); "
                                               "default: a temporary SQLite file")
    parser.add_argument("--proposals", type=int, default=5_000)
    parser.add_argument("--supports", type=int, default=60_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--comments", type=int, default=1_000)
    parser.add_argument("--likes", type=int, default=8_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--as", dest="viewer", choices=["resident", "member", "visitor"], default="resident")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--show-sql", action="store_true", help="print the statements of each page's slowest request")
    parser.add_argument("--keep", action="store_true", help="leave the data in place afterwards (for EXPLAIN)")
    args = parser.parse_args(argv)

    tmp = None
    url = args.database_url
    if not url:
        tmp = tempfile.NamedTemporaryFile(prefix="yishi-bench-", suffix=".sqlite3", delete=False)
        url = f"sqlite:///{tmp.name}"
    elif url.rstrip("/").rsplit("/", 1)[-1] in ("test", "yishi", "portal"):
        parser.error("refusing to drop the tables of what looks like a shared or real database")

    app = create_app(TestConfig(url))
    if not views_built(app):
        raise SystemExit("the proposal pages are not built yet")
    rng = random.Random(args.seed)
    with app.app_context():
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        db.drop_all()
        db.create_all()
        start = time.perf_counter()
        community, resident_id, member_id, big_id, proposal_ids, n_supports, n_likes = build(
            args.proposals, args.supports, args.users, args.comments, args.likes, rng)
        analyze()
        print(f"built {len(proposal_ids):,} proposals, {n_supports:,} supports, {args.users:,} residents, "
              f"one proposal with {args.comments:,} comments and {n_likes:,} likes "
              f"in {time.perf_counter() - start:.1f} s")
        from portal.auth.models import User
        logins = {"resident": db.session.get(User, resident_id).email, "member": db.session.get(User, member_id).email,
                  "visitor": None}
        cursor = deep_cursor(community, db.session.get(User, resident_id), 50)
        slug = community.slug
        db.session.remove()

    base = f"/c/{slug}/proposals"
    pages = {
        "list, first page": lambda: base,
        "list, open lift proposals": lambda: f"{base}?status=open&category=lift",
        "list, search 电梯": lambda: f"{base}?q=电梯",
        "list, search \"charging points\"": lambda: f"{base}?q=charging+points",
        "list, page 51 (load more)": lambda: f"{base}?after={cursor}",
        "1,000 comments, oldest first": lambda: f"{base}/{big_id}",
        "1,000 comments, most liked": lambda: f"{base}/{big_id}?sort=liked",
        "1,000 comments, page 10": lambda: f"{base}/{big_id}?page=10",
        "a random proposal": lambda: f"{base}/{rng.choice(proposal_ids)}",
        "Atom feed": lambda: f"{base}.atom",
    }
    results = time_pages(app, pages, logins[args.viewer], args.requests, args.show_sql)

    print(f"\nas {args.viewer}, {args.requests} requests each")
    print(f"{'GET':<34} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'SQL/request':>12} {'KB':>5}")
    for label, (times, cpu, statements, size) in results.items():
        sql = f"{min(statements)}" if min(statements) == max(statements) else f"{min(statements)}–{max(statements)}"
        print(f"{label:<34} {statistics.median(times):>10.1f} {percentile(times, 95):>8.1f} "
              f"{statistics.median(cpu):>7.1f} {sql:>12} {size // 1024:>5}")

    if args.keep:
        print(f"\nkept: {url}")
        return
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    if tmp:
        os.unlink(tmp.name)


if __name__ == "__main__":
    main()
