"""Action forms. The rules (dates, who, which files, evidence) are the services'; these forms only carry the
input, so the person reads the service's message next to the field with their typing kept."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from portal.forms import optional_id

SATISFACTION_LABELS = {"satisfied": _l("Satisfied"), "basically_satisfied": _l("Basically satisfied"),
                       "dissatisfied": _l("Dissatisfied")}
PHOTO_ACCEPT = {"accept": "image/*"}
PDF_ACCEPT = {"accept": "application/pdf,.pdf"}


class ActionForm(FlaskForm):
    title = StringField(_l("What will be done?"), render_kw={"maxlength": 200, "autocomplete": "off"})
    description = TextAreaField(_l("Details (optional)"), render_kw={"rows": 4})
    responsible_org = SelectField(_l("Responsible organization"), coerce=optional_id, validate_choice=False)
    owner = SelectField(_l("Person in charge (optional)"), coerce=optional_id, validate_choice=False)
    due_date = StringField(_l("Due date"), render_kw={"type": "date"})
    budget = StringField(_l("Budget in yuan (optional)"), render_kw={"inputmode": "decimal", "maxlength": 16})
    funding_source = StringField(_l("Funding source (optional, e.g. the maintenance fund)"),
                                 render_kw={"maxlength": 120})


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: a list anyone may link to

    status = SelectField(_l("Status"), validate_choice=False)
    overdue = BooleanField(_l("Only overdue"))


class _StepForm(FlaskForm):
    class Meta:
        csrf = False  # several on one page; the app-wide CSRF check covers every POST


class ProgressForm(_StepForm):
    body = TextAreaField(_l("What was done since the last update?"), render_kw={"rows": 3})
    percent = StringField(_l("Progress in percent (optional, 0 to 100)"),
                          render_kw={"type": "number", "inputmode": "numeric", "min": "0", "max": "100"})
    photos = MultipleFileField(_l("Photos (optional)"), render_kw=PHOTO_ACCEPT)
    documents = MultipleFileField(_l("PDF documents (optional)"), render_kw=PDF_ACCEPT)


class BlockForm(_StepForm):
    reason = TextAreaField(_l("Why is the work blocked?"), render_kw={"rows": 2})
    unblock_by = StringField(_l("Who must unblock it?"), render_kw={"maxlength": 200})


class UnblockForm(_StepForm):
    note = TextAreaField(_l("What changed? (optional)"), render_kw={"rows": 2})


class CompleteForm(_StepForm):
    note = TextAreaField(_l("What was done? (completion note)"), render_kw={"rows": 3})
    photos = MultipleFileField(_l("Photos of the result"), render_kw=PHOTO_ACCEPT)
    documents = MultipleFileField(_l("PDF documents (e.g. acceptance report)"), render_kw=PDF_ACCEPT)


class RateForm(_StepForm):
    satisfaction = RadioField(_l("How satisfied are you with the result?"), validate_choice=False,
                              choices=[SelectChoice(k, v) for k, v in SATISFACTION_LABELS.items()])


class ChaseForm(_StepForm):
    note = TextAreaField(_l("Chase note to the responsible organization"), render_kw={"rows": 2})
    new_due = StringField(_l("New date"), render_kw={"type": "date"})


class VolunteerForm(_StepForm):
    show_name = BooleanField(_l("Show my name on the action's page (otherwise I am only counted)"), default=True)


class WithdrawVolunteerForm(_StepForm):
    pass
