"""``popreg import_persons``: the same checks and action as the web import."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from popreg.registry.models import AuditRecord, Person

from .helpers import HEADER, counts, sample_rows, to_csv


def test_check_then_commit(tmp_path, users, capsys):
    f = tmp_path / "people.csv"
    f.write_bytes(to_csv(sample_rows(4), encoding="gb18030"))
    call_command("import_persons", str(f), "--user", "officer_a")
    assert Person.objects.count() == 0
    assert "--commit" in capsys.readouterr().out
    call_command("import_persons", str(f), "--user", "officer_a", "--commit")
    assert Person.objects.count() == 4
    assert AuditRecord.objects.filter(action="import_persons", actor_name="officer_a").count() == 1
    before = counts()
    with pytest.raises(CommandError, match="重复导入"):
        call_command("import_persons", str(f), "--user", "officer_a", "--commit")
    assert counts() == before


def test_errors_are_printed_and_reported(tmp_path, users, capsys):
    rows = sample_rows(2)
    rows[0][HEADER.index("出生日期")] = "1990-13-01"
    f = tmp_path / "bad.csv"
    f.write_bytes(to_csv(rows))
    report = tmp_path / "errors.csv"
    with pytest.raises(CommandError):
        call_command("import_persons", str(f), "--user", "admin", "--commit", "--errors", str(report))
    out = capsys.readouterr().out
    assert "第 2 行" in out and "出生日期" in out
    assert "1990-13-01" in report.read_text("utf-8-sig")
    assert Person.objects.count() == 0


def test_unknown_user_and_missing_file(tmp_path, users):
    with pytest.raises(CommandError, match="不存在"):
        call_command("import_persons", str(tmp_path / "nope.csv"), "--user", "admin")
    f = tmp_path / "x.csv"
    f.write_bytes(to_csv(sample_rows(1)))
    with pytest.raises(CommandError, match="nobody"):
        call_command("import_persons", str(f), "--user", "nobody")
