"""Notice forms: an objection and an answer. The rules are the services'; these only carry the input."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from portal.notices.services import ANSWER_MAX, OBJECTION_MAX


class _ActionForm(FlaskForm):
    class Meta:
        csrf = False  # several forms on one page; the app-wide CSRF check covers every POST


class ObjectionForm(_ActionForm):
    body = TextAreaField(_l("Your objection"), render_kw={"rows": 5, "maxlength": OBJECTION_MAX})


class AnswerForm(_ActionForm):
    answer = TextAreaField(_l("The committee's answer (shown publicly)"),
                           render_kw={"rows": 4, "maxlength": ANSWER_MAX})
