"""Shared for the Open311 tests.

`world` (fixture in conftest.py) is tests.residents.build_world() plus the default issue categories of
communities x and y, and `w.key` / `w.token`: an active key of "Xicheng dispatch desk" scoped to community x only."""
from xml.etree import ElementTree as ET

from werkzeug.datastructures import MultiDict

BASE = "/open311/v2"


def xml(response):
    assert response.content_type.startswith("text/xml"), response.content_type
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.data)


def error_of(response, fmt="json"):
    """(code, description) of the spec's error body; exactly one error."""
    if fmt == "xml":
        root = xml(response)
        assert root.tag == "errors"
        errors = root.findall("error")
        assert len(errors) == 1
        return int(errors[0].findtext("code")), errors[0].findtext("description")
    body = response.get_json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}, body
    return body[0]["code"], body[0]["description"]


def create_via_service(world, *, now=None, community=None, **fields):
    """A request created as the API would (through the service), committed by the caller."""
    from portal.open311 import services
    data = {"service_code": "lift", "address_id": "3", "description": "Lift stuck on floor 3"}
    data.update(fields)
    return services.create_request(world.key, community or world.x, MultiDict(data), now=now).issue
