"""Fund forms: they carry the input only. Amounts are text read by services.parse_yuan and dates by
services.parse_day, so a person reads the service's message next to the field with their typing kept."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from portal.forms import PlainName, optional_id

AMOUNT = {"inputmode": "decimal", "maxlength": 20, "autocomplete": "off"}
DAY = {"type": "date"}
RECEIPT_ACCEPT = {"accept": "image/*,application/pdf,.pdf"}


class FundForm(FlaskForm):
    kind = SelectField(_l("Kind of fund"), validate_choice=False)
    name = StringField(_l("Name"), validators=[PlainName()], render_kw={"maxlength": 120})
    estate = SelectField(_l("Estate (for a maintenance fund account)"), coerce=optional_id, validate_choice=False)
    managing_org = SelectField(_l("Managing organization"), coerce=optional_id, validate_choice=False)
    description = TextAreaField(_l("About the fund (optional)"), render_kw={"rows": 3, "maxlength": 2000})


class _EntryForm(FlaskForm):
    class Meta:
        csrf = False  # several on one page; the app-wide CSRF check covers every POST

    amount = StringField(_l("Amount in yuan"), render_kw=AMOUNT)
    occurred_on = StringField(_l("Date"), render_kw=DAY)
    description = StringField(_l("Note (optional)"), render_kw={"maxlength": 500})


class IncomeForm(_EntryForm):
    source = StringField(_l("Where the money came from"), render_kw={"maxlength": 200})


class AllocationForm(_EntryForm):
    action = SelectField(_l("To an agreed action"), coerce=optional_id, validate_choice=False)
    title = StringField(_l("Or to a project (name it)"), render_kw={"maxlength": 200})
    allocation = SelectField(_l("Or raise an existing allocation"), coerce=optional_id, validate_choice=False)
    decision = SelectField(_l("The meeting's decision (needed to raise an allocation)"), coerce=optional_id,
                           validate_choice=False)
    ballot = SelectField(_l("Or the passed ballot"), coerce=optional_id, validate_choice=False)


class SpendingForm(_EntryForm):
    allocation = SelectField(_l("Spent from the allocation"), coerce=optional_id, validate_choice=False)
    payee = StringField(_l("Paid to"), validators=[PlainName()], render_kw={"maxlength": 120})
    payee_kind = RadioField(_l("The payee is"), choices=[SelectChoice("organization", _l("an organization or company")),
                                                        SelectChoice("person", _l("a person (name masked in public)"))],
                            default="organization", validate_choice=False)
    receipt = FileField(_l("Receipt (photo or PDF)"), render_kw=RECEIPT_ACCEPT)
    owners_decision = SelectField(_l("The owners' decision to use the maintenance fund"), coerce=optional_id,
                                  validate_choice=False)
    decision = SelectField(_l("Over the allocation: the meeting's decision raising it"), coerce=optional_id,
                           validate_choice=False)
    ballot = SelectField(_l("Or the passed ballot raising it"), coerce=optional_id, validate_choice=False)


class RefundForm(_EntryForm):
    refund_of = SelectField(_l("Refund of the spending"), coerce=optional_id, validate_choice=False)


class CorrectionForm(FlaskForm):
    class Meta:
        csrf = False

    entry = SelectField(_l("Entry to correct"), coerce=optional_id, validate_choice=False)
    amount = StringField(_l("Its right amount in yuan (0 voids it)"), render_kw=AMOUNT)
    reason = StringField(_l("Why it is corrected"), render_kw={"maxlength": 500})
