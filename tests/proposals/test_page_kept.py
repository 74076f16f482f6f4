"""A proposal's page below the header is kept for residents and visitors (portal/proposals/views.py
_kept_body): drawn once per proposal, order, page and language under the community's version, with each
viewer's own parts (support block, likes, their comments' links, reply links, the comment form, "Report")
filled in per request. Every viewer must see exactly the page drawn for them as before, every change must
show on the next view, and the clock passing must move what it moves with nothing written."""
import re
from datetime import timedelta

import pytest

from portal.extensions import db
from tests.csrf import tokens_alike
from tests.proposals import gen_comment, gen_in_deliberation, gen_proposal
from tests.queries import assert_read_with_its_community, recorded_statements


def view(client, proposal, query=""):
    response = client.get(f"/c/{proposal.community.slug}/proposals/{proposal.id}{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def body_of(page):
    """The whole page, its CSRF tokens and the whitespace between tags made alike."""
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", tokens_alike(page))).strip()


def drawn_as_before(client, proposal, monkeypatch, query=""):
    """The page as it is drawn for viewers it is not kept for: the same viewer's page, drawn in full."""
    from portal.proposals import views
    with monkeypatch.context() as patch:
        patch.setattr(views, "_plain_viewer", lambda proposal: False)
        return view(client, proposal, query)


@pytest.fixture()
def consultation(world):
    """A proposal in consultation with a bit of everything: comments for and against, replies, likes, one of
    the neighbour's own comments, another's hidden comment, a deleted one, a locked thread."""
    from portal.moderation.services import hide, lock
    from portal.proposals import services
    proposal = gen_in_deliberation(world)
    mine = gen_comment(world, proposal, body="Mine: the lift helps everyone.")
    theirs = gen_comment(world, proposal, author=world.supporters[0], stance="against", body="Too expensive.")
    gen_comment(world, proposal, author=world.supporters[1], stance="neutral", body="A reply.", parent=mine)
    hidden = gen_comment(world, proposal, author=world.supporters[2], body="Something rude.")
    hide(world.chair_x, "comment", hidden, "Personal attack")
    gone = gen_comment(world, proposal, author=world.supporters[3], body="Changed my mind.")
    services.delete_comment(world.supporters[3], gone)
    locked = gen_comment(world, proposal, author=world.supporters[4], body="Locked thread.")
    lock(world.chair_x, "comment", locked)
    services.like_comment(world.neighbour, theirs)
    services.like_comment(world.supporters[5], theirs)
    services.like_comment(world.supporters[5], mine)
    db.session.commit()
    proposal.theirs, proposal.mine, proposal.hidden_comment = theirs, mine, hidden
    return proposal


def viewers(world):
    return {"visitor": None, "neighbour": world.neighbour, "supporter": world.supporters[5],
            "pending": world.pending, "of another community": world.resident_y}


def test_every_plain_viewer_sees_the_page_drawn_for_them(client, auth, world, consultation, monkeypatch):
    for name, person in viewers(world).items():
        auth.logout()
        if person is not None:
            auth.login(person)
        view(client, consultation)  # the first view makes the short link, which changes the version
        view(client, consultation)
        kept = view(client, consultation)
        assert body_of(kept) == body_of(drawn_as_before(client, consultation, monkeypatch)), name


def test_each_viewer_gets_their_own_parts(client, auth, world, consultation):
    auth.login(world.neighbour)
    view(client, consultation)
    page = view(client, consultation)
    theirs, mine = consultation.theirs.id, consultation.mine.id
    assert re.search(rf'id="like-{theirs}">.*?aria-pressed="true"', page)  # they like it
    assert f"/comments/{mine}/edit" in page and f"/comments/{mine}/delete" in page  # their own comment
    assert f"/comments/{theirs}/edit" not in page
    assert f"/comments/{mine}/reply" in page and 'id="new-comment"' in page and "Go to the comment form" in page
    assert "Something rude." not in page and "Personal attack" in page
    auth.logout()
    page = view(client, consultation)
    assert "like-button" not in page and "2 likes" in page and "/reply" not in page
    assert "Sign in to take part in the consultation" in page and "/edit" not in page
    auth.login(world.pending)
    page = view(client, consultation)
    assert "like-button" not in page and "/reply" not in page and "Your claim to a home here is waiting" in page


def assert_only_its_own_token(page, name):
    """Every form of the page carries the token of the session it was served to (the one its header names)."""
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert set(re.findall(r'name="csrf_token" value="([^"]+)"', page)) == {token}, name


def test_viewers_alike_are_served_one_filling_of_the_comments_with_their_own_tokens(client, auth, world,
                                                                                   consultation, monkeypatch):
    """The comments' controls filled in for one viewer serve every viewer who may do the same, likes and
    reported the same comments and wrote none of them (views._filled_comments); whoever likes, reported or
    wrote one gets their own."""
    from portal.moderation import services as moderation
    from portal.proposals import views
    moderation.flag(world.supporters[8], "comment", consultation.theirs, "spam")
    db.session.commit()
    fillings, controls = [], views._Controls
    monkeypatch.setattr(views, "_Controls", lambda *args: fillings.append(args) or controls(*args))
    people = {"one": world.supporters[6], "another": world.supporters[7], "who liked": world.supporters[5],
              "who wrote": world.supporters[0], "who reported": world.supporters[8]}
    pages = {}
    for name, person in people.items():
        auth.logout()
        auth.login(person)
        view(client, consultation)  # the first view makes the short link, which changes the version
        pages[name] = view(client, consultation)
        assert body_of(pages[name]) == body_of(drawn_as_before(client, consultation, monkeypatch)), name
        assert_only_its_own_token(pages[name], name)
    def anyones(page):  # the page without the person's id the header names
        return re.sub(r'name="yishi-person" content="\d+"', "", body_of(page))
    assert pages["one"] != pages["another"] and anyones(pages["one"]) == anyones(pages["another"])
    assert len({anyones(pages[name]) for name in ("one", "who liked", "who wrote", "who reported")}) == 4
    assert f"/comments/{consultation.theirs.id}/edit" in pages["who wrote"]
    assert f'id="flag-comment-{consultation.theirs.id}"' in pages["one"]
    assert re.search(rf'flag-done" id="flag-comment-{consultation.theirs.id}"', pages["who reported"])
    assert not re.search(r'flag-done', pages["one"])
    seen = len(fillings)
    for name in ("another", "one"):
        auth.logout()
        auth.login(people[name])
        page = view(client, consultation)
        assert body_of(page) == body_of(pages[name]), name
        assert_only_its_own_token(page, name)
    assert len(fillings) == seen  # served from the filling kept for the first of them
    from portal.proposals import services
    services.like_comment(world.supporters[9], consultation.mine)  # another's like: a count, no version, changes
    db.session.commit()
    page = view(client, consultation)
    assert re.search(rf'id="like-{consultation.mine.id}">.*?like-count">2<', page)
    assert body_of(page) == body_of(drawn_as_before(client, consultation, monkeypatch))


def test_a_second_view_reads_no_comment_nor_like_and_likes_show_at_once(client, auth, world, consultation):
    """The like counts and the viewer's own likes are kept under the proposal's likes_version: a view with no
    like since reads neither; a like (which changes no community's version) shows on the next view, to the
    one who liked and to others; an unlike too."""
    from portal.proposals import services
    theirs = consultation.theirs

    def likes(page):
        found = re.search(rf'id="like-{theirs.id}">.*?aria-pressed="(\w+)".*?like-count">(\d+)<', page)
        return found.group(1), int(found.group(2))

    auth.login(world.supporters[6])
    view(client, consultation)
    view(client, consultation)
    with recorded_statements() as statements:
        page = view(client, consultation)
    read = " ".join(statements)
    assert "FROM proposal_event" not in read and "proposal_comment.body" not in read
    assert "like_count" not in read and "comment_like" not in read
    assert likes(page) == ("false", 2)
    db.session.refresh(world.x)
    community_version = world.x.content_version
    services.like_comment(world.supporters[6], theirs)
    db.session.commit()
    db.session.refresh(world.x)
    assert world.x.content_version == community_version  # a like leaves every kept page kept
    assert likes(view(client, consultation)) == ("true", 3)
    auth.logout()
    auth.login(world.supporters[7])
    assert likes(view(client, consultation)) == ("false", 3)
    services.unlike_comment(world.supporters[6], theirs)
    db.session.commit()
    assert likes(view(client, consultation)) == ("false", 2)
    auth.logout()
    auth.login(world.supporters[6])
    assert likes(view(client, consultation)) == ("false", 2)


def test_every_change_shows_on_the_next_view(client, auth, world, consultation):
    from portal.auth.services import update_profile
    from portal.moderation.services import restore
    from portal.proposals import services
    auth.login(world.supporters[6])
    view(client, consultation)
    gen_comment(world, consultation, author=world.supporters[7], body="A new voice.")
    db.session.commit()
    assert "A new voice." in view(client, consultation)
    services.edit_comment(world.neighbour, consultation.mine, stance="for", body="Mine, said better.")
    db.session.commit()
    page = view(client, consultation)
    assert "Mine, said better." in page
    restore(world.chair_x, "comment", consultation.hidden_comment)
    db.session.commit()
    assert "Something rude." in view(client, consultation)
    update_profile(world.supporters[0], world.supporters[0], display_name="Old Wang", locale=None, large_text=False)
    db.session.commit()
    assert "Old Wang" in view(client, consultation)
    services.close_deliberation(world.chair_x, consultation, reason="Enough said.")
    db.session.commit()
    page = view(client, consultation)
    assert "comments are read-only" in page and "Enough said." in page and "/reply" not in page


def test_who_wrote_a_hidden_comment_reads_it_and_who_did_not_does_not(client, auth, world, consultation,
                                                                       monkeypatch):
    auth.login(world.supporters[6])
    view(client, consultation)
    assert "Something rude." not in view(client, consultation)
    auth.logout()
    auth.login(world.supporters[2])  # its author: served the page drawn for them
    page = view(client, consultation)
    assert "Something rude." in page and "Hidden by moderators:" in page
    assert body_of(page) == body_of(drawn_as_before(client, consultation, monkeypatch))


def test_the_author_the_committee_and_moderators_get_the_page_drawn_for_them(client, auth, world, consultation):
    auth.login(world.reporter)  # the proposal's author
    assert "Edit my proposal" in view(client, consultation)
    auth.logout()
    auth.login(world.chair_x)
    page = view(client, consultation)
    assert "For the committee" in page and "Something rude." in page and "Restore" in page


def test_a_page_ordered_by_likes_follows_every_like(client, auth, world, consultation, monkeypatch):
    """Ordered by likes, the page is kept under the proposal's likes_version too: a like reorders it on the
    next view, and a view with no like since reads no comment."""
    from portal.proposals import services
    auth.login(world.supporters[6])
    view(client, consultation)  # the first view makes the short link, which changes the version
    first = view(client, consultation, "?sort=liked")
    assert first.index("Too expensive.") < first.index("Mine: the lift")
    with recorded_statements() as statements:
        assert body_of(view(client, consultation, "?sort=liked")) == body_of(first)
    assert "proposal_comment.body" not in " ".join(statements)
    for person in world.supporters[7:10]:
        services.like_comment(person, consultation.mine)
    db.session.commit()
    page = view(client, consultation, "?sort=liked")
    assert page.index("Mine: the lift") < page.index("Too expensive.")
    assert body_of(page) == body_of(drawn_as_before(client, consultation, monkeypatch, "?sort=liked"))


def test_the_clock_moves_the_times_and_opens_the_ballot_with_nothing_written(client, auth, world, monkeypatch):
    import portal.clock
    import portal.votes.services._common
    from portal.clock import utcnow
    from tests.votes import gen_ballot
    proposal = gen_in_deliberation(world)
    gen_comment(world, proposal, body="Soon to be an hour old.")
    opens = utcnow() + timedelta(hours=2)
    gen_ballot(world, proposal=proposal, opens_at=opens, closes_at=opens + timedelta(days=7))
    db.session.commit()
    auth.login(world.supporters[6])
    view(client, proposal)
    page = view(client, proposal)
    assert "Voting opens in 2 hours" in page and "Soon to be an hour old." in page
    later = utcnow() + timedelta(hours=3)
    for module in (portal.clock, portal.votes.services._common):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    page = view(client, proposal)
    assert "Voting closes in 1 week" in page and "Voting opens" not in page
    assert "3 hours ago" in page


def test_a_proposal_collecting_supports_keeps_the_support_block_per_viewer(client, auth, world):
    proposal = gen_proposal(world)
    db.session.commit()
    auth.login(world.neighbour)
    view(client, proposal)
    assert "Support this proposal" in view(client, proposal)
    auth.logout()
    auth.login(world.pending)
    page = view(client, proposal)
    assert "Support this proposal" not in page and "Only verified residents" in page
    auth.logout()
    assert "Sign in to support it" in view(client, proposal)


def test_each_language_and_page_of_comments_is_kept_apart(client, auth, world, monkeypatch):
    from portal.proposals.services.consultation import COMMENTS_PER_PAGE
    proposal = gen_in_deliberation(world)
    for n in range(COMMENTS_PER_PAGE + 1):
        gen_comment(world, proposal, author=world.supporters[n % 12], body=f"Comment number {n}.")
    db.session.commit()
    view(client, proposal)  # the first view makes the short link, which changes the version
    first, second = view(client, proposal), view(client, proposal, "?page=2")
    last = f"Comment number {COMMENTS_PER_PAGE}."
    assert "Comment number 0." in first and last not in first
    assert last in second and "Comment number 0." not in second
    response = client.get(f"/c/{proposal.community.slug}/proposals/{proposal.id}",
                          headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert 'lang="zh' in response.get_data(as_text=True) and "Timeline" not in response.get_data(as_text=True)
    assert "Timeline" in view(client, proposal)
    assert body_of(view(client, proposal, "?page=2")) == \
        body_of(drawn_as_before(client, proposal, monkeypatch, "?page=2"))


def test_the_proposal_is_read_with_its_community_and_found_only_under_its_own(client, auth, world):
    proposal = gen_in_deliberation(world)
    gen_comment(world, proposal)
    db.session.commit()
    # The kept page (a visitor, a resident) and the page drawn in full (a committee member).
    assert_read_with_its_community(client, auth, f"/c/{world.x.slug}/proposals/{proposal.id}", "proposal",
                                   (None, world.neighbour, world.chair_x))
    assert client.get(f"/c/{world.y.slug}/proposals/{proposal.id}").status_code == 404


def test_like_counts_and_likes_answer_for_any_number_of_comments_and_on_postgresql_in_one_array(
        world, consultation):
    """services.like_counts and liked_ids, which the consultation page asks after a like: each comment's count,
    and the viewer's own likes, for none, one or many comments (ids that are no comment count nothing); on
    PostgreSQL the ids go as one array parameter (`= ANY`), one statement text for any number."""
    from portal.proposals import services
    theirs, mine = consultation.theirs.id, consultation.mine.id
    assert services.like_counts([]) == {} and services.liked_ids(world.neighbour, []) == set()
    assert services.like_counts([theirs]) == {theirs: 2}
    assert services.liked_ids(world.neighbour, [theirs]) == {theirs}
    with recorded_statements() as statements:
        assert services.like_counts([theirs, mine, 10 ** 9]) == {theirs: 2, mine: 1}
        assert services.liked_ids(world.supporters[5], [theirs, mine, 10 ** 9]) == {theirs, mine}
        many = [mine, *range(10 ** 8, 10 ** 8 + 300)]
        assert services.like_counts(many) == {mine: 1}
        assert services.liked_ids(world.neighbour, many) == set()
    assert services.liked_ids(None, [theirs]) == set()
    asked = [s for s in statements if "like" in s]  # not the people's rows, read again after the commit
    assert len(asked) == 4
    if db.engine.dialect.name == "postgresql":
        assert all("= ANY (" in s and " IN (" not in s for s in asked), asked
        assert len(set(asked)) == 2  # the counts' and the likes', whatever the number of ids
