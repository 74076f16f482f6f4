"""Screenshots of each page, and the check every page must pass on a phone: no sideways scrolling.

`capture(page, "login")` saves tests/browser/screenshots/login.png (git-ignored) and notes the page in
`overflowing` when it is wider than the phone; the conftest fails the test at its end with every such
page, so one too-wide page does not hide what the rest of a flow would show. With
UPDATE_DOCS_SCREENSHOTS=1 in the environment, `capture(page, "login", docs="login")` also writes
docs/screen-login.png: one phone screen (390×844 at scale 1), reduced to 256 colours so it stays small.
"""
import io
import os
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DOCS = ROOT / "docs"
PHONE_WIDTH = 390

overflowing: list[str] = []


def horizontal_overflow(page, width: int = PHONE_WIDTH) -> str | None:
    """Why the page scrolls sideways at this width, or None when it fits. A page still loading (its images
    and fonts) may be wider for a moment: it is looked at again once they are in (seen once in CI: 407px,
    and no element wider a moment later)."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        page.wait_for_load_state("load")
        scroll_width = page.evaluate("""document.fonts.ready.then(() => Promise.all([...document.images]
            .filter(i => !i.complete).map(i => new Promise(done => { i.onload = i.onerror = done; }))))
            .then(() => new Promise(done => requestAnimationFrame(
                () => done(document.documentElement.scrollWidth))))""")
    if scroll_width > width:
        culprits = page.evaluate(
            """(width) => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > width + 0.5)
                 .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))""",
            width)
        return f"{page.url} is {scroll_width}px wide at {width}px; wider: {culprits}"
    return None


def capture(page, name: str, docs: str | None = None) -> Path:
    problem = horizontal_overflow(page)
    if problem:
        overflowing.append(f"{name}: {problem}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    screenshot(page, path=str(path), full_page=True)
    if docs and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        write_docs_screenshot(screenshot(page, full_page=False), DOCS / f"screen-{docs}.png")
    return path


def screenshot(page, **options) -> bytes:
    """page.screenshot, asked once more when Chromium refuses the capture outright ("Protocol error
    (Page.captureScreenshot): Unable to capture screenshot", seen once in CI right after a navigation): a
    transient refusal it does not repeat a moment later (robotframework-browser#5237). Any other error, or
    the same one twice, fails the test."""
    from playwright.sync_api import Error
    try:
        return page.screenshot(**options)
    except Error as error:
        if "Unable to capture screenshot" not in str(error):
            raise
    page.wait_for_timeout(250)
    return page.screenshot(**options)


def write_docs_screenshot(png: bytes, target: Path) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > PHONE_WIDTH:
        image = image.resize((PHONE_WIDTH, round(image.height * PHONE_WIDTH / image.width)), Image.LANCZOS)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


# A stand-alone link: alone in its block (its parent's text is its own text), or one of the page's way-finding
# links (breadcrumbs, pagers, the header, the footer). Links inside running text are the text's business.
_SMALL_TARGETS = """() => [...document.querySelectorAll('a[href], summary')].filter(e => {
    const box = e.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(e).visibility === 'hidden') return false;
    const own = e.textContent.trim(), around = (e.parentElement.textContent || '').trim();
    const standalone = own && (around === own || e.closest('.breadcrumbs, .pager, header, footer'));
    return standalone && box.height < 43.5;
  }).map(e => `${e.tagName.toLowerCase()} "${e.textContent.trim().slice(0, 40)}" `
              + `${Math.round(e.getBoundingClientRect().height)}px`)"""


def small_targets(page) -> list[str]:
    """Stand-alone links and summaries shorter than a 44px tap target on this page."""
    return page.evaluate(_SMALL_TARGETS)
