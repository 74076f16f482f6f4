"""Creating requests: the key, the jurisdiction's scope, every check before anything is written, the audit,
the rate limit, and a hotline request flowing through the ordinary issue lifecycle."""
import uuid
from datetime import datetime, timedelta

import pytest

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.issues.models import Issue, IssueEvent
from portal.open311.models import Open311Request, Open311Usage
from tests.open311 import BASE, error_of, xml


def _post(client, world, fmt="json", **fields):
    data = {"api_key": world.token, "jurisdiction_id": "x", "service_code": "lift", "address_id": "3",
            "description": "Lift stuck on floor 3"}
    data.update({k: v for k, v in fields.items() if v is not None})
    for k in [k for k, v in fields.items() if v is None]:
        data.pop(k, None)
    return client.post(f"{BASE}/requests.{fmt}", data=data)


def link_phone(issue):
    return db.session.scalar(db.select(Open311Request.phone).where(Open311Request.issue_id == issue.id))


def _counts():
    return tuple(db.session.scalar(db.select(db.func.count()).select_from(model))
                 for model in (Issue, IssueEvent, Open311Request))


def test_create_in_json_gives_the_id_and_a_notice(client, world):
    response = _post(client, world, first_name="Li", last_name="Wei", phone="13912345678",
                     email="li@example.cn", address_string="East gate", lat="39.98", long="116.47")
    assert response.status_code == 201
    (body,) = response.get_json()
    assert set(body) == {"service_request_id", "service_notice", "account_id"}
    issue = db.session.get(Issue, int(body["service_request_id"]))
    assert body["service_notice"] and body["account_id"] is None
    # An ordinary hotline issue: routed by its category, with its deadlines, contact for handlers only.
    assert issue.source == "hotline" and issue.status == "submitted"
    assert issue.handling_org_id == world.pc_x.id
    assert issue.respond_by is not None and issue.building_id == world.bx.id
    assert issue.reporter_id is None and issue.reporter_name == "Li Wei"
    assert issue.reporter_phone is None and link_phone(issue) == "13912345678"
    assert issue.location_text == "East gate" and float(issue.latitude) == 39.98
    assert issue.title == "Lift stuck on floor 3"
    link = db.session.scalar(db.select(Open311Request).where(Open311Request.issue_id == issue.id))
    assert (link.key_id, link.email, link.first_name, link.last_name) == (world.key.id, "li@example.cn", "Li", "Wei")
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "open311.request_created"))
    assert entry.object_id == issue.id and entry.details["key_prefix"] == world.key.prefix
    assert "13912345678" not in str(entry.details)


def test_create_in_xml(client, world):
    response = _post(client, world, "xml")
    assert response.status_code == 201
    root = xml(response)
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert [c.tag for c in request] == ["service_request_id", "service_notice", "account_id"]
    assert db.session.get(Issue, int(request.findtext("service_request_id"))) is not None


def test_the_title_is_the_first_line_with_words_or_the_service(client, world):
    response = _post(client, world, description="\n\n  Door   jammed \nsecond line")
    assert db.session.get(Issue, int(response.get_json()[0]["service_request_id"])).title == "Door jammed"
    response = _post(client, world, description=None)
    assert db.session.get(Issue, int(response.get_json()[0]["service_request_id"])).title == "Lift · Building 3"
    response = _post(client, world, description="x" * 300)
    title = db.session.get(Issue, int(response.get_json()[0]["service_request_id"])).title
    assert len(title) == 120 and title.endswith("…")


def test_building_attribute_is_a_location(client, world):
    response = _post(client, world, address_id=None, **{"attribute[building]": "3"})
    assert response.status_code == 201
    issue = db.session.get(Issue, int(response.get_json()[0]["service_request_id"]))
    assert issue.building_id == world.bx.id
    link = db.session.scalar(db.select(Open311Request).where(Open311Request.issue_id == issue.id))
    assert link.attributes == {"building": "3"}


def test_handlers_see_the_source_and_masked_contact_the_public_does_not(client, world, auth):
    response = _post(client, world, first_name="Li", phone="13912345678", email="li@example.cn")
    issue_id = response.get_json()[0]["service_request_id"]
    page = client.get(f"/c/x/issues/{issue_id}").get_data(as_text=True)
    assert "Xicheng dispatch desk" not in page and "li@example.cn" not in page
    auth.login(world.property_x)
    page = client.get(f"/c/x/issues/{issue_id}").get_data(as_text=True)
    assert "Received via Xicheng dispatch desk" in page
    assert "li@example.cn" in page and "139****5678" in page and "13912345678" not in page


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_key_for_one_community_cannot_create_in_another(client, world, fmt):
    before = _counts()
    response = _post(client, world, fmt, jurisdiction_id="y", address_id="7")
    assert response.status_code == 403
    assert error_of(response, fmt)[0] == 403
    assert _counts() == before
    refused = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "open311.request_refused"))
    assert refused.details["code"] == 403 and refused.object_id == world.key.id


@pytest.mark.parametrize("token", [None, "", "o311_not-a-key", "x" * 5000])
def test_missing_or_wrong_key_is_403(client, world, token):
    before = _counts()
    response = _post(client, world, api_key=token)
    assert response.status_code == 403
    assert error_of(response)[0] == 403
    assert _counts() == before


def test_revoked_key_is_403(client, world):
    from portal.open311 import services
    services.revoke_key(world.admin, world.key)
    db.session.commit()
    before = _counts()
    response = _post(client, world, "xml")
    assert response.status_code == 403
    assert error_of(response, "xml") == (403, "This api_key was revoked.")
    assert _counts() == before


def test_unknown_jurisdiction_is_404(client, world):
    response = _post(client, world, jurisdiction_id="atlantis")
    assert response.status_code == 404 and error_of(response)[0] == 404


def test_the_key_may_come_in_the_query_string(client, world):
    response = client.post(f"{BASE}/requests.json?api_key={world.token}&jurisdiction_id=x",
                           data={"service_code": "lift", "address_id": "3"})
    assert response.status_code == 201


BAD = [
    ({"service_code": None}, "service_code is required."),
    ({"service_code": "nope"}, "Unknown service_code."),
    ({"address_id": None}, "A location is required: address_string, lat and long, or address_id."),
    ({"address_id": "99"}, "Unknown address_id: not a building code of this jurisdiction."),
    ({"lat": "abc", "long": "116.4"}, "lat must be a number of degrees (WGS-84)."),
    ({"lat": "NaN", "long": "116.4"}, "lat must be between -90 and 90 degrees."),
    ({"lat": "91", "long": "116.4"}, "lat must be between -90 and 90 degrees."),
    ({"lat": "39.9"}, "Give both lat and long, or neither."),
    ({"long": "1e999", "lat": "1"}, "long must be between -180 and 180 degrees."),
    ({"description": "x" * 4001}, "description is at most 4000 characters."),
    ({"description": "<script>alert(1)</script>"}, "description must be plain text, without HTML."),
    ({"description": "Lift &amp; stairs"}, "description must be plain text, without HTML."),
    ({"attribute[colour]": "red"}, "Unknown attribute code “colour”."),
    ({"attribute[building]": "99"}, "“99” is not a value of attribute “building”."),
    ({"attribute[building": "3"}, "Attributes are sent as attribute[code]=value."),
    ({"attribute[building]": "3", "address_id": "4"}, "address_id and attribute[building] name different buildings."),
    ({"email": "not-an-address"}, "email is not an e-mail address."),
    ({"phone": "call me"}, "phone is not a telephone number."),
    ({"phone": "1" * 21}, "phone is at most 20 characters."),
    ({"first_name": "x" * 41}, "first_name is at most 40 characters."),
    ({"address_string": "x" * 121}, "address_string is at most 120 characters."),
    ({"media_url": "javascript:alert(1)"}, "media_url must be an http or https address of at most 2048 characters."),
    ({"media_url": "https://" + "a" * 2050}, "media_url must be an http or https address of at most 2048 characters."),
    ({"description": "nul\x00byte"}, "Parameters may not contain NUL characters."),
]


@pytest.mark.parametrize("fields,message", BAD)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_input_is_400_with_the_spec_error_and_nothing_written(client, world, fields, message, fmt):
    before = _counts()
    response = _post(client, world, fmt, **fields)
    assert response.status_code == 400
    assert error_of(response, fmt) == (400, message)
    assert _counts() == before


def test_a_10_mb_description_is_400_and_nothing_written(client, world):
    before = _counts()
    response = _post(client, world, description="x" * (10 * 1024 * 1024))
    assert response.status_code == 400
    code, description = error_of(response)
    assert code == 400 and "description" in description
    assert _counts() == before


@pytest.mark.parametrize("body,content_type", [
    (b"\xff\xfe\x00garbage=%%%&&&==", "application/x-www-form-urlencoded"),
    (b'{"service_code": "lift"}', "application/json"),
    (b"--xyz\r\nContent-Disposition: form-data; name=\"service_code\"\r\n\r\nlift",
     "multipart/form-data; boundary=xyz"),
    (b"service_code=lift&address_id=3", "multipart/form-data"),
    (b"", "text/plain"),
])
def test_malformed_bodies_are_400_or_403_never_500(client, world, body, content_type):
    before = _counts()
    response = client.post(f"{BASE}/requests.json?api_key={world.token}&jurisdiction_id=x", data=body,
                           content_type=content_type)
    assert response.status_code == 400
    assert error_of(response)[0] == 400
    assert _counts() == before
    response = client.post(f"{BASE}/requests.xml", data=body, content_type=content_type)
    # No key in a form: 403; a body that is no form at all says so first (issue #20): 400.
    expected = 403 if content_type.startswith(("application/x-www-form-urlencoded", "multipart/")) else 400
    assert response.status_code == expected and error_of(response, "xml")[0] == expected


def test_the_api_needs_no_csrf_token_but_pages_still_do(app, world):
    from flask.testing import FlaskClient
    app.config["WTF_CSRF_ENABLED"], saved = True, app.config.get("WTF_CSRF_ENABLED")
    try:
        client = FlaskClient(app)
        assert _post(client, world).status_code == 201
        response = client.post("/login", data={"login": "x", "password": "y"})
        assert response.status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = saved


def test_hotline_request_flows_through_accept_and_resolve_to_closed_with_status_notes(client, world):
    from portal.issues import services as issues
    issue_id = int(_post(client, world, phone="13912345678").get_json()[0]["service_request_id"])
    url = f"{BASE}/requests/{issue_id}.json?jurisdiction_id=x"
    assert client.get(url).get_json()[0]["status"] == "open"
    issue = db.session.get(Issue, issue_id)
    later = issue.submitted_at + timedelta(minutes=5)
    issues.accept_issue(world.property_x, issue, note="On our way", now=later)
    db.session.commit()
    found = client.get(url).get_json()[0]
    assert (found["status"], found["status_notes"]) == ("open", "On our way")
    issues.post_update(world.property_x, issue, "Internal: spare part ordered", public=False,
                       now=later + timedelta(minutes=5))
    db.session.commit()
    assert client.get(url).get_json()[0]["status_notes"] == "On our way"
    issues.resolve_issue(world.property_x, issue, "Replaced the door sensor; the lift runs again.",
                         caller_contacted=True, contact_method="phone", now=later + timedelta(hours=2))
    db.session.commit()
    root = xml(client.get(f"{BASE}/requests/{issue_id}.xml?jurisdiction_id=x"))
    assert root.findtext("request/status") == "closed"
    assert root.findtext("request/status_notes") == "Replaced the door sensor; the lift runs again."
    updated = datetime.fromisoformat(root.findtext("request/updated_datetime"))
    assert updated == (later + timedelta(hours=2)).replace(microsecond=0)
    # It counts like any issue: the first response was recorded for the response rate.
    assert issue.first_response_at is not None


def test_rate_limit_in_the_database(client, world):
    from portal.open311 import services
    services.update_key(world.admin, world.key, name=world.key.name, communities=[world.x], media_hosts="",
                        rate_limit=3)
    db.session.commit()
    statuses = [_post(client, world, **({"service_code": "nope"} if i == 1 else {})).status_code for i in range(3)]
    assert statuses == [201, 400, 201]  # refused attempts count too
    response = _post(client, world, "xml")
    assert response.status_code == 429
    assert error_of(response, "xml")[0] == 429
    assert response.headers["Retry-After"] == "60"
    assert db.session.scalar(db.select(db.func.count()).select_from(Open311Request)) == 2
    # Another key has its own budget.
    other, token = services.create_key(world.admin, name="App", communities=[world.x], rate_limit=3)
    db.session.commit()
    assert _post(client, world, api_key=token).status_code == 201
    uses = db.session.scalars(db.select(Open311Usage.status).where(Open311Usage.key_id == world.key.id)
                              .order_by(Open311Usage.id)).all()
    assert uses == [201, 400, 201, 429]


def _redis_reachable(url):
    try:
        import redis
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.mark.skipif(not _redis_reachable(REDIS_URL), reason="no Redis on 127.0.0.1:6379")
def test_rate_limit_in_redis(app, client, world):
    import redis

    from portal.open311 import services
    services.update_key(world.admin, world.key, name=world.key.name, communities=[world.x], media_hosts="",
                        rate_limit=2)
    db.session.commit()
    saved = app.config.get("REDIS_URL")
    app.config["REDIS_URL"] = REDIS_URL
    try:
        assert [_post(client, world).status_code for _ in range(2)] == [201, 201]
        # The database has no say now: empty its count, Redis still refuses.
        db.session.execute(db.delete(Open311Usage))
        db.session.commit()
        response = _post(client, world)
        assert response.status_code == 429 and error_of(response)[0] == 429
        keys = redis.Redis.from_url(REDIS_URL).keys(f"open311:rate:{world.key.id}:{world.key.prefix}:*")
        assert keys
    finally:
        app.config["REDIS_URL"] = saved
        client_ = redis.Redis.from_url(REDIS_URL)
        for name in client_.keys(f"open311:rate:*:{world.key.prefix}:*"):
            client_.delete(name)


def test_unreachable_redis_falls_back_to_the_database(app, client, world):
    from portal.open311 import services
    services.update_key(world.admin, world.key, name=world.key.name, communities=[world.x], media_hosts="",
                        rate_limit=1)
    db.session.commit()
    saved = app.config.get("REDIS_URL")
    app.config["REDIS_URL"] = f"redis://127.0.0.1:1/{uuid.uuid4().int % 15}"
    try:
        assert _post(client, world).status_code == 201
        assert _post(client, world).status_code == 429
    finally:
        app.config["REDIS_URL"] = saved
