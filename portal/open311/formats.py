"""The two formats of GeoReport v2: JSON, and XML as the spec writes it (a root element holding one element
per item, lists as repeated child elements, booleans as true/false, missing values as empty elements)."""
import json
import re
from xml.etree import ElementTree as ET

from flask import Response

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"

# A list's child element in XML: <attributes><attribute>…, <values><value>…, <formats><format>….
LIST_ITEMS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


# Characters XML 1.0 cannot carry at all, not even escaped (a description may hold a stray control character).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def _append(parent, name, value):
    element = ET.SubElement(parent, name)
    if value is None:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list):
        child = LIST_ITEMS.get(name, "item")
        for item in value:
            _append(element, child, item)
    else:
        element.text = _text(value)


def to_xml(root: str, item: str | None, data) -> str:
    """`data` a list (each element an <item>) or a dict (the root's children)."""
    element = ET.Element(root)
    if isinstance(data, list):
        for entry in data:
            _dict_into(ET.SubElement(element, item), entry)
    else:
        _dict_into(element, data)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode")


def _dict_into(element, data):
    for key, value in data.items():
        _append(element, key, value)


def respond(fmt: str, data, *, root: str, item: str | None = None, status: int = 200) -> Response:
    if fmt == "xml":
        response = Response(to_xml(root, item, data), status=status, content_type=XML_TYPE)
    else:
        response = Response(json.dumps(data, ensure_ascii=False), status=status, content_type=JSON_TYPE)
    # Anyone may read the public resources from a browser-based 311 app.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    return response


def errors(fmt: str, code: int, description) -> Response:
    """The spec's error body: a list of {code, description}; in XML <errors><error><code>…"""
    return respond(fmt, [{"code": code, "description": str(description)}], root="errors", item="error",
                   status=code)
