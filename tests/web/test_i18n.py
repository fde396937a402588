"""Translations: Chinese by default, every interface string translated, .mo up to date.

Interface strings are written in English in the code (``{% translate %}``, ``_()``) and
translated to Chinese in one catalog per part of the application; Chinese is the default
language.  The screen templates hold no untranslated Chinese text (printed documents,
PDF field lists and reports, are Chinese only, for the county's files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

import popreg
from popreg.web.management.commands import compile_translations
from popreg.web.management.commands.compile_translations import catalog, is_stale, po_files

SRC = Path(popreg.__file__).parent
ZH = Path("zh_Hans") / "LC_MESSAGES" / "django.po"
#: Printed documents (PDF): Chinese only; the server-error page is static (no translation
#: machinery may be working when it is shown) and bilingual inline.
PRINT_TEMPLATES = {"report_print.html", "summary_print.html", "field_list.html", "500.html",
                   "plan_print.html",
                   "certificate.html"}  # households and certificates (registry): a printed certificate
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")


@dataclass(frozen=True)
class Part:
    name: str
    po: Path
    templates: tuple[Path, ...]
    python: tuple[Path, ...]


def _part(name: str, apps: tuple[str, ...], po: Path) -> Part:
    templates = sorted(p for a in apps for p in (SRC / a / "templates").rglob("*.html"))
    python = sorted(p for a in apps for pat in ("views*.py", "forms*.py") for p in (SRC / a).glob(pat))
    return Part(name, po, tuple(templates), tuple(python))


PARTS = [
    _part("web", ("web", "registry"), SRC / "web" / "locale" / ZH),
    _part("stats", ("stats",), SRC / "stats" / "locale" / ZH),
    _part("campaigns", ("campaigns",), SRC / "campaigns" / "locale" / ZH),
    _part("linkage", ("linkage",), SRC / "linkage" / "locale" / ZH),
    _part("planning", ("planning",), SRC / "planning" / "locale" / ZH),
    _part("migrants", ("migrants",), SRC / "migrants" / "locale" / ZH),
    _part("exchange", ("exchange",), SRC / "exchange" / "locale" / ZH),
    _part("sources", ("sources",), SRC / "sources" / "locale" / ZH),
]


def _msgids(part: Part) -> set[str]:
    """msgids used by the part's templates and its views/forms."""
    out: set[str] = set()
    for path in part.templates:
        text = path.read_text()
        for dq, sq in re.findall(r"""{%\s*translate\s+(?:"([^"]*)"|'([^']*)')""", text):
            out.add(dq or sq)
        for body in re.findall(r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S):
            out.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body.split("{% plural %}")[0]))
    for path in part.python:
        for dq, sq in re.findall(r"""\b_\(\s*(?:"([^"]*)"|'([^']*)')""", path.read_text()):
            out.add(dq or sq)
    return out


def _untranslated_chinese(path: Path) -> list[str]:
    text = path.read_text()
    text = re.sub(r"{%\s*blocktranslate.*?endblocktranslate\s*%}", "", text, flags=re.S)
    text = re.sub(r"""{%\s*translate\s+("[^"]*"|'[^']*')[^%]*%}""", "", text)
    text = re.sub(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.S)
    return [line.strip() for line in text.splitlines() if CJK.search(line)]


def test_templates_and_views_are_scanned():
    web = PARTS[0]
    assert len(web.templates) >= 8
    assert {"Search", "Register a birth", "page %(number)s of %(pages)s"} <= _msgids(web)
    assert all(part.templates for part in PARTS)


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_every_interface_string_has_a_chinese_translation(part):
    assert part.po.is_file(), f"{part.po} is missing"
    translated = {msgid for (_ctx, msgid) in catalog(polib.pofile(str(part.po)))}
    missing = sorted(_msgids(part) - translated)
    assert not missing, f"add these to {part.po} and run `popreg compile_translations`: {missing}"


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.name)
def test_screen_templates_hold_no_untranslated_chinese(part):
    left = {
        str(path.relative_to(SRC)): lines[:3]
        for path in part.templates
        if path.name not in PRINT_TEMPLATES and (lines := _untranslated_chinese(path))
    }
    assert not left, f"wrap these in {{% translate %}}: {left}"


@pytest.mark.parametrize("po", po_files(), ids=lambda p: str(p.relative_to(SRC).parts[0]) + "-" + p.parent.parent.name)
def test_compiled_mo_matches_po(po):
    assert not is_stale(po), "run `popreg compile_translations` and commit the .mo"


def test_compile_command_writes_a_matching_mo(tmp_path, monkeypatch):
    src = tmp_path / "zh_Hans" / "LC_MESSAGES"
    src.mkdir(parents=True)
    (src / "django.po").write_bytes(PARTS[0].po.read_bytes())
    monkeypatch.setattr(compile_translations, "po_files", lambda: [src / "django.po"])
    assert is_stale(src / "django.po")
    call_command("compile_translations")
    assert not is_stale(src / "django.po")
    mo = polib.mofile(str(src / "django.mo"))
    assert mo.find("Search").msgstr == "查询"


def test_app_catalogs_are_found():
    found = {p.resolve() for p in po_files()}
    assert {part.po.resolve() for part in PARTS if part.po.is_file()} <= found


def test_chinese_is_the_default_language(client, county):
    page = client.get("/login/").content.decode()
    assert '<html lang="zh-hans">' in page and "登录" in page and "English" in page
