"""Inspect a PDF written by WeasyPrint: extracted text, embedded fonts, missing glyphs."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

_SHOW = re.compile(rb"\[(.*?)\]\s*TJ|<([0-9a-fA-F]*)>\s*Tj", re.S)
_HEX = re.compile(rb"<([0-9a-fA-F]*)>")


def text(pdf: bytes) -> str:
    """All text of the PDF with whitespace removed (cells wrap long names)."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in reader.pages))


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def fonts(pdf: bytes) -> dict[str, bool]:
    """BaseFont name -> whether the font program is embedded."""
    reader = PdfReader(io.BytesIO(pdf))
    out: dict[str, bool] = {}
    for page in reader.pages:
        for ref in page["/Resources"].get("/Font", {}).values():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            desc = target.get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            embedded = any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            out[str(font["/BaseFont"])] = embedded
    return out


def notdef_count(pdf: bytes) -> int:
    """Number of glyphs drawn with glyph id 0 (.notdef: a character no font had).

    WeasyPrint writes every font as a CID font with Identity-H encoding, so shown strings
    are 2-byte glyph ids.
    """
    reader = PdfReader(io.BytesIO(pdf))
    count = 0
    for page in reader.pages:
        data = page.get_contents().get_data()
        for array, single in _SHOW.findall(data):
            hexes = _HEX.findall(array) if array else [single]
            for h in hexes:
                count += sum(1 for i in range(0, len(h), 4) if int(h[i:i + 4] or b"0", 16) == 0)
    return count
