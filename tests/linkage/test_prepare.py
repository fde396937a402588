"""Pre-computed columns: names, ID numbers, dates; reading the input CSV."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from popreg.core.idnumber import compose
from popreg.linkage.prepare import (
    REQUIRED_COLUMNS,
    LinkageInputError,
    parse_birth_date,
    prepare_records,
    read_input_csv,
)

VALID = "11010519491231002X"


def _frame(**cols: list[str]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {c: [""] * n for c in REQUIRED_COLUMNS}
    base["record_id"] = [str(i) for i in range(n)]
    base.update(cols)
    return pd.DataFrame(base)


def test_name_forms_normalise_to_the_same_characters() -> None:
    df = prepare_records(_frame(name=["张 伟", "張偉", "张\u3000伟", "买买提•艾力"]))
    assert list(df["name_norm"][:3]) == ["张伟"] * 3
    assert df["name_norm"][3] == "买买提·艾力"
    assert df["surname"][0] == "张"


def test_homophones_share_a_reading() -> None:
    df = prepare_records(_frame(name=["张伟", "张玮"]))
    assert set(df["name_readings"][0]) & set(df["name_readings"][1])
    assert df["name_norm"][0] != df["name_norm"][1]


@pytest.mark.parametrize(
    ("raw", "id18", "valid"),
    [
        (VALID, VALID, True),
        ("11010519491231002x", VALID, True),
        ("１１０１０５１９４９１２３１００２Ｘ", VALID, True),
        ("110105491231002", VALID, False),  # legacy 15 digits: upgraded, not verifiable
        ("11010519491231003X", "11010519491231003X", False),  # typo: checksum fails
        ("", None, False),
    ],
)
def test_id_columns(raw: str, id18: str | None, valid: bool) -> None:
    df = prepare_records(_frame(id_number=[raw]))
    assert df["id18"][0] == id18
    assert bool(df["id_valid"][0]) is valid
    if id18:
        assert df["id_body"][0] == id18[:17]
        assert df["id_prefix14"][0] == id18[:14]


def test_birth_date_columns() -> None:
    df = prepare_records(_frame(birth_date=["1985-03-08", "1985/3/8", "", "1985-02-30"]))
    assert df["dob"][0] == df["dob"][1] == "1985-03-08"
    assert df["birth_swapped"][0] == "1985-08-03"
    assert df["birth_year"][0] == "1985" and df["birth_md"][0] == "03-08"
    assert df["dob"][2] is None and df["dob"][3] is None
    assert df["birth_day"][0] - df["birth_day"][0] == 0


def test_parse_birth_date_formats() -> None:
    assert parse_birth_date("1990年1月2日") == date(1990, 1, 2)
    assert parse_birth_date("19900102") == date(1990, 1, 2)
    assert parse_birth_date("not a date") is None


def test_village_gives_township() -> None:
    df = prepare_records(_frame(village_code=["411423001201"]))
    assert df["township"][0] == "411423001"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


HEADER = ",".join(REQUIRED_COLUMNS) + "\n"
ROW = f"1,张伟,M,1980-05-01,{compose('411423', date(1980, 5, 1), 11)},411423001201,100000001\n"


def test_read_utf8_bom_and_gbk(tmp_path: Path) -> None:
    bom = _write(tmp_path / "bom.csv", "\ufeff" + HEADER + ROW)
    gbk = _write(tmp_path / "gbk.csv", HEADER + ROW, "gbk")
    assert read_input_csv(bom)["name"][0] == "张伟"
    assert read_input_csv(gbk)["name"][0] == "张伟"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (HEADER.encode(), "no records"),
        ("record_id,name\n1,张伟\n".encode(), "missing required column"),
        (b"\xff\xfe\x00\x01garbage\x80\x81", "not UTF-8"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(LinkageInputError) as info:
        read_input_csv(path)
    message = str(info.value)
    assert needle in message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message.split("\n")[0])
