"""Open311 fixes found by a published GeoReport client and curl (issue #20): POST answers 201 with Location in
both formats; a date-only start_date/end_date is the community's local midnight; a JSON body gets 400 "form-encoded
body expected"; callers' names in Chinese order; OPTIONS answers the CORS preflight; texts follow the portal's
default language when the client sends none."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.extensions import db
from portal.issues.models import Issue
from portal.open311.models import Open311Request, Open311Usage, caller_name
from tests.open311 import BASE, create_via_service, error_of, xml


def _fields(world, **more):
    data = {"api_key": world.token, "jurisdiction_id": "x", "service_code": "lift", "address_id": "3",
            "description": "电梯停在3楼"}
    data.update(more)
    return data


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_created_request_is_201_with_its_address_in_location(client, world, fmt):
    response = client.post(f"{BASE}/requests.{fmt}", data=_fields(world))
    assert response.status_code == 201
    request_id = (response.get_json()[0]["service_request_id"] if fmt == "json"
                  else xml(response).find("request").findtext("service_request_id"))
    assert response.headers["Location"] == f"https://yishi.test{BASE}/requests/{request_id}.{fmt}"
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
    assert client.get(response.headers["Location"].removeprefix("https://yishi.test")
                      + "?jurisdiction_id=x").status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_json_body_is_400_form_encoded_body_expected_not_403(client, world, fmt):
    response = client.post(f"{BASE}/requests.{fmt}", json=_fields(world))
    assert response.status_code == 400
    code, description = error_of(response, fmt)
    assert code == 400 and description.startswith("form-encoded body expected")
    response = client.post(f"{BASE}/requests.{fmt}", data=b"<request/>", content_type="text/xml")
    assert error_of(response, fmt)[1].startswith("form-encoded body expected")
    assert db.session.scalar(db.select(db.func.count()).select_from(Issue)) == 0
    # Form-encoded and multipart bodies are what the specification sends.
    assert client.post(f"{BASE}/requests.{fmt}", data=_fields(world),
                       content_type="multipart/form-data").status_code == 201
    assert db.session.scalar(db.select(db.func.count()).select_from(Open311Usage)) == 1


def test_a_date_only_start_or_end_is_the_communitys_local_midnight(client, world):
    # Community x is in Asia/Shanghai: 2026-06-10 starts at 2026-06-09T16:00Z.
    before = create_via_service(world, now=datetime(2026, 6, 9, 15, 59, tzinfo=UTC))
    after = create_via_service(world, now=datetime(2026, 6, 9, 16, 0, tzinfo=UTC))
    late = create_via_service(world, now=datetime(2026, 6, 12, 16, 0, tzinfo=UTC))
    db.session.commit()

    def ids(**query):
        response = client.get(f"{BASE}/requests.json", query_string={"jurisdiction_id": "x", **query})
        assert response.status_code == 200, response.get_json()
        return {int(r["service_request_id"]) for r in response.get_json()}
    assert ids(start_date="2026-06-10") == {after.id, late.id}
    assert ids(start_date="2026-06-10", end_date="2026-06-13") == {after.id, late.id}
    assert ids(start_date="2026-06-10", end_date="2026-06-12") == {after.id}
    assert ids(end_date="2026-06-10") == {before.id, after.id}  # up to and including local midnight
    assert ids(start_date="2026-06-09T00:00:00+08:00", end_date="2026-06-10") == {before.id, after.id}
    for bad in ("2026-02-30", "1999-12-31", "2026-6-1"):
        response = client.get(f"{BASE}/requests.json", query_string={"jurisdiction_id": "x", "start_date": bad})
        assert response.status_code == 400 and "start_date" in error_of(response)[1]
    response = client.get(f"{BASE}/requests.json", query_string={"jurisdiction_id": "x", "start_date": "2026-01-01",
                                                                 "end_date": "2026-06-01"})
    assert error_of(response) == (400, "The date range may not span more than 90 days.")


def test_caller_names_are_in_chinese_order(client, world, auth):
    assert caller_name("测试", "王") == "王测试"
    assert caller_name("女士", "张") == "张女士"
    assert caller_name(None, "王") == "王" and caller_name("John", "Smith") == "John Smith"
    assert caller_name("", "") == ""
    response = client.post(f"{BASE}/requests.json", data=_fields(world, first_name="测试", last_name="王",
                                                                  phone="13912345678"))
    issue = db.session.get(Issue, int(response.get_json()[0]["service_request_id"]))
    assert issue.reporter_name == "王测试"
    link = db.session.scalar(db.select(Open311Request).where(Open311Request.issue_id == issue.id))
    assert (link.first_name, link.last_name, link.caller_name) == ("测试", "王", "王测试")
    auth.login(world.property_x)
    page = client.get(f"/c/x/issues/{issue.id}").get_data(as_text=True)
    assert "王测试" in page and "测试 王" not in page


@pytest.mark.parametrize("path, methods", [
    ("requests.json", "GET, HEAD, POST, OPTIONS"), ("requests.xml", "GET, HEAD, POST, OPTIONS"),
    ("services.json", "GET, HEAD, OPTIONS"), ("requests/12.json", "GET, HEAD, OPTIONS"),
    ("discovery.xml", "GET, HEAD, OPTIONS")])
def test_options_answers_the_preflight_of_browser_clients(client, world, path, methods):
    response = client.options(f"{BASE}/{path}", headers={
        "Origin": "https://app.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204 and response.data == b""
    assert response.headers["Allow"] == methods == response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    assert "Accept-Language" in response.headers["Access-Control-Allow-Headers"]
    assert int(response.headers["Access-Control-Max-Age"]) > 0


@pytest.fixture
def chinese_portal(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", "zh")


def test_errors_follow_the_portals_default_language_without_accept_language(client, world, chinese_portal):
    response = client.post(f"{BASE}/requests.json", json=_fields(world))
    description = error_of(response)[1]
    assert "form-encoded" not in description and "application/x-www-form-urlencoded" in description
    response = client.post(f"{BASE}/requests.json", data=_fields(world, service_code=""))
    assert error_of(response)[1] != "service_code is required." and "service_code" in error_of(response)[1]
    english = client.post(f"{BASE}/requests.json", data=_fields(world, service_code=""),
                          headers={"Accept-Language": "en"})
    assert error_of(english)[1] == "service_code is required."
    notice = client.post(f"{BASE}/requests.json", data=_fields(world)).get_json()[0]["service_notice"]
    assert notice.startswith("已收到。")


def test_the_recent_window_still_defaults_with_no_dates(client, world):
    made = create_via_service(world, now=datetime.now(UTC) - timedelta(days=1))
    db.session.commit()
    assert [r["service_request_id"] for r in client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()] \
        == [str(made.id)]
