"""Proposal forms. The rules (lengths, which buildings, which files, what a stance may be) are the
services'; these forms only carry the input, so the person reads the service's message next to the field
with their typing kept."""
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from portal.proposals.models import (
    BODY_MAX,
    CATEGORY_LABELS,
    STANCE_LABELS,
    STATE_LABELS,
    SUMMARY_MAX,
    TITLE_MAX,
    WITHDRAW_REASON_LABELS,
)


def _ids(values):
    """Checked building ids; anything that is not a number is dropped (the service checks the rest)."""
    out = []
    for value in values or ():
        try:
            out.append(int(value))
        except (TypeError, ValueError):
            continue
    return out


class _Checkboxes(SelectMultipleField):
    widget = ListWidget(html_tag="ul", prefix_label=False)
    option_widget = CheckboxInput()

    def process_formdata(self, valuelist):
        self.data = _ids(valuelist)

    def pre_validate(self, form):
        pass  # which buildings belong to the community is the service's rule


class ProposalForm(FlaskForm):
    title = StringField(_l("Title"), render_kw={"autocomplete": "off", "maxlength": TITLE_MAX})
    summary = TextAreaField(_l("Summary in a few sentences"), render_kw={"rows": 3, "maxlength": SUMMARY_MAX})
    body = TextAreaField(_l("The full proposal"), render_kw={"rows": 12, "maxlength": BODY_MAX})
    category = SelectField(_l("Category"), validate_choice=False,
                           choices=[SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()])
    buildings = _Checkboxes(_l("Which buildings does it affect?"), coerce=int)
    estimated_cost = StringField(_l("Estimated cost in yuan (optional)"),
                                 render_kw={"inputmode": "decimal", "autocomplete": "off"})
    attachments = MultipleFileField(_l("Attachments: photos or PDF documents (optional)"),
                                    render_kw={"accept": "image/*,application/pdf"})
    note = StringField(_l("What did you change? (optional, shown in the history)"), render_kw={"maxlength": 1000})


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: a list anyone may link to

    status = SelectField(_l("State"), validate_choice=False,
                         choices=[SelectChoice("", _l("All states")),
                                  SelectChoice("open", lazy_pgettext("proposals", "Open"))]
                         + [SelectChoice(k, v) for k, v in STATE_LABELS.items() if k != "draft"])
    category = SelectField(_l("Category"), validate_choice=False,
                           choices=[SelectChoice("", _l("All categories"))]
                           + [SelectChoice(k, v) for k, v in CATEGORY_LABELS.items()])
    q = StringField(_l("Words"), render_kw={"type": "search", "maxlength": 100})
    show = SelectField(_l("Show"), validate_choice=False,
                       choices=[SelectChoice("", _l("Every proposal")),
                                SelectChoice("needs_support", _l("Needs my support")),
                                SelectChoice("supported", _l("I supported")),
                                SelectChoice("mine", _l("My proposals"))])


class _ActionForm(FlaskForm):
    class Meta:
        csrf = False  # several on one page; the app-wide CSRF check covers every POST


class WithdrawForm(_ActionForm):
    reason = RadioField(_l("Why do you withdraw it?"), validate_choice=False,
                        choices=[SelectChoice(k, v) for k, v in WITHDRAW_REASON_LABELS.items()])
    note = TextAreaField(_l("A note for the supporters (needed for “Other”)"), render_kw={"rows": 3})


class CommentForm(_ActionForm):
    stance = RadioField(_l("Your stance"), validate_choice=False,
                        choices=[SelectChoice(k, v) for k, v in STANCE_LABELS.items()])
    body = TextAreaField(_l("Your comment"), render_kw={"rows": 4})
    parent_id = HiddenField()


class SummaryForm(_ActionForm):
    arguments_for = TextAreaField(_l("The main arguments for"), render_kw={"rows": 6})
    arguments_against = TextAreaField(_l("The main arguments against"), render_kw={"rows": 6})


class SettingsForm(_ActionForm):
    threshold = StringField(_l("Supports needed to open a consultation"),
                            render_kw={"inputmode": "numeric", "autocomplete": "off"})
    days = StringField(_l("Days to collect them"), render_kw={"inputmode": "numeric", "autocomplete": "off"})
    notice_days = StringField(_l("Days of public notice after a decision"),
                              render_kw={"inputmode": "numeric", "autocomplete": "off"})


class ReasonForm(_ActionForm):
    reason = TextAreaField(_l("Reason (shown on the timeline)"), render_kw={"rows": 3})
