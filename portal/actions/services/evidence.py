"""Evidence files of an action: photos checked like issue photos and PDFs like proposal attachments,
at most MAX_FILES to an update, stored under the evidence directory."""
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.actions.models import ActionEvidence
from portal.actions.services._common import MAX_FILES
from portal.errors import DomainError
from portal.extensions import db

# --- evidence files (photos like issue photos; PDFs like proposal attachments) -------------------------

def _as_file(item, default_name):
    """(filename, bytes), bytes, or an uploaded file (FileStorage) → (filename, bytes)."""
    if isinstance(item, (bytes, bytearray)):
        return default_name, bytes(item)
    if isinstance(item, tuple):
        return item[0] or default_name, item[1]
    return getattr(item, "filename", None) or default_name, item.read()


def _prepare_files(photos, documents):
    from portal.issues import photos as photo_store
    from portal.proposals import attachments
    photos, documents = list(photos or ()), list(documents or ())
    if len(photos) + len(documents) > MAX_FILES:
        raise DomainError(_l("At most %(max)d files, please.", max=MAX_FILES), "photos")
    prepared = []
    for item in photos:
        name, data = _as_file(item, "photo.jpg")
        try:
            photo = photo_store.prepare(data)
        except DomainError as error:
            error.field = "photos"
            raise
        prepared.append(attachments.PreparedAttachment(kind="image", filename=attachments._with_extension(
            attachments.display_name(name), ".jpg"), photo=photo))
    for item in documents:
        name, data = _as_file(item, "document.pdf")
        try:
            prepared.append(attachments.prepare(data, name))
        except DomainError as error:
            error.field = "documents"
            raise
    return prepared


def evidence_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "actions"


def evidence_path(evidence: ActionEvidence, size: int | None = None) -> Path:
    """UPLOAD_DIR/actions/<key>-<size>.jpg for a photo (size 1600 or 400), <key>.pdf for a PDF."""
    from portal.proposals.attachments import IMAGE_SIZES
    if evidence.kind == "image":
        if size not in IMAGE_SIZES:
            raise ValueError(f"no image size {size}")
        return evidence_dir() / f"{evidence.key}-{size}.jpg"
    if size is not None:
        raise ValueError("a PDF has no sizes")
    return evidence_dir() / f"{evidence.key}.pdf"


def _save_files(prepared, action, update, uploaded_by):
    from portal.issues.photos import _write_atomically
    from portal.proposals.attachments import IMAGE_SIZES
    if not prepared:
        return []
    evidence_dir().mkdir(parents=True, exist_ok=True)
    saved = []
    for p in prepared:
        ev = ActionEvidence(action=action, update=update, key=secrets.token_urlsafe(24), kind=p.kind,
                            filename=p.filename, size=p.size, uploaded_by_id=getattr(uploaded_by, "id", None),
                            width=p.photo.width if p.photo else None, height=p.photo.height if p.photo else None)
        if p.photo:
            for size, data in ((IMAGE_SIZES[0], p.photo.large), (IMAGE_SIZES[1], p.photo.small)):
                _write_atomically(evidence_path(ev, size), data)
        else:
            _write_atomically(evidence_path(ev), p.data)
        db.session.add(ev)
        saved.append(ev)
    return saved
