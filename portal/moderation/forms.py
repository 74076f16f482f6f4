"""Moderation forms. They only carry the input; the rules (reasons, lengths, who may) are the services'."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice

from portal.moderation.models import FLAG_REASON_LABELS, FLAG_REASONS


class FlagForm(FlaskForm):
    reason = RadioField(_l("Why should moderators look at this?"),
                        choices=[SelectChoice(r, FLAG_REASON_LABELS[r]) for r in FLAG_REASONS], validate_choice=False)
    note = TextAreaField(_l("Anything moderators should know (optional)"), render_kw={"rows": 3, "maxlength": 500})
    next = HiddenField()


class HideForm(FlaskForm):
    reason = TextAreaField(_l("Reason (shown in place of the text)"), render_kw={"rows": 3, "maxlength": 500})
    next = HiddenField()


class ActionForm(FlaskForm):
    """Restore, lock, unlock: a button, the CSRF token and where to go back to."""
    note = TextAreaField(_l("Note for the audit log (optional)"), render_kw={"rows": 2, "maxlength": 500})
    next = HiddenField()
