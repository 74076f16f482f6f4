"""Issue 16, phone layout, as the server renders it: one menu in the header for every role, the issue list's
filters folded, breadcrumbs as targets, the owners' matter as choices that wrap. The heights and widths
themselves are measured in a phone-sized browser (tests/browser/test_layout_browser.py)."""
import re

import pytest
from flask import render_template_string

from portal.extensions import db
from tests.csrf import tokens_alike
from tests.issues.conftest import world as issues_world  # noqa: F401  (the world the proposals one extends)
from tests.proposals import gen_in_deliberation
from tests.proposals.conftest import world as proposals_world  # noqa: F401  (the world the votes one extends)
from tests.votes.conftest import world  # noqa: F401


def html_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def header_of(page: str) -> str:
    return page[page.index("<header"):page.index("</header>")]


def menu_of(header: str) -> str:
    """What the header folds into its menu (the details element), or "" when it has none."""
    match = re.search(r'<details class="site-menu">(.*?)</details>', header, re.S)
    return match.group(1) if match else ""


def outside_menu(header: str) -> str:
    return re.sub(r'<details class="site-menu">.*?</details>', "", header, flags=re.S)


def links_of(html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]+)"', html)


ROLES = {
    "resident": lambda w: w.reporter,
    "committee chair": lambda w: w.chair_x,
    "property staff": lambda w: w.property_x,
    "official": lambda w: w.official_a,
    "admin": lambda w: w.admin,
}


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_one_menu_with_its_pages_the_switches_and_sign_out(client, auth, world, role):
    auth.login(ROLES[role](world))
    header = header_of(html_of(client.get("/")))
    menu, outside = menu_of(header), outside_menu(header)
    assert "<summary" in menu and "Menu" in menu
    # Beside the name only the notifications stay in sight; every other page of the role is in the menu.
    assert links_of(outside) == ["/", "/notifications/"]
    assert "/account" in links_of(menu) and "/my/issues" in links_of(menu)
    assert 'name="language"' in menu and 'name="large"' in menu and "Sign out" in menu
    assert 'name="language"' not in outside and "Sign out" not in outside


def test_role_pages_are_in_the_menu_of_those_who_have_them(client, auth, world):
    auth.login(world.admin)
    admin_menu = links_of(menu_of(header_of(html_of(client.get("/")))))
    for path in ("/dashboard", "/admin/audit", "/admin/places"):
        assert any(link.startswith(path) for link in admin_menu), (path, admin_menu)
    auth.logout()
    auth.login(world.property_x)
    staff_menu = links_of(menu_of(header_of(html_of(client.get("/")))))
    assert "/handling" in staff_menu
    assert not any(link.startswith("/admin/") or link.startswith("/dashboard") for link in staff_menu)


def test_a_visitor_has_sign_in_in_sight_and_register_and_switches_in_the_menu(client):
    header = header_of(html_of(client.get("/")))
    assert links_of(outside_menu(header)) == ["/", "/login"]
    menu = menu_of(header)
    assert "/register" in links_of(menu)
    # The visitor's switches stay GET forms without a token: the page writes no session.
    assert 'name="language"' in menu and 'name="large"' in menu and "csrf_token" not in header


def test_a_visitors_page_without_forms_still_carries_no_token_and_sets_no_session(client):
    response = client.get("/")
    assert "csrf_token" not in html_of(response)
    assert "session=" not in response.headers.get("Set-Cookie", "")


def test_moderators_see_the_waiting_count_on_the_closed_menu(client, auth, world):
    from tests.moderation.test_views import gen_flags, gen_issue
    auth.login(world.member_x)
    assert "menu-count" not in header_of(html_of(client.get("/")))
    gen_flags(world, "issue", gen_issue(world, title="Loud at night"), 1)
    db.session.commit()
    summary = re.search(r"<summary.*?</summary>", header_of(html_of(client.get("/"))), re.S).group(0)
    assert re.search(r'class="count menu-count"[^>]*>1<', summary)


def tokens_and_next(page: str):
    header = header_of(page)
    return (set(re.findall(r'name="csrf_token" value="([^"]+)"', header)),
            set(re.findall(r'name="next" value="([^"]*)"', header)))


def test_the_menu_is_kept_and_served_with_each_pages_address_and_token(client, auth, world, monkeypatch):
    from portal import web
    monkeypatch.setattr(web, "_FRAGMENTS", {})
    auth.login(world.reporter)
    first = html_of(client.get("/"))
    page = html_of(client.get("/c/x/issues?sort=due&q=<b>"))
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    assert tokens_and_next(page) == ({token}, {"/c/x/issues?sort=due&amp;q=&lt;b&gt;"})
    assert tokens_and_next(first)[1] == {"/"}
    # Served from what was kept: a change to the kept text shows; drawn afresh, the menu is the same.
    [key] = [k for k in web._FRAGMENTS if k[0] == "site-menu" and k[1]]
    kept = web._FRAGMENTS[key]
    monkeypatch.setitem(web._FRAGMENTS, key, kept.replace("My account", "My kept account"))
    assert "My kept account" in menu_of(header_of(html_of(client.get("/c/x/issues?sort=due&q=<b>"))))
    monkeypatch.setattr(web, "_FRAGMENTS", {})
    assert tokens_alike(html_of(client.get("/c/x/issues?sort=due&q=<b>"))) == tokens_alike(page)


def test_the_kept_menu_follows_roles_and_language(client, auth, world):
    auth.login(world.reporter)
    assert not any(a.startswith("/admin/audit") for a in links_of(menu_of(header_of(html_of(client.get("/"))))))
    world.reporter.is_admin = True
    db.session.commit()
    assert any(a.startswith("/admin/audit") for a in links_of(menu_of(header_of(html_of(client.get("/"))))))
    world.reporter.is_admin = False
    db.session.commit()
    assert not any(a.startswith("/admin/audit") for a in links_of(menu_of(header_of(html_of(client.get("/"))))))
    english = menu_of(header_of(html_of(client.get("/"))))
    client.post("/language", data={"language": "zh", "next": "/", "csrf_token": tokens_and_next(
        html_of(client.get("/")))[0].pop()})
    chinese = menu_of(header_of(html_of(client.get("/"))))
    assert "My account" in english and "My account" not in chinese and "中文" in english and "English" in chinese


# --- the issue list's filters -----------------------------------------------------------------------------

def filter_fold(page: str) -> str:
    match = re.search(r'<details class="card filter-fold"[^>]*>.*?</details>', page, re.S)
    assert match, "the filters are not folded"
    return match.group(0)


def test_the_issue_filters_are_folded_until_one_is_chosen(client, world):
    fold = filter_fold(html_of(client.get("/c/x/issues")))
    assert not fold.startswith('<details class="card filter-fold" open')
    assert 'name="status"' in fold and 'name="overdue"' in fold and "Filter and order" in fold
    assert "chosen)" not in fold


@pytest.mark.parametrize("query, chosen", [
    ("status=open", 1), ("overdue=y", 1), ("sort=due", 1), ("status=open&overdue=y&sort=supported", 3),
    ("status=&sort=newest", 0),
])
def test_the_issue_filters_are_open_and_counted_while_chosen(client, world, query, chosen):
    fold = filter_fold(html_of(client.get(f"/c/x/issues?{query}")))
    assert fold.startswith('<details class="card filter-fold" open') == bool(chosen)
    assert (f"({chosen} chosen)" in fold) == bool(chosen)


def test_a_chosen_kind_of_problem_opens_the_filters_in_chinese_too(client, world):
    category = world.categories["lift"]
    client.set_cookie("language", "zh")
    fold = filter_fold(html_of(client.get(f"/c/x/issues?category={category.id}", headers={"Accept-Language": "zh"})))
    assert fold.startswith('<details class="card filter-fold" open') and "筛选和排序" in fold and "已选 1 项" in fold


# --- shared macros -----------------------------------------------------------------------------------------

def test_breadcrumbs_link_each_step_and_mark_the_page_itself(app):
    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "_macros.html" import breadcrumbs %}'
            '{{ breadcrumbs([("Huajiadi", "/c/x"), ("Issues", "/c/x/issues"), ("Lift <stuck>", None)]) }}')
    assert '<nav class="breadcrumbs" aria-label="You are here">' in html
    assert links_of(html) == ["/c/x", "/c/x/issues"]
    assert '<span aria-current="page">Lift &lt;stuck&gt;</span>' in html


# --- the owners' matter -------------------------------------------------------------------------------------

def test_the_owners_matter_is_a_list_of_choices_whose_names_wrap(client, auth, world):
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    page = html_of(client.get(f"/c/x/proposals/{proposal.id}/ballots/new?method=owners"))
    assert '<select id="matter"' not in page
    radios = re.findall(r'<input type="radio" id="(matter-\d)" name="matter" value="(\d)"', page)
    assert [value for _, value in radios] == [str(n) for n in range(1, 10)]
    for radio_id, _ in radios:
        assert f'<label class="check" for="{radio_id}">' in page
    assert "(7) Rebuilding or reconstructing buildings and attached facilities" in page


def test_a_refused_owners_ballot_keeps_the_chosen_matter(client, auth, world):
    from tests.csrf import csrf_token
    proposal = gen_in_deliberation(world)
    db.session.commit()
    auth.login(world.hoa_chair)
    path = f"/c/x/proposals/{proposal.id}/ballots/new?method=owners"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "method": "owners", "question": "Q",
                                       "matter": "7", "notice": "", "opens_at": "", "closes_at": ""})
    page = html_of(response)
    assert re.search(r'id="matter-7" name="matter" value="7" checked', page)
    assert not re.search(r'value="[1-689]" checked', page)
