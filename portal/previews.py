"""Preview images for shared links, drawn on the server with Pillow: 1200 × 630 PNG (the size WeChat, Open
Graph and Twitter cards crop least), the title in large type, the community, the state and the site's name.

Chinese has no spaces: a title is broken by width, character by character, except that a Latin word or a
number is kept whole where it fits and closing punctuation (，。、）…) never starts a line; after
TITLE_LINES lines the rest becomes an ellipsis. The font is Noto Sans CJK from Debian's fonts-noto-cjk,
looked for at run time; without it Pillow's own font draws (Latin only: Chinese then shows as boxes), and
`font_found()` says so.

Drawing takes tens of milliseconds, so a picture is drawn once per version: the PNG is kept in a small
file cache (the caller's folder: `previews/` under UPLOAD_DIR), named by the digest of what it shows, at
most CACHE_FILES files (the oldest go first). Servers sharing the upload volume share the cache; otherwise
each draws its own copy once, and the pictures are the same. This module imports no area."""
import glob
import hashlib
import io
import os
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 630
MARGIN = 72
TITLE_SIZE = 64
TITLE_LINES = 3
SMALL_SIZE = 34
ELLIPSIS = "…"
CACHE_FILES = 500
PALETTE_COLOURS = 64
FONT_GLOBS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc",
              "/usr/share/fonts/opentype/noto/NotoSerifCJK-*.ttc",
              "/usr/share/fonts/truetype/noto/NotoSansCJK*.tt?")
SC_FACE = 2  # in the Noto CJK collections: JP 0, KR 1, SC 2, TC 3, HK 4
NO_LINE_START = set("，。、；：？！）》」』】〉”’,.;:?!)]}%…·")
NO_LINE_END = set("（《「『【〈“‘([{")
RED, INK, MUTED, PAPER = "#a4262c", "#1f1f1f", "#5a5a5a", "#ffffff"


@lru_cache(maxsize=1)
def font_path() -> str | None:
    """The first CJK font found, or None (then Pillow's built-in font draws)."""
    for pattern in FONT_GLOBS:
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path):
                return path
    return None


def font_found() -> bool:
    return font_path() is not None


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path()
    if path is None:
        return ImageFont.load_default(size)
    try:
        return ImageFont.truetype(path, size, index=SC_FACE if path.endswith(".ttc") else 0)
    except OSError:  # a collection with fewer faces
        return ImageFont.truetype(path, size)


def _tokens(text: str) -> list[str]:
    """Units a line may break between: each CJK character alone, a run of Latin letters or digits whole,
    spaces alone."""
    tokens: list[str] = []
    for ch in text:
        if ch.isascii() and ch.isalnum() and tokens and tokens[-1][-1:].isascii() and tokens[-1][-1:].isalnum():
            tokens[-1] += ch
        else:
            tokens.append(ch)
    return tokens


def _width(font, text: str) -> float:
    return font.getlength(text)


def _split_long(font, token: str, max_width: float) -> list[str]:
    """A word wider than a line is broken by character."""
    parts, current = [], ""
    for ch in token:
        if current and _width(font, current + ch) > max_width:
            parts.append(current)
            current = ch
        else:
            current += ch
    return parts + ([current] if current else [])


def wrap(text: str, font, max_width: float, max_lines: int) -> list[str]:
    """The lines `text` takes at `max_width` pixels, at most `max_lines`, the last ending in an ellipsis
    when the text goes on."""
    text = " ".join(text.split())
    lines: list[str] = []
    current = ""
    tokens = []
    for token in _tokens(text):
        tokens += _split_long(font, token, max_width) if _width(font, token) > max_width else [token]
    for token in tokens:
        candidate = current + token
        if not current or _width(font, candidate) <= max_width:
            current = candidate
            continue
        if token in NO_LINE_START:  # hang the punctuation on this line: a line never opens with "，"
            carried = current[-1]
            current = current[:-1]
            token = carried + token
        elif current[-1] in NO_LINE_END:  # an opening bracket goes down with what it opens
            token = current[-1] + token
            current = current[:-1]
        lines.append(current.rstrip())
        current = token.lstrip()
    if current:
        lines.append(current.rstrip())
    lines = [line for line in lines if line]
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1]
    while last and _width(font, last + ELLIPSIS) > max_width:
        last = last[:-1]
    return lines[:max_lines - 1] + [last.rstrip() + ELLIPSIS]


def draw(title: str, community: str, state: str, site: str) -> bytes:
    """The preview as PNG bytes."""
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, WIDTH, 16), fill=RED)
    small, big = _font(SMALL_SIZE), _font(TITLE_SIZE)
    inner = WIDTH - 2 * MARGIN
    y = MARGIN
    for line in wrap(community, small, inner, 1):
        pen.text((MARGIN, y), line, font=small, fill=MUTED)
    y += int(SMALL_SIZE * 1.9)
    for line in wrap(title, big, inner, TITLE_LINES):
        pen.text((MARGIN, y), line, font=big, fill=INK)
        y += int(TITLE_SIZE * 1.35)
    # The state as a chip at the bottom left, the site's name at the bottom right.
    bottom = HEIGHT - MARGIN - SMALL_SIZE
    if state:
        label = wrap(state, small, inner / 2, 1)[0]
        box = pen.textbbox((MARGIN + 20, bottom), label, font=small)
        pen.rounded_rectangle((box[0] - 20, box[1] - 12, box[2] + 20, box[3] + 12), radius=12, outline=RED, width=3)
        pen.text((MARGIN + 20, bottom), label, font=small, fill=RED)
    site_width = _width(small, site)
    pen.text((WIDTH - MARGIN - site_width, bottom), site, font=small, fill=RED)
    out = io.BytesIO()
    # A few colours and their anti-aliased edges: a 64-colour palette looks the same, is a third of the bytes
    # (a card on a phone's data plan) and takes no longer to encode than the RGB image.
    image.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE).save(out, format="PNG")
    return out.getvalue()


def digest(title: str, community: str, state: str, site: str) -> str:
    """Names one version of a picture: everything drawn on it, and the font."""
    return hashlib.sha256("\x1f".join((title, community, state, site, font_path() or "-")).encode()).hexdigest()[:24]


def cached_png(folder: str | Path, title: str, community: str, state: str, site: str) -> tuple[bytes, str]:
    """The picture and its digest, drawn only if this version is not in `folder` yet."""
    name = digest(title, community, state, site)
    folder = Path(folder)
    path = folder / f"{name}.png"
    try:
        return path.read_bytes(), name
    except FileNotFoundError:
        pass
    png = draw(title, community, state, site)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.{os.getpid()}.tmp"
    partial.write_bytes(png)
    os.replace(partial, path)  # atomic: another worker never reads half a file
    _trim(folder)
    return png, name


def _trim(folder: Path) -> None:
    files = []
    for path in folder.glob("*.png"):
        try:
            files.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # another worker trimmed it meanwhile
            continue
    files.sort()
    for _mtime, old in files[:max(0, len(files) - CACHE_FILES)]:
        old.unlink(missing_ok=True)
