"""Form pieces every area uses."""
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from portal.errors import DomainError

# What a `datetime-local` field sends ("2026-12-01T19:30"), and what people type without one.
LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def optional_id(value):
    """A select's value as an id, or None for "nothing chosen" and anything that is not a number."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def local_time(form_field, zone, *, required=True, message=None) -> datetime | None:
    """A time typed in the community's zone, as UTC; a DomainError on the field when it is not a time."""
    text = (form_field.data or "").strip()
    if not text:
        if required:
            raise DomainError(message or _("Give a date and time."), form_field.short_name)
        return None
    for pattern in LOCAL_FORMATS:
        try:
            local = datetime.strptime(text[:19], pattern)
        except ValueError:
            continue
        if 2000 <= local.year <= 2100:
            return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    raise DomainError(_("Write a date and time such as 2026-12-01 19:30."), form_field.short_name)


# Characters that make one name look like another: the right-to-left and left-to-right overrides and
# embeddings (U+202A–U+202E), the direction isolates (U+2066–U+2069), and the invisible ones (zero-width space,
# non-joiner and joiner U+200B–U+200D, word joiner U+2060, byte-order mark U+FEFF).
NAME_TRICKS = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff]")
NAME_TRICK = _l("A name cannot contain invisible characters or text-direction controls: they can make one name "
                "look like another. Remove them and send again.")


class PlainName:
    """The validator of every name field (people, organizations, places): no text-direction controls and no
    invisible characters. The input guard of portal/formviews.py applies it before anything, whether or not
    the view runs the form's validators."""
    message = NAME_TRICK

    def refuses(self, value) -> str | None:
        """Why `value` cannot be a name, or None."""
        return str(self.message) if isinstance(value, str) and NAME_TRICKS.search(value) else None

    def __call__(self, form, field):
        problem = self.refuses(field.data)
        if problem:
            raise ValidationError(problem)
