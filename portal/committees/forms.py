from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from portal.committees.models import KIND_LABELS, TITLE_LABELS
from portal.forms import optional_id


class OrganizationForm(FlaskForm):
    kind = SelectField(_l("Kind"), validate_choice=False,
                       choices=[SelectChoice("", _l("Choose…"))] + [SelectChoice(k, v) for k, v in KIND_LABELS.items()])
    name = StringField(_l("Name"), validators=[Length(max=120)])
    community = SelectField(_l("Community (for committees and the property company)"), coerce=optional_id,
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
