"""The ``popreg`` console script: Django's management entry point with our settings.

Every subcommand (``popreg migrate``, ``popreg runserver``, ``popreg synth``, ``popreg load``,
...) is a Django management command, so the CLI, the web app and the tests share one
configuration.  ``DATABASE_URL`` selects the database (SQLite by default).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popreg.web.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["popreg", *(sys.argv[1:] if argv is None else argv)])
    except ImproperlyConfigured as exc:
        # A deployment setting is missing or wrong (popreg.web.settings): its message says
        # which and how to fix it; a traceback would only hide it.
        sys.stderr.write(f"popreg: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
