"""Small formatting rules every layer shares: links for outside the portal and masked phone numbers.
Core: imports no area, so web helpers, services and mail can all use it."""
from flask import current_app

ABSOLUTE_URLS_KEPT = 20_000  # a page's share card builds two or three; ids fill it on big sites, the first stay


def absolute_url(endpoint: str, **values) -> str:
    """A link for outside the portal (e-mail, QR code, calendar feed): PORTAL_BASE_URL and the path url_for
    would give — never the request's Host, which a client can forge. `_anchor` adds a #fragment. Remembered
    per application, base, endpoint and values (a routing-map build each time otherwise, for a page's share
    card on every view): the address depends on nothing else."""
    from urllib.parse import quote
    anchor = values.pop("_anchor", None)
    base = current_app.config["PORTAL_BASE_URL"]
    kept = current_app.extensions.setdefault("portal.absolute_urls", {})
    try:
        key = (base, endpoint, *sorted(values.items()))
        url = kept.get(key)
    except TypeError:  # a value that cannot be a key (a list): built each time
        key = url = None
    if url is None:
        url = base.rstrip("/") + current_app.url_map.bind("portal.invalid").build(endpoint, values)
        if key is not None and len(kept) < ABSOLUTE_URLS_KEPT:
            kept[key] = url
    return f"{url}#{quote(str(anchor), safe='-_.~')}" if anchor else url


def mask_phone(phone: str | None) -> str:
    """138****5678: how a phone number shows to anyone but the person, their committee and admins."""
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:]
