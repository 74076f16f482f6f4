"""Budget round forms: they carry the input only. Amounts are text read by services.parse_yuan and dates by
services.parse_day inside portal.funds.rounds, so the service's message shows next to the field with the
typing kept."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from portal.forms import optional_id
from portal.funds.forms import AMOUNT, DAY
from portal.funds.rounds_models import BALLOT_KIND_LABELS, TIE_RULE_LABELS, VOTER_UNIT_LABELS

DATE_FIELDS = ("proposing_from", "review_from", "voting_from", "voting_until", "results_from")


def _choices(labels):
    return [SelectChoice(value, label) for value, label in labels.items()]


class RoundForm(FlaskForm):
    title = StringField(_l("Title"), render_kw={"maxlength": 120})
    description = TextAreaField(_l("About the round (optional)"), render_kw={"rows": 3, "maxlength": 4000})
    total = StringField(_l("Total in yuan"), render_kw=AMOUNT)
    ballot_kind = RadioField(_l("Ballot"), choices=_choices(BALLOT_KIND_LABELS), default="knapsack",
                             validate_choice=False)
    max_approvals = StringField(_l("Approval ballot: at most this many projects"),
                                render_kw={"inputmode": "numeric", "maxlength": 3})
    voter_unit = RadioField(_l("Who votes"), choices=_choices(VOTER_UNIT_LABELS), default="resident",
                            validate_choice=False)
    tie_rule = RadioField(_l("Equal votes"), choices=_choices(TIE_RULE_LABELS), default="lower_cost",
                          validate_choice=False)
    proposing_from = StringField(_l("Proposing projects from"), render_kw=DAY)
    review_from = StringField(_l("Feasibility review from"), render_kw=DAY)
    voting_from = StringField(_l("Voting from"), render_kw=DAY)
    voting_until = StringField(_l("Voting closes on (at the start of the day)"), render_kw=DAY)
    results_from = StringField(_l("Results on"), render_kw=DAY)


class ProjectForm(FlaskForm):
    class Meta:
        csrf = False  # beside the review forms on the round page; the app-wide CSRF check covers every POST

    title = StringField(_l("What (a short title)"), render_kw={"maxlength": 120})
    summary = TextAreaField(_l("The project in a few sentences"), render_kw={"rows": 3, "maxlength": 500})
    location = StringField(_l("Where"), render_kw={"maxlength": 200})
    estimated_cost = StringField(_l("Estimated cost in yuan"), render_kw=AMOUNT)


class ReviewForm(FlaskForm):
    class Meta:
        csrf = False

    decision = RadioField(_l("Review"), choices=[SelectChoice("accept", _l("Accept with a reviewed cost")),
                                                 SelectChoice("merge", _l("Merge into another project")),
                                                 SelectChoice("reject", _l("Reject"))],
                          default="accept", validate_choice=False)
    reviewed_cost = StringField(_l("Reviewed cost in yuan"), render_kw=AMOUNT)
    merge_into = SelectField(_l("Merge into"), coerce=optional_id, validate_choice=False)
    reason = StringField(_l("Public reason (required to reject)"), render_kw={"maxlength": 1000})
