"""Charts drawn on the server as inline SVG: no script, no inline style (classes styled in portal.css).

Each chart is `role="img"` with a <title> and a <desc>, and the page shows a text table next to it with the
same figures, so a screen reader (or a phone too narrow to read the axis) loses nothing. The SVG scales to
its container through its viewBox.

Values come in as exact numbers (ints, or `(numerator, denominator)` pairs for rates); floats appear only
as drawing coordinates, never as a figure a person reads."""
from markupsafe import Markup, escape

# Drawn for a phone: 400 units across show at about their size on a 390 px screen (the 15 px labels stay
# 13 px or more), and grow with a wider column.
WIDTH = 400
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 14, 34
LEGEND_ROW = 22
SERIES_CLASSES = ("chart-series-1", "chart-series-2", "chart-series-3", "chart-series-4")


def _coord(value: float) -> str:
    return f"{value:.1f}"


def _percent(pair) -> float | None:
    """A drawing position 0..100 for a (numerator, denominator) rate; None when there is nothing to show."""
    if pair is None:
        return None
    numerator, denominator = pair
    if not denominator:
        return None
    return 100.0 * numerator / denominator


def _frame(chart_id: str, title: str, desc: str, body: list[str], css: str, height: int = HEIGHT) -> Markup:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    return Markup(
        f'<svg class="chart {css}" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(title_id)}">{escape(title)}</title>'
        f'<desc id="{escape(desc_id)}">{escape(desc)}</desc>'
        + "".join(body) + "</svg>")


def line_chart(chart_id: str, title: str, desc: str, labels: list[str],
               series: list[tuple[str, list]]) -> Markup:
    """Lines of rates (0–100 %) over `labels` (months). `series` is [(name, [(numerator, denominator)|None,
    …])]; a month with a zero denominator leaves a gap in its line rather than a false zero."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)
    step = plot_w / (count - 1) if count > 1 else 0

    def x(i):
        return LEFT + (i * step if count > 1 else plot_w / 2)

    def y(value):
        return TOP + plot_h * (1 - value / 100.0)

    body = ['<g class="chart-grid">']
    for tick in (0, 25, 50, 75, 100):
        body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_coord(y(tick))}" y2="{_coord(y(tick))}"/>')
        body.append(f'<text class="chart-axis-label" x="{LEFT - 6}" y="{_coord(y(tick) + 4)}" '
                    f'text-anchor="end">{tick}%</text>')
    body.append("</g>")
    # Month labels that never touch: the first starts at the axis, the last ends at the edge, and one in
    # between is shown only where it keeps a gap from its neighbours (about 9.5 units a character at 15 px).
    def span(i, label):
        width = 9.5 * len(str(label))
        if i == 0:
            return "start", x(i), x(i) + width
        if i == count - 1:
            return "end", x(i) + 6 - width, x(i) + 6
        return "middle", x(i) - width / 2, x(i) + width / 2
    shown = []
    for i, label in enumerate(labels):
        anchor, left, right = span(i, label)
        if shown and left < shown[-1][3] + 12:
            if i != count - 1:
                continue
            while shown and left < shown[-1][3] + 12 and len(shown) > 1:
                shown.pop()
            if shown and left < shown[-1][3] + 12:
                continue
        shown.append((i, label, anchor, right))
    body.append('<g class="chart-axis">')
    for i, label, anchor, _right in shown:
        position = x(i) + (6 if anchor == "end" else 0)
        body.append(f'<text class="chart-axis-label" x="{_coord(position)}" y="{HEIGHT - BOTTOM + 22}" '
                    f'text-anchor="{anchor}">{escape(label)}</text>')
    body.append("</g>")
    for index, (name, values) in enumerate(series):
        css = SERIES_CLASSES[index % len(SERIES_CLASSES)]
        runs, run = [], []
        for i, pair in enumerate(values):
            value = _percent(pair)
            if value is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append((x(i), y(value)))
        if run:
            runs.append(run)
        body.append(f'<g class="chart-line {css}"><title>{escape(name)}</title>')
        for points in runs:
            if len(points) > 1:
                body.append('<polyline points="' + " ".join(f"{_coord(px)},{_coord(py)}" for px, py in points)
                            + '"/>')
            for px, py in points:
                body.append(f'<circle cx="{_coord(px)}" cy="{_coord(py)}" r="3.5"/>')
        body.append("</g>")
    # The legend below the plot, one series a row, so long names in any language never overlap.
    for index, (name, _values) in enumerate(series):
        css = SERIES_CLASSES[index % len(SERIES_CLASSES)]
        top = HEIGHT + index * LEGEND_ROW
        body.append(f'<g class="chart-legend {css}"><rect x="{LEFT}" y="{top + 4}" width="14" height="14"/>'
                    f'<text class="chart-axis-label" x="{LEFT + 20}" y="{top + 16}">{escape(name)}</text></g>')
    return _frame(chart_id, title, desc, body, "chart-lines", HEIGHT + LEGEND_ROW * len(series) + 4)


def _fit(text: str, room: float) -> str:
    """`text` shortened with … to about `room` units at 15 px: a CJK character is about 15, others 8.5."""
    def width(part):
        return sum(15 if ord(ch) > 0x2E7F else 8.5 for ch in part)
    if width(text) <= room:
        return text
    while text and width(text) + 15 > room:
        text = text[:-1]
    return text + "…"


def bar_chart(chart_id: str, title: str, desc: str, bars: list[tuple[str, int]]) -> Markup:
    """Horizontal bars of counts, one per row (long category names stay readable on a phone)."""
    row_h = 30
    label_w = 140
    height = TOP + row_h * max(len(bars), 1) + 10
    plot_w = WIDTH - label_w - RIGHT - 40
    top = max((count for _name, count in bars), default=0) or 1
    body = []
    for i, (name, count) in enumerate(bars):
        y = TOP + i * row_h
        width = plot_w * count / top
        shown = _fit(str(name), label_w - 10)
        body.append(f'<g class="chart-bar"><title>{escape(name)}: {count}</title>'
                    f'<text class="chart-axis-label" x="{label_w - 6}" y="{y + 20}" text-anchor="end">'
                    f'{escape(shown)}</text>'
                    f'<rect x="{label_w}" y="{y + 4}" width="{_coord(width)}" height="{row_h - 8}"/>'
                    f'<text class="chart-value" x="{_coord(label_w + width + 6)}" y="{y + 20}">{count}</text></g>')
    return _frame(chart_id, title, desc, body, "chart-bars", height)
