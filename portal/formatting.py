"""Small formatting rules every layer shares: links for outside the portal and masked phone numbers.
Core: imports no area, so web helpers, services and mail can all use it."""
from flask import current_app


def absolute_url(endpoint: str, **values) -> str:
    """A link for outside the portal (e-mail, QR code, calendar feed): PORTAL_BASE_URL and the path url_for
    would give — never the request's Host, which a client can forge. `_anchor` adds a #fragment."""
    from urllib.parse import quote
    anchor = values.pop("_anchor", None)
    path = current_app.url_map.bind("portal.invalid").build(endpoint, values)
    url = current_app.config["PORTAL_BASE_URL"].rstrip("/") + path
    return f"{url}#{quote(str(anchor), safe='-_.~')}" if anchor else url


def mask_phone(phone: str | None) -> str:
    """138****5678: how a phone number shows to anyone but the person, their committee and admins."""
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:]
