"""The dashboard's tables as a file: XLSX (openpyxl) or CSV (UTF-8 with a byte-order mark, so Excel in
Chinese opens it correctly). The rows are the very rows the screen shows — built once, by the view.

Formula injection: in the CSV a text cell starting with =, +, - or @ (or a tab or carriage return, which
some spreadsheet programs skip before looking) gets a leading apostrophe, so a spreadsheet shows it as text
instead of running it. The XLSX has real types: every text cell is a string cell with Excel's "quote
prefix" style (what typing an apostrophe first does), so it stays inert — even when edited — without a
visible mark."""
import csv
import io
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def safe_cell(value):
    """Numbers stay numbers; text that a spreadsheet would read as a formula is escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def to_csv(tables) -> bytes:
    """Each table: its title on a row of its own, its headers, its rows, then an empty row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for table in tables:
        writer.writerow([safe_cell(table.title)])
        writer.writerow([safe_cell(h) for h in table.headers])
        for row in table.rows:
            writer.writerow([safe_cell(cell_text(c)) for c in row])
        writer.writerow([])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _sheet_name(title: str, used: set) -> str:
    base = SHEET_NAME_FORBIDDEN.sub(" ", str(title)).strip()[:28] or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        name = f"{base[:26]} {n}"
        n += 1
    used.add(name.lower())
    return name


def to_xlsx(tables) -> bytes:
    """One worksheet per table; every text cell written as text (never a formula)."""
    from openpyxl import Workbook
    book = Workbook()
    book.remove(book.active)
    used = set()
    for table in tables:
        sheet = book.create_sheet(_sheet_name(table.title, used))
        sheet.append([_xlsx_value(str(h)) for h in table.headers])
        for row in table.rows:
            sheet.append([_xlsx_value(cell_text(c)) for c in row])
        for cells in sheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # openpyxl reads "=…" as a formula: a string cell, always
                    if cell.value.startswith(FORMULA_START):
                        cell.quotePrefix = True  # and Excel keeps it text when someone edits the cell
    if not tables:
        book.create_sheet("Dashboard")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_value(value):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value)


def cell_text(cell):
    """A screen cell may carry a link (text, href); the file keeps the text (ints stay ints)."""
    return getattr(cell, "text", cell)
