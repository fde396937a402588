"""One audit vocabulary: every AuditAction is labelled in both languages and documented,
and audit() takes nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from popreg.registry.access import system_actor
from popreg.registry.audit import AuditAction, audit, audit_many
from popreg.registry.models import AuditRecord

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
CJK = re.compile(r"[\u3400-\u9fff]")


def _doc_rows() -> dict[str, tuple[str, str, str]]:
    """value -> (Chinese, English, written by) from the table of docs/audit.md."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`(\w+)`\s*\|([^|]*)\|([^|]*)\|(.*)\|\s*$", line)
        if m:
            assert m.group(1) not in rows, f"docs/audit.md lists {m.group(1)} twice"
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip(), m.group(4).strip())
    return rows


@pytest.mark.parametrize("action", list(AuditAction), ids=lambda a: a.value)
def test_every_action_has_an_english_label_and_a_chinese_translation(action):
    with translation.override("en"):
        english = str(action.label)
    with translation.override("zh-hans"):
        chinese = str(action.label)
    assert english and not CJK.search(english)
    assert CJK.search(chinese), f"no Chinese translation of {english!r} in the web catalog"


@pytest.mark.parametrize("action", list(AuditAction), ids=lambda a: a.value)
def test_every_action_has_its_line_in_docs(action):
    rows = _doc_rows()
    assert action.value in rows, f"docs/audit.md lacks a line for {action.value}"
    chinese, english, written_by = rows[action.value]
    with translation.override("en"):
        assert english == str(action.label)
    with translation.override("zh-hans"):
        assert chinese == str(action.label)
    assert "popreg." in written_by, f"docs/audit.md: say which code writes {action.value}"


def test_docs_list_no_action_that_does_not_exist():
    assert set(_doc_rows()) <= set(AuditAction.values)


@pytest.mark.django_db
def test_audit_refuses_a_plain_string():
    actor = system_actor()
    with pytest.raises(TypeError, match="AuditAction"):
        audit(actor, "register_birth", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AuditAction"):
        audit_many(actor, "register_birth", [(None, {})])  # type: ignore[arg-type]
    assert not AuditRecord.objects.exists()
    audit(actor, AuditAction.REGISTER_BIRTH, None)
    assert AuditRecord.objects.get().action == "register_birth"
