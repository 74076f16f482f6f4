"""A constant number of SQL statements per page, however much there is to show: the proposal list with 20
or 500 proposals, and a proposal page with 10 or 1,000 comments (with replies, likes, deletions, hidden
comments and flags), for a visitor, a resident and a committee member."""
from datetime import timedelta
from itertools import cycle

import pytest
from sqlalchemy import insert

from portal.auth.models import User
from portal.clock import utcnow
from portal.extensions import db
from portal.issues import similar
from portal.moderation.models import Flag
from portal.proposals import services
from portal.proposals.models import (
    STANCES,
    Comment,
    CommentLike,
    Proposal,
    ProposalSupport,
    ProposalTerm,
    proposal_building,
)
from tests.factories import gen_building, gen_community, gen_household, gen_membership, gen_organization, gen_residency
from tests.issues.test_photos import phone_jpeg
from tests.proposals import gen_proposal
from tests.proposals.test_attachments import plain_pdf
from tests.queries import count_queries

# The list's states, hidden ones among them; drafts are never listed but the author sees theirs on top.
STATES = ["collecting", "collecting", "deliberation", "voting", "decided", "implementing", "withdrawn", "archived"]
TITLES = ["{n}号楼加装电梯", "Add charging points {n}", "中心花园增加座椅 {n}", "Replace the lift in building {n}"]


def bulk_users(n, prefix, password_hash):
    now = utcnow()
    db.session.execute(insert(User), [{"display_name": f"{prefix} {i}", "email": f"{prefix}{i}@example.org",
                                       "password_hash": password_hash, "consented_at": now} for i in range(n)])
    return list(db.session.scalars(db.select(User.id).where(User.email.like(f"{prefix}%")).order_by(User.id)))


def community_with(world, n_proposals, n_comments):
    """A community of `n_proposals` published proposals (every state, some hidden, some for one building,
    supported by the resident viewer and by others) and, among them, one in consultation with `n_comments`
    comments: 70 % top-level, the rest replies; liked, flagged, some deleted or hidden. Returns its slug and
    the big proposal's id."""
    slug = f"q{n_proposals}-{n_comments}"
    community = gen_community(world.sd_a, name=f"Counting {slug}", slug=slug)
    buildings = [gen_building(community, code=f"{slug}-{n}", name=f"Block {n}") for n in range(3)]
    for person, room in ((world.reporter, "0101"), (world.neighbour, "0102")):
        gen_residency(person, household=gen_household(buildings[0], room=room))
    gen_membership(world.member_x, gen_organization("residents_committee", community=community))
    now = utcnow()
    authors = bulk_users(min(n_proposals, 60), f"author-{slug}-", world.reporter.password_hash)

    rows = []
    for n in range(n_proposals):
        status = STATES[n % len(STATES)]
        title = TITLES[n % len(TITLES)].format(n=n)
        published = now - timedelta(hours=n + 1)
        rows.append({"community_id": community.id, "author_id": authors[n % len(authors)], "title": title,
                     "summary": f"{title}，请大家支持。", "body": "正文", "body_html": "<p>正文</p>",
                     "category": "lift" if n % 2 else "facilities", "whole_community": n % 5 != 0, "version": 1,
                     "status": status, "outcome": "passed" if status == "decided" else None,
                     "withdrawn_reason": "other" if status == "withdrawn" else None,
                     "support_threshold": 10, "support_deadline": published + timedelta(days=30),
                     "support_count": 0, "comment_count": 0, "created_at": published, "updated_at": published,
                     "published_at": published, "hidden_state": "pending" if n % 9 == 4 else None})
    db.session.execute(insert(Proposal), rows)
    listed = db.session.execute(db.select(Proposal.id, Proposal.title, Proposal.summary, Proposal.status,
                                          Proposal.whole_community)
                                .where(Proposal.community_id == community.id).order_by(Proposal.id)).all()
    db.session.execute(insert(ProposalTerm), [
        {"proposal_id": p.id, "community_id": community.id, "term": term}
        for p in listed for term in similar.terms(p.title) | similar.terms(p.summary)])
    db.session.execute(insert(proposal_building), [
        {"proposal_id": p.id, "building_id": buildings[p.id % 3].id} for p in listed if not p.whole_community])
    supports = [{"proposal_id": p.id, "user_id": authors[(i + 1) % len(authors)]} for i, p in enumerate(listed)]
    supports += [{"proposal_id": p.id, "user_id": world.neighbour.id} for i, p in enumerate(listed) if i % 3 == 0]
    db.session.execute(insert(ProposalSupport), supports)

    # Two drafts of the resident's own (shown on top of the list to them only).
    for n in range(2):
        gen_proposal(world, author=world.neighbour, community=community, publish=False, title=f"草稿 {n}")

    big = gen_proposal(world, community=community, category="lift", building_ids=[buildings[1].id],
                       attachments=[("plan.pdf", plain_pdf()), ("gate.jpg", phone_jpeg())])
    services.move_to_deliberation(world.member_x, big, "The lift cannot wait")
    services.write_summary(world.member_x, big, arguments_for="Older people", arguments_against="The cost")
    services.update_proposal(world.reporter, big, title=big.title, summary=big.summary, body=big.body + "\n\n更新",
                             category="lift", building_ids=[buildings[1].id], estimated_cost=None, note="更新")
    db.session.flush()

    commenters = cycle([*authors, world.reporter.id, world.member_x.id])
    n_top = max(1, round(n_comments * 0.7))

    def comment(n, parent_id=None):
        return {"proposal_id": big.id, "parent_id": parent_id, "author_id": next(commenters),
                "stance": STANCES[n % 3], "body": f"意见 {n}", "created_at": now + timedelta(seconds=n),
                "like_count": 0, "deleted_at": now if n % 17 == 5 else None,
                "hidden_state": "hidden" if n % 23 == 7 else None, "hidden_reason": "Abuse" if n % 23 == 7 else None,
                "locked_at": now if n % 31 == 3 else None}
    db.session.execute(insert(Comment), [comment(n) for n in range(n_top)])
    tops = list(db.session.scalars(db.select(Comment.id).where(Comment.proposal_id == big.id).order_by(Comment.id)))
    db.session.execute(insert(Comment), [comment(n_top + n, tops[n % len(tops)]) for n in range(n_comments - n_top)])
    every = db.session.execute(db.select(Comment.id, Comment.author_id).where(Comment.proposal_id == big.id)).all()
    likes = [{"comment_id": c.id, "user_id": world.neighbour.id} for i, c in enumerate(every)
             if i % 2 == 0 and c.author_id != world.neighbour.id]
    likes += [{"comment_id": c.id, "user_id": authors[i % len(authors)]} for i, c in enumerate(every)
              if i % 3 == 0 and c.author_id != authors[i % len(authors)]]
    db.session.execute(insert(CommentLike), likes)
    for c in every:
        db.session.execute(db.update(Comment).where(Comment.id == c.id).values(
            like_count=db.select(db.func.count()).where(CommentLike.comment_id == c.id).scalar_subquery()))
    db.session.execute(insert(Flag), [{"community_id": community.id, "item_type": "comment", "item_id": c.id,
                                       "user_id": world.neighbour.id, "reason": "spam"}
                                      for i, c in enumerate(every) if i % 4 == 1])
    db.session.execute(db.update(Proposal).where(Proposal.id == big.id).values(comment_count=n_comments))
    db.session.commit()
    return slug, big.id


def page_counts(client, slug, big_id):
    base = f"/c/{slug}/proposals"
    paths = [base, f"{base}?status=open&category=lift", f"{base}?q=电梯", f"{base}?show=needs_support",
             f"{base}?show=supported", f"{base}.atom",
             f"{base}/{big_id}", f"{base}/{big_id}?sort=liked", f"{base}/{big_id}?sort=newest"]
    return {path.replace(slug, "<c>").replace(str(big_id), "<id>"): count_queries(client, path) for path in paths}


@pytest.mark.parametrize("viewer", ["visitor", "neighbour", "member_x"])
def test_list_and_proposal_pages_run_the_same_statements_whatever_their_size(client, auth, world, upload_dir,
                                                                              viewer):
    small = community_with(world, 20, 10)
    large = community_with(world, 500, 1000)
    if viewer != "visitor":
        auth.login(getattr(world, viewer))
    few, many = page_counts(client, *small), page_counts(client, *large)
    assert few == many


def long_threads(world, n_comments):
    """A proposal in consultation whose `n_comments` comments are a few threads with many replies each (some
    deleted, hidden or liked): its id, and the first thread's top comment and its fourth reply."""
    from tests.proposals import gen_in_deliberation
    proposal = gen_in_deliberation(world)
    now = utcnow()
    people = [p.id for p in world.supporters + [world.reporter, world.member_x]]
    n_top = max(2, n_comments // 10)

    def comment(n, parent_id=None):
        return {"proposal_id": proposal.id, "parent_id": parent_id, "author_id": people[n % len(people)],
                "stance": STANCES[n % 3], "body": f"意见 {n}", "created_at": now + timedelta(seconds=n),
                "like_count": 0, "deleted_at": now if n % 17 == 5 else None,
                "hidden_state": "hidden" if n % 23 == 7 else None, "hidden_reason": "Abuse" if n % 23 == 7 else None}
    db.session.execute(insert(Comment), [comment(n) for n in range(n_top)])
    tops = list(db.session.scalars(db.select(Comment.id).where(Comment.proposal_id == proposal.id,
                                                                 Comment.parent_id.is_(None)).order_by(Comment.id)))
    db.session.execute(insert(Comment), [comment(n_top + n, tops[n % len(tops)]) for n in range(n_comments - n_top)])
    replies = list(db.session.scalars(db.select(Comment.id).where(Comment.parent_id == tops[0]).order_by(Comment.id)))
    db.session.execute(insert(CommentLike), [{"comment_id": c, "user_id": world.neighbour.id} for c in replies[::2]])
    db.session.execute(db.update(Proposal).where(Proposal.id == proposal.id).values(comment_count=n_comments))
    db.session.commit()
    return proposal, tops[0], replies[3]


@pytest.mark.parametrize("viewer", ["visitor", "neighbour", "member_x"])
def test_long_threads_cost_the_same_statements_with_10_or_300_comments(client, auth, world, viewer):
    def counts(proposal, top, fourth):
        base = f"/c/{proposal.community.slug}/proposals/{proposal.id}"
        thread = f"{base}/comments/{top}/replies"
        client.get(base)  # the first view makes the proposal's short link (which changes what is kept)
        return [count_queries(client, base), count_queries(client, f"{base}?sort=liked"),
                count_queries(client, thread), count_queries(client, f"{thread}?after={fourth}")]

    small = long_threads(world, 10)
    large = long_threads(world, 300)
    if viewer != "visitor":
        auth.login(getattr(world, viewer))
    few, many = counts(*small), counts(*large)
    assert few == many
    # the page's size does not follow the threads' length: the first replies of each thread only
    page = client.get(f"/c/{large[0].community.slug}/proposals/{large[0].id}").get_data(as_text=True)
    assert page.count('class="comment ') + page.count('class="comment"') <= 30 * (1 + services.REPLIES_SHOWN)
    assert "more replies" in page
