"""Notice pages: the list, the notice (decision, ballot figures, period, how to object, objections and
answers, the print link), lodging and answering with bad input (a message on the same page, nothing
written; 403/404 where the person or the address is wrong), the lazy end on load, and the notice period
on the proposals settings page."""
from datetime import timedelta

import pytest
from markupsafe import escape

from portal.clock import utcnow
from portal.extensions import db
from portal.notices import services
from portal.notices.models import Notice, Objection
from portal.places.models import Community
from portal.proposals.models import Proposal
from tests.notices import decide
from tests.residents import post


def html_of(response) -> str:
    return response.get_data(as_text=True)


def notice_of(ballot) -> Notice:
    return db.session.scalar(db.select(Notice).where(Notice.ballot_id == ballot.id))


def page(notice, tail="") -> str:
    return f"/c/{notice.community.slug}/notices/{notice.id}{tail}"


def count_objections() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(Objection))


@pytest.fixture
def notice(world):
    found = notice_of(decide(world))
    db.session.commit()
    return found


def test_list_and_detail_for_everyone(client, world, notice):
    listing = client.get("/c/x/notices")
    assert listing.status_code == 200 and notice.proposal.title in html_of(listing)
    shown = client.get(page(notice))
    text = html_of(shown)
    assert shown.status_code == 200
    assert str(escape(notice.statement)) in text and str(escape(notice.how_to_object)) in text
    assert 'id="result"' in text  # the ballot's figures
    assert f"/c/x/notices/{notice.id}/print" in text
    assert "Sign in to object" in text and 'name="body"' not in text


def test_unknown_addresses_are_404(client, world, notice):
    assert client.get("/c/x/notices/999999").status_code == 404
    assert client.get(f"/c/y/notices/{notice.id}").status_code == 404
    assert client.get("/c/x/notices/99999999999999999999").status_code == 404
    assert client.get("/c/nowhere/notices").status_code == 404


def test_a_resident_objects_once(client, auth, world, notice):
    auth.login(world.neighbour)
    assert 'name="body"' in html_of(client.get(page(notice)))
    sent = post(client, page(notice, "/objections"), {"body": "请公开施工方案。"}, token_from=page(notice))
    assert sent.status_code == 302 and "#objection-" in sent.headers["Location"]
    shown = html_of(client.get(page(notice)))
    assert "请公开施工方案。" in shown and "each resident objects once" in shown and 'name="body"' not in shown
    again = post(client, page(notice, "/objections"), {"body": "再次反对"}, token_from=page(notice))
    assert again.status_code == 400 and "already objected" in html_of(again)
    assert count_objections() == 1


@pytest.mark.parametrize("body,message", [("", "Write your objection."), ("x" * 2001, "2000")])
def test_bad_objection_kept_on_the_form(client, auth, world, notice, body, message):
    auth.login(world.neighbour)
    sent = post(client, page(notice, "/objections"), {"body": body}, token_from=page(notice))
    assert sent.status_code == 400 and message in html_of(sent)
    assert count_objections() == 0


@pytest.mark.parametrize("who", ["member_y", "stranger", "pending"])
def test_others_may_not_object(client, auth, world, notice, who):
    auth.login(getattr(world, who))
    sent = post(client, page(notice, "/objections"), {"body": "反对"}, token_from=page(notice))
    assert sent.status_code == 403 and count_objections() == 0


def test_objecting_signed_out_asks_to_sign_in(client, world, notice):
    sent = post(client, page(notice, "/objections"), {"body": "反对"}, token_from=page(notice))
    assert sent.status_code in (302, 401) and count_objections() == 0


def test_an_objection_after_the_period_is_refused_with_a_message(client, auth, world, notice):
    notice.starts_at, notice.ends_at = utcnow() - timedelta(days=8), utcnow() - timedelta(days=1)
    db.session.add(Objection(notice=notice, user_id=world.reporter.id, body="早先的反对",
                             created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    auth.login(world.neighbour)
    sent = post(client, page(notice, "/objections"), {"body": "太晚了"}, token_from=page(notice))
    assert sent.status_code == 400 and "objections are no longer taken" in html_of(sent)
    assert count_objections() == 1


def test_the_committee_answers_and_the_notice_ends_lazily(client, auth, world, notice):
    objection = services.lodge_objection(world.neighbour, notice, "绿地怎么补偿？")
    db.session.commit()
    objection_id = objection.id
    notice.starts_at, notice.ends_at = utcnow() - timedelta(days=8), utcnow() - timedelta(minutes=1)
    db.session.commit()
    auth.login(world.neighbour)
    assert post(client, page(notice, f"/objections/{objection_id}/answer"), {"answer": "我来答"},
                token_from=page(notice)).status_code == 403
    auth.logout()
    auth.login(world.chair_x)
    waiting = html_of(client.get(page(notice)))
    assert "waiting for an answer" in waiting and 'name="answer"' in waiting
    empty = post(client, page(notice, f"/objections/{objection_id}/answer"), {"answer": " "}, token_from=page(notice))
    assert empty.status_code == 400 and "Write the answer." in html_of(empty)
    assert post(client, page(notice, "/objections/999999/answer"), {"answer": "x"},
                token_from=page(notice)).status_code == 404
    done = post(client, page(notice, f"/objections/{objection_id}/answer"), {"answer": "在南侧补种同等面积绿地。"},
                token_from=page(notice))
    assert done.status_code == 302
    db.session.expire_all()
    found = db.session.get(Notice, notice.id)
    assert found.status == "ended" and found.proposal.status == "implementing"
    assert "在南侧补种同等面积绿地。" in html_of(client.get(page(notice)))
    again = post(client, page(notice, f"/objections/{objection_id}/answer"), {"answer": "再答"},
                 token_from=page(notice), follow_redirects=True)
    assert "already been answered" in html_of(again) and "再答" not in html_of(again)


def test_loading_a_notice_past_its_period_moves_the_proposal_on(client, world):
    ballot = decide(world, "rejected", now=utcnow() - timedelta(days=8))
    notice_id, proposal_id = notice_of(ballot).id, ballot.proposal_id
    db.session.commit()
    assert client.get(f"/c/x/notices/{notice_id}").status_code == 200
    db.session.expire_all()
    assert db.session.get(Proposal, proposal_id).status == "archived"
    assert db.session.get(Notice, notice_id).status == "ended"


def test_the_notice_period_on_the_settings_page(client, auth, world):
    auth.login(world.chair_x)
    shown = html_of(client.get("/c/x/proposals/settings"))
    assert 'name="notice_days"' in shown and 'value="7"' in shown
    bad = post(client, "/c/x/proposals/settings", {"threshold": "3", "days": "30", "notice_days": "abc"},
               token_from="/c/x/proposals/settings")
    assert bad.status_code == 200 and "Write a whole number." in html_of(bad)
    too_long = post(client, "/c/x/proposals/settings", {"threshold": "4", "days": "30", "notice_days": "91"},
                    token_from="/c/x/proposals/settings")
    assert "from 1 to 90" in html_of(too_long)
    db.session.expire_all()
    assert (db.session.get(Community, world.x.id).notice_days,
            db.session.get(Community, world.x.id).proposal_support_threshold) == (7, 3)
    saved = post(client, "/c/x/proposals/settings", {"threshold": "3", "days": "30", "notice_days": "10"},
                 token_from="/c/x/proposals/settings")
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Community, world.x.id).notice_days == 10
    auth.logout()
    auth.login(world.neighbour)
    assert post(client, "/c/x/proposals/settings", {"threshold": "3", "days": "30", "notice_days": "1"},
                token_from="/").status_code == 403


def test_the_list_counts_objections_in_one_statement_however_many_notices(client, world, notice):
    from sqlalchemy import insert

    from portal.auth.models import User
    from tests.queries import count_queries
    few = count_queries(client, "/c/x/notices")
    # 40 more notices on the same proposal's row shape, with 0–4 objections each (people of the world)
    people = list(db.session.scalars(db.select(User.id).order_by(User.id)))[:4]
    base = {c: getattr(notice, c) for c in ("proposal_id", "community_id", "organization_id", "outcome",
                                              "statement", "how_to_object", "starts_at", "ends_at", "status")}
    db.session.execute(insert(Notice), [dict(base) for _ in range(40)])
    ids = list(db.session.scalars(db.select(Notice.id).order_by(Notice.id)))
    db.session.execute(insert(Objection), [{"notice_id": n, "user_id": u, "body": "有意见"}
                                           for i, n in enumerate(ids) for u in people[:i % 5]])
    db.session.commit()
    assert count_queries(client, "/c/x/notices") <= few  # a full page of open notices reads no ended ones
    listing = html_of(client.get("/c/x/notices"))
    expected = {i % 5 for i in range(len(ids))}
    assert all((f"{k} objections" if k != 1 else "1 objection") in listing for k in expected)


def test_the_board_links_to_more_notices_and_a_bad_link_starts_again(client, world):
    from tests.notices.test_services import board_notices
    ended, opened = board_notices(world, 25)
    db.session.commit()
    first = html_of(client.get("/c/x/notices"))
    newest_first = sorted(ended, key=lambda n: (n.starts_at, n.id), reverse=True)
    last_shown = newest_first[18]  # the open notice, then 19 ended ones
    assert f'href="/c/x/notices?after=e{last_shown.id}"' in first and "More notices" in first
    assert "Latest notices" not in first and opened[0].proposal.title in first
    second = html_of(client.get(f"/c/x/notices?after=e{last_shown.id}"))
    assert second.count('class="issue-row notice-row"') == 6
    assert "Latest notices" in second and "More notices" not in second
    refused = client.get("/c/x/notices?after=abc")
    assert refused.status_code == 302 and refused.headers["Location"].endswith("/c/x/notices")
    again = html_of(client.get("/c/x/notices?after=abc", follow_redirects=True))
    assert "That page of notices no longer exists" in again


# --- the board kept between requests (portal.versions) ---------------------------------------------------------

def test_the_board_is_kept_until_a_notice_or_an_objection_changes(client, world, notice):
    from tests.queries import recorded_statements
    first = html_of(client.get("/c/x/notices"))
    assert "0 objections" in first
    with recorded_statements() as statements:
        assert html_of(client.get("/c/x/notices")) == first
    assert not [s for s in statements if "public_notice" in s or "notice_objection" in s]
    services.lodge_objection(world.neighbour, notice, "请公开施工方案。")
    db.session.commit()
    assert "1 objection" in html_of(client.get("/c/x/notices"))
    notice.proposal.title = "改造南侧绿地（修订）"
    db.session.commit()
    assert "改造南侧绿地（修订）" in html_of(client.get("/c/x/notices"))


def test_the_board_ends_a_notice_when_its_period_passes_with_nothing_written(client, world, notice, monkeypatch):
    import portal.clock
    import portal.notices.views
    assert "Objections until" in html_of(client.get("/c/x/notices"))
    later = notice.ends_at + timedelta(minutes=1)
    for module in (portal.clock, portal.notices.views):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    shown = html_of(client.get("/c/x/notices"))
    assert "Objections until" not in shown and "Notice ended" in shown
    db.session.expire_all()
    assert db.session.get(Notice, notice.id).status == "ended"


def test_a_board_with_a_hidden_proposal_is_read_for_each_viewer(client, auth, world, notice):
    notice.proposal.hidden_state = "hidden"
    db.session.commit()
    title = notice.proposal.title
    shown = html_of(client.get("/c/x/notices"))
    assert title not in shown and f"Hidden proposal (no. {notice.proposal.id})" in shown
    auth.login(world.chair_x)  # a moderator of the community reads what was hidden
    assert title in html_of(client.get("/c/x/notices"))
