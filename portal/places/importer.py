"""Reading a household register file (CSV or XLSX) into rows.

The whole file is refused when anything in it is wrong, with every row number and reason, so a
committee member can fix the spreadsheet in one go and nothing is ever half-imported. Parsed rows wait
in a pending file under UPLOAD_DIR (a shared volume when there are several app servers) between the
preview and the confirmation, so the data applied is the data previewed, never what a form sends back."""
import csv
import io
import json
import re
import secrets
import time
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.auth.services import is_phone, normalize_login
from portal.errors import DomainError

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000
# An XLSX is a zip: refuse one that would unpack to far more than any register needs.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
PENDING_SECONDS = 3600
DEVELOPER = "developer"
DEVELOPER_WORDS = {"developer", "开发商"}
MAX_AREA = Decimal("99999999.99")

COLUMNS = ("building_code", "entrance", "room", "area_m2", "owners")
COLUMN_LABELS = {
    "building_code": _l("Building code"),
    "entrance": _l("Entrance"),
    "room": _l("Room"),
    "area_m2": _l("Area (m²)"),
    "owners": _l("Owners"),
}
HEADER_NAMES = {
    "building_code": {"building_code", "building", "楼栋编号", "楼栋", "楼号", "楼栋号"},
    "entrance": {"entrance", "单元", "单元号"},
    "room": {"room", "房号", "房间号", "室"},
    "area_m2": {"area_m2", "area", "面积", "专有面积", "建筑面积"},
    "owners": {"owners", "owner", "业主", "业主姓名"},
}
MAX_LENGTH = {"building_code": 16, "entrance": 16, "room": 16}
MAX_NAME_LENGTH = 80

_HEADER_NOISE = re.compile(r"[\s\ufeff]|[(（][^)）]*[)）]")
_OWNER_SEPARATORS = re.compile(r"[;；\n]")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class RegisterFileRefused(DomainError):
    """The file as a whole is refused; `problems` lists (row number or None, message) for every fault."""

    def __init__(self, problems):
        super().__init__(_l("The file was not imported. Nothing has been changed."), "file")
        self.problems = problems


@dataclass(frozen=True)
class OwnerEntry:
    name: str
    phone: str


@dataclass(frozen=True)
class RegisterRow:
    row: int
    building_code: str
    entrance: str
    room: str
    area_m2: Decimal
    developer: bool
    owners: tuple  # of OwnerEntry; empty when the developer holds the unit

    @property
    def unit_key(self) -> tuple:
        return (self.building_code, self.entrance, self.room)

    @property
    def label(self) -> str:
        return unit_label(self.building_code, self.entrance, self.room)

    def to_json(self) -> dict:
        return {"row": self.row, "building_code": self.building_code, "entrance": self.entrance,
                "room": self.room, "area_m2": str(self.area_m2), "developer": self.developer,
                "owners": [[o.name, o.phone] for o in self.owners]}

    @classmethod
    def from_json(cls, data: dict) -> "RegisterRow":
        return cls(row=data["row"], building_code=data["building_code"], entrance=data["entrance"],
                   room=data["room"], area_m2=Decimal(data["area_m2"]), developer=data["developer"],
                   owners=tuple(OwnerEntry(name, phone) for name, phone in data["owners"]))


def unit_label(building_code: str, entrance: str, room: str) -> str:
    """The short form people write on notices: building-entrance-room, e.g. 3-1-101."""
    return "-".join(part for part in (building_code, entrance, room) if part)


# ---- values --------------------------------------------------------------------------------------------

def parse_area(value) -> Decimal:
    """An exclusive area in m²: a positive number with at most two decimal places."""
    if isinstance(value, float):
        value = repr(value)
    text = str(value if value is not None else "").strip().replace(",", "")
    if not text:
        raise DomainError(_l("Enter the area in square metres."), "area_m2")
    try:
        area = Decimal(text)
    except InvalidOperation:
        raise DomainError(_l("“%(value)s” is not a number of square metres.", value=text), "area_m2") from None
    if not area.is_finite():
        raise DomainError(_l("“%(value)s” is not a number of square metres.", value=text), "area_m2")
    if area <= 0:
        raise DomainError(_l("The area must be more than 0 m²."), "area_m2")
    if area > MAX_AREA:
        raise DomainError(_l("The area is too large."), "area_m2")
    if area.as_tuple().exponent < -2 and area != area.quantize(Decimal("0.01")):
        raise DomainError(_l("The area may have at most 2 decimal places."), "area_m2")
    return area.quantize(Decimal("0.01"))


def parse_owners(text: str) -> tuple[bool, tuple]:
    """`name:phone; name:phone` for co-owners (full-width ：and ；too), or `developer` / 开发商.

    Returns (is_developer, owners)."""
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("Enter the owners, or “developer”."), "owners")
    if text.lower() in DEVELOPER_WORDS:
        return True, ()
    owners, phones = [], set()
    for part in _OWNER_SEPARATORS.split(text):
        part = part.strip()
        if not part:
            continue
        if part.lower() in DEVELOPER_WORDS:
            raise DomainError(_l("The developer cannot hold a unit together with persons."), "owners")
        name, colon, phone = part.replace("：", ":").rpartition(":")
        name = name.strip()
        if not colon or not name:
            raise DomainError(_l("Write each owner as name:phone, for example 王芳:13900001234."), "owners")
        if len(name) > MAX_NAME_LENGTH:
            raise DomainError(_l("The name “%(name)s” is too long.", name=name[:20] + "…"), "owners")
        phone = normalize_login(phone)
        if not is_phone(phone):
            raise DomainError(_l("“%(phone)s” is not a mainland mobile number (11 digits starting with 1).",
                                 phone=phone.strip()), "owners")
        if phone in phones:
            raise DomainError(_l("The phone %(phone)s is listed twice.", phone=phone), "owners")
        phones.add(phone)
        owners.append(OwnerEntry(name, phone))
    if not owners:
        raise DomainError(_l("Enter the owners, or “developer”."), "owners")
    return False, tuple(owners)


def _cell_text(value) -> str:
    """A cell as the text a person typed: 101 and 101.0 are both room "101"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


# ---- files ---------------------------------------------------------------------------------------------

def _is_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names and unpacked <= MAX_UNPACKED_BYTES


def _xlsx_records(data: bytes) -> list[list]:
    from openpyxl import load_workbook
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged workbook; all mean "cannot read it"
        raise RegisterFileRefused([(None, _l("This Excel workbook could not be read. Save it again as .xlsx "
                                             "or as CSV and try once more."))]) from None
    try:
        sheet = workbook.worksheets[0]
        records = []
        for values in sheet.iter_rows(values_only=True):
            records.append([_cell_text(v) for v in values])
            if len(records) > MAX_ROWS + 1:
                break
        return records
    finally:
        workbook.close()


def _decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise RegisterFileRefused([(None, _l("This file is neither a CSV text file nor an Excel (.xlsx) "
                                         "workbook."))])


def _csv_records(data: bytes) -> list[list]:
    text = _decode_text(data)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        return [[cell.strip() for cell in record]
                for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error:
        raise RegisterFileRefused([(None, _l("This CSV file could not be read: check its quotes."))]) from None


def _header_key(cell: str) -> str:
    return _HEADER_NOISE.sub("", cell).lower()


def _map_header(header: list) -> dict[str, int]:
    keys = [_header_key(cell) for cell in header]
    positions = {}
    for column, names in HEADER_NAMES.items():
        for index, key in enumerate(keys):
            if key in names:
                positions[column] = index
                break
    missing = [column for column in COLUMNS if column not in positions]
    if missing:
        labels = ", ".join(f"{COLUMN_LABELS[c]} ({c})" for c in missing)
        raise RegisterFileRefused([(1, _l(
            "The header row must name the columns building_code, entrance, room, area_m2, owners "
            "(or 楼栋编号, 单元, 房号, 面积, 业主). Missing: %(columns)s.", columns=labels))])
    return positions


def read_register(data: bytes, building_codes) -> list[RegisterRow]:
    """Every row of a register file, or RegisterFileRefused listing every fault in it.

    `building_codes` are the codes of the community's buildings; a code in the file matches one
    regardless of letter case and is returned as the community spells it."""
    if not data:
        raise RegisterFileRefused([(None, _l("The file is empty."))])
    if len(data) > MAX_BYTES:
        raise RegisterFileRefused([(None, _l("The file is larger than 2 MB."))])
    if data.startswith(b"PK\x03\x04"):
        # A zip: only an Excel workbook is welcome, not a Word file or an archive renamed .csv.
        if not _is_xlsx(data):
            raise RegisterFileRefused([(None, _l("This file is neither a CSV text file nor an Excel (.xlsx) "
                                                 "workbook."))])
        records = _xlsx_records(data)
    else:
        records = _csv_records(data)
    # Rows are numbered as a spreadsheet shows them: the header is row 1.
    numbered = [(number, record) for number, record in enumerate(records, start=1)
                if any(cell for cell in record)]
    if not numbered:
        raise RegisterFileRefused([(None, _l("The file is empty."))])
    header_row, header = numbered[0]
    positions = _map_header(header)
    body = numbered[1:]
    if not body:
        raise RegisterFileRefused([(None, _l("The file has a header row but no units."))])
    if len(body) > MAX_ROWS:
        raise RegisterFileRefused([(None, _l("The file has more than %(n)d rows.", n=MAX_ROWS))])

    codes = {code.casefold(): code for code in building_codes}
    problems, rows = [], []
    first_row_of_unit: dict[tuple, int] = {}
    name_of_phone: dict[str, tuple[str, int]] = {}
    for number, record in body:
        cells = {column: (record[index] if index < len(record) else "") for column, index in positions.items()}
        row_problems = []
        for column in COLUMNS:
            if not cells[column]:
                row_problems.append(_l("%(column)s is missing.", column=COLUMN_LABELS[column]))
            elif column in MAX_LENGTH and len(cells[column]) > MAX_LENGTH[column]:
                row_problems.append(_l("%(column)s is longer than %(n)d characters.",
                                       column=COLUMN_LABELS[column], n=MAX_LENGTH[column]))
        code = codes.get(cells["building_code"].casefold()) if cells["building_code"] else None
        if cells["building_code"] and code is None:
            row_problems.append(_l("There is no building with code “%(code)s” in this community.",
                                   code=cells["building_code"]))
        area = developer = owners = None
        if cells["area_m2"]:
            try:
                area = parse_area(cells["area_m2"])
            except DomainError as error:
                row_problems.append(error.message)
        if cells["owners"]:
            try:
                developer, owners = parse_owners(cells["owners"])
            except DomainError as error:
                row_problems.append(error.message)
        if code and cells["entrance"] and cells["room"]:
            key = (code, cells["entrance"], cells["room"])
            if key in first_row_of_unit:
                row_problems.append(_l("The unit %(unit)s is already on row %(row)d.",
                                       unit=unit_label(*key), row=first_row_of_unit[key]))
            else:
                first_row_of_unit[key] = number
        for owner in owners or ():
            seen = name_of_phone.setdefault(owner.phone, (owner.name, number))
            if seen[0] != owner.name:
                row_problems.append(_l("The phone %(phone)s belongs to “%(name)s” here but to “%(other)s” "
                                       "on row %(row)d.", phone=owner.phone, name=owner.name,
                                       other=seen[0], row=seen[1]))
        if row_problems:
            problems.extend((number, message) for message in row_problems)
        else:
            rows.append(RegisterRow(row=number, building_code=code, entrance=cells["entrance"],
                                    room=cells["room"], area_m2=area, developer=developer, owners=owners))
    if problems:
        raise RegisterFileRefused(problems)
    return rows


# ---- waiting between preview and confirmation ----------------------------------------------------------

def _pending_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"]) / "register-imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_pending(rows, *, community_id: int, actor_id: int, filename: str) -> str:
    """Keep parsed rows for the confirmation step; returns the token that names them."""
    _discard_expired()
    token = secrets.token_urlsafe(24)
    payload = {"community_id": community_id, "actor_id": actor_id, "filename": filename,
               "created": time.time(), "rows": [row.to_json() for row in rows]}
    path = _pending_dir() / f"{token}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return token


def load_pending(token: str, *, community_id: int, actor_id: int):
    """(rows, filename) saved under this token by this person for this community, or None."""
    if not _TOKEN_RE.match(token or ""):
        return None
    path = _pending_dir() / f"{token}.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (payload.get("community_id") != community_id or payload.get("actor_id") != actor_id
            or time.time() - payload.get("created", 0) > PENDING_SECONDS):
        return None
    return [RegisterRow.from_json(row) for row in payload["rows"]], payload.get("filename") or ""


def discard_pending(token: str) -> None:
    if _TOKEN_RE.match(token or ""):
        (_pending_dir() / f"{token}.json").unlink(missing_ok=True)


def _discard_expired() -> None:
    cutoff = time.time() - PENDING_SECONDS
    for path in _pending_dir().glob("*.json"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue
