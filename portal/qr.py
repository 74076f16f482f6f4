"""QR codes for printed notices, made on the server with segno: inline SVG for the print page, PNG to download.

The URL given is always an absolute one built with `portal.web.absolute_url` (PORTAL_BASE_URL), so a code
pinned on a lobby board leads to the portal whatever Host the page was printed from."""
import io

import segno
from markupsafe import Markup, escape

ERROR_LEVEL = "m"  # segno raises it when the code has room: a board's paper gets creased and dirty
BORDER = 4  # the quiet zone the QR standard asks for, in modules


def _code(url: str) -> segno.QRCode:
    return segno.make(url, error=ERROR_LEVEL, micro=False)


def qr_svg(url: str, label: str | None = None) -> Markup:
    """An inline <svg> of the code, scaled by CSS (it has a viewBox and no fixed size). It is an image to
    assistive technology (role="img") named by `label` (or the URL), with the same text as its <title>."""
    name = str(label or url)
    svg = _code(url).svg_inline(scale=1, border=BORDER, omitsize=True, title=name, svgclass="qr-code",
                                lineclass="qr-line", dark="#000", light="#fff")
    # segno writes "<svg …"; name it for screen readers, who otherwise skip or spell out an unnamed SVG.
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(name)}" focusable="false" ', 1)
    return Markup(svg)


def qr_png(url: str, scale: int = 10) -> bytes:
    """The code as a PNG, `scale` pixels per module (at least 1), black on white with the quiet zone."""
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=max(1, int(scale)), border=BORDER, dark="#000", light="#fff")
    return out.getvalue()
