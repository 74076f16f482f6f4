"""The language of Open311 answers: the client's Accept-Language, else the portal's DEFAULT_LANGUAGE (a hotline
client usually sends none)."""
import pytest

from tests.open311 import BASE, xml


@pytest.fixture
def chinese_portal(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEFAULT_LANGUAGE", "zh")


def _post(client, world, headers=None):
    data = {"api_key": world.token, "jurisdiction_id": "x", "service_code": "lift", "address_id": "3",
            "description": "电梯停在3楼"}
    return client.post(f"{BASE}/requests.json", data=data, headers=headers or {})


def test_without_accept_language_the_services_follow_the_portals_default_language(client, world, chinese_portal):
    services = client.get(f"{BASE}/services.json?jurisdiction_id=x").get_json()
    lift = next(s for s in services if s["service_code"] == "lift")
    assert lift["service_name"] == "电梯"
    assert "小时" in lift["description"] and "hours" not in lift["description"]
    root = xml(client.get(f"{BASE}/services.xml?jurisdiction_id=x"))
    assert root.find("service").findtext("service_name") == "电梯"


def test_without_accept_language_the_service_notice_is_chinese_throughout(client, world, chinese_portal):
    response = _post(client, world)
    assert response.status_code == 201
    notice = response.get_json()[0]["service_notice"]
    assert notice.startswith("已收到。") and notice.endswith("小时内响应。")
    assert "Received" not in notice and "will respond" not in notice
    [request] = client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()
    assert request["service_name"] == "电梯"


def test_a_client_that_asks_for_english_still_gets_english(client, world, chinese_portal):
    services = client.get(f"{BASE}/services.json?jurisdiction_id=x", headers={"Accept-Language": "en"}).get_json()
    assert next(s for s in services if s["service_code"] == "lift")["service_name"] == "Lift"
    notice = _post(client, world, headers={"Accept-Language": "en-US"}).get_json()[0]["service_notice"]
    assert notice.startswith("Received.")


def test_the_library_default_stays_english_when_no_default_language_is_set(client, world):
    services = client.get(f"{BASE}/services.json?jurisdiction_id=x").get_json()
    assert next(s for s in services if s["service_code"] == "lift")["service_name"] == "Lift"
    assert _post(client, world).get_json()[0]["service_notice"].startswith("Received.")


def test_kept_request_lists_are_not_shared_between_the_default_and_another_language(client, world, chinese_portal):
    _post(client, world)
    chinese = client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()
    english = client.get(f"{BASE}/requests.json?jurisdiction_id=x", headers={"Accept-Language": "en"}).get_json()
    assert (chinese[0]["service_name"], english[0]["service_name"]) == ("电梯", "Lift")
