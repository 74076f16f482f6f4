"""The admins' form for an integration's API key. The rules are the service's (portal.open311.services)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import PlainName, optional_id


class _Checkboxes(SelectMultipleField):
    widget = ListWidget(html_tag="ul", prefix_label=False)
    option_widget = CheckboxInput()

    def process_formdata(self, valuelist):
        self.data = [i for i in (optional_id(v) for v in valuelist) if i is not None]

    def pre_validate(self, form):
        pass  # which communities exist is the service's business


class KeyForm(FlaskForm):
    name = StringField(_l("Integration name (e.g. “12345 hotline, Xicheng district”)"), validators=[PlainName()],
                       render_kw={"maxlength": 120, "autocomplete": "off"})
    communities = _Checkboxes(_l("Communities it may report into (its jurisdictions)"), coerce=int)
    media_hosts = TextAreaField(_l("Photo hosts to fetch media_url from (one host name per line; optional)"),
                                render_kw={"rows": 3, "autocomplete": "off"})
    rate_limit = IntegerField(_l("Requests per minute"), validators=[Optional()],
                              render_kw={"inputmode": "numeric", "min": 1})


class WebhookForm(FlaskForm):
    webhook_url = StringField(_l("Webhook address (https://…; empty: no webhook)"),
                              render_kw={"maxlength": 2048, "autocomplete": "off", "inputmode": "url",
                                         "spellcheck": "false"})
