"""Ballot forms. The rules (which method, how much notice, which quorum, which options) are the services';
these forms only carry the input, so the person reads the service's message next to the field with their
typing kept. Times are typed in the community's zone (`<input type="datetime-local">`); the view turns them
into UTC."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FileField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from portal.forms import PlainName
from portal.votes.models import MATTER_LABELS, METHOD_LABELS
from portal.votes.scope import SCOPE_LABELS

QUESTION_MAX = 300
REASON_MAX = 1000
CHOICES_MAX_CHARS = 2000
RECEIPT_MAX = 64

RESIDENT_UNIT_LABELS = {"person": _l("One vote per verified adult resident"),
                        "household": _l("One vote per household")}
THRESHOLD_LABELS = {"simple": _l("More than half of the yes and no votes"),
                    "two_thirds": _l("At least two thirds of the yes and no votes")}
RESIDENT_RULE_LABELS = {
    "simple": _l("Simple: valid at the quorum you set; passes with the share of yes and no votes you choose "
                 "(abstentions left out)"),
    "meeting": _l("Residents' meeting (居民会议, art. 10): valid when more than half of the electorate take part; "
                  "passes when more than half of those taking part vote yes (abstentions count)"),
}
KIND_LABELS = {"yes_no": _l("Yes / no / abstain"), "choices": _l("Named choices (2 to 10)")}


class _ActionForm(FlaskForm):
    class Meta:
        csrf = False  # the app-wide CSRF check covers every POST; several forms share a page


class MethodForm(_ActionForm):
    """The first step: which kind of ballot (a GET form, so it works without JavaScript)."""
    method = RadioField(_l("Who votes?"), validate_choice=False,
                        choices=[SelectChoice(k, v) for k, v in METHOD_LABELS.items()])


class BallotForm(_ActionForm):
    method = HiddenField()
    question = StringField(_l("The question"), render_kw={"maxlength": QUESTION_MAX, "autocomplete": "off"})
    organization = SelectField(_l("Which committee votes?"), validate_choice=False, choices=[])
    matter = SelectField(_l("Matter (Civil Code art. 278)"), validate_choice=False,
                         choices=[SelectChoice("", _l("Choose the matter"))]
                         + [SelectChoice(str(k), v) for k, v in MATTER_LABELS.items()])
    notice = TextAreaField(_l("Announcement to every owner"), render_kw={"rows": 5})
    estate = SelectField(_l("Which estate's owners decide?"), validate_choice=False, choices=[])
    scope = RadioField(_l("Who of its owners decide?"), validate_choice=False,
                       choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()])
    resident_unit = RadioField(_l("Who has a vote?"), validate_choice=False,
                               choices=[SelectChoice(k, v) for k, v in RESIDENT_UNIT_LABELS.items()])
    resident_rule = RadioField(_l("How is the vote decided?"), validate_choice=False,
                               choices=[SelectChoice(k, v) for k, v in RESIDENT_RULE_LABELS.items()])
    kind = RadioField(_l("Options"), validate_choice=False,
                      choices=[SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    options = TextAreaField(_l("The choices, one per line"), render_kw={"rows": 5})
    quorum_percent = StringField(_l("Quorum: share of the electorate that must vote (%)"),
                                 render_kw={"inputmode": "decimal", "autocomplete": "off", "maxlength": 8})
    threshold = RadioField(_l("A yes/no question passes with"), validate_choice=False,
                           choices=[SelectChoice(k, v) for k, v in THRESHOLD_LABELS.items()])
    opens_at = StringField(_l("Voting opens"), render_kw={"type": "datetime-local"})
    closes_at = StringField(_l("Voting closes"), render_kw={"type": "datetime-local"})
    secret = BooleanField(_l("Secret ballot: nobody ever sees who voted what"))
    results_hidden = BooleanField(_l("Hide the results until voting closes"))


class CastForm(_ActionForm):
    voter_id = HiddenField()
    option_id = RadioField(_l("Your vote"), validate_choice=False, choices=[])


class PaperForm(_ActionForm):
    voter_id = RadioField(_l("Whose paper ballot is it?"), validate_choice=False, choices=[])
    option_id = RadioField(_l("What the paper ballot says"), validate_choice=False, choices=[])
    by_proxy = BooleanField(_l("Signed by the owner's recorded proxy (书面委托)"))
    scan = FileField(_l("Scan of the signed form: a photo or PDF (optional)"))


class ProxyForm(_ActionForm):
    voter_id = RadioField(_l("Which owner gave the authorization?"), validate_choice=False, choices=[])
    proxy_login = StringField(_l("The proxy's account: phone number or e-mail (if they have one)"),
                              render_kw={"autocomplete": "off", "maxlength": 120})
    proxy_name = StringField(_l("The proxy's name, as the authorization gives it"), validators=[PlainName()],
                             render_kw={"autocomplete": "off", "maxlength": 100})
    signed_on = StringField(_l("Date on the authorization"), render_kw={"type": "date"})
    scan = FileField(_l("Scan of the signed authorization: a photo or PDF (optional)"))


class ExtendForm(_ActionForm):
    closes_at = StringField(_l("New closing time"), render_kw={"type": "datetime-local"})
    reason = TextAreaField(_l("Reason (shown on the ballot)"), render_kw={"rows": 3, "maxlength": REASON_MAX})


class ReasonForm(_ActionForm):
    reason = TextAreaField(_l("Reason (shown on the ballot)"), render_kw={"rows": 3, "maxlength": REASON_MAX})


class OutcomeForm(_ActionForm):
    statement = TextAreaField(_l("The committee's statement on the outcome"), render_kw={"rows": 6})


class ReceiptForm(_ActionForm):
    receipt = StringField(_l("Your receipt"), render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                                          "spellcheck": "false", "maxlength": RECEIPT_MAX})


UNIT_RESOLUTION_LABELS = {
    "developer": _l("It belongs to the developer (unsold or not handed over): it counts with the developer's units"),
    "excluded": _l("It is excluded from owners' ballots (for example: demolished)"),
}


class UnitResolutionForm(_ActionForm):
    resolution = RadioField(_l("How does this unit count?"), validate_choice=False,
                            choices=[SelectChoice(k, v) for k, v in UNIT_RESOLUTION_LABELS.items()])
    reason = TextAreaField(_l("Why (shown on every owners' ballot's result)"), render_kw={"rows": 3, "maxlength": 500})


class RepresentativeForm(_ActionForm):
    owner_id = RadioField(_l("The co-owners' representative"), validate_choice=False, choices=[])
class RevokeProxyForm(_ActionForm):
    """The revoke button: nothing posted but the CSRF token."""
