"""The suggested category on the report form (htmx and without JavaScript), a handler changing an issue's
category from its page, and admins editing a category's keywords."""
import re

from portal.extensions import db
from portal.issues.models import CategoryModel, Issue
from tests.issues import gen_issue
from tests.residents import post


def html_of(response) -> str:
    return response.get_data(as_text=True)


def selected_value(page, name="category"):
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    found = re.search(r'<option[^>]*selected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"[^>]*selected', select)
    return None if found is None else (found.group(1) or found.group(2))


def test_the_suggestion_follows_what_is_typed_and_preselects_the_top_one(client, auth, world):
    auth.login(world.reporter)
    lift = world.categories["lift"].id
    response = client.get("/c/x/issues/suggest-category", query_string={"title": "电梯停运了", "description": ""},
                          headers={"HX-Request": "true"})
    page = html_of(response)
    assert response.status_code == 200 and "<html" not in page and 'id="category-field"' in page
    assert selected_value(page) == str(lift)
    assert f'name="category_suggested" value="{lift}"' in page
    assert "Suggested from what you wrote" in page
    # The suggested kinds come first in the list.
    options = re.findall(r'<option[^>]*value="(\d+)"', page)
    assert options[0] == str(lift)


def test_a_residents_own_choice_is_never_overridden(client, auth, world):
    auth.login(world.reporter)
    noise = world.categories["noise"].id
    page = html_of(client.get("/c/x/issues/suggest-category", headers={"HX-Request": "true"}, query_string={
        "title": "电梯停运了", "category": noise, "category_suggested": ""}))
    assert selected_value(page) == str(noise)
    assert 'name="category_suggested" value=""' in page
    # What an earlier suggestion chose does follow the text.
    page = html_of(client.get("/c/x/issues/suggest-category", headers={"HX-Request": "true"}, query_string={
        "title": "楼道路灯不亮", "category": world.categories["lift"].id,
        "category_suggested": world.categories["lift"].id}))
    assert selected_value(page) == str(world.categories["lighting"].id)


def test_without_javascript_checking_also_suggests_the_category(client, auth, world):
    auth.login(world.reporter)
    response = post(client, "/c/x/issues/new", {"title": "楼下有人飞线充电", "description": "电线从窗户吊下来",
                                                "category": "", "building": world.bx.id, "check": "1"})
    page = html_of(response)
    assert response.status_code == 200
    assert selected_value(page) == str(world.categories["security"].id)
    assert db.session.scalar(db.select(db.func.count(Issue.id))) == 0


def test_the_report_form_asks_for_the_suggestion_while_typing(client, auth, world):
    auth.login(world.reporter)
    page = html_of(client.get("/c/x/issues/new"))
    assert 'hx-get="/c/x/issues/suggest-category"' in page and 'id="category-field"' in page


def test_the_suggestion_page_without_htmx_lists_the_kinds(client, auth, world):
    auth.login(world.reporter)
    page = html_of(client.get("/c/x/issues/suggest-category", query_string={"title": "垃圾桶满了没人清"}))
    assert "<html" in page and "Rubbish and cleaning" in page


def test_only_verified_residents_ask_for_suggestions(client, auth, world):
    assert client.get("/c/x/issues/suggest-category?title=lift").status_code in (302, 401, 403)
    auth.login(world.resident_y)
    assert client.get("/c/x/issues/suggest-category?title=lift").status_code == 403


def test_a_handler_changes_the_category_and_the_model_goes_stale(client, auth, world):
    issue = gen_issue(world, title="楼道里有股怪味")
    db.session.commit()
    handler = world.property_x if issue.handling_org_id == world.pc_x.id else world.member_x
    auth.login(handler)
    page = html_of(client.get(f"/c/x/issues/{issue.id}"))
    assert "Change the kind of problem" in page
    response = post(client, f"/c/x/issues/{issue.id}/category",
                    {"recategorize-category": world.categories["gas"].id})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Issue, issue.id).category.code == "gas"
    assert db.session.scalar(db.select(CategoryModel.stale).where(CategoryModel.community_id == world.x.id))
    # The same category again: refused on the page, nothing written.
    response = post(client, f"/c/x/issues/{issue.id}/category", {"recategorize-category": world.categories["gas"].id})
    assert response.status_code == 200 and "already has this category" in html_of(response)


def test_a_resident_cannot_change_the_category(client, auth, world):
    issue = gen_issue(world)
    db.session.commit()
    auth.login(world.neighbour)
    response = post(client, f"/c/x/issues/{issue.id}/category", {"recategorize-category": world.categories["gas"].id})
    assert response.status_code == 403


def test_admins_edit_a_categorys_keywords(client, auth, world):
    admin = world.admin if hasattr(world, "admin") else None
    if admin is None:
        from tests.factories import gen_user
        admin = gen_user(is_admin=True)
        db.session.commit()
    auth.login(admin)
    other = world.categories["other"]
    page = html_of(client.get("/c/x/issues/categories"))
    assert f'name="cat{other.id}-keywords"' in page
    response = post(client, "/c/x/issues/categories", {
        "category_id": other.id, f"cat{other.id}-name": other.name, f"cat{other.id}-deadline_class": "ordinary",
        f"cat{other.id}-respond_hours": "24", f"cat{other.id}-resolve_hours": "168",
        f"cat{other.id}-is_active": "y", f"cat{other.id}-keywords": "蟑螂，老鼠"})
    assert response.status_code == 302, html_of(response)[:2000]
    db.session.expire_all()
    assert world.categories["other"].keywords == "蟑螂, 老鼠"


def test_the_issue_list_searches_open_issues_by_words(client, world):
    stopped = gen_issue(world, title="3号楼电梯停运了")
    gen_issue(world, title="垃圾分类没人管", category="rubbish")
    db.session.commit()
    page = html_of(client.get("/c/x/issues", query_string={"q": "电梯"}))
    assert 'name="q"' in page and "3号楼电梯停运了" in page and "垃圾分类没人管" not in page
    page = html_of(client.get("/c/x/issues", query_string={"q": "停运 电梯"}))
    assert f"/c/x/issues/{stopped.id}" in page
    page = html_of(client.get("/c/x/issues", query_string={"q": "电梯 垃圾"}))
    assert "3号楼电梯停运了" not in page and "垃圾分类没人管" not in page
    assert "垃圾分类没人管" in html_of(client.get("/c/x/issues", query_string={"q": "，，"}))
