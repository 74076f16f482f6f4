"""Forms for places and the register. They check shape only; the rules live in services."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.errors import DomainError
from portal.forms import PlainName
from portal.places.importer import parse_area

REQUIRED = _l("This field is required.")
AREA_SOURCE_CHOICES = [("register", _l("Property register (不动产登记簿)")), ("surveyed", _l("Surveyed (实测)")),
                       ("contract", _l("Contract (合同)"))]


def as_text(value):
    """The stored area (a Decimal, when a post leaves the field out) as the text the field holds."""
    return value if value is None or isinstance(value, str) else str(value)


def valid_area(form, field):
    """Checked here too, so a wrong area shows together with the form's other mistakes."""
    try:
        parse_area(field.data)
    except DomainError as error:
        raise ValidationError(str(error.message)) from None


class SubDistrictForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120), PlainName()])
    slug = StringField(_l("Short name for addresses"), validators=[DataRequired(REQUIRED), Length(max=64)],
                       render_kw={"autocapitalize": "none", "spellcheck": "false"})


class CommunityForm(FlaskForm):
    sub_district_id = SelectField(_l("Sub-district"), coerce=int, validators=[DataRequired(REQUIRED)])
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120), PlainName()])
    slug = StringField(_l("Short name for addresses"), validators=[DataRequired(REQUIRED), Length(max=64)],
                       render_kw={"autocapitalize": "none", "spellcheck": "false"})
    time_zone = StringField(_l("Time zone"), default="Asia/Shanghai", validators=[Length(max=64)],
                            render_kw={"autocapitalize": "none", "spellcheck": "false"})
    postcode = StringField(_l("Postcode"), validators=[DataRequired(REQUIRED), Length(max=6)],
                           render_kw={"inputmode": "numeric", "autocomplete": "postal-code"})
    members_only = BooleanField(_l("Members only: only signed-in members of the community see its pages"))


class EstateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120), PlainName()])


class BuildingForm(FlaskForm):
    estate_id = SelectField(_l("Estate (小区)"), coerce=int, validate_choice=False, choices=[])
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=120), PlainName()])
    code = StringField(_l("Code"), validators=[DataRequired(REQUIRED), Length(max=16)],
                       render_kw={"autocapitalize": "characters", "spellcheck": "false"})


class HouseholdForm(FlaskForm):
    building_id = SelectField(_l("Building"), coerce=int, validators=[DataRequired(REQUIRED)])
    entrance = StringField(_l("Entrance"), validators=[DataRequired(REQUIRED), Length(max=16)])
    room = StringField(_l("Room"), validators=[DataRequired(REQUIRED), Length(max=16)])
    area_m2 = StringField(_l("Exclusive area (m²)"), validators=[DataRequired(REQUIRED), Length(max=20), valid_area],
                          filters=[as_text], render_kw={"inputmode": "decimal"})
    area_source = SelectField(_l("Source of the area"), choices=AREA_SOURCE_CHOICES, default="register",
                              validate_choice=False)
    owners = TextAreaField(_l("Owners"), validators=[Optional(), Length(max=2000), PlainName()],
                           render_kw={"rows": 3})


class HouseholdEditForm(FlaskForm):
    entrance = StringField(_l("Entrance"), validators=[DataRequired(REQUIRED), Length(max=16)])
    room = StringField(_l("Room"), validators=[DataRequired(REQUIRED), Length(max=16)])
    area_m2 = StringField(_l("Exclusive area (m²)"), validators=[DataRequired(REQUIRED), Length(max=20), valid_area],
                          filters=[as_text], render_kw={"inputmode": "decimal"})
    area_source = SelectField(_l("Source of the area"), choices=AREA_SOURCE_CHOICES, default="register",
                              validate_choice=False)


class TransferForm(FlaskForm):
    owners = TextAreaField(_l("New owners"), validators=[DataRequired(REQUIRED), Length(max=2000), PlainName()],
                           render_kw={"rows": 3})
    on_date = DateField(_l("Date of the change"), validators=[DataRequired(_l("Enter a date."))])


class ImportForm(FlaskForm):
    file = FileField(_l("Register file (CSV or Excel .xlsx)"), validators=[FileRequired(_l("Choose a file."))],
                     render_kw={"accept": ".csv,.xlsx,text/csv,"
                                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the rows to apply are kept on the server."""


class DuplicateDecisionForm(FlaskForm):
    """The decision comes from the button pressed (name="decision"); the service checks its value."""
