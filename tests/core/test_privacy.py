"""Tests for popreg.core.privacy (masking for display)."""

from __future__ import annotations

import pytest

from popreg.core import privacy
from popreg.core.privacy import mask_id, mask_name


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张伟", "张*"),
        ("王", "*"),
        ("欧阳娜娜", "欧**娜"),
        ("司马相如", "司**如"),
        ("張三豐", "張*豐"),  # display keeps the script it was given
        (" 张 三 丰 ", "张*丰"),
        ("买买提·艾力", "买买提·**"),
        ("买买提•艾力", "买买提·**"),
        ("阿沛・阿旺・晋美", "阿沛·**·晋美"),
        ("阿卜杜拉·买买提·艾力·阿不都", "阿卜杜拉·***·**·阿不都"),
        ("JOHN SMITH", "JOHN *****"),
        ("JOHN PAUL SMITH", "JOHN **** SMITH"),
        ("SMITH", "S***H"),
        ("", ""),
        (None, ""),
        ("   ", ""),
    ],
)
def test_mask_name(name: str | None, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_name_hides_every_middle_character() -> None:
    for name in ["张三丰", "欧阳娜娜", "阿沛·阿旺·晋美", "诸葛孔明亮"]:
        masked = mask_name(name)
        plain = name.replace("·", "")
        shown = masked.replace("·", "").replace("*", "")
        assert len(masked) == len(name)
        assert len(shown) < len(plain)
        if "·" not in name:
            assert masked[1:-1] == "*" * (len(name) - 2)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("11010519491231002x", "1101**********002X"),
        ("110105 19491231 002X", "1101**********002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "1101**********002X"),
        ("110105491231002", "1101*******1002"),
        ("12345678", "********"),
        ("123", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id(number: str | None, masked: str) -> None:
    assert mask_id(number) == masked


def test_mask_id_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        mask_id(110105194912310020)  # type: ignore[arg-type]


def test_public_names() -> None:
    assert privacy.__all__ == sorted(privacy.__all__)
