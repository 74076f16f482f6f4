"""Privacy forms: buttons that carry nothing but the app-wide CSRF token; the rules are the services'."""
from flask_wtf import FlaskForm


class ButtonForm(FlaskForm):
    class Meta:
        csrf = False  # several buttons on one page; the app-wide CSRF check covers every POST
