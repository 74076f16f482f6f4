"""Reading a household register file (CSV or XLSX) into rows.

The whole file is refused when anything in it is wrong, with every row number and reason, so a
committee member can fix the spreadsheet in one go and nothing is ever half-imported. Parsed rows wait
in a pending file under UPLOAD_DIR (a shared volume when there are several app servers) between the
preview and the confirmation, so the data applied is the data previewed, never what a form sends back."""
import csv
import hashlib
import hmac
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
# Columns a file may have; empty cells (or no column at all) mean the defaults.
OPTIONAL_COLUMNS = ("id_numbers", "owner_kind", "area_source")
COLUMN_LABELS = {
    "building_code": _l("Building code"),
    "entrance": _l("Entrance"),
    "room": _l("Room"),
    "area_m2": _l("Area (m²)"),
    "owners": _l("Owners"),
    "id_numbers": _l("Identity document numbers"),
    "owner_kind": _l("Kind of owner"),
    "area_source": _l("Source of the area"),
}
HEADER_NAMES = {
    "building_code": {"building_code", "building", "楼栋编号", "楼栋", "楼号", "楼栋号"},
    "entrance": {"entrance", "单元", "单元号"},
    "room": {"room", "房号", "房间号", "室"},
    "area_m2": {"area_m2", "area", "面积", "专有面积", "建筑面积"},
    "owners": {"owners", "owner", "业主", "业主姓名"},
    "id_numbers": {"id_numbers", "id_number", "document_numbers", "证件号码", "证件号", "身份证号", "身份证号码"},
    "owner_kind": {"owner_kind", "kind", "业主类型", "类型"},
    "area_source": {"area_source", "面积来源"},
}
# The words a register file may use for the kind of owner and the source of the area.
KIND_WORDS = {"person": {"person", "个人", "自然人"},
              "organization": {"organization", "company", "单位", "企业", "公司", "组织", "机构"}}
AREA_SOURCE_WORDS = {"register": {"register", "不动产登记簿", "登记簿", "产权登记", "登记"},
                     "surveyed": {"surveyed", "实测", "实测面积"},
                     "contract": {"contract", "合同", "合同面积", "预售合同"}}
ID_NUMBER_RE = re.compile(r"^[0-9A-Za-z-]{4,32}$")
MAX_LENGTH = {"building_code": 16, "entrance": 16, "room": 16}
MAX_NAME_LENGTH = 80

_HEADER_NOISE = re.compile(r"[\s\ufeff]|[(（][^)）]*[)）]")
_OWNER_SEPARATORS = re.compile(r"[;；\n]")
_PHONE_SEPARATORS = re.compile(r"[/／,，、]")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class RegisterFileRefused(DomainError):
    """The file as a whole is refused; `problems` lists (row number or None, message) for every fault."""

    def __init__(self, problems):
        super().__init__(_l("The file was not imported. Nothing has been changed."), "file")
        self.problems = problems


@dataclass(frozen=True)
class OwnerEntry:
    """One owner as a register file or form names them: a name, any number of phones (none too), the kind,
    and the identity document number only as its keyed hash and last 4 characters."""

    name: str
    phones: tuple = ()
    kind: str = "person"
    id_hash: str | None = None
    id_last4: str | None = None

    @property
    def phone(self) -> str | None:
        return self.phones[0] if self.phones else None

    def to_json(self) -> dict:
        return {"name": self.name, "phones": list(self.phones), "kind": self.kind, "id_hash": self.id_hash,
                "id_last4": self.id_last4}

    @classmethod
    def from_json(cls, data) -> "OwnerEntry":
        if isinstance(data, list):  # [name, phone]: a preview saved before owners had several phones
            return cls(data[0], (data[1],) if data[1] else ())
        return cls(data["name"], tuple(data.get("phones") or ()), data.get("kind") or "person",
                   data.get("id_hash"), data.get("id_last4"))


def id_number_key() -> bytes:
    """The key of the identity-document hash: OWNER_ID_HASH_KEY, else one derived from SECRET_KEY."""
    key = current_app.config.get("OWNER_ID_HASH_KEY")
    if key:
        return key.encode() if isinstance(key, str) else key
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"yishi owner id number", hashlib.sha256).digest()


def normalize_id_number(value: str) -> str:
    return re.sub(r"[\s\u3000]", "", value or "").upper()


def hash_id_number(value: str) -> tuple[str, str]:
    """(keyed hash, last 4 characters) of an identity document number; the number itself is never kept."""
    number = normalize_id_number(value)
    if not ID_NUMBER_RE.match(number):
        raise DomainError(_l("“%(value)s” is not an identity document number (4 to 32 letters and digits).",
                             value=number[:4] + "…" if len(number) > 4 else number), "id_numbers")
    return hmac.new(id_number_key(), number.encode(), hashlib.sha256).hexdigest(), number[-4:]


@dataclass(frozen=True)
class RegisterRow:
    row: int
    building_code: str
    entrance: str
    room: str
    area_m2: Decimal
    developer: bool
    owners: tuple  # of OwnerEntry; empty when the developer holds the unit
    area_source: str = "register"

    @property
    def unit_key(self) -> tuple:
        return (self.building_code, self.entrance, self.room)

    @property
    def label(self) -> str:
        return unit_label(self.building_code, self.entrance, self.room)

    def to_json(self) -> dict:
        return {"row": self.row, "building_code": self.building_code, "entrance": self.entrance,
                "room": self.room, "area_m2": str(self.area_m2), "developer": self.developer,
                "owners": [o.to_json() for o in self.owners], "area_source": self.area_source}

    @classmethod
    def from_json(cls, data: dict) -> "RegisterRow":
        return cls(row=data["row"], building_code=data["building_code"], entrance=data["entrance"],
                   room=data["room"], area_m2=Decimal(data["area_m2"]), developer=data["developer"],
                   owners=tuple(OwnerEntry.from_json(o) for o in data["owners"]),
                   area_source=data.get("area_source") or "register")


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

    An owner may have several phones (`王芳:13900001234/13900005678`) or none (just the name). Two
    co-owners may share one phone. Returns (is_developer, owners)."""
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("Enter the owners, or “developer”."), "owners")
    if text.lower() in DEVELOPER_WORDS:
        return True, ()
    owners, seen = [], set()
    for part in _OWNER_SEPARATORS.split(text):
        part = part.strip()
        if not part:
            continue
        if part.lower() in DEVELOPER_WORDS:
            raise DomainError(_l("The developer cannot hold a unit together with persons."), "owners")
        name, colon, phones_text = part.replace("：", ":").partition(":")
        name = name.strip()
        if not name or (not colon and re.search(r"\d{5,}", name)):  # a phone written without its colon
            raise DomainError(_l("Write each owner as name:phone, for example 王芳:13900001234."), "owners")
        if len(name) > MAX_NAME_LENGTH:
            raise DomainError(_l("The name “%(name)s” is too long.", name=name[:20] + "…"), "owners")
        phones = []
        for phone in _PHONE_SEPARATORS.split(phones_text) if colon else ():
            if not phone.strip():
                continue
            phone = normalize_login(phone)
            if not is_phone(phone):
                raise DomainError(_l("“%(phone)s” is not a mainland mobile number (11 digits starting with 1).",
                                     phone=phone.strip()), "owners")
            if phone not in phones:
                phones.append(phone)
        if (name, tuple(phones)) in seen:
            raise DomainError(_l("The owner %(name)s is listed twice.", name=name), "owners")
        seen.add((name, tuple(phones)))
        owners.append(OwnerEntry(name, tuple(phones)))
    if not owners:
        raise DomainError(_l("Enter the owners, or “developer”."), "owners")
    return False, tuple(owners)


def _per_owner(text: str, owners: tuple) -> list[str]:
    """A cell listing one value per owner (separated by ;) or one value for them all."""
    values = [v.strip() for v in _OWNER_SEPARATORS.split(text or "")]
    if len(values) == 1:
        return values * len(owners)
    if len(values) != len(owners):
        raise DomainError(_l("List one value per owner, separated by ;, in the order of the owners."), "owners")
    return values


def _word(value: str, words: dict, default: str, message) -> str:
    key = value.strip().lower()
    if not key:
        return default
    for code, names in words.items():
        if key in names:
            return code
    raise DomainError(message, "file")


def with_details(owners: tuple, id_numbers: str = "", owner_kind: str = "") -> tuple:
    """The owners with the kinds and document numbers (hashed) of the optional columns."""
    if not owners:
        return owners
    kinds = _per_owner(owner_kind, owners) if (owner_kind or "").strip() else ["person"] * len(owners)
    numbers = _per_owner(id_numbers, owners) if (id_numbers or "").strip() else [""] * len(owners)
    result = []
    for owner, kind, number in zip(owners, kinds, numbers, strict=True):
        kind = _word(kind, KIND_WORDS, "person", _l("“%(value)s” is not a kind of owner: write person (个人) or "
                                                    "organization (单位).", value=kind[:20]))
        id_hash, last4 = hash_id_number(number) if number else (None, None)
        result.append(OwnerEntry(owner.name, owner.phones, kind, id_hash, last4))
    return tuple(result)


def parse_area_source(value: str) -> str:
    return _word(value or "", AREA_SOURCE_WORDS, "register", _l(
        "“%(value)s” is not a source of the area: write register (不动产登记簿), surveyed (实测) or contract (合同).",
        value=(value or "")[:20]))


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
    for column in COLUMNS:
        names = HEADER_NAMES[column]
        for index, key in enumerate(keys):
            if key in names:
                positions[column] = index
                break
    for column in OPTIONAL_COLUMNS:
        for index, key in enumerate(keys):
            if key in HEADER_NAMES[column] and column not in positions:
                positions[column] = index
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
    for number, record in body:
        cells = dict.fromkeys(OPTIONAL_COLUMNS, "")
        cells.update({column: (record[index] if index < len(record) else "") for column, index in positions.items()})
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
        area_source = "register"
        try:
            area_source = parse_area_source(cells["area_source"])
        except DomainError as error:
            row_problems.append(error.message)
        if cells["area_m2"]:
            try:
                area = parse_area(cells["area_m2"])
            except DomainError as error:
                row_problems.append(error.message)
        if cells["owners"]:
            try:
                developer, owners = parse_owners(cells["owners"])
                owners = with_details(owners, cells["id_numbers"], cells["owner_kind"])
            except DomainError as error:
                row_problems.append(error.message)
        if code and cells["entrance"] and cells["room"]:
            key = (code, cells["entrance"], cells["room"])
            if key in first_row_of_unit:
                row_problems.append(_l("The unit %(unit)s is already on row %(row)d.",
                                       unit=unit_label(*key), row=first_row_of_unit[key]))
            else:
                first_row_of_unit[key] = number
        if row_problems:
            problems.extend((number, message) for message in row_problems)
        else:
            rows.append(RegisterRow(row=number, building_code=code, entrance=cells["entrance"],
                                    room=cells["room"], area_m2=area, developer=developer, owners=owners,
                                    area_source=area_source))
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
