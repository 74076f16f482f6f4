"""Issue forms. The rules (lengths, which building, which photos) are the services'; these forms only
carry the input, so the person reads the service's message next to the field with their typing kept."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from portal.forms import PlainName, optional_id
from portal.issues.models import (
    CONTACT_METHOD_LABELS,
    DEADLINE_CLASS_LABELS,
    SATISFACTION_LABELS,
    SEND_BACK_REASON_LABELS,
)


class ReportForm(FlaskForm):
    title = StringField(_l("What is the problem? (a short title)"),
                        render_kw={"autocomplete": "off", "maxlength": 120})
    description = TextAreaField(_l("Describe it"), render_kw={"rows": 5})
    category = SelectField(_l("Kind of problem"), coerce=optional_id, validate_choice=False)
    building = SelectField(_l("Building"), coerce=optional_id, validate_choice=False)
    household = SelectField(_l("Unit (optional)"), coerce=optional_id, validate_choice=False)
    location_text = StringField(_l("Where exactly? (optional, e.g. \"east gate\", \"car park level -1\")"),
                                render_kw={"maxlength": 120})
    latitude = StringField(_l("Latitude (optional)"),
                           render_kw={"inputmode": "decimal", "type": "number", "step": "any", "min": "-90",
                                      "max": "90"})
    longitude = StringField(_l("Longitude (optional)"),
                            render_kw={"inputmode": "decimal", "type": "number", "step": "any", "min": "-180",
                                       "max": "180"})
    photos = MultipleFileField(_l("Photos (up to 6)"), render_kw={"accept": "image/*"})
    show_name = BooleanField(_l("Show my name publicly with this issue"))


class _ActionForm(FlaskForm):
    class Meta:
        csrf = False  # several on one page; the app-wide CSRF check covers every POST


class NoteForm(_ActionForm):
    note = TextAreaField(_l("Note to the reporter (optional)"), render_kw={"rows": 2})


class HandOverForm(_ActionForm):
    organization = SelectField(_l("Hand over to"), coerce=optional_id, validate_choice=False)
    reason = TextAreaField(_l("Why? The receiving organization and the reporter will read this."),
                           render_kw={"rows": 2})


class UpdateForm(_ActionForm):
    body = TextAreaField(_l("Progress update"), render_kw={"rows": 3})
    visibility = RadioField(_l("Who may read it?"), default="public",
                            choices=[SelectChoice("public", _l("Everyone who can see the issue")),
                                     SelectChoice("internal", _l("Only the people handling it"))])
    photos = MultipleFileField(_l("Photos (optional, up to 6)"), render_kw={"accept": "image/*"})


def _yes_no():
    return [SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))]


class ResolveForm(_ActionForm):
    note = TextAreaField(_l("What was done?"), render_kw={"rows": 3})
    photos = MultipleFileField(_l("Photos of the result (optional, up to 6)"), render_kw={"accept": "image/*"})
    # The closure report of a hotline work order (办结反馈): shown and required for those only.
    caller_contacted = RadioField(_l("Was the caller contacted?"), validate_choice=False, choices=_yes_no())
    contact_method = RadioField(_l("How?"), validate_choice=False,
                                choices=[SelectChoice(k, v) for k, v in CONTACT_METHOD_LABELS.items()])


class SendBackForm(_ActionForm):
    reason = RadioField(_l("Why is it sent back?"), validate_choice=False,
                        choices=[SelectChoice(k, v) for k, v in SEND_BACK_REASON_LABELS.items()])
    text = TextAreaField(_l("Explain: the sub-district office and the hotline will read this."),
                         render_kw={"rows": 2})


class RerouteForm(_ActionForm):
    organization = SelectField(_l("Route to"), coerce=optional_id, validate_choice=False)


class ReturnToHotlineForm(_ActionForm):
    reason = TextAreaField(_l("Why does it go back to the hotline? The hotline will read this."),
                           render_kw={"rows": 2})


class ExtensionForm(_ActionForm):
    reason = TextAreaField(_l("Why is more time needed?"), render_kw={"rows": 2})
    proposed = StringField(_l("New resolve-by date"), render_kw={"type": "date"})


class DecisionForm(_ActionForm):
    decision = RadioField(_l("Decision"), validate_choice=False,
                          choices=[SelectChoice("approve", _l("Approve")), SelectChoice("refuse", _l("Refuse"))])
    reason = TextAreaField(_l("Reason (required to refuse)"), render_kw={"rows": 2})


class ReturnVisitForm(_ActionForm):
    contacted = RadioField(_l("Was the caller reached?"), validate_choice=False, choices=_yes_no())
    solved = RadioField(_l("Does the caller say the problem was solved?"), validate_choice=False,
                        choices=_yes_no())
    satisfaction = RadioField(_l("How satisfied is the caller?"), validate_choice=False,
                              choices=[SelectChoice(k, v) for k, v in SATISFACTION_LABELS.items()])
    words = TextAreaField(_l("The caller's words (optional)"), render_kw={"rows": 2, "maxlength": 500})


class AppealForm(_ActionForm):
    evidence = TextAreaField(_l("Why is the rating unreasonable? Give the evidence (the demand was unlawful, "
                                "beyond your powers, or already answered)."), render_kw={"rows": 3})


class AppealDecisionForm(_ActionForm):
    decision = RadioField(_l("Decision"), validate_choice=False,
                          choices=[SelectChoice("upheld", _l("Uphold: remove the rating from the rates")),
                                   SelectChoice("rejected", _l("Reject: the rating stays"))])
    reason = TextAreaField(_l("Reason"), render_kw={"rows": 2})


class RejectForm(_ActionForm):
    reason = TextAreaField(_l("Why is it not accepted? The reporter will read this."), render_kw={"rows": 2})


class RecategorizeForm(_ActionForm):
    category = SelectField(_l("Kind of problem"), coerce=optional_id, validate_choice=False)


class MergeForm(_ActionForm):
    into = IntegerField(_l("Number of the issue it repeats"), validators=[Optional()],
                        render_kw={"inputmode": "numeric"})


class RateForm(_ActionForm):
    resolved = RadioField(_l("Was the problem resolved?"), validate_choice=False,
                          choices=[SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))])
    satisfaction = RadioField(_l("How satisfied are you with how it was handled?"), validate_choice=False,
                              choices=[SelectChoice(k, v) for k, v in SATISFACTION_LABELS.items()])
    comment = TextAreaField(_l("Comment (optional)"), render_kw={"rows": 2, "maxlength": 500})


class CategoryForm(_ActionForm):
    name = StringField(_l("Name"), validators=[PlainName()], render_kw={"maxlength": 80})
    deadline_class = SelectField(_l("Deadline class"), validate_choice=False,
                                 choices=[SelectChoice(k, v) for k, v in DEADLINE_CLASS_LABELS.items()])
    respond_hours = IntegerField(_l("Respond within (hours)"), validators=[Optional()],
                                 render_kw={"inputmode": "numeric"})
    resolve_hours = IntegerField(_l("Resolve within (hours)"), validators=[Optional()],
                                 render_kw={"inputmode": "numeric"})
    default_org = SelectField(_l("Sent to"), coerce=optional_id, validate_choice=False)
    basis = TextAreaField(_l("Basis of the responsibility (e.g. the regulation), public"), render_kw={"rows": 2})
    keywords = TextAreaField(_l("Keywords residents use for it (comma separated), for the suggested category"),
                             render_kw={"rows": 2})
    report_minutes = StringField(
        _l("Report in within (minutes) when summoned; empty: 30 for emergencies, 1,440 otherwise"),
        render_kw={"inputmode": "numeric", "maxlength": 5})
    is_active = BooleanField(_l("Residents can choose it"))


class WhistleForm(_ActionForm):
    organizations = SelectMultipleField(_l("Organizations to summon"), coerce=optional_id, validate_choice=False)
    report_within = StringField(_l("Report in within (minutes)"), render_kw={"inputmode": "numeric"})
    reason = TextAreaField(_l("Why are they summoned?"), render_kw={"rows": 2})


class ReportInForm(_ActionForm):
    attendee = StringField(_l("Who comes"), render_kw={"maxlength": 200})
    action = TextAreaField(_l("What your organization will do"), render_kw={"rows": 2})
    action_due = StringField(_l("Done by (optional)"), render_kw={"type": "date"})
