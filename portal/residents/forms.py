from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from portal.forms import PlainName, optional_id


class ClaimForm(FlaskForm):
    # Choices come from the database; which unit belongs to which community is the service's rule,
    # so its message (not WTForms' "Not a valid choice") is what the person reads.
    community = SelectField(_l("Community"), coerce=optional_id, validate_choice=False)
    household = SelectField(_l("Your unit (building, entrance and room)"), coerce=optional_id,
                            validate_choice=False)
    minor = BooleanField(_l("I am under 18"))


class RejectForm(FlaskForm):
    class Meta:
        csrf = False  # one of many on a page; the app-wide CSRF check covers every POST

    reason = TextAreaField(_l("Why is the claim not accepted? The person will read this."),
                           validators=[Length(max=500)], render_kw={"rows": 3})


class RegisterOnBehalfForm(FlaskForm):
    display_name = StringField(_l("Resident's name"), validators=[Length(max=80), PlainName()],
                               render_kw={"autocomplete": "off"})
    phone = StringField(_l("Resident's mobile number"), validators=[Length(max=20)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    household = SelectField(_l("Unit (building, entrance and room)"), coerce=optional_id, validate_choice=False)
    minor = BooleanField(_l("This person is under 18"))
