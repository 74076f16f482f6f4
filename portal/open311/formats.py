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


def _escaped(value) -> str:
    """Character data as ElementTree writes it (only &, < and > are escaped)."""
    text = _text(value)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _flat_xml(root: str, item: str, data: list) -> str:
    """to_xml for a list of flat dicts (every value a scalar or None), written directly: the same text as
    ElementTree writes, without building a tree of some 17,000 elements for 1,000 requests."""
    if not data:
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} />'
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>']
    for entry in data:
        parts.append(f"<{item}>")
        for key, value in entry.items():
            if value is None:
                parts.append(f"<{key} />")
            else:
                text = _escaped(value)
                parts.append(f"<{key}>{text}</{key}>" if text else f"<{key} />")
        parts.append(f"</{item}>")
    parts.append(f"</{root}>")
    return "".join(parts)


def _is_flat(data) -> bool:
    return isinstance(data, list) and all(
        isinstance(entry, dict) and not any(isinstance(v, (dict, list)) for v in entry.values()) for entry in data)


def render(fmt: str, data, *, root: str, item: str | None = None) -> bytes:
    """The body of an answer, UTF-8."""
    if fmt == "xml":
        text = _flat_xml(root, item, data) if item and _is_flat(data) else to_xml(root, item, data)
    else:
        text = json.dumps(data, ensure_ascii=False)
    return text.encode("utf-8")


def respond_with(fmt: str, body: bytes, *, status: int = 200, cache: str = "no-store") -> Response:
    response = Response(body, status=status, content_type=XML_TYPE if fmt == "xml" else JSON_TYPE)
    # Anyone may read the public resources from a browser-based 311 app.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Location, Retry-After"
    response.headers["Cache-Control"] = cache
    return response


def respond(fmt: str, data, *, root: str, item: str | None = None, status: int = 200) -> Response:
    return respond_with(fmt, render(fmt, data, root=root, item=item), status=status)


def errors(fmt: str, code: int, description) -> Response:
    """The spec's error body: a list of {code, description}; in XML <errors><error><code>…"""
    return respond(fmt, [{"code": code, "description": str(description)}], root="errors", item="error",
                   status=code)
