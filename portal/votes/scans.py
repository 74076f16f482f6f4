"""Scans of signed paper ballot forms and of written authorizations (书面委托), kept with the ballot.

A scan is judged by its content exactly as a proposal attachment is (`portal.proposals.attachments.prepare`:
a photo is decoded, turned upright and re-encoded without metadata; a PDF is checked in a process of its own
and rewritten; anything else is refused). Files live under UPLOAD_DIR/ballots/ with a random key:
`<key>-1600.jpg` and `<key>-400.jpg` for photos, `<key>.pdf` for documents."""
import secrets
from pathlib import Path

from flask import current_app

from portal.extensions import db
from portal.proposals import attachments
from portal.votes.models import BallotScan

FIELD = "scan"
IMAGE_SIZES = attachments.IMAGE_SIZES
accepted_label = attachments.accepted_label


def prepare(upload: tuple[str, bytes] | None):
    """A checked scan from (filename, bytes), or None when no file was chosen; DomainError(…, "scan") when
    the file is refused. Call it before writing anything: it reads, never stores."""
    if upload is None or not upload[1] and not upload[0]:
        return None
    from portal.errors import DomainError
    try:
        return attachments.prepare(upload[1], upload[0])
    except DomainError as error:
        raise DomainError(error.message, FIELD) from None


def scan_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "ballots"


def path_for(scan: BallotScan, size: int | None = None) -> Path:
    if scan.kind == "image":
        if size not in IMAGE_SIZES:
            raise ValueError(f"no image size {size}")
        return scan_dir() / f"{scan.key}-{size}.jpg"
    if size is not None:
        raise ValueError("a PDF has no sizes")
    return scan_dir() / f"{scan.key}.pdf"


def save(prepared, *, ballot, voter, purpose: str, uploaded_by, proxy=None) -> BallotScan:
    """Write the files under a random key and add the row; the caller commits."""
    scan_dir().mkdir(parents=True, exist_ok=True)
    scan = BallotScan(ballot_id=ballot.id, voter_id=voter.id, proxy_id=getattr(proxy, "id", None), purpose=purpose,
                      key=secrets.token_urlsafe(24), kind=prepared.kind, filename=prepared.filename,
                      size=prepared.size, uploaded_by_id=uploaded_by.id)
    if prepared.photo:
        for size, data in ((IMAGE_SIZES[0], prepared.photo.large), (IMAGE_SIZES[1], prepared.photo.small)):
            attachments._write_atomically(path_for(scan, size), data)
    else:
        attachments._write_atomically(path_for(scan), prepared.data)
    db.session.add(scan)
    db.session.flush()
    return scan


def scans_of(ballot, voter_ids=None) -> list[BallotScan]:
    """The ballot's scans (of these voters), oldest first, in one query."""
    query = db.select(BallotScan).where(BallotScan.ballot_id == ballot.id)
    if voter_ids is not None:
        query = query.where(BallotScan.voter_id.in_(list(voter_ids)))
    return list(db.session.scalars(query.order_by(BallotScan.id)))


def scan_rows(viewer, ballot) -> list[tuple[BallotScan, str]]:
    """The ballot's scans with the voter's label, oldest first (one query), for those who may see them."""
    from portal.auth import permissions
    from portal.votes.models import BallotVoter
    if not permissions.can_view_ballot_scan(viewer, ballot):
        return []
    return [tuple(row) for row in db.session.execute(
        db.select(BallotScan, BallotVoter.label).join(BallotVoter, BallotVoter.id == BallotScan.voter_id)
        .where(BallotScan.ballot_id == ballot.id).order_by(BallotScan.id).limit(1000))]
