"""The grid worker's patrol form: one round of the log, and what was found, if anything, as an issue."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.widgets import HiddenInput

from portal.forms import PlainName, optional_id


class PatrolForm(FlaskForm):
    building = SelectField(_l("Building of your grid"), coerce=optional_id, validate_choice=False)
    place = StringField(_l("Place (optional, e.g. \"bicycle shed by the north gate\")"), render_kw={"maxlength": 120})
    checked = TextAreaField(_l("What did you check?"), render_kw={"rows": 3, "maxlength": 1000})
    forecast = SelectField(_l("Checking an expected rise (optional)"), coerce=optional_id, validate_choice=False)
    found = BooleanField(_l("I found a problem: file it as an issue"))
    category = SelectField(_l("Kind of problem"), coerce=optional_id, validate_choice=False)
    title = StringField(_l("What is the problem? (a short title)"), render_kw={"autocomplete": "off", "maxlength": 120})
    description = TextAreaField(_l("Describe it"), render_kw={"rows": 4})


class ProgrammeForm(FlaskForm):
    """Open a programme (专项): its name, which issues count (category and/or words), where, and the target.
    The communities are checkboxes the view reads itself; the numbers are parsed by the view."""
    topic = StringField(widget=HiddenInput())
    name = StringField(_l("Name of the programme"), validators=[PlainName()], render_kw={"maxlength": 120})
    category = SelectField(_l("Category of the issues (optional)"), validate_choice=False)
    words = StringField(_l("Words: issues holding any of them count (optional, separated by spaces)"),
                        render_kw={"maxlength": 200})
    cut_percent = StringField(_l("Cut the monthly count by (percent)"), default="50",
                              render_kw={"inputmode": "numeric", "maxlength": 3})
    months = StringField(_l("Within (months)"), default="3", render_kw={"inputmode": "numeric", "maxlength": 2})
