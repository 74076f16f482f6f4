"""Register import: every refusal with its row number, preview counts, apply, idempotent re-import,
encodings and Excel workbooks."""
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.places import importer, services
from portal.places.importer import RegisterFileRefused, read_register
from portal.places.models import Household, Owner, Ownership
from tests.factories import gen_building, gen_community, gen_user

HEADER = "building_code,entrance,room,area_m2,owners\n"
GOOD = HEADER + (
    "3,1,101,89.52,王芳:13900001234; 李强:13900005678\n"
    "3,1,102,65.3,刘建国：13900008888\n"
    "5A,2,301,120,developer\n"
    "5A,2,302,118.75,刘建国:13900008888\n"
)


def refusal(text, codes=("3", "5A")):
    with pytest.raises(RegisterFileRefused) as error:
        read_register(text.encode("utf-8") if isinstance(text, str) else text, codes)
    return [(row, str(message)) for row, message in error.value.problems]


def test_good_file_parses_co_owners_full_width_separators_and_developer():
    rows = read_register(GOOD.encode(), ["3", "5A"])
    assert [r.row for r in rows] == [2, 3, 4, 5]
    assert [o.name for o in rows[0].owners] == ["王芳", "李强"]
    assert rows[1].owners[0].phone == "13900008888"
    assert rows[2].developer and rows[2].owners == ()
    assert rows[3].area_m2 == Decimal("118.75")


def test_chinese_headers_and_developer_word():
    text = "楼栋编号,单元,房号,面积,业主\n3,1,101,88,开发商\n"
    (row,) = read_register(text.encode(), ["3"])
    assert row.developer and row.area_m2 == Decimal("88.00")


def test_building_codes_match_regardless_of_case():
    (row,) = read_register((HEADER + "5a,1,101,88,developer\n").encode(), ["5A"])
    assert row.building_code == "5A"


@pytest.mark.parametrize("line, reason", [
    ("3,1,101,,developer", "Area (m²) is missing"),
    ("3,,101,80,developer", "Entrance is missing"),
    ("3,1,101,80,", "Owners is missing"),
    ("3,1,101,eighty,developer", "is not a number"),
    ("3,1,101,0,developer", "more than 0"),
    ("3,1,101,-12.5,developer", "more than 0"),
    ("3,1,101,80.123,developer", "at most 2 decimal places"),
    ("9,1,101,80,developer", "no building with code “9”"),
    ("3,1,101,80,王芳:1390000123", "not a mainland mobile number"),
    ("3,1,101,80,王芳:23900001234", "not a mainland mobile number"),
    ("3,1,101,80,王芳 13900001234", "name:phone"),
    ("3,1,101,80,developer; 王芳:13900001234", "developer cannot"),
])
def test_each_refusal_reason_names_its_row(line, reason):
    problems = refusal(HEADER + "3,1,100,70,developer\n" + line + "\n")
    assert len(problems) == 1
    row, message = problems[0]
    assert row == 3 and reason in message


def test_the_same_unit_twice_is_refused_naming_both_rows():
    problems = refusal(HEADER + "3,1,101,80,developer\n3,1,102,80,developer\n3,1,101,81,developer\n")
    assert problems == [(4, "The unit 3-1-101 is already on row 2.")]


def test_every_faulty_row_is_listed_and_nothing_is_returned():
    problems = refusal(HEADER + "3,1,101,80,developer\n9,1,101,0,x:1\n3,1,102,,王芳:123\n")
    rows = sorted({row for row, _message in problems})
    assert rows == [3, 4]
    assert len(problems) == 5  # unknown building, area, owners on row 3; missing area, phone on row 4


def test_one_phone_with_two_names_is_two_owners():
    rows = read_register((HEADER + "3,1,101,80,王芳:13900001234\n3,1,102,80,王小芳:13900001234\n").encode(),
                         ["3"])
    assert [o.name for row in rows for o in row.owners] == ["王芳", "王小芳"]


def test_missing_header_column_is_refused():
    problems = refusal("building_code,room,area_m2,owners\n3,101,80,developer\n")
    assert problems[0][0] == 1 and "entrance" in problems[0][1]


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02\xff\xfe\x00binary", b"PK\x03\x04not really a zip"])
def test_files_that_are_not_csv_or_xlsx_are_refused(data):
    problems = refusal(data)
    assert problems and problems[0][0] is None


def test_file_larger_than_2_mb_is_refused():
    problems = refusal(HEADER + "3,1,101,80,developer\n" * 120_000)
    assert "2 MB" in problems[0][1]


def test_gbk_csv_is_read():
    rows = read_register(GOOD.encode("gbk"), ["3", "5A"])
    assert rows[0].owners[0].name == "王芳"


def test_gbk_csv_with_chinese_headers_is_read():
    text = "楼栋编号,单元,房号,面积,业主\r\n3,1,101,88.5,张伟:13900001111\r\n"
    (row,) = read_register(text.encode("gbk"), ["3"])
    assert row.owners[0].name == "张伟" and row.area_m2 == Decimal("88.50")


def test_utf8_bom_csv_is_read():
    rows = read_register(b"\xef\xbb\xbf" + GOOD.encode("utf-8"), ["3", "5A"])
    assert len(rows) == 4 and rows[0].building_code == "3"


def xlsx_bytes(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_is_read_with_numeric_cells():
    data = xlsx_bytes([["楼栋编号", "单元", "房号", "面积", "业主"],
                       [3, 1, 101, 89.52, "王芳:13900001234；李强:13900005678"],
                       ["5A", 2, 302, 120, "开发商"],
                       [None, None, None, None, None]])
    rows = read_register(data, ["3", "5A"])
    assert [(r.building_code, r.entrance, r.room, r.area_m2) for r in rows] == [
        ("3", "1", "101", Decimal("89.52")), ("5A", "2", "302", Decimal("120.00"))]
    assert len(rows[0].owners) == 2 and rows[1].developer


def test_xlsx_refusals_use_spreadsheet_row_numbers():
    data = xlsx_bytes([["building_code", "entrance", "room", "area_m2", "owners"],
                       [3, 1, 101, 80, "developer"],
                       [3, 1, 102, -1, "developer"]])
    assert refusal(data)[0][0] == 3


# ---- preview and apply -----------------------------------------------------------------------------------

@pytest.fixture
def register():
    admin = gen_user(is_admin=True)
    community = gen_community()
    b3, b5a = gen_building(community, code="3"), gen_building(community, code="5A")
    # Already in the register: 3-1-101 exactly as in GOOD, 3-1-102 with another area and owner.
    h101 = services.create_household(admin, b3, entrance="1", room="101", area_m2="89.52",
                                     owners=[("王芳", "13900001234"), ("李强", "13900005678")],
                                     on_date=date(2010, 1, 1))
    h102 = services.create_household(admin, b3, entrance="1", room="102", area_m2="60",
                                     owners=[("周杰", "13900007777")], on_date=date(2010, 1, 1))
    return admin, community, {"3": b3, "5A": b5a, "101": h101, "102": h102}


def test_preview_counts_added_changed_unchanged_and_writes_nothing(register):
    admin, community, _ = register
    before = db.session.scalar(db.select(db.func.count(Ownership.id)))
    rows = services.read_import(admin, community, GOOD.encode())
    preview = services.preview_import(admin, community, rows)
    assert [u.label for u in preview.added] == ["5A-2-301", "5A-2-302"]
    assert [u.label for u in preview.changed] == ["3-1-102"]
    assert preview.changed[0].area_changed and preview.changed[0].owners_changed
    assert [u.label for u in preview.unchanged] == ["3-1-101"]
    assert db.session.scalar(db.select(db.func.count(Ownership.id))) == before
    assert db.session.scalar(db.select(db.func.count(Household.id))) == 2


def test_apply_then_reimport_changes_nothing(register):
    admin, community, units = register
    rows = services.read_import(admin, community, GOOD.encode())
    services.apply_import(admin, community, rows, filename="register.csv")
    assert db.session.scalar(db.select(db.func.count(Household.id))) == 4
    assert units["102"].area_m2 == Decimal("65.30")
    buyer = db.session.scalar(db.select(Owner).where(Owner.phone == "13900008888"))
    assert len(buyer.ownerships) == 2  # one buyer, two units, one owner
    entry = db.session.scalar(db.select(AuditEntry).where(AuditEntry.action == "register.import"))
    assert entry.details["added"] == 2 and entry.details["changed"] == 1 and entry.details["unchanged"] == 1

    again = services.preview_import(admin, community, services.read_import(admin, community, GOOD.encode()))
    assert (len(again.added), len(again.changed), len(again.unchanged)) == (0, 0, 4)
    assert not again.has_changes
    count = db.session.scalar(db.select(db.func.count(Ownership.id)))
    services.apply_import(admin, community, services.read_import(admin, community, GOOD.encode()))
    assert db.session.scalar(db.select(db.func.count(Ownership.id))) == count


def test_owner_change_on_import_ends_old_ownership_today(register):
    admin, community, units = register
    services.apply_import(admin, community, services.read_import(admin, community, GOOD.encode()))
    today = services.local_today(community)
    history = services.ownership_history(units["102"])
    old = next(o for o in history if o.owner.name == "周杰")
    new = next(o for o in history if o.owner.name == "刘建国")
    assert old.end_date == today and new.start_date == today and new.end_date is None
    assert [o.owner.name for o in services.current_ownerships(units["102"])] == ["刘建国"]


def test_import_renames_an_owner_matched_by_identity_document(register):
    admin, community, _ = register
    header = HEADER.strip() + ",id_numbers\n"
    first = header + "3,1,101,89.52,王芳:13900001234; 李强:13900005678,110101199001011234;\n"
    services.apply_import(admin, community, services.read_import(admin, community, first.encode()))
    text = header + "3,1,101,89.52,王芳芳:13900001234; 李强:13900005678,110101199001011234;\n"
    preview = services.preview_import(admin, community, services.read_import(admin, community, text.encode()))
    assert len(preview.unchanged) == 1 and [n for _o, n in preview.renamed] == ["王芳芳"]
    services.apply_import(admin, community, services.read_import(admin, community, text.encode()))
    assert db.session.scalar(db.select(Owner.name).where(Owner.phone == "13900001234")) == "王芳芳"


def test_unknown_building_of_another_community_is_refused(register):
    admin, community, _ = register
    gen_building(gen_community(), code="77")
    with pytest.raises(RegisterFileRefused) as error:
        services.read_import(admin, community, (HEADER + "77,1,101,80,developer\n").encode())
    assert error.value.problems[0][0] == 2


def test_pending_rows_round_trip_only_for_the_same_person_and_community(app, register):
    admin, community, _ = register
    rows = services.read_import(admin, community, GOOD.encode())
    token = importer.save_pending(rows, community_id=community.id, actor_id=admin.id, filename="r.csv")
    loaded, filename = importer.load_pending(token, community_id=community.id, actor_id=admin.id)
    assert loaded == rows and filename == "r.csv"
    assert importer.load_pending(token, community_id=community.id, actor_id=admin.id + 1) is None
    assert importer.load_pending("../../etc/passwd", community_id=community.id, actor_id=admin.id) is None
    importer.discard_pending(token)
    assert importer.load_pending(token, community_id=community.id, actor_id=admin.id) is None
