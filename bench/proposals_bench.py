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


def build(n_proposals, n_supports, n_users, n_comments, n_likes, rng):
    """One community, its residents and committee, the proposals and the big discussion: bulk inserts."""
    from portal.clock import utcnow
    from portal.committees.models import Organization, OrgMembership
    from portal.issues import similar
    from portal.markup import render_markdown
    from portal.proposals.models import (
        STANCES,
        Comment,
        CommentLike,
        Proposal,
        ProposalEvent,
        ProposalSupport,
        ProposalTerm,
        ProposalVersion,
    )

    now = utcnow()
    community, _buildings, user_ids = community_with_residents(n_users, now)
    committee = Organization(kind="residents_committee", community=community, name="Bench residents' committee")
    db.session.add(committee)
    member_id = user_ids[-1]
    db.session.add(OrgMembership(user_id=member_id, organization=committee, title="member",
                              start_date=(now - timedelta(days=800)).date()))

    states = [s for s, weight in STATE_MIX for _ in range(weight)]
    body_cache = {}
    proposals = []
    for _ in range(n_proposals):
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
    others(community, committee, user_ids, member_id, rows, now, rng)
    db.session.commit()
    return community, user_ids[0], member_id, big.id, [r.id for r in rows], len(supports), sum(like_counts)


def others(community, committee, user_ids, member_id, rows, now, rng):
    """What the community's other daily pages show: a public notice for each proposal past its ballot (with
    objections), the committee's meetings (the calendar), and a resident's notifications (the centre)."""
    from portal.committees.models import Meeting
    from portal.notices.models import Notice, Objection
    from portal.notifications.models import Notification

    noticed = [r for r in rows if r.status in ("notice", "implementing", "evaluated")]
    bulk(Notice, [{"proposal_id": r.id, "community_id": community.id, "organization_id": committee.id,
                   "outcome": "passed", "statement": "通过 Passed", "how_to_object": "书面提出 In writing",
                   "starts_at": now - timedelta(days=2) if r.status == "notice"
                   else r.published_at + timedelta(days=20),
                   "ends_at": now + timedelta(days=rng.randint(1, 6)) if r.status == "notice"
                   else r.published_at + timedelta(days=27),
                   "status": "open" if r.status == "notice" else "ended",
                   "ended_at": None if r.status == "notice" else r.published_at + timedelta(days=27)}
                  for r in noticed])
    notice_ids = list(db.session.scalars(db.select(Notice.id).order_by(Notice.id)))
    bulk(Objection, [{"notice_id": n, "user_id": u, "body": "我有意见 I object", "created_at": now,
                      "answer": "已答复 Answered", "answered_by_id": member_id, "answered_at": now}
                     for n in notice_ids for u in rng.sample(user_ids, rng.choice([0, 0, 1, 2, 5]))])
    bulk(Meeting, [{"organization_id": committee.id, "community_id": community.id, "title": f"议事会第{n}次会议",
                    "starts_at": now + timedelta(days=n * 3 - 30, hours=2), "place": "社区活动室",
                    "is_public": True, "status": "scheduled", "created_by_id": member_id, "created_at": now}
                   for n in range(40)])
    proposals = rng.sample(rows, 300)
    bulk(Notification, [{"recipient_id": user_ids[0], "event": "proposals.voting", "object_type": "proposal",
                         "object_id": r.id, "created_at": now - timedelta(minutes=n * 7),
                         "read_at": now if n > 30 else None, "email_status": "skipped",
                         "payload": {"title": r.title, "slug": community.slug, "proposal_id": r.id}}
                        for n in range(1_000) for r in [proposals[n % len(proposals)]]])
    return len(notice_ids)


def deep_cursor(community, viewer, pages):
    """The cursor of the list's page `pages + 1`, as "load more" would reach it."""
    from portal.proposals import services
    cursor = None
    for _ in range(pages):
        _, cursor = services.community_proposals(community, viewer, after=cursor)
    return cursor


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--proposals", type=int, default=20_000)
    parser.add_argument("--supports", type=int, default=240_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--comments", type=int, default=1_000)
    parser.add_argument("--likes", type=int, default=8_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--as", dest="viewer", choices=["resident", "member", "visitor"], default="resident")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--show-sql", action="store_true", help="print the statements of each page's slowest request")
    args = parser.parse_args(argv)

    database = Database(parser, args)
    app = database.app
    if not views_built(app, "proposals.index", "proposals.detail", "proposals.feed"):
        raise SystemExit("the proposal pages are not built yet")
    rng = random.Random(args.seed)
    with app.app_context():
        database.recreate()
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
        "home": lambda: "/",
        "community page": lambda: f"/c/{slug}",
        "notices": lambda: f"/c/{slug}/notices",
        "calendar": lambda: f"/c/{slug}/calendar",
    }
    if args.viewer != "visitor":
        pages["notification centre"] = lambda: "/notifications/"
    results = time_pages(app, pages, logins[args.viewer], args.requests, args.show_sql)

    print(f"\nas {args.viewer}, {args.requests} requests each")
    print(f"{'GET':<34} {'median ms':>10} {'p95 ms':>8} {'CPU ms':>7} {'SQL/request':>12} {'KB':>5}")
    for label, (times, cpu, statements, size) in results.items():
        print(f"{label:<34} {statistics.median(times):>10.1f} {percentile(times, 95):>8.1f} "
              f"{statistics.median(cpu):>7.1f} {statement_range(statements):>12} {size // 1024:>5}")

    database.finish()


if __name__ == "__main__":
    main()
