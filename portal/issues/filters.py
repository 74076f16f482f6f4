"""The filter form of a community's issue list, as plain HTML.

Rendering five WTForms fields (one a select of every building) through the field macro cost more than the
rows of the list on every GET. The options of each select are rendered once per language and per set of
categories and buildings, and kept (`_options`, keyed by the rows themselves, so a renamed building or a new
category makes a new key on every server at once, with nothing to invalidate); a request only marks the
chosen option. The rows themselves are kept under the community's version (portal.versions): a request
reads none of them until a category or building of the community changes. The markup is the one the field
macro of `_macros.html` gives a select and a check box."""
from functools import lru_cache
from types import SimpleNamespace

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from portal import versions
from portal.extensions import db
from portal.forms import optional_id
from portal.issues.models import STATE_LABELS, IssueCategory
from portal.places.models import Building

SORT_LABELS = {"newest": _l("Newest first"), "supported": _l("Most supported"), "due": _l("Due soonest")}
FALSE_VALUES = ("false", "")  # what a check box's value means "off" (as WTForms' BooleanField reads it)


class IssueFilters:
    """The list's filters read from the query string, with the same meaning the WTForms form gave them, and
    the community's categories and buildings (id, code, name) as plain tuples."""

    def __init__(self, community, args):
        self.community = community
        self.categories, self.buildings = versions.remember("issue_filters", community, lambda: (
            tuple(tuple(row) for row in db.session.execute(
                db.select(IssueCategory.id, IssueCategory.code, IssueCategory.name)
                .where(IssueCategory.community_id == community.id).order_by(IssueCategory.id))),
            tuple(tuple(row) for row in db.session.execute(
                db.select(Building.id, Building.name).where(Building.community_id == community.id)
                .order_by(Building.code)))))
        self.raw_status = args.get("status")
        self.raw_sort = args.get("sort")
        self.category_id = optional_id(args.get("category"))
        self.building_id = optional_id(args.get("building"))
        self.overdue = "overdue" in args and args.get("overdue") not in FALSE_VALUES
        self.q = (args.get("q") or "").strip()[:100] or None

    @property
    def status(self):
        return self.raw_status or None

    @property
    def sort(self):
        return self.raw_sort if self.raw_sort in SORT_LABELS else "newest"

    @property
    def category(self):
        """The chosen category's id when it is one of the community's, else None (no filter)."""
        return self.category_id if any(c[0] == self.category_id for c in self.categories) else None

    @property
    def building(self):
        return self.building_id if any(b[0] == self.building_id for b in self.buildings) else None

    def html(self) -> Markup:
        locale = str(get_locale())
        status, categories, buildings, sort = _options(locale, self.categories, self.buildings)
        return Markup("\n").join([
            Markup('<div class="field">\n<label class="label" for="q">{}</label>\n'
                   '<input id="q" name="q" type="search" maxlength="100" value="{}">\n</div>').format(
                _l("Words (in open issues)"), self.q or ""),
            _select("status", _l("Status"), status, self.raw_status),
            _select("category", _l("Kind of problem"), categories, self.category_id),
            _select("building", _l("Building"), buildings, self.building_id),
            _select("sort", _l("Order"), sort, self.raw_sort),
            Markup('<div class="field">\n<label class="check"><input{} id="overdue" name="overdue" type="checkbox" '
                   'value="y"> <span>{}</span></label>\n</div>').format(" checked" if self.overdue else "",
                                                                       _l("Only overdue")),
        ])


@lru_cache(maxsize=256)
def _options(locale, categories, buildings):
    """(value, escaped label) of each select's options, in the language `locale` (the cache key; the labels
    are translated for the request's language, which is that locale)."""
    from portal.issues.services import category_label
    status = [("", _l("Open and closed")), ("open", _l("Open"))] + list(STATE_LABELS.items())
    kinds = [(None, _l("All kinds"))] + [(i, category_label(SimpleNamespace(code=code, name=name)))
                                         for i, code, name in categories]
    places = [(None, _l("All buildings"))] + list(buildings)
    sort = list(SORT_LABELS.items())
    return tuple(tuple((value, escape(str(label))) for value, label in options)
                 for options in (status, kinds, places, sort))


def _select(name, label, options, chosen) -> Markup:
    # An option is marked chosen when its value equals the parsed input, as WTForms compares them: None is
    # the empty option of the id selects, and no option is marked when nothing (or nothing known) was chosen.
    parts = []
    for value, text in options:
        shown = "" if value is None else escape(value)
        selected = " selected" if value == chosen else ""
        parts.append(f'<option{selected} value="{shown}">{text}</option>')
    return Markup('<div class="field">\n<label class="label" for="{name}">{label}</label>\n'
                  '<select id="{name}" name="{name}">').format(name=name, label=label) \
        + Markup("".join(parts)) + Markup("</select>\n</div>")
