"""Residents' text made safe to show: Markdown for proposal bodies, plain paragraphs for everything else.

A proposal body is written in Markdown and rendered once, when saved, into `body_html`, which templates
mark `|safe`. Two independent fences stand between what a resident typed and the page:

1. markdown-it with raw HTML disabled: a `<script>` typed into the body comes out as the text
   "&lt;script&gt;", and link targets pass markdown-it's own check (no javascript:, vbscript:, file:).
2. nh3 (ammonia) over the result, with a short allow-list of tags and attributes: whatever the first
   fence lets through by a bug or a future option, nothing outside the list survives. Links keep only
   http, https, mailto and relative targets and get `rel="nofollow noopener"`.

No images: a picture in the body would load from anywhere (a tracking pixel, a shock image that slips
past moderation); pictures travel as attachments, re-encoded like issue photos. `![text](url)` becomes
an ordinary link.

Comments, summaries and updates take no Markdown at all: `plain_paragraphs` escapes everything and keeps
only the writer's paragraphs and line breaks."""
import re

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "del", "s", "ul", "ol", "li", "blockquote", "code", "pre", "hr",
    "h2", "h3", "h4", "a", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener"

# The page around a proposal body already has its <h1> (the title), so the writer's "# Heading" is a
# section of it: every heading moves one level down, and the deepest levels share <h4>.
TOP_HEADING_LEVEL = 2
DEEPEST_HEADING_LEVEL = 4


def _shift_headings(state) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + TOP_HEADING_LEVEL - 1, DEEPEST_HEADING_LEVEL)
            token.tag = f"h{level}"


def _image_as_link(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    label = self.renderInlineAsText(token.children or [], options, env) or token.attrGet("src")
    return f'<a href="{escapeHtml(token.attrGet("src") or "")}">{escapeHtml(label)}</a>'


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.core.ruler.push("shift_headings", _shift_headings)
    md.add_render_rule("image", _image_as_link)
    return md


_markdown = _parser()
_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel=LINK_REL,
    strip_comments=True,
)


def render_markdown(text: str) -> str:
    """Markdown → HTML that is safe to insert into a page as it is (the caller stores it as body_html)."""
    if not text:
        return ""
    return clean_html(_markdown.render(text))


def clean_html(html: str) -> str:
    """The second fence on its own: any HTML reduced to the allow-list."""
    return _cleaner.clean(html).strip()


_BLANK_LINES = re.compile(r"\n[ \t\u3000]*\n\s*")


def plain_paragraphs(text: str | None) -> Markup:
    """Escaped plain text as <p> paragraphs (split at blank lines) with <br> for single line breaks."""
    if not text:
        return Markup("")
    text = str(text).replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p.strip("\n") for p in _BLANK_LINES.split(text) if p.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in p.split("\n")))
        for p in paragraphs
    )


def init_app(app) -> None:
    app.add_template_filter(plain_paragraphs, "paragraphs")
