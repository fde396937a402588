"""The in-migrant import as a job (``migrant_import``): the upload page stores the file in
``$POPREG_HOME/migrant-imports/<id>/`` and starts the job; the job checks every row and,
when every row passes, registers them all in one transaction (inside ``ctx.applying()``:
the rows and the job's success are written together, a killed worker leaves nothing).
The row errors are kept in the folder (``errors.json``) for the page and the error report.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_noop

from popreg.migrants.importing import import_in_migrants
from popreg.registry._import_format import RowError
from popreg.registry.errors import RegistryError
from popreg.registry.jobs import JobContext, JobKind, register
from popreg.registry.policy import Permission

_ID = re.compile(r"^[0-9a-f]{32}$")


def folder_for(import_id: str) -> Path | None:
    if not _ID.match(import_id or ""):
        return None
    return Path(settings.POPREG_HOME) / "migrant-imports" / import_id


def new_folder(data: bytes, file_name: str) -> str:
    import_id = secrets.token_hex(16)
    folder = folder_for(import_id)
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "upload.bin").write_bytes(data)
    (folder / "meta.json").write_text(json.dumps({"file_name": file_name}, ensure_ascii=False), "utf-8")
    return import_id


def read_errors(import_id: str) -> list[RowError]:
    folder = folder_for(import_id)
    if folder is None:
        return []
    try:
        rows = json.loads((folder / "errors.json").read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [RowError(**r) for r in rows]


def run_import(ctx: JobContext) -> None:
    import_id = str(ctx.params["import_id"])
    folder = folder_for(import_id)
    if folder is None:
        raise RegistryError("导入文件不存在", "the uploaded file is gone")
    meta = json.loads((folder / "meta.json").read_text("utf-8"))
    data = (folder / "upload.bin").read_bytes()

    def progress(stage: str, done: int, total: int) -> None:
        ctx.progress(done, total, stage)

    with ctx.applying():
        res = import_in_migrants(ctx.actor, data, str(meta.get("file_name", "")), progress=progress,
                                 hold_likely_duplicates=not ctx.params.get("confirmed"))
        tmp = folder / f".errors.{os.getpid()}.tmp"
        tmp.write_text(json.dumps([e.as_dict() for e in res.errors], ensure_ascii=False), "utf-8")
        os.replace(tmp, folder / "errors.json")
        ctx.set_result(url=reverse("migrants:import") + f"?import={import_id}",
                       data={"rows": res.total_rows, "imported": res.imported, "errors": len(res.errors),
                             "import_id": import_id, "file_name": meta.get("file_name", ""),
                             "likely_duplicates": res.likely, "held": res.held})


STAGES: dict[str, Any] = {
    "parse": gettext_noop("Reading the rows"),
    "writing": gettext_noop("Checking and registering the rows"),
}

register(JobKind(name="migrant_import", label=gettext_noop("Import of in-migrants"),
                 permission=Permission.MANAGE_MIGRANTS, handler=run_import, stages=STAGES))
