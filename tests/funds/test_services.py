"""The ledger's rules: every kind of entry moves the figures exactly; corrections never edit; spending over an
allocation needs a decision; a maintenance fund spends only on a passed owners' decision to use it."""
from datetime import date

import pytest
import sqlalchemy

from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.funds import services
from portal.funds.models import FundMonth, LedgerEntry
from portal.funds.services import Receipt
from tests.funds import pdf_bytes, png_bytes


def _figures(fund):
    db.session.refresh(fund)
    return (fund.income_fen, fund.allocated_fen, fund.spent_fen, fund.refunded_fen, fund.balance_fen,
            fund.committed_fen, fund.available_fen)


def _receipt():
    return Receipt(png_bytes(), "receipt.png")


@pytest.mark.parametrize("typed, fen", [("12.34", 1234), ("12", 1200), ("0.01", 1), ("12.3", 1230),
                                        (" 1,250.50 ", 125050), ("¥8", 800), ("1000000000000", 10**14)])
def test_yuan_typed_is_read_exactly_in_fen(typed, fen):
    assert services.parse_yuan(typed) == fen


@pytest.mark.parametrize("typed", ["", "-1", "12.345", "0", "0.00", "1e3", "12,34.5.6", "abc", "NaN",
                                   "1000000000000.01", "99999999999999999999"])
def test_yuan_typed_wrongly_is_refused_with_a_message(typed):
    with pytest.raises(DomainError) as refused:
        services.parse_yuan(typed)
    assert refused.value.field == "amount" and str(refused.value.message)


def test_format_fen():
    assert services.format_fen(123456789) == "1,234,567.89"
    assert services.format_fen(-5) == "-0.05"
    assert services.format_fen(0) == "0.00"


def test_balance_after_every_kind_of_entry(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 1_000_000, source="Sub-district grant")
    assert _figures(fund) == (1_000_000, 0, 0, 0, 1_000_000, 0, 1_000_000)
    allocation_entry = services.allocate(w.keeper, fund, 300_000, action=w.action)
    allocation = allocation_entry.allocation
    assert _figures(fund) == (1_000_000, 300_000, 0, 0, 1_000_000, 300_000, 700_000)
    spending = services.record_spending(w.keeper, fund, allocation, 120_050, payee="Green Co.",
                                        payee_kind="organization", receipt=_receipt())
    assert _figures(fund) == (1_000_000, 300_000, 120_050, 0, 879_950, 179_950, 700_000)
    services.record_refund(w.keeper, fund, spending, 50, description="overcharged")
    assert _figures(fund) == (1_000_000, 300_000, 120_050, 50, 880_000, 180_000, 700_000)
    services.correct_entry(w.keeper, spending, 100_050, reason="typed 120,050 for 100,050")
    assert _figures(fund) == (1_000_000, 300_000, 100_050, 50, 900_000, 200_000, 700_000)
    db.session.refresh(allocation)
    assert (allocation.allocated_fen, allocation.spent_fen, allocation.refunded_fen,
            allocation.remaining_fen) == (300_000, 100_050, 50, 200_000)
    assert services.stored_figures(fund) == services.full_figures(fund)
    assert fund.entry_count == 5


def test_a_correction_is_a_new_entry_and_never_edits(world):
    w, fund = world, world.fund
    income = services.record_income(w.keeper, fund, 5000, source="Donation")
    correction = services.correct_entry(w.keeper, income, 4000, reason="the bank credited 40 yuan")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(LedgerEntry, income.id).amount_fen == 5000  # the original stays as it was
    assert (correction.kind, correction.corrects_id, correction.amount_fen, correction.delta_fen,
            correction.effect_kind) == ("correction", income.id, 4000, -1000, "income")
    assert services.current_amount(income) == 4000
    assert fund.income_fen == 4000
    again = services.correct_entry(w.keeper, income, 4500, reason="the second statement")
    assert again.delta_fen == 500 and services.current_amount(income) == 4500
    with pytest.raises(DomainError):
        services.correct_entry(w.keeper, correction, 1, reason="a correction of a correction")


def test_the_database_refuses_to_update_an_entry(world):
    w = world
    income = services.record_income(w.keeper, w.fund, 5000, source="Donation")
    db.session.commit()
    with pytest.raises(sqlalchemy.exc.DBAPIError):
        db.session.execute(sqlalchemy.text("UPDATE fund_ledger_entry SET amount_fen = 1 WHERE id = :id"),
                           {"id": income.id})
    db.session.rollback()
    assert db.session.get(LedgerEntry, income.id).amount_fen == 5000


def test_the_application_refuses_to_delete_an_entry(world):
    w = world
    income = services.record_income(w.keeper, w.fund, 5000, source="Donation")
    db.session.commit()
    db.session.delete(income)
    with pytest.raises(ValueError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(LedgerEntry, income.id) is not None


def test_services_have_no_update_or_delete_of_entries():
    import inspect
    source = inspect.getsource(services)
    assert "update(LedgerEntry" not in source and "delete(LedgerEntry" not in source
    assert "session.delete(" not in source


def test_spending_over_the_allocation_is_refused_without_a_decision(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant")
    allocation = services.allocate(w.keeper, fund, 30_000, action=w.action).allocation
    db.session.commit()
    with pytest.raises(DomainError) as refused:
        services.record_spending(w.keeper, fund, allocation, 30_001, payee="Green Co.",
                                 payee_kind="organization", receipt=_receipt())
    assert refused.value.field == "amount"
    db.session.rollback()
    assert _figures(fund)[2] == 0 and db.session.scalar(db.select(db.func.count(LedgerEntry.id))) == 2


@pytest.mark.parametrize("link", ["decision", "ballot"])
def test_spending_over_the_allocation_with_a_decision_raises_it_and_links_the_decision(world, link):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant")
    allocation = services.allocate(w.keeper, fund, 30_000, action=w.action).allocation
    kwargs = {"decision": w.decision} if link == "decision" else {"ballot": w.passed_committee}
    spending = services.record_spending(w.keeper, fund, allocation, 35_000, payee="Green Co.",
                                        payee_kind="organization", receipt=_receipt(), **kwargs)
    raise_entry = db.session.scalars(db.select(LedgerEntry).where(LedgerEntry.kind == "allocation")
                                     .order_by(LedgerEntry.id.desc())).first()
    assert raise_entry.amount_fen == 5000
    assert (raise_entry.decision_id, raise_entry.ballot_id) == (
        (w.decision.id, None) if link == "decision" else (None, w.passed_committee.id))
    db.session.refresh(allocation)
    assert (allocation.allocated_fen, allocation.raised_fen, allocation.remaining_fen) == (35_000, 5000, 0)
    assert spending.amount_fen == 35_000
    assert services.stored_figures(fund) == services.full_figures(fund)


def test_a_decision_of_another_community_or_a_failed_ballot_does_not_count(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant")
    allocation = services.allocate(w.keeper, fund, 30_000, action=w.action).allocation
    for kwargs in ({"ballot": w.owners_failed},):
        with pytest.raises(DomainError):
            services.record_spending(w.keeper, fund, allocation, 35_000, payee="Green Co.",
                                     payee_kind="organization", receipt=_receipt(), **kwargs)


def test_raising_an_allocation_needs_a_decision(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant")
    allocation = services.allocate(w.keeper, fund, 30_000, action=w.action).allocation
    with pytest.raises(DomainError) as refused:
        services.allocate(w.keeper, fund, 1000, allocation=allocation)
    assert refused.value.field == "decision"
    with pytest.raises(DomainError):  # the same action again is the same allocation
        services.allocate(w.keeper, fund, 1000, action=w.action)
    services.allocate(w.keeper, fund, 1000, allocation=allocation, decision=w.decision)
    db.session.refresh(allocation)
    assert (allocation.allocated_fen, allocation.raised_fen) == (31_000, 1000)


def test_allocating_more_than_is_free_is_refused(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 1000, source="Grant")
    with pytest.raises(DomainError):
        services.allocate(w.keeper, fund, 1001, title="Flower beds")
    services.allocate(w.keeper, fund, 1000, title="Flower beds")
    assert fund.available_fen == 0


def test_maintenance_fund_spending_without_a_passed_owners_decision_is_refused(world):
    w, fund = world, world.maintenance
    services.record_income(w.hoa_member, fund, 500_000, source="Owners' deposits")
    allocation = services.allocate(w.hoa_member, fund, 200_000, title="Replace the lift ropes of B1").allocation
    for owners_decision in (None, w.owners_other, w.owners_failed, w.passed_committee):
        with pytest.raises(DomainError) as refused:
            services.record_spending(w.hoa_member, fund, allocation, 100_000, payee="Lift Co.",
                                     payee_kind="organization", receipt=_receipt(),
                                     owners_decision=owners_decision)
        assert refused.value.field == "owners_decision"
    spending = services.record_spending(w.hoa_member, fund, allocation, 100_000, payee="Lift Co.",
                                        payee_kind="organization", receipt=_receipt(),
                                        owners_decision=w.owners_use)
    assert spending.ballot_id == w.owners_use.id and fund.spent_fen == 100_000


def test_an_owners_decision_of_another_estate_does_not_count(world):
    from portal.places.models import Estate
    w = world
    other = Estate(community_id=w.x.id, name="East estate")
    db.session.add(other)
    db.session.flush()
    w.owners_use.estate_id = other.id
    assert not services.owners_decision_counts(w.maintenance, w.owners_use)


def test_only_those_who_keep_the_ledger_record_entries(world):
    w = world
    for person in (w.resident, w.outsider, w.official, w.property, w.hoa_member, w.resident_y):
        with pytest.raises(NotAllowed):
            services.record_income(person, w.fund, 100, source="Grant")
    services.record_income(w.admin, w.fund, 100, source="Grant")
    with pytest.raises(NotAllowed):
        services.record_income(w.keeper, w.maintenance, 100, source="Grant")


def test_a_receipt_is_checked_by_its_content(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant")
    allocation = services.allocate(w.keeper, fund, 30_000, title="Benches").allocation
    for data, name in ((b"<html><script>alert(1)</script></html>", "receipt.pdf"), (b"", "receipt.png"),
                       (b"%PDF-1.4 not really", "receipt.pdf"), (png_bytes()[:40], "receipt.png")):
        with pytest.raises(DomainError) as refused:
            services.record_spending(w.keeper, fund, allocation, 100, payee="Bench Co.",
                                     payee_kind="organization", receipt=Receipt(data, name))
        assert refused.value.field == "receipt"
    with pytest.raises(DomainError):
        services.record_spending(w.keeper, fund, allocation, 100, payee="Bench Co.", payee_kind="organization",
                                 receipt=None)
    pdf = services.record_spending(w.keeper, fund, allocation, 100, payee="Bench Co.", payee_kind="organization",
                                   receipt=Receipt(pdf_bytes(), "invoice.pdf"))
    photo = services.record_spending(w.keeper, fund, allocation, 100, payee="Bench Co.",
                                     payee_kind="organization", receipt=_receipt())
    assert pdf.receipt_kind == "pdf" and services.receipt_path(pdf).read_bytes().startswith(b"%PDF-")
    assert photo.receipt_kind == "image" and services.receipt_path(photo, 400).read_bytes()[:2] == b"\xff\xd8"


def test_refunds_are_bounded_by_what_was_paid(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant")
    allocation = services.allocate(w.keeper, fund, 30_000, title="Benches").allocation
    spending = services.record_spending(w.keeper, fund, allocation, 10_000, payee="Bench Co.",
                                        payee_kind="organization", receipt=_receipt())
    services.record_refund(w.keeper, fund, spending, 6000)
    with pytest.raises(DomainError):
        services.record_refund(w.keeper, fund, spending, 4001)
    with pytest.raises(DomainError):  # the spending cannot be corrected below what was refunded
        services.correct_entry(w.keeper, spending, 5999, reason="typo")


def test_a_future_date_is_refused(world):
    w = world
    with pytest.raises(DomainError) as refused:
        services.record_income(w.keeper, w.fund, 100, source="Grant", occurred_on=date(2999, 1, 1))
    assert refused.value.field == "occurred_on"


def test_rebuild_gives_back_the_stored_figures(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant", occurred_on=date(2026, 1, 5))
    allocation = services.allocate(w.keeper, fund, 30_000, title="Benches", occurred_on=date(2026, 1, 6)).allocation
    spending = services.record_spending(w.keeper, fund, allocation, 10_000, payee="Bench Co.",
                                        payee_kind="organization", receipt=_receipt(), occurred_on=date(2026, 2, 1))
    services.record_spending(w.keeper, fund, allocation, 25_000, payee="Bench Co.", payee_kind="organization",
                             receipt=_receipt(), decision=w.decision, occurred_on=date(2026, 2, 2))
    services.record_refund(w.keeper, fund, spending, 1000, occurred_on=date(2026, 2, 3))
    services.correct_entry(w.keeper, spending, 9000, reason="typo")
    db.session.commit()
    before_fund = services.stored_figures(fund)
    db.session.refresh(allocation)
    before_allocation = (allocation.allocated_fen, allocation.raised_fen, allocation.spent_fen,
                         allocation.refunded_fen)
    months = {m.month: (m.income_fen, m.allocated_fen, m.spent_fen, m.refunded_fen, m.entry_count)
              for m in db.session.scalars(db.select(FundMonth).where(FundMonth.fund_id == fund.id))}
    fund.income_fen = fund.spent_fen = 0
    allocation.allocated_fen = allocation.raised_fen = allocation.spent_fen = 77
    services.rebuild_figures(fund)
    db.session.commit()
    assert services.stored_figures(fund) == before_fund == services.full_figures(fund)
    assert (allocation.allocated_fen, allocation.raised_fen, allocation.spent_fen,
            allocation.refunded_fen) == before_allocation == (35_000, 5000, 34_000, 1000)
    assert {m.month: (m.income_fen, m.allocated_fen, m.spent_fen, m.refunded_fen, m.entry_count)
            for m in db.session.scalars(db.select(FundMonth).where(FundMonth.fund_id == fund.id))} == months


def test_statement_opening_and_closing_balance(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant", occurred_on=date(2026, 1, 5))
    allocation = services.allocate(w.keeper, fund, 30_000, title="Benches", occurred_on=date(2026, 1, 6)).allocation
    services.record_spending(w.keeper, fund, allocation, 10_000, payee="Wang Xiaoming", payee_kind="person",
                             receipt=_receipt(), occurred_on=date(2026, 2, 1))
    services.record_income(w.keeper, fund, 500, source="Interest", occurred_on=date(2026, 2, 28))
    january, february = services.statement(fund, "2026-01"), services.statement(fund, "2026-02")
    assert (january.opening_fen, january.closing_fen) == (0, 100_000)
    assert (february.opening_fen, february.closing_fen) == (100_000, 90_500)
    assert [e.kind for e in february.entries] == ["spending", "income"]
    assert february.by_allocation == [{"title": "Benches", "allocation": 0, "spending": 10_000, "refund": 0}]


def test_a_persons_name_is_masked_for_the_public_but_not_an_organizations(world):
    w, fund = world, world.fund
    services.record_income(w.keeper, fund, 100_000, source="Grant")
    allocation = services.allocate(w.keeper, fund, 30_000, title="Benches").allocation
    person = services.record_spending(w.keeper, fund, allocation, 100, payee="王小明", payee_kind="person",
                                      receipt=_receipt())
    company = services.record_spending(w.keeper, fund, allocation, 100, payee="绿化公司",
                                       payee_kind="organization", receipt=_receipt())
    assert services.payee_shown(w.resident, person) == "王**"
    assert services.payee_shown(None, person) == "王**"
    assert services.payee_shown(w.keeper, person) == "王小明"
    assert services.payee_shown(w.resident, company) == "绿化公司"


def test_a_maintenance_fund_belongs_to_an_estate(world):
    w = world
    with pytest.raises(DomainError):
        services.create_fund(w.keeper, kind="maintenance", name="M", community=w.x, managing_org=w.rc_x)
    with pytest.raises(NotAllowed):
        services.create_fund(w.resident, kind="other", name="M", community=w.x, managing_org=w.rc_x)
    with pytest.raises(DomainError):  # managed by an organization of another community
        services.create_fund(w.official, kind="other", name="M", community=w.y, managing_org=w.rc_x)
