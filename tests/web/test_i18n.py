"""Translations: Chinese by default, every interface string translated, .mo up to date."""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.core.management import call_command

import popreg.registry
import popreg.web
from popreg.web.management.commands.compile_translations import catalog, is_stale, po_files

WEB = Path(popreg.web.__file__).parent
REGISTRY = Path(popreg.registry.__file__).parent
ZH_PO = WEB / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
TEMPLATES = sorted([*(WEB / "templates").rglob("*.html"), *(REGISTRY / "templates" / "registry").glob("*.html")])
PYTHON = [REGISTRY / "views.py", REGISTRY / "forms.py"]


def _msgids() -> set[str]:
    """msgids used by the web templates and the registry views/forms."""
    out: set[str] = set()
    for path in TEMPLATES:
        text = path.read_text()
        for dq, sq in re.findall(r"""{%\s*translate\s+(?:"([^"]*)"|'([^']*)')""", text):
            out.add(dq or sq)
        for body in re.findall(r"{%\s*blocktranslate[^%]*%}(.*?){%\s*endblocktranslate\s*%}", text, re.S):
            out.add(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", body.split("{% plural %}")[0]))
    for path in PYTHON:
        for dq, sq in re.findall(r"""\b_\(\s*(?:"([^"]*)"|'([^']*)')""", path.read_text()):
            out.add(dq or sq)
    return out


def test_templates_and_views_are_scanned():
    assert len(TEMPLATES) >= 8
    assert {"Search", "Register a birth", "page %(number)s of %(pages)s"} <= _msgids()


def test_every_interface_string_has_a_chinese_translation():
    translated = {msgid for (_ctx, msgid) in catalog(polib.pofile(str(ZH_PO)))}
    missing = sorted(_msgids() - translated)
    assert not missing, f"add these to {ZH_PO.name} and run `popreg compile_translations`: {missing}"


@pytest.mark.parametrize("po", po_files(), ids=lambda p: p.parent.parent.name)
def test_compiled_mo_matches_po(po):
    assert not is_stale(po), "run `popreg compile_translations` and commit the .mo"


def test_compile_command_writes_a_matching_mo(tmp_path, settings):
    src = tmp_path / "zh_Hans" / "LC_MESSAGES"
    src.mkdir(parents=True)
    (src / "django.po").write_bytes(ZH_PO.read_bytes())
    settings.LOCALE_PATHS = [tmp_path]
    assert is_stale(src / "django.po")
    call_command("compile_translations")
    assert not is_stale(src / "django.po")
    mo = polib.mofile(str(src / "django.mo"))
    assert mo.find("Search").msgstr == "查询"


def test_chinese_is_the_default_language(client, county):
    page = client.get("/login/").content.decode()
    assert '<html lang="zh-hans">' in page and "登录" in page and "English" in page
