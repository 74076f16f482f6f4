"""Funds and the ledger (issue #23). The `world` fixture (conftest.py) holds:

- sd, x (a community), y (another community of the same sub-district); x's estate `estate_x`;
- rc_x (x's residents' committee) with keeper (its member, who keeps the community fund's ledger);
- hoa_x (x's homeowners' committee) with hoa_member (keeps the maintenance fund's ledger);
- resident (verified in x), resident_y (verified in y), outsider (no role), admin, official (x's
  sub-district office), property (staff of x's property company);
- fund (x's public-welfare fund, kept by rc_x) and maintenance (estate_x's maintenance fund, kept by hoa_x);
- action (an agreed action of x), decision (a meeting decision of rc_x);
- ballots: passed_committee (a passed committee ballot in x), owners_use (owners, matter 5, passed, estate_x),
  owners_other (owners, matter 4, passed), owners_failed (owners, matter 5, failed)."""
import io
import zlib

from PIL import Image


def png_bytes(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(out, "PNG")
    return out.getvalue()


def pdf_bytes(text: str = "Receipt") -> bytes:
    """A minimal one-page PDF, written by hand (no JavaScript, no attachments)."""
    content = f"BT /F1 18 Tf 50 750 Td ({text}) Tj ET".encode()
    stream = zlib.compress(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" /Filter /FlateDecode >>\nstream\n" + stream
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
