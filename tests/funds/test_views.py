"""Fund pages: the public page and what each person sees of it, recording entries through the forms (typing
kept, translated refusals, nothing half-written), receipts for the community's people, the statement and the
formula-safe export, and who may open which page."""
import csv
import io

import pytest

from portal.extensions import db
from portal.funds import services
from portal.funds.models import LedgerEntry
from portal.funds.services import Receipt
from tests.conftest import Auth
from tests.csrf import csrf_token
from tests.funds import pdf_bytes, png_bytes


@pytest.fixture
def ledger(world):
    """x's fund with income, an allocation to the action, a spending paid to a person, and a correction."""
    w = world
    w.income = services.record_income(w.keeper, w.fund, 1_000_000, source="=HYPERLINK(\"http://evil\")")
    w.allocation = services.allocate(w.keeper, w.fund, 300_000, action=w.action).allocation
    w.spending = services.record_spending(w.keeper, w.fund, w.allocation, 12_345, payee="王小明", payee_kind="person",
                                          receipt=Receipt(pdf_bytes(), "发票.pdf"))
    w.correction = services.correct_entry(w.keeper, w.spending, 12_300, reason="+typo in the amount")
    db.session.commit()
    return w


def _client(app, person=None):
    client = app.test_client()
    if person is not None:
        assert Auth(client).login(person).status_code == 302
    return client


def test_the_public_page_shows_the_figures_and_masks_a_persons_name(app, ledger):
    w = ledger
    page = _client(app).get(f"/funds/{w.fund.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "10,000.00" in text and "9,877.00" in text  # income; balance after the corrected spending
    assert "王**" in text and "王小明" not in text
    assert "corrected to 123.00" in text
    assert "/funds/receipts/" not in text  # receipts are for the community's people
    keeper = _client(app, w.keeper).get(f"/funds/{w.fund.id}").get_data(as_text=True)
    assert "王小明" in keeper and "/funds/receipts/" in keeper


def test_receipts_are_for_the_communitys_people(app, ledger):
    w = ledger
    url = f"/funds/receipts/{w.spending.receipt_key}"
    for person, status in ((w.resident, 200), (w.keeper, 200), (w.official, 200), (w.admin, 200),
                           (w.resident_y, 403), (w.outsider, 403)):
        response = _client(app, person).get(url)
        assert response.status_code == status, person.display_name
        if status == 200:
            assert response.data.startswith(b"%PDF-") and "sandbox" in response.headers["Content-Security-Policy"]
    assert _client(app).get(url).status_code == 302


def test_only_keepers_see_the_recording_page(app, ledger):
    w = ledger
    url = f"/funds/{w.fund.id}/record"
    for person, status in ((w.keeper, 200), (w.admin, 200), (w.resident, 403), (w.official, 403),
                           (w.property, 403), (w.hoa_member, 403), (w.outsider, 403)):
        assert _client(app, person).get(url).status_code == status, person.display_name
    assert _client(app).get(url).status_code == 302


def _post(client, url, data, page):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data},
                       content_type="multipart/form-data")


def test_income_typed_with_three_decimals_is_refused_with_the_typing_kept(app, ledger):
    w = ledger
    client = _client(app, w.keeper)
    record = f"/funds/{w.fund.id}/record"
    before = db.session.scalar(db.select(db.func.count(LedgerEntry.id)))
    response = _post(client, f"/funds/{w.fund.id}/income", {"amount": "12.345", "source": "Donation 捐赠"}, record)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "at most two decimals" in text and 'value="12.345"' in text and "Donation 捐赠" in text
    assert db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == before
    response = _post(client, f"/funds/{w.fund.id}/income", {"amount": "12.34", "source": "Donation"}, record)
    assert response.status_code == 302
    db.session.refresh(w.fund)
    assert w.fund.income_fen == 1_000_000 + 1234


def test_a_refusal_reads_in_chinese(app, ledger):
    w = ledger
    client = _client(app, w.keeper)
    response = client.post(f"/funds/{w.fund.id}/income",
                           data={"csrf_token": csrf_token(client, f"/funds/{w.fund.id}/record"), "amount": "-5",
                                 "source": "x"}, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400 and "金额不能为负数" in response.get_data(as_text=True)


def test_spending_through_the_form_with_a_receipt(app, ledger):
    w = ledger
    client = _client(app, w.keeper)
    record = f"/funds/{w.fund.id}/record"
    data = {"allocation": str(w.allocation.id), "amount": "100.50", "payee": "绿化公司", "payee_kind": "organization",
            "receipt": (io.BytesIO(png_bytes()), "r.png")}
    response = _post(client, f"/funds/{w.fund.id}/spending", data, record)
    assert response.status_code == 302, response.get_data(as_text=True)
    entry = db.session.scalars(db.select(LedgerEntry).order_by(LedgerEntry.id.desc())).first()
    assert (entry.kind, entry.amount_fen, entry.receipt_kind) == ("spending", 10050, "image")


def test_spending_over_the_allocation_through_the_form_is_refused(app, ledger):
    w = ledger
    client = _client(app, w.keeper)
    data = {"allocation": str(w.allocation.id), "amount": "5000", "payee": "绿化公司", "payee_kind": "organization",
            "receipt": (io.BytesIO(png_bytes()), "r.png")}
    response = _post(client, f"/funds/{w.fund.id}/spending", data, f"/funds/{w.fund.id}/record")
    assert response.status_code == 400
    assert "recorded decision raising the allocation" in response.get_data(as_text=True)
    data["decision"] = str(w.decision.id)
    data["receipt"] = (io.BytesIO(png_bytes()), "r.png")
    response = _post(client, f"/funds/{w.fund.id}/spending", data, f"/funds/{w.fund.id}/record")
    assert response.status_code == 302


def test_a_receipt_that_is_not_a_picture_or_pdf_is_refused_on_the_form(app, ledger):
    w = ledger
    client = _client(app, w.keeper)
    data = {"allocation": str(w.allocation.id), "amount": "10", "payee": "绿化公司", "payee_kind": "organization",
            "receipt": (io.BytesIO(b"<svg onload='alert(1)'/>"), "r.pdf")}
    response = _post(client, f"/funds/{w.fund.id}/spending", data, f"/funds/{w.fund.id}/record")
    assert response.status_code == 400 and 'id="receipt-error"' in response.get_data(as_text=True)


def test_maintenance_spending_through_the_form_needs_the_owners_decision(app, world):
    w = world
    fund = w.maintenance
    services.record_income(w.hoa_member, fund, 100_000, source="Deposits")
    allocation = services.allocate(w.hoa_member, fund, 50_000, title="Roof of B1").allocation
    db.session.commit()
    client = _client(app, w.hoa_member)
    page = f"/funds/{fund.id}/record"
    assert "Civil Code art. 278" in client.get(page).get_data(as_text=True)
    data = {"allocation": str(allocation.id), "amount": "100", "payee": "Roof Co.", "payee_kind": "organization",
            "receipt": (io.BytesIO(png_bytes()), "r.png")}
    response = _post(client, f"/funds/{fund.id}/spending", data, page)
    assert response.status_code == 400 and 'id="owners_decision-error"' in response.get_data(as_text=True)
    data.update(owners_decision=str(w.owners_use.id), receipt=(io.BytesIO(png_bytes()), "r.png"))
    assert _post(client, f"/funds/{fund.id}/spending", data, page).status_code == 302


def test_a_correction_through_the_form(app, ledger):
    w = ledger
    client = _client(app, w.keeper)
    response = _post(client, f"/funds/{w.fund.id}/corrections",
                     {"entry": str(w.income.id), "amount": "9000", "reason": "bank statement"},
                     f"/funds/{w.fund.id}/record")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(LedgerEntry, w.income.id).amount_fen == 1_000_000
    assert services.current_amount(w.income) == 900_000


def test_the_statement_prints_the_month(app, ledger):
    w = ledger
    month = w.income.month
    page = _client(app).get(f"/funds/{w.fund.id}/statement/{month}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "print.css" in text and "Opening balance" in text and "9,877.00" in text and "王**" in text
    assert _client(app).get(f"/funds/{w.fund.id}/statement/2026-13").status_code == 404


def test_the_export_is_formula_safe(app, ledger):
    w = ledger
    month = w.income.month
    response = _client(app).get(f"/funds/{w.fund.id}/export/{month}.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    cells = [c for row in rows for c in row]
    assert "'=HYPERLINK(\"http://evil\")" in cells and "'+typo in the amount" in cells
    assert "王**" in cells and "王小明" not in cells
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(_client(app).get(f"/funds/{w.fund.id}/export/{month}.xlsx").data))
    texts = [c for sheet in book for row in sheet.iter_rows() for c in row if c.value == "=HYPERLINK(\"http://evil\")"]
    assert texts and all(c.data_type == "s" and c.quotePrefix for c in texts)


def test_the_funds_dashboard(app, ledger):
    w = ledger
    for person, status in ((w.official, 200), (w.keeper, 200), (w.resident, 403), (w.outsider, 403)):
        assert _client(app, person).get(f"/c/{w.x.slug}/funds/dashboard").status_code == status
    text = _client(app, w.official).get(f"/c/{w.x.slug}/funds/dashboard").get_data(as_text=True)
    assert "3,000.00" in text and "123.00" in text


def test_opening_a_fund_through_the_form(app, world):
    w = world
    client = _client(app, w.keeper)
    page = f"/c/{w.x.slug}/funds/new"
    response = _post(client, page, {"kind": "livelihood", "name": "微实事 2027", "estate": "",
                                    "managing_org": str(w.rc_x.id)}, page)
    assert response.status_code == 302
    response = _post(client, page, {"kind": "maintenance", "name": "维修资金", "estate": "",
                                    "managing_org": str(w.hoa_x.id)}, page)
    assert response.status_code == 400 and "belongs to an estate" in response.get_data(as_text=True)
    assert _client(app, w.resident).get(page).status_code == 403
