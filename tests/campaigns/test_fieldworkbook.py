import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from popreg.campaigns.fieldlists import OUTCOMES, build_field_workbook, read_field_workbook
from popreg.core.idnumber import compose

VILLAGE = {"code": "411122100001", "name": "东关村民委员会"}
CAMPAIGN = {"id": 7, "name": "2025年户口整顿"}
TODAY = date.today()


def _persons(n=4):
    out = []
    for i in range(n):
        birth = date(1960 + i, 3, 1 + i)
        out.append({"person_id": 500 + i, "household_no": f"{200000 + i // 2:09d}",
                    "name": ["龚丽", "翟强", "禤明", "阿依古丽·买买提"][i % 4],
                    "sex": "F" if i % 2 == 0 else "M", "birth_date": birth,
                    "id_number": compose("411122", birth, 10 + i), "relation": "户主" if i % 2 == 0 else "配偶",
                    "residence_type": "registered"})
    return out


@pytest.fixture
def xlsx():
    return build_field_workbook(VILLAGE, _persons(), CAMPAIGN)


def _edit(data, edits, sheet="核对名单"):
    """Fill cells like a field worker: {(row, header): value}."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb[sheet]
    headers = {c.value: c.column for c in ws[1]}
    for (row, header), value in edits.items():
        ws.cell(row=row, column=headers[header], value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _row_of(data, person_id):
    ws = load_workbook(io.BytesIO(data))["核对名单"]
    col = [c.value for c in ws[1]].index("person_id")
    return next(r[0].row for r in ws.iter_rows(min_row=2) if str(r[col].value) == str(person_id))


def test_structure_of_the_generated_workbook(xlsx):
    wb = load_workbook(io.BytesIO(xlsx))
    assert wb.sheetnames == ["核对名单", "新发现人员", "_meta"]
    ws = wb["核对名单"]
    headers = [c.value for c in ws[1]]
    assert headers[:9] == ["序号", "户号", "姓名", "性别", "出生日期", "公民身份号码", "与户主关系",
                           "居住类型", "核对结果"]
    assert ws.max_row == 5
    for key in ("campaign_id", "village_code", "person_id", "row_checksum"):
        letter = ws.cell(row=1, column=headers.index(key) + 1).column_letter
        assert ws.column_dimensions[letter].hidden
    assert ws.protection.sheet and wb["新发现人员"].protection.sheet
    assert ws.cell(row=1, column=9).protection.locked            # header row protected
    assert not ws.cell(row=2, column=9).protection.locked        # outcome editable
    assert ws.cell(row=2, column=3).protection.locked            # printed name is not
    found = wb["新发现人员"]
    assert found["A1"].protection.locked and not found.column_dimensions["A"].protection.locked
    drop_downs = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert any(all(label in f for label in OUTCOMES.values()) for f in drop_downs)
    assert wb["_meta"].sheet_state == "veryHidden"
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["campaign_id"] == "7" and meta["village_code"] == VILLAGE["code"]
    assert "*" in ws.cell(row=2, column=6).value                 # masked ID by default


def test_untouched_workbook_reads_back_clean(xlsx):
    parsed = read_field_workbook(xlsx)
    assert parsed.ok, [str(p) for p in parsed.problems]
    assert (parsed.campaign_id, parsed.village_code, parsed.listed) == ("7", VILLAGE["code"], 4)
    assert parsed.checksum_ok and len(parsed.file_checksum) == 64
    assert parsed.rows == [] and parsed.new_persons == []


def test_filled_outcomes_and_new_persons_round_trip(xlsx):
    r500, r501, r502, r503 = (_row_of(xlsx, p) for p in (500, 501, 502, 503))
    data = _edit(xlsx, {
        (r500, "核对结果"): "核实无误",
        (r501, "核对结果"): "已死亡", (r501, "日期（死亡、迁出日期）"): datetime(2025, 3, 4),
        (r502, "核对结果"): "信息有误", (r502, "有误项目"): "出生日期",
        (r502, "正确值（迁往地代码、重复记录编号）"): "1962-03-05",
        (r503, "核对结果"): "已迁出", (r503, "日期（死亡、迁出日期）"): "2024年7月1日",
        (r503, "正确值（迁往地代码、重复记录编号）"): "110105",
    })
    child = compose("411122", date(2025, 2, 1), 22)
    data = _edit(data, {(2, "姓名"): "龚小宝", (2, "性别"): "女", (2, "出生日期"): datetime(2025, 2, 1),
                        (2, "公民身份号码"): child, (2, "户号"): "000200000", (2, "类别"): "出生未登记"},
                 sheet="新发现人员")
    parsed = read_field_workbook(data)
    assert parsed.ok, [str(p) for p in parsed.problems]
    got = {(r.person_id, r.outcome, r.field_name, r.corrected_value, r.event_date) for r in parsed.rows}
    assert got == {
        (500, "confirmed", "", "", None),
        (501, "died", "", "", date(2025, 3, 4)),
        (502, "field_wrong", "birth_date", "1962-03-05", None),
        (503, "moved_away", "", "110105", date(2024, 7, 1)),
    }
    assert [(p.name, p.sex, p.birth_date, p.id_number, p.kind, p.row) for p in parsed.new_persons] == [
        ("龚小宝", "F", date(2025, 2, 1), child, "birth", 2)]
    assert parsed.checksum_ok


@pytest.mark.parametrize(
    "edits, column, reason",
    [
        ({"核对结果": "搬走了"}, "I", "无法识别"),
        ({"核对结果": "已死亡"}, "L", "必须填写日期"),
        ({"核对结果": "已死亡", "日期（死亡、迁出日期）": "2025-02-30"}, "L", "不存在"),
        ({"核对结果": "已迁出", "日期（死亡、迁出日期）": "下个月"}, "L", "格式无法识别"),
        ({"核对结果": "已死亡", "日期（死亡、迁出日期）": datetime(2999, 1, 1)}, "L", "不可能"),
        ({"核对结果": "信息有误", "有误项目": "出生日期"}, "K", "正确值"),
        ({"核对结果": "信息有误", "有误项目": "血型", "正确值（迁往地代码、重复记录编号）": "A"}, "J", "有误的项目"),
        ({"核对结果": "信息有误", "有误项目": "出生日期",
          "正确值（迁往地代码、重复记录编号）": "1961-13-01"}, "K", "不存在"),
        ({"核对结果": "信息有误", "有误项目": "公民身份号码",
          "正确值（迁往地代码、重复记录编号）": "411122196003010111"}, "K", "校验码"),
        ({"备注": "", "有误项目": "姓名"}, "I", "没有选择核对结果"),
        ({"姓名": "龚莉"}, "Q", "预填"),
    ],
)
def test_bad_rows_are_reported_with_row_column_and_reason(xlsx, edits, column, reason):
    row = _row_of(xlsx, 500)
    parsed = read_field_workbook(_edit(xlsx, {(row, k): v for k, v in edits.items()}))
    problems = [p for p in parsed.problems if p.row == row]
    assert problems, [str(p) for p in parsed.problems]
    p = problems[0]
    assert (p.sheet, p.column) == ("核对名单", column), str(p)
    assert reason in p.message_zh and p.message_en
    assert f"第{row}行" in str(p) and f"row {row}" in str(p)
    assert not parsed.ok and all(r.person_id != 500 for r in parsed.rows)


@pytest.mark.parametrize(
    "edits, column, reason",
    [
        ({"姓名": "新人", "性别": "未知", "出生日期": "2020-01-01"}, "B", "性别"),
        ({"姓名": "新人", "性别": "男", "出生日期": "2020-02-30"}, "C", "不存在"),
        ({"姓名": "新人", "性别": "男"}, "C", "出生日期"),
        ({"性别": "男", "出生日期": "2020-01-01"}, "A", "姓名"),
        ({"姓名": "新人", "性别": "男", "出生日期": "2020-01-01", "类别": "外星"}, "G", "类别"),
        ({"姓名": "新人", "性别": "男", "出生日期": "2020-01-01",
          "公民身份号码": compose("411122", date(2020, 1, 2), 11)}, "D", "不一致"),
    ],
)
def test_bad_new_person_rows(xlsx, edits, column, reason):
    parsed = read_field_workbook(_edit(xlsx, {(3, k): v for k, v in edits.items()}, sheet="新发现人员"))
    assert [(p.sheet, p.row, p.column) for p in parsed.problems][:1] == [("新发现人员", 3, column)]
    assert reason in parsed.problems[0].message_zh
    assert parsed.new_persons == []


def test_edited_header_is_refused(xlsx):
    wb = load_workbook(io.BytesIO(xlsx))
    wb["核对名单"]["I1"] = "结果"
    buf = io.BytesIO()
    wb.save(buf)
    parsed = read_field_workbook(buf.getvalue())
    assert [(p.sheet, p.row, p.column) for p in parsed.problems] == [("核对名单", 1, "I")]
    assert "表头" in parsed.problems[0].message_zh and parsed.rows == []


def test_deleted_row_breaks_the_file_checksum(xlsx):
    wb = load_workbook(io.BytesIO(xlsx))
    wb["核对名单"].delete_rows(3)
    buf = io.BytesIO()
    wb.save(buf)
    parsed = read_field_workbook(buf.getvalue())
    assert not parsed.checksum_ok
    assert any(p.row == 0 and "重新下载" in p.message_zh for p in parsed.problems)


def test_row_pasted_from_another_village_is_refused(xlsx):
    other = build_field_workbook({"code": "411122100002", "name": "西关村"}, _persons(1), CAMPAIGN)
    foreign = [c.value for c in load_workbook(io.BytesIO(other))["核对名单"][2]]
    wb = load_workbook(io.BytesIO(xlsx))
    ws = wb["核对名单"]
    for col, value in enumerate(foreign, start=1):
        ws.cell(row=2, column=col, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    parsed = read_field_workbook(buf.getvalue())
    assert any(p.row == 2 and "另一活动或村" in p.message_zh for p in parsed.problems)


def test_identity_tells_files_apart():
    """Another village, another campaign, another generation: the metadata says which."""
    a = read_field_workbook(build_field_workbook(VILLAGE, _persons(), CAMPAIGN,))
    b = read_field_workbook(build_field_workbook({"code": "411122100002", "name": "西关村"}, _persons(), CAMPAIGN))
    c = read_field_workbook(build_field_workbook(VILLAGE, _persons(), {"id": 8, "name": "2026年"}))
    assert a.village_code != b.village_code and a.campaign_id != c.campaign_id
    assert len({a.file_checksum, b.file_checksum, c.file_checksum}) == 3


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"name,sex\n", "不是 Excel"),
        (b"", "不是 Excel"),
        (b"PK\x03\x04garbage", "不是 Excel"),
    ],
)
def test_not_a_workbook(data, reason):
    parsed = read_field_workbook(data)
    assert not parsed.ok and reason in parsed.problems[0].message_zh
    assert parsed.problems[0].message_en


def test_someone_elses_xlsx(tmp_path):
    from openpyxl import Workbook

    buf = io.BytesIO()
    Workbook().save(buf)
    parsed = read_field_workbook(buf.getvalue())
    assert not parsed.ok and "缺少工作表" in parsed.problems[0].message_zh


def test_corrupt_zip_with_xlsx_parts():
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<not xml")
    parsed = read_field_workbook(buf.getvalue())
    assert not parsed.ok and parsed.problems[0].row == 0
