"""Proposal attachments: photos and PDF documents, judged by their content, never by name or type header.

A file named plan.pdf may be an HTML page, an SVG with a script, or a ZIP; a real PDF may run JavaScript
when opened, launch a program, or carry other files inside it. So:

- the first bytes decide what a file is: a JPEG/PNG/WebP/HEIC picture goes through the issue photos'
  checks (`portal.issues.photos.prepare`: decoded, turned upright, re-encoded, every bit of metadata
  gone, GPS included); a file starting with `%PDF-` is opened with pypdf, in a process of its own with
  time and memory limits (pdf_check.py); anything else is refused.
- a PDF is refused when it is encrypted, or when anything in it is an action or container that can do
  more than show pages: JavaScript, an opening action, additional actions (/AA), launch, form
  submission, embedded files and file attachments, rich media, XFA forms.
- an accepted PDF is written again by pypdf, not stored as uploaded: only the objects the document uses
  are kept (whatever was appended to the file — a ZIP, a script — is left behind), and the author and
  software metadata are dropped, as they are from photos.

Files live under UPLOAD_DIR/proposals/ with a random key: `<key>-1600.jpg` and `<key>-400.jpg` for
pictures, `<key>.pdf` for documents. The name the resident gave is kept for display only."""
import logging
import re
import secrets
import signal
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.errors import DomainError
from portal.extensions import db
from portal.issues import photos
from portal.issues.photos import _write_atomically
from portal.proposals import pdf_check
from portal.proposals.models import ProposalAttachment

FIELD = "attachments"
MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_BYTES = max(MAX_PDF_BYTES, photos.MAX_BYTES)
IMAGE_SIZES = photos.SIZES
FILENAME_MAX = 120
PDF_CHECK = Path(pdf_check.__file__)
# Wall time for the check; its own CPU limit (pdf_check.CPU_SECONDS) usually ends a hostile file sooner.
PDF_CHECK_SECONDS = 30

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedAttachment:
    """A checked attachment, ready to be written: the bytes we will store, never the upload itself."""

    kind: str  # "image" | "pdf"
    filename: str  # for display only
    data: bytes = b""  # the rewritten PDF
    photo: photos.PreparedPhoto | None = None

    @property
    def size(self) -> int:
        return len(self.photo.large) if self.photo else len(self.data)


def accepted_label():
    return _l("photos (%(formats)s) or PDF documents", formats=photos.accepted_formats_label())


def prepare(data: bytes, filename: str) -> PreparedAttachment:
    """Check one uploaded file by its content; DomainError(…, "attachments") naming the file when refused."""
    name = display_name(filename)
    if not data:
        raise DomainError(_l("“%(name)s” is empty.", name=name), FIELD)
    if len(data) > MAX_BYTES:
        raise DomainError(_l("“%(name)s” is larger than %(mb)d MB. Please attach a smaller file.",
                             name=name, mb=MAX_BYTES // (1024 * 1024)), FIELD)
    if _looks_like_image(data):
        try:
            prepared = photos.prepare(data)
        except DomainError as error:
            raise DomainError(_l("“%(name)s”: %(problem)s", name=name, problem=error.message), FIELD) from None
        return PreparedAttachment(kind="image", filename=_with_extension(name, ".jpg"), photo=prepared)
    if data.startswith(b"%PDF-"):
        if len(data) > MAX_PDF_BYTES:
            raise DomainError(_l("“%(name)s” is larger than %(mb)d MB. Please attach a smaller PDF.",
                                 name=name, mb=MAX_PDF_BYTES // (1024 * 1024)), FIELD)
        return PreparedAttachment(kind="pdf", filename=_with_extension(name, ".pdf"), data=_rewrite_pdf(data, name))
    raise DomainError(_l("“%(name)s” is neither a photo nor a PDF. Please attach %(accepted)s.",
                         name=name, accepted=accepted_label()), FIELD)


def _looks_like_image(data: bytes) -> bool:
    return (data.startswith(b"\xff\xd8\xff")  # JPEG
            or data.startswith(b"\x89PNG\r\n\x1a\n")
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
            or data[4:8] == b"ftyp")  # HEIC (ISO media file; photos.prepare refuses the other kinds)


# --- PDF ----------------------------------------------------------------------------------------------

def _rewrite_pdf(data: bytes, name: str) -> bytes:
    """The clean copy made by pdf_check.py in a process of its own (see there why)."""
    try:
        done = subprocess.run([sys.executable, "-I", str(PDF_CHECK)], input=data, capture_output=True,
                              timeout=PDF_CHECK_SECONDS, env={}, check=False)
    except subprocess.TimeoutExpired:
        status, clean, errors = pdf_check.TOO_COMPLEX, b"", b""
    else:
        status, clean, errors = done.returncode, done.stdout, done.stderr
    if status == 0 and clean.startswith(b"%PDF-"):
        return clean
    if status == pdf_check.ENCRYPTED:
        raise DomainError(_l("“%(name)s” is encrypted (protected by a password or against copying). Please "
                             "attach an unprotected copy.", name=name), FIELD)
    if status == pdf_check.ACTIVE:
        raise DomainError(_l("“%(name)s” contains scripts, actions or embedded files, which we do not accept. "
                             "Please print it to a new PDF and attach that.", name=name), FIELD)
    if status == pdf_check.DAMAGED:
        raise DomainError(_l("“%(name)s” seems damaged or is not a real PDF. Please export it again and "
                             "attach the new file.", name=name), FIELD)
    if status not in (pdf_check.TOO_COMPLEX, -signal.SIGXCPU, -signal.SIGKILL):
        logger.warning("pdf_check ended with status %s: %s", status, errors[-2000:].decode(errors="replace"))
    raise DomainError(_l("“%(name)s” is too complex for us to check. Please print it to a new PDF and attach "
                         "that.", name=name), FIELD)


# --- Names --------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def display_name(filename: str | None) -> str:
    """The last path part of what the browser sent, without control or format characters (a right-to-left
    override would show "photo<U+202E>gpj.pdf" as "photofdp.jpg"), at most 120 characters."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
    name = " ".join(_CONTROL.sub(" ", name).split()).strip(". ")
    return name[:FILENAME_MAX] or "attachment"


def _with_extension(name: str, extension: str) -> str:
    """The stored file's real kind in its name: a picture is kept as JPEG whatever it was sent as."""
    stem, dot, old = name.rpartition(".")
    if not dot or not stem or len(old) > 5:
        stem = name
    return stem[:FILENAME_MAX - len(extension)] + extension


# --- Storage ------------------------------------------------------------------------------------------

def attachment_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "proposals"


def path_for(attachment: ProposalAttachment, size: int | None = None) -> Path:
    """UPLOAD_DIR/proposals/<key>-<size>.jpg for a picture (size 1600 or 400), <key>.pdf for a PDF."""
    if attachment.kind == "image":
        if size not in IMAGE_SIZES:
            raise ValueError(f"no image size {size}")
        return attachment_dir() / f"{attachment.key}-{size}.jpg"
    if size is not None:
        raise ValueError("a PDF has no sizes")
    return attachment_dir() / f"{attachment.key}.pdf"


def save(prepared: PreparedAttachment, *, proposal, uploaded_by=None) -> ProposalAttachment:
    """Write the files under a random key (each written to a temporary name and renamed into place) and
    add the row; the caller commits. A rolled-back transaction leaves orphan files that nothing serves."""
    attachment_dir().mkdir(parents=True, exist_ok=True)
    attachment = ProposalAttachment(
        proposal=proposal, key=secrets.token_urlsafe(24), kind=prepared.kind, filename=prepared.filename,
        size=prepared.size, uploaded_by_id=getattr(uploaded_by, "id", None),
        width=prepared.photo.width if prepared.photo else None,
        height=prepared.photo.height if prepared.photo else None,
    )
    if prepared.photo:
        for size, data in ((IMAGE_SIZES[0], prepared.photo.large), (IMAGE_SIZES[1], prepared.photo.small)):
            _write_atomically(path_for(attachment, size), data)
    else:
        _write_atomically(path_for(attachment), prepared.data)
    db.session.add(attachment)
    return attachment


def delete_files(attachment: ProposalAttachment) -> None:
    """Remove the stored files (the caller deletes the row)."""
    sizes = IMAGE_SIZES if attachment.kind == "image" else (None,)
    for size in sizes:
        path_for(attachment, size).unlink(missing_ok=True)
