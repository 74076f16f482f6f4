"""Dashboard pages: who may see which scope, bad filters, the issues behind a number, exports (same numbers
as the screen, BOM, formula injection, personal data only when ticked and allowed, audited), hotspot →
action."""
import csv
import html
import io
import re
from datetime import timedelta

import pytest

from tests.dashboard.conftest import add_issues
from tests.residents import post


def _table_rows(page: str) -> dict:
    """{caption: [[cell text, …], …]} of every table on a page (header row included)."""
    tables = {}
    for caption, body in re.findall(r"<caption[^>]*>(.*?)</caption>(.*?)</table>", page, re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
            cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                     for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            rows.append(cells)
        tables[html.unescape(caption.strip())] = rows
    return tables


def _csv_tables(body: bytes) -> dict:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    tables, current = {}, None
    for row in csv.reader(io.StringIO(text[1:])):
        if not row:
            current = None
        elif current is None:
            current = tables.setdefault(row[0], [])
        else:
            current.append(row)
    return tables


# --- who sees what -----------------------------------------------------------------------------------------

def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_official_sees_every_community_of_the_sub_district(client, auth, world):
    auth.login(world.official_a)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Wangjing" in page
    rows = _table_rows(page)["By community"]
    names = [r[0] for r in rows[1:]]
    assert world.x.name in names
    assert world.z.name not in page
    # Overall: 2 of 3 responded in time, 2 of 2 resolved, 2 of 2 satisfied.
    overall = _table_rows(page)["The three rates"][1]
    assert overall[1:] == ["3", "2", "3", "66.7", "2", "2", "100.0", "2", "2", "100.0"]


def test_official_of_another_sub_district_is_refused(client, auth, world):
    auth.login(world.official_b)
    assert client.get(f"/dashboard?sub_district={world.sd_a.id}").status_code == 403
    assert client.get("/dashboard?community=x").status_code == 403
    assert client.get(f"/dashboard/export?format=csv&sub_district={world.sd_a.id}").status_code == 403
    assert client.get(f"/dashboard/issues?sub_district={world.sd_a.id}&rate=response&part=denominator"
                      ).status_code == 403


def test_committee_member_sees_their_own_community_only(client, auth, world):
    auth.login(world.member_x)
    response = client.get("/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    names = [r[0] for r in _table_rows(page)["By community"][1:]]
    assert names == [world.x.name]
    assert client.get("/dashboard?community=y").status_code == 403
    # Asking for the whole sub-district still shows only their community.
    page = client.get(f"/dashboard?sub_district={world.sd_a.id}").get_data(as_text=True)
    assert [r[0] for r in _table_rows(page)["By community"][1:]] == [world.x.name]


def test_resident_is_refused_and_has_no_nav_link(client, auth, world):
    auth.login(world.reporter)
    assert client.get("/dashboard").status_code == 403
    assert 'href="/dashboard"' not in client.get("/").get_data(as_text=True)


def test_nav_link_for_officials_and_committee_members(client, auth, world):
    auth.login(world.official_a)
    assert 'href="/dashboard"' in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(world.member_x)
    assert 'href="/dashboard"' in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("query", ["from=2026-13", "to=2026-13", "from=2026-1", "to=abc",
                                   "from=2026-05&to=2026-01", "category=%3Cscript%3E", "org=x1"])
def test_bad_filters_are_a_400_page_with_a_message(client, auth, world, query):
    auth.login(world.official_a)
    response = client.get("/dashboard?" + query)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Error code" in page and "<script>" not in page
    assert client.get("/dashboard/export?format=csv&" + query).status_code == 400


def test_month_13_message_names_the_problem(client, auth, world):
    auth.login(world.official_a)
    page = client.get("/dashboard?from=2026-13").get_data(as_text=True)
    assert "2026-13" in page


def test_charts_are_accessible_svg_with_tables(client, auth, world):
    auth.login(world.official_a)
    page = client.get("/dashboard").get_data(as_text=True)
    assert page.count('role="img"') >= 2
    assert '<svg class="chart chart-lines"' in page and '<svg class="chart chart-bars"' in page
    assert "<title id=\"chart-trend-title\">" in page and "<desc id=\"chart-categories-desc\">" in page
    assert " style=" not in page
    tables = _table_rows(page)
    assert "By month" in tables and "Issues by category" in tables


# --- the issues behind a number ------------------------------------------------------------------------------

def test_every_figure_links_to_its_issues(client, auth, world):
    auth.login(world.official_a)
    page = client.get("/dashboard").get_data(as_text=True)
    links = {html.unescape(h) for h in re.findall(r'href="(/dashboard/issues\?[^"]+)"', page)}
    assert links
    denominator = next(link for link in links if "rate=response" in link and "part=denominator" in link
                       and "group=overall" in link)
    listing = client.get(denominator).get_data(as_text=True)
    for issue in world.good + world.late:
        assert f"#{issue.id} " in listing
    numerator = denominator.replace("part=denominator", "part=numerator")
    listing = client.get(numerator).get_data(as_text=True)
    assert f"#{world.late[0].id} " not in listing and f"#{world.good[0].id} " in listing
    for link in links:
        assert client.get(link).status_code == 200, link


def test_issues_behind_with_bad_arguments_is_400(client, auth, world):
    auth.login(world.official_a)
    for query in ("rate=speed&part=numerator", "rate=response&part=half", "rate=response&part=numerator&group=x",
                  "rate=response&part=numerator&group=month&key=2026-13",
                  "rate=response&part=numerator&group=community&key=abc"):
        assert client.get("/dashboard/issues?" + query).status_code == 400, query


def test_issues_behind_without_arguments_lists_the_response_denominator(client, auth, world):
    auth.login(world.official_a)
    response = client.get("/dashboard/issues")
    assert response.status_code == 200
    listing = response.get_data(as_text=True)
    for issue in world.good + world.late:
        assert f"#{issue.id} " in listing
    assert "Response rate · denominator" in listing


def test_issues_behind_show_translated_states(client, auth, world):
    from portal.extensions import db
    world.good[0].status = "in_progress"
    world.good[1].status = "closed"
    db.session.commit()
    auth.login(world.official_a)
    page = client.get("/dashboard/issues?rate=response&part=denominator").get_data(as_text=True)
    assert "In progress" in page and "Closed" in page
    assert "· in_progress ·" not in page and "· closed ·" not in page
    page = client.get("/dashboard/issues?rate=response&part=denominator",
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "in_progress" not in re.sub(r'class="[^"]*"', "", page)
    assert ">closed<" not in page


# --- choosing a category -------------------------------------------------------------------------------------

def test_choosing_a_category_filters_the_page_and_the_export(client, auth, world):
    auth.login(world.official_a)
    page = client.get("/dashboard").get_data(as_text=True)
    codes = re.findall(r'<select id="f-category" name="category">(.*?)</select>', page, re.S)[0]
    offered = re.findall(r'<option value="([^"]+)"', codes)
    assert "lift" in offered
    for code in offered:
        assert client.get("/dashboard?category=" + code).status_code == 200, code
    lift = client.get("/dashboard?category=lift").get_data(as_text=True)
    assert '<option value="lift" selected>' in lift
    assert _table_rows(lift)["The three rates"][1][1] == "3"
    water = _table_rows(client.get("/dashboard?category=water").get_data(as_text=True))
    assert water["The three rates"][1][1] == "0"
    for fmt in ("csv", "xlsx"):
        response = client.get(f"/dashboard/export?format={fmt}&category=lift")
        assert response.status_code == 200, fmt
    exported = _csv_tables(client.get("/dashboard/export?format=csv&category=water").data)
    assert exported["The three rates"][1][1] == "0"


# --- export --------------------------------------------------------------------------------------------------

def test_csv_export_equals_the_screen_and_has_a_bom(client, auth, world):
    auth.login(world.official_a)
    screen = _table_rows(client.get("/dashboard").get_data(as_text=True))
    response = client.get("/dashboard/export?format=csv")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in response.headers["Content-Disposition"]
    exported = _csv_tables(response.data)
    for caption, rows in screen.items():
        assert caption in exported, caption
        if len(rows) > 1 and rows[1] and rows[1][0] == "Nothing in this period.":
            rows = rows[:1]
        assert exported[caption] == rows, caption


def test_xlsx_export_equals_the_screen(client, auth, world):
    from openpyxl import load_workbook
    auth.login(world.official_a)
    screen = _table_rows(client.get("/dashboard").get_data(as_text=True))
    response = client.get("/dashboard/export?format=xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]  # the three rates
    values = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert values == screen["The three rates"]
    assert len(book.worksheets) == len(screen)


def test_export_escapes_formula_cells(client, auth, world):
    from openpyxl import load_workbook

    from portal.extensions import db
    world.categories["lift"].name = '=HYPERLINK("http://evil","x")'
    world.categories["water"].name = "+1+1"
    world.categories["noise"].name = "@SUM(A1)"
    world.categories["parking"].name = "-2+3"
    db.session.commit()
    add_issues(world, 1, category="water")
    add_issues(world, 1, category="noise")
    add_issues(world, 1, category="parking")
    auth.login(world.official_a)
    body = client.get("/dashboard/export?format=csv").data.decode("utf-8")
    cells = [c for row in csv.reader(io.StringIO(body[1:])) for c in row]
    assert "'=HYPERLINK(\"http://evil\",\"x\")" in cells and "'+1+1" in cells
    assert "'@SUM(A1)" in cells and "'-2+3" in cells
    assert not any(c[:1] in ("=", "+", "-", "@") for c in cells)
    # The XLSX keeps the text as it is (no visible apostrophe) in string cells marked "quote prefix".
    book = load_workbook(io.BytesIO(client.get("/dashboard/export?format=xlsx").data))
    texts = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith("'"), cell.value
                    texts[cell.value] = cell
    for name in ('=HYPERLINK("http://evil","x")', "+1+1", "@SUM(A1)", "-2+3"):
        assert texts[name].data_type == "s" and texts[name].quotePrefix, name


def test_safe_cell_rules():
    from portal.dashboard.export import safe_cell
    assert safe_cell("=1") == "'=1" and safe_cell("+1") == "'+1" and safe_cell("-1") == "'-1"
    assert safe_cell("@x") == "'@x" and safe_cell("\t=1") == "'\t=1"
    assert safe_cell("—") == "—" and safe_cell(5) == 5 and safe_cell("66.7") == "66.7"


def test_personal_data_only_when_ticked_and_allowed(client, auth, world):
    auth.login(world.official_a)
    plain = client.get("/dashboard/export?format=csv").data.decode("utf-8")
    assert world.reporter.phone not in plain and "Reporter P" not in plain
    personal = client.get("/dashboard/export?format=csv&personal=1").data.decode("utf-8")
    assert world.reporter.phone in personal and "Reporter P" in personal
    auth.logout()
    auth.login(world.member_x)
    assert client.get("/dashboard/export?format=csv").status_code == 200
    assert client.get("/dashboard/export?format=csv&personal=1").status_code == 403
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'name="personal"' not in page


def test_every_export_is_audited(client, auth, world):
    from portal.audit.models import AuditEntry
    from portal.extensions import db
    auth.login(world.official_a)
    client.get("/dashboard/export?format=csv")
    client.get("/dashboard/export?format=xlsx&personal=1&community=x")
    entries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "dashboard.export")
                                 .order_by(AuditEntry.id)).all()
    assert [(e.actor_id, e.details["format"], e.details["personal"]) for e in entries] == [
        (world.official_a.id, "csv", False), (world.official_a.id, "xlsx", True)]
    assert entries[1].details["community"] == "x"
    auth.logout()
    auth.login(world.member_x)
    client.get("/dashboard/export?format=csv&personal=1")  # refused: not audited as an export
    assert db.session.scalar(db.select(db.func.count(AuditEntry.id)).where(
        AuditEntry.action == "dashboard.export")) == 2


def test_unknown_export_format_is_400(client, auth, world):
    auth.login(world.official_a)
    assert client.get("/dashboard/export?format=pdf").status_code == 400


# --- hotspot → action ----------------------------------------------------------------------------------------

def _hotspot_world(world):
    """Three water issues in building 3 this month where the previous six months had none: a hotspot."""
    add_issues(world, 3, category="water")
    return world.categories["water"]


def test_hotspot_turns_into_an_action(client, auth, world):
    from portal.actions.models import Action
    from portal.clock import local_today
    from portal.extensions import db
    water = _hotspot_world(world)
    auth.login(world.official_a)
    page = client.get("/dashboard").get_data(as_text=True)
    links = [html.unescape(h) for h in re.findall(r'href="(/dashboard/hotspots/action\?[^"]+)"', page)]
    assert links
    link = next(link for link in links if f"category={water.id}" in link)
    form = client.get(link)
    assert form.status_code == 200
    month = re.search(r"month=([0-9-]+)", link).group(1)
    data = {"community": "x", "building": world.bx.id, "category": water.id, "month": month,
            "title": "Fix the water pipes", "responsible_org": world.pc_x.id,
            "due_date": (local_today() + timedelta(days=10)).isoformat()}
    response = post(client, "/dashboard/hotspots/action", data, token_from=link)
    assert response.status_code == 302
    action = db.session.scalar(db.select(Action))
    assert action.source == "hotspot" and action.hotspot_building_id == world.bx.id
    assert action.hotspot_category_id == water.id and action.hotspot_month == month


def test_hotspot_action_with_a_past_due_date_shows_the_message(client, auth, world):
    from portal.actions.models import Action
    from portal.clock import local_today
    from portal.extensions import db
    water = _hotspot_world(world)
    auth.login(world.official_a)
    month = f"{local_today():%Y-%m}"
    link = f"/dashboard/hotspots/action?community=x&building={world.bx.id}&category={water.id}&month={month}"
    data = {"community": "x", "building": world.bx.id, "category": water.id, "month": month,
            "title": "Fix", "responsible_org": world.pc_x.id,
            "due_date": (local_today() - timedelta(days=1)).isoformat()}
    response = post(client, "/dashboard/hotspots/action", data, token_from=link)
    assert response.status_code == 200 and 'class="error' in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Action.id))) == 0


def test_committee_member_and_other_official_cannot_turn_hotspots_into_actions(client, auth, world):
    from portal.clock import local_today
    water = _hotspot_world(world)
    month = f"{local_today():%Y-%m}"
    link = f"/dashboard/hotspots/action?community=x&building={world.bx.id}&category={water.id}&month={month}"
    for person in (world.member_x, world.official_b, world.reporter):
        auth.login(person)
        assert client.get(link).status_code == 403
        auth.logout()
    auth.login(world.member_x)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "/dashboard/hotspots/action" not in page


def test_hotspot_action_with_bad_ids_is_404_or_400(client, auth, world):
    auth.login(world.official_a)
    assert client.get("/dashboard/hotspots/action?community=x&building=999&category=1&month=2026-01"
                      ).status_code == 404
    assert client.get("/dashboard/hotspots/action?community=x&building=x&category=1&month=2026-01"
                      ).status_code == 400
    assert client.get(f"/dashboard/hotspots/action?community=x&building={world.bx.id}"
                      f"&category={world.categories['water'].id}&month=2026-13").status_code == 400


def test_the_figures_links_are_what_url_for_builds(app):
    """portal.dashboard.views.issues_link appends the figure's arguments to the filters' address built once:
    the same bytes as url_for with all of them, whatever the filters and keys (names that need quoting too)."""
    from flask import url_for

    from portal.dashboard.views import issues_link
    with app.test_request_context("/dashboard"):
        for base in ({"sub_district": 3, "from": "2026-01", "to": "2026-12"},
                     {"sub_district": 3, "from": "2026-01", "to": "2026-12", "community": "hua-jia-di",
                      "category": "电梯 & lift/2", "org": 7}):
            link = issues_link(base)
            for rate, part, group, key in (("response", "numerator", "overall", None),
                                           ("resolution", "denominator", "community", 12),
                                           ("satisfaction", "numerator", "category", "水 电+?#%"),
                                           ("response", "denominator", "org", None),
                                           ("response", "numerator", "month", "2026-11")):
                args = dict(base, rate=rate, part=part, group=group)
                if group != "overall":
                    args["key"] = "none" if key is None else key
                assert link(rate, part, group, key) == url_for("dashboard.issues", **args)
