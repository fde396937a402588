"""``popreg compile_translations``: .po → .mo with polib (no GNU gettext needed).

The compiled .mo files are committed next to their .po files; a test fails when a .mo is
out of date.  ``--check`` only reports stale files (exit status 1), for CI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polib
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def po_files() -> list[Path]:
    """Every django.po under the configured LOCALE_PATHS and under the ``locale`` directory
    of each popreg app (Django reads both)."""
    bases = [Path(b) for b in settings.LOCALE_PATHS]
    bases += [Path(app.path) / "locale" for app in apps.get_app_configs() if app.name.startswith("popreg.")]
    out: list[Path] = []
    seen: set[Path] = set()
    for base in bases:
        for po in sorted(base.glob("*/LC_MESSAGES/django.po")):
            if po.resolve() not in seen:
                seen.add(po.resolve())
                out.append(po)
    return out


def catalog(entries: Any) -> dict[tuple[str, str], Any]:
    """Translated entries as {(msgctxt, msgid): msgstr or plural forms}, for comparison."""
    out: dict[tuple[str, str], Any] = {}
    for e in entries:
        if e.obsolete or "fuzzy" in e.flags:
            continue
        if e.msgid_plural:
            forms = tuple(e.msgstr_plural[k] for k in sorted(e.msgstr_plural))
            if any(forms):
                out[(e.msgctxt or "", e.msgid)] = forms
        elif e.msgstr:
            out[(e.msgctxt or "", e.msgid)] = e.msgstr
    return out


def is_stale(po_path: Path) -> bool:
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        return True
    return catalog(polib.pofile(str(po_path))) != catalog(polib.mofile(str(mo_path)))


class Command(BaseCommand):
    help = "Compile the web translations (.po → .mo) with polib / 编译界面翻译文件"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true", help="only report .mo files that are out of date")

    def handle(self, *args: Any, **opts: Any) -> None:
        stale = [p for p in po_files() if is_stale(p)]
        if opts["check"]:
            for p in stale:
                self.stdout.write(f"过期 stale: {p.with_suffix('.mo')}")
            if stale:
                raise CommandError("翻译文件需要重新编译：popreg compile_translations / .mo files are out of date")
            return
        for p in po_files():
            po = polib.pofile(str(p))
            bad = [e.msgid for e in po if "python-format" in e.flags and not _same_placeholders(e)]
            if bad:
                raise CommandError(f"{p}: 占位符与原文不一致 / placeholders differ from the msgid: {bad}")
            po.save_as_mofile(str(p.with_suffix(".mo")))
            self.stdout.write(f"{p.with_suffix('.mo')}: {len(po.translated_entries())} 条 entries")


def _same_placeholders(entry: Any) -> bool:
    import re

    names = re.compile(r"%\((\w+)\)s")
    want = set(names.findall(entry.msgid))
    strings = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
    return all(set(names.findall(s)) <= want for s in strings if s)
