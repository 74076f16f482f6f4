"""Account forms. They check shape only (present, length, matching); the rules live in services."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, ValidationError

from portal.auth.services import MIN_PASSWORD_LENGTH, parse_login
from portal.errors import DomainError
from portal.forms import PlainName

LOGIN_LABEL = _l("Mobile number or e-mail")
ENTER_LOGIN = _l("Enter your mobile number or e-mail address.")
ENTER_PASSWORD = _l("Enter your password.")
PASSWORDS_DIFFER = _l("The two passwords are not the same.")
NEW_PASSWORD_HINT = _l("At least 8 characters. A short sentence is easy to remember and hard to guess.")


def _new_password(label=_l("New password")):
    too_short = _l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    return PasswordField(label, validators=[DataRequired(_l("Choose a password.")),
                                            Length(min=MIN_PASSWORD_LENGTH, max=200, message=too_short)],
                         render_kw={"autocomplete": "new-password"})


def _confirm():
    return PasswordField(_l("Repeat the password"),
                         validators=[DataRequired(_l("Repeat the password.")),
                                     EqualTo("password", message=PASSWORDS_DIFFER)],
                         render_kw={"autocomplete": "new-password"})


class LoginForm(FlaskForm):
    login = StringField(LOGIN_LABEL, validators=[DataRequired(ENTER_LOGIN), Length(max=254)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(_l("Password"), validators=[DataRequired(ENTER_PASSWORD), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me signed in on this device"))


class RegisterForm(FlaskForm):
    login = StringField(LOGIN_LABEL, validators=[DataRequired(ENTER_LOGIN), Length(max=254)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    display_name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter the name others will see.")),
                                                           Length(max=80), PlainName()],
                               render_kw={"autocomplete": "name"})
    password = _new_password(_l("Password"))
    confirm = _confirm()
    consent = BooleanField(_l("I have read the privacy notice and agree to my information being used as it "
                              "describes."),
                           validators=[DataRequired(_l("To register, please agree to the privacy notice."))])

    def validate_login(self, field):
        # Checked here too, so every mistake on the form shows at once rather than one per try.
        try:
            parse_login(field.data)
        except DomainError as error:
            raise ValidationError(str(error.message)) from None


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(_l("Enter the name others will see.")),
                                                           Length(max=80), PlainName()],
                               render_kw={"autocomplete": "name"})
    # Each language in its own script, so a person who cannot read the current one still finds theirs.
    locale = SelectField(_l("Language"), choices=[SelectChoice("en", "English", render_kw={"lang": "en"}),
                                                    SelectChoice("zh", "中文", render_kw={"lang": "zh-CN"})],
                         validators=[InputRequired(_l("Choose a language."))])
    large_text = BooleanField(_l("Larger text on every page"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(_l("Enter your current password.")), Length(max=200)],
                                     render_kw={"autocomplete": "current-password"})
    password = _new_password()
    confirm = _confirm()


class ForgotPasswordForm(FlaskForm):
    login = StringField(LOGIN_LABEL, validators=[DataRequired(ENTER_LOGIN), Length(max=254)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})


class ResetPasswordForm(FlaskForm):
    password = _new_password()
    confirm = _confirm()


class ResetWithCodeForm(FlaskForm):
    login = StringField(LOGIN_LABEL, validators=[DataRequired(ENTER_LOGIN), Length(max=254)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    code = StringField(_l("Reset code"), validators=[DataRequired(_l("Enter the code you were given.")),
                                                     Length(max=20)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "characters",
                                  "spellcheck": "false"})
    password = _new_password()
    confirm = _confirm()


class IssueResetCodeForm(FlaskForm):
    """Only the CSRF token: issuing a code is a deliberate POST, never a link someone can be sent."""


class SignOutEverywhereForm(FlaskForm):
    """Only the CSRF token: ends every session of the person, this one included."""
