"""Reading: discovery, services, service definitions and requests, in JSON and XML, with the spec's errors."""
from datetime import UTC, datetime, timedelta

import pytest

from portal.clock import utcnow
from portal.extensions import db
from tests.open311 import BASE, create_via_service, error_of, xml

REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


def test_discovery_lists_the_endpoint_formats_and_specification(client, world):
    body = client.get(f"{BASE}/discovery.json").get_json()
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "https://yishi.test/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert body["key_service"] == "https://yishi.test/open311/"
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/type") == "production"


def test_services_list_one_service_per_active_category(client, world):
    response = client.get(f"{BASE}/services.json?jurisdiction_id=x")
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    services = response.get_json()
    assert [s["service_code"] for s in services] == list(world.categories)
    lift = services[0]
    assert lift == {"service_code": "lift", "service_name": "Lift", "description": lift["description"],
                    "metadata": True, "type": "realtime", "keywords": "lift", "group": "Emergency"}
    root = xml(client.get(f"{BASE}/services.xml?jurisdiction_id=x"))
    assert root.tag == "services"
    first = root.find("service")
    assert first.findtext("service_code") == "lift"
    assert first.findtext("metadata") == "true"
    assert first.findtext("type") == "realtime"
    assert len(root.findall("service")) == len(world.categories)


def test_inactive_category_is_not_a_service(client, world):
    world.categories["gas"].is_active = False
    db.session.commit()
    codes = [s["service_code"] for s in client.get(f"{BASE}/services.json?jurisdiction_id=x").get_json()]
    assert "gas" not in codes
    assert client.get(f"{BASE}/services/gas.json?jurisdiction_id=x").status_code == 404


def test_service_definition_offers_the_buildings_as_a_list(client, world):
    body = client.get(f"{BASE}/services/lift.json?jurisdiction_id=x").get_json()
    assert body["service_code"] == "lift"
    (attribute,) = body["attributes"]
    assert attribute["code"] == "building"
    assert attribute["datatype"] == "singlevaluelist"
    assert attribute["required"] is False and attribute["variable"] is True and attribute["order"] == 1
    assert attribute["values"] == [{"key": "3", "name": "Building 3"}]
    root = xml(client.get(f"{BASE}/services/lift.xml?jurisdiction_id=x"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "lift"
    values = root.findall("attributes/attribute/values/value")
    assert [(v.findtext("key"), v.findtext("name")) for v in values] == [("3", "Building 3")]
    assert root.findtext("attributes/attribute/datatype") == "singlevaluelist"
    assert root.findtext("attributes/attribute/required") == "false"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_code_is_404_with_the_error_body(client, world, fmt):
    response = client.get(f"{BASE}/services/nope.{fmt}?jurisdiction_id=x")
    assert response.status_code == 404
    assert error_of(response, fmt)[0] == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_jurisdiction_is_404(client, world, fmt):
    for path in ("services", "requests"):
        response = client.get(f"{BASE}/{path}.{fmt}?jurisdiction_id=atlantis")
        assert response.status_code == 404
        code, description = error_of(response, fmt)
        assert code == 404 and "jurisdiction_id" in description


def test_jurisdiction_is_required_with_several_communities(client, world):
    response = client.get(f"{BASE}/services.json")
    assert response.status_code == 400
    assert "jurisdiction_id" in error_of(response)[1]


def test_jurisdiction_may_be_left_out_with_one_community(client, app):
    from portal.issues import services as issues
    from tests.factories import gen_community
    community = gen_community(slug="only")
    issues.ensure_default_categories(community)
    db.session.commit()
    assert client.get(f"{BASE}/services.json").status_code == 200


def test_unknown_resource_and_method_answer_in_the_error_format(client, world):
    response = client.get(f"{BASE}/tokens/1.xml")
    assert response.status_code == 404 and error_of(response, "xml")[0] == 404
    response = client.get(f"{BASE}/services.html?jurisdiction_id=x")
    assert response.status_code == 404 and error_of(response)[0] == 404
    response = client.put(f"{BASE}/requests.json")
    assert response.status_code == 405 and error_of(response)[0] == 405
    response = client.delete(f"{BASE}/requests/1.xml")
    assert response.status_code == 405 and error_of(response, "xml")[0] == 405


def _request_in(world, **fields):
    issue = create_via_service(world, **fields)
    db.session.commit()
    return issue


def test_requests_carry_every_field_in_both_formats(client, world):
    issue = _request_in(world, lat="39.98", long="116.47", address_string="East gate",
                        description="Lift stuck\nsince morning")
    body = client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()
    assert len(body) == 1
    found = body[0]
    assert list(found) == REQUEST_FIELDS
    assert found["service_request_id"] == str(issue.id)
    assert found["status"] == "open"
    assert found["service_code"] == "lift" and found["service_name"] == "Lift"
    assert found["description"] == "Lift stuck\nsince morning"
    assert found["agency_responsible"] == world.pc_x.name
    assert found["address"] == "East gate" and found["address_id"] == "3"
    assert found["zipcode"] == "100102"
    assert (found["lat"], found["long"]) == (39.98, 116.47)
    assert found["requested_datetime"].endswith("+08:00")
    expected = datetime.fromisoformat(found["expected_datetime"])
    assert expected == issue.resolve_by.replace(microsecond=0)
    root = xml(client.get(f"{BASE}/requests.xml?jurisdiction_id=x"))
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert [child.tag for child in request] == REQUEST_FIELDS
    assert request.findtext("service_request_id") == str(issue.id)
    assert request.findtext("status") == "open"
    assert request.findtext("lat") == "39.98"
    assert request.findtext("zipcode") == "100102"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_one_request_is_a_list_of_one(client, world, fmt):
    issue = _request_in(world)
    response = client.get(f"{BASE}/requests/{issue.id}.{fmt}?jurisdiction_id=x")
    assert response.status_code == 200
    if fmt == "json":
        assert [r["service_request_id"] for r in response.get_json()] == [str(issue.id)]
    else:
        assert [r.findtext("service_request_id") for r in xml(response).findall("request")] == [str(issue.id)]
    for missing in (issue.id + 1000, "abc", "99999999999999999999"):
        response = client.get(f"{BASE}/requests/{missing}.{fmt}?jurisdiction_id=x")
        assert response.status_code == 404 and error_of(response, fmt)[0] == 404
    # Another jurisdiction's number is not found here.
    assert client.get(f"{BASE}/requests/{issue.id}.json?jurisdiction_id=y").status_code == 404


def test_portal_issues_are_listed_too(client, world):
    from portal.issues import services as issues
    from tests.factories import gen_residency, gen_user
    resident = gen_user(display_name="Reporter P", phone="13811110001")
    gen_residency(resident, household=world.hx)
    issue = issues.report_issue(resident, world.x, category=world.categories["water"], title="No water",
                                building=world.bx)
    db.session.commit()
    body = client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()
    assert [r["service_request_id"] for r in body] == [str(issue.id)]
    assert body[0]["description"] == "No water"  # no description: the title


def test_service_request_id_list_overrides_the_other_filters(client, world):
    old = create_via_service(world, now=utcnow() - timedelta(days=200))
    new = create_via_service(world, service_code="water")
    db.session.commit()
    body = client.get(f"{BASE}/requests.json?jurisdiction_id=x&service_request_id={old.id},{new.id}"
                      "&service_code=lift&status=closed").get_json()
    assert sorted(int(r["service_request_id"]) for r in body) == sorted([old.id, new.id])


@pytest.mark.parametrize("ids", ["1,2,x", "1,,2", "-1", "1.5", " ", "1;2"])
def test_malformed_service_request_id_is_400(client, world, ids):
    response = client.get(f"{BASE}/requests.json", query_string={"jurisdiction_id": "x", "service_request_id": ids})
    if ids.strip():
        assert response.status_code == 400
        assert error_of(response) == (400, "service_request_id is a comma-separated list of request numbers.")
    else:
        assert response.status_code == 200  # blank: as if not given


def test_filters_by_service_code_and_status(client, world):
    from portal.issues import services as issues
    lift = create_via_service(world)
    water = create_via_service(world, service_code="water")
    issues.reject_issue(world.property_x, water, "Not ours")
    db.session.commit()

    def ids(query):
        return [int(r["service_request_id"]) for r in
                client.get(f"{BASE}/requests.json?jurisdiction_id=x&{query}").get_json()]
    assert ids("service_code=lift") == [lift.id]
    assert sorted(ids("service_code=lift,water")) == sorted([lift.id, water.id])
    assert ids("status=open") == [lift.id]
    assert ids("status=closed") == [water.id]
    assert sorted(ids("status=open,closed")) == sorted([lift.id, water.id])
    response = client.get(f"{BASE}/requests.json?jurisdiction_id=x&status=pending")
    assert response.status_code == 400 and error_of(response)[0] == 400
    response = client.get(f"{BASE}/requests.xml?jurisdiction_id=x&service_code=nope")
    assert response.status_code == 400 and error_of(response, "xml")[0] == 400


def test_default_range_is_the_last_90_days(client, world):
    now = utcnow()
    recent = create_via_service(world, now=now - timedelta(days=89))
    create_via_service(world, now=now - timedelta(days=91))
    db.session.commit()
    body = client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()
    assert [r["service_request_id"] for r in body] == [str(recent.id)]


def test_date_range_filters_and_may_not_exceed_90_days(client, world):
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    inside = create_via_service(world, now=t0 + timedelta(days=10))
    create_via_service(world, now=t0 + timedelta(days=100))
    db.session.commit()
    query = {"jurisdiction_id": "x", "start_date": "2026-06-01T08:00:00+08:00", "end_date": "2026-08-30T00:00:00Z"}
    body = client.get(f"{BASE}/requests.json", query_string=query).get_json()
    assert [r["service_request_id"] for r in body] == [str(inside.id)]
    # Only a start: the 90 days after it.
    body = client.get(f"{BASE}/requests.json", query_string={"jurisdiction_id": "x",
                                                              "start_date": "2026-06-01T00:00:00Z"}).get_json()
    assert [r["service_request_id"] for r in body] == [str(inside.id)]
    for start, end in (("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"),
                       ("2026-06-01T00:00:00Z", "2026-08-30T00:00:01Z")):
        response = client.get(f"{BASE}/requests.xml", query_string={"jurisdiction_id": "x", "start_date": start,
                                                                    "end_date": end})
        assert response.status_code == 400
        assert error_of(response, "xml") == (400, "The date range may not span more than 90 days.")
    response = client.get(f"{BASE}/requests.json", query_string={
        "jurisdiction_id": "x", "start_date": "2026-06-02T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"})
    assert response.status_code == 400


@pytest.mark.parametrize("value", ["2026-06-31", "2026-06-01T08:00:00", "yesterday", "2026-13-01T00:00:00Z",
                                   "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59Z"])
def test_dates_without_time_zone_or_malformed_are_400(client, world, value):
    for name in ("start_date", "end_date"):
        response = client.get(f"{BASE}/requests.json", query_string={"jurisdiction_id": "x", name: value})
        assert response.status_code == 400
        code, description = error_of(response)
        assert code == 400 and name in description


def test_pages_through_results(client, world):
    now = utcnow()
    made = [create_via_service(world, now=now - timedelta(hours=h)) for h in range(5)]
    db.session.commit()

    def ids(query):
        return [int(r["service_request_id"]) for r in
                client.get(f"{BASE}/requests.json?jurisdiction_id=x&{query}").get_json()]
    assert ids("page_size=2") == [made[0].id, made[1].id]
    assert ids("page_size=2&page=3") == [made[4].id]
    assert ids("page_size=2&page=4") == []
    for bad in ("page_size=0", "page_size=1001", "page=abc", "page=-1"):
        response = client.get(f"{BASE}/requests.json?jurisdiction_id=x&{bad}")
        assert response.status_code == 400, bad


def test_hidden_issues_and_members_only_communities_are_not_exposed(client, world):
    shown = create_via_service(world)
    hidden = create_via_service(world, service_code="water")
    hidden.hidden_state = "hidden"
    db.session.commit()
    body = client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json()
    assert [r["service_request_id"] for r in body] == [str(shown.id)]
    assert client.get(f"{BASE}/requests/{hidden.id}.json?jurisdiction_id=x").status_code == 404
    listed = client.get(f"{BASE}/requests.json?jurisdiction_id=x&service_request_id={hidden.id}").get_json()
    assert listed == []
    world.x.members_only = True
    db.session.commit()
    assert client.get(f"{BASE}/requests.json?jurisdiction_id=x").get_json() == []
    assert client.get(f"{BASE}/requests/{shown.id}.json?jurisdiction_id=x").status_code == 404


def test_no_contact_data_in_any_read(client, world):
    from portal.issues import services as issues
    issue = create_via_service(world, first_name="Xiaoming", last_name="Secretname", phone="13912345678",
                               email="caller@private.example", description="Lift stuck")
    issues.post_update(world.property_x, issue, "Internal: call Xiaoming back", public=False)
    db.session.commit()
    paths = [f"{BASE}/requests.json?jurisdiction_id=x", f"{BASE}/requests.xml?jurisdiction_id=x",
             f"{BASE}/requests/{issue.id}.json?jurisdiction_id=x", f"{BASE}/requests/{issue.id}.xml?jurisdiction_id=x",
             f"{BASE}/requests.json?jurisdiction_id=x&service_request_id={issue.id}",
             f"{BASE}/services.json?jurisdiction_id=x", f"{BASE}/services/lift.xml?jurisdiction_id=x"]
    for path in paths:
        text = client.get(path).get_data(as_text=True)
        for secret in ("Xiaoming", "Secretname", "13912345678", "139****5678", "caller@private.example",
                       "private.example", "Xicheng dispatch desk"):
            assert secret not in text, (path, secret)


def test_gets_with_a_key_are_recorded_as_usage_not_in_the_audit_log(client, world):
    from portal.audit.models import AuditEntry
    from portal.open311.models import Open311Usage
    before = db.session.scalar(db.select(db.func.count()).select_from(AuditEntry))
    client.get(f"{BASE}/requests.json?jurisdiction_id=x&api_key={world.token}")
    client.get(f"{BASE}/services.json?jurisdiction_id=x&api_key={world.token}")
    client.get(f"{BASE}/services.json?jurisdiction_id=x")
    uses = db.session.scalars(db.select(Open311Usage).order_by(Open311Usage.id)).all()
    assert [(u.method, u.endpoint, u.status) for u in uses] == [("GET", "requests", 200), ("GET", "services", 200)]
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEntry)) == before


@pytest.mark.parametrize("path", [
    "/services.json?jurisdiction_id=x%00", "/services/li%00ft.xml?jurisdiction_id=x",
    "/requests.json?jurisdiction_id=x&service_code=lift%00", "/requests.json?jurisdiction_id=x&status=open%00",
    "/requests.json?jurisdiction_id=x&start_date=2026-06-01T00:00:00Z%00", "/requests/1%00.json?jurisdiction_id=x",
])
def test_nul_characters_are_400_on_every_database(client, world, path):
    response = client.get(BASE + path)
    assert response.status_code == 400
    fmt = "xml" if ".xml" in path else "json"
    assert error_of(response, fmt) == (400, "Parameters may not contain NUL characters.")


def test_listing_sends_the_same_statements_for_3_or_12_requests(client, world):
    from tests.queries import count_queries
    path = f"{BASE}/requests.json?jurisdiction_id=x"
    for _ in range(3):
        create_via_service(world, lat="39.9", long="116.4")
    db.session.commit()
    few = count_queries(client, path)
    for _ in range(9):
        create_via_service(world, service_code="water")
    db.session.commit()
    assert count_queries(client, path) == few


def test_control_characters_do_not_break_the_xml(client, world):
    issue = _request_in(world, description="Bell\x07 and\x0bvertical tab")
    root = xml(client.get(f"{BASE}/requests/{issue.id}.xml?jurisdiction_id=x"))
    assert root.findtext("request/description") == "Bell and" + "vertical tab"
    found = client.get(f"{BASE}/requests/{issue.id}.json?jurisdiction_id=x").get_json()[0]
    assert found["description"] == "Bell\x07 and\x0bvertical tab"
