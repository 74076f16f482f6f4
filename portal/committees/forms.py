from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from portal.committees.meetings import FOLLOW_UP_LABELS
from portal.committees.models import KIND_LABELS, TITLE_LABELS
from portal.forms import PlainName, optional_id


class OrganizationForm(FlaskForm):
    kind = SelectField(_l("Kind"), validate_choice=False,
                       choices=[SelectChoice("", _l("Choose…"))] + [SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    name = StringField(_l("Name"), validators=[Length(max=120), PlainName()])
    community = SelectField(_l("Community (for the community's organizations)"), coerce=optional_id,
                            validate_choice=False)
    sub_district = SelectField(_l("Sub-district (for departments and the sub-district office)"),
                               coerce=optional_id, validate_choice=False)


class AddMemberForm(FlaskForm):
    login = StringField(_l("Member's mobile number or e-mail"), validators=[Length(max=254)],
                        render_kw={"autocomplete": "off"})
    title = SelectField(_l("Title"), default="member", validate_choice=False,
                        choices=[SelectChoice(k, v) for k, v in TITLE_LABELS.items()])
    start_date = DateField(_l("Starts on"),
                           validators=[InputRequired(message=_l("Enter the date the membership starts."))])


class EndMembershipForm(FlaskForm):
    class Meta:
        csrf = False  # one per member row; the app-wide CSRF check covers every POST

    end_date = DateField(_l("Last day"),
                         validators=[InputRequired(message=_l("Enter the last day of the membership."))])


# --- meetings ------------------------------------------------------------------------------------------------
# The rules (future start, place or link, agenda from this community, members only) are the services'; these
# forms carry the input so the service's message shows next to the field with the typing kept. Times are typed
# in the community's zone (`<input type="datetime-local">`); the view turns them into UTC.

class _MeetingForm(FlaskForm):
    class Meta:
        csrf = False  # several forms share the meeting page; the app-wide CSRF check covers every POST


class ScheduleMeetingForm(_MeetingForm):
    title = StringField(_l("Title"), validators=[Length(max=200)], render_kw={"maxlength": 200})
    starts_at = StringField(_l("Starts"), render_kw={"type": "datetime-local"})
    ends_at = StringField(_l("Ends (optional)"), render_kw={"type": "datetime-local"})
    place = StringField(lazy_pgettext("meeting", "Place"), validators=[Length(max=200)], render_kw={"maxlength": 200})
    online_url = StringField(_l("Online meeting link (optional)"), validators=[Length(max=500)],
                             render_kw={"type": "url", "maxlength": 500, "inputmode": "url"})
    is_public = BooleanField(_l("Public meeting: anyone in the community sees the agenda and the minutes"),
                             default=True)
    agenda = TextAreaField(_l("Agenda items, one per line (you can link proposals and issues afterwards)"),
                           render_kw={"rows": 4})


class AgendaItemForm(_MeetingForm):
    title = StringField(_l("Agenda item"), validators=[Length(max=200)], render_kw={"maxlength": 200})


class CancelMeetingForm(_MeetingForm):
    reason = TextAreaField(_l("Why the meeting is cancelled"), validators=[Length(max=1000)],
                           render_kw={"rows": 2, "maxlength": 1000})


class DecisionForm(_MeetingForm):
    text = TextAreaField(_l("What the meeting decided"), render_kw={"rows": 3})
    follow_up = SelectField(_l("Follow-up"), default="none", validate_choice=False,
                            choices=[SelectChoice(k, v) for k, v in FOLLOW_UP_LABELS.items()])
    agenda_item = SelectField(_l("Agenda item"), coerce=optional_id, validate_choice=False, choices=[])
