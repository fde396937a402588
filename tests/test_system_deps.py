"""``scripts/system-deps.sh``: what ``make demo`` (``--demo``) and ``make test`` install.

The script runs here against a fake machine: a directory of stand-in commands on PATH
(``apt-get`` records what it is asked to install and then "installs" it by making
``fc-list`` and ``ldconfig`` report the fonts and libraries), so a fresh machine, a
complete one and one without root can be tried without touching the real system.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "system-deps.sh"

FC_LIST = """#!/bin/bash
cat "$STATE/families" 2>/dev/null
"""
LDCONFIG = """#!/bin/bash
cat "$STATE/libs" 2>/dev/null
"""
APT_GET = """#!/bin/bash
echo "$*" >> "$STATE/apt.log"
if [ "$1" = install ]; then
  for p in "$@"; do
    case "$p" in
      fontconfig) cp "$STATE/fc-list.stub" "$STATE/bin/fc-list"; chmod +x "$STATE/bin/fc-list";;
      fonts-noto-cjk) printf 'Noto Sans CJK SC,Noto Sans CJK JP\\nNoto Serif CJK SC\\n' >> "$STATE/families";;
      libpango-1.0-0) echo 'libpango-1.0.so.0 (libc6,x86-64) => /lib/libpango-1.0.so.0' >> "$STATE/libs";;
      libpangoft2-1.0-0) echo 'libpangoft2-1.0.so.0 (libc6,x86-64) => /lib/libpangoft2-1.0.so.0' >> "$STATE/libs";;
      libharfbuzz-subset0) echo 'libharfbuzz-subset.so.0 (libc6,x86-64) => /lib/libharfbuzz-subset.so.0' >> "$STATE/libs";;
    esac
  done
fi
"""
DEMO_PACKAGES = {"fontconfig", "fonts-noto-cjk", "libpango-1.0-0", "libpangoft2-1.0-0",
                 "libharfbuzz-subset0"}


def _machine(tmp_path: Path, *, uid: int = 0, complete: bool = False) -> dict[str, str]:
    state = tmp_path / "machine"
    bin_dir = state / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("grep", "env", "cat", "cp", "chmod", "printf", "true"):
        real = shutil.which(tool)
        assert real, tool
        (bin_dir / tool).symlink_to(real)
    stubs = {"ldconfig": LDCONFIG, "apt-get": APT_GET, "id": f"#!/bin/bash\necho {uid}\n"}
    for name, text in stubs.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (state / "fc-list.stub").write_text(FC_LIST)
    if complete:
        shutil.copy(state / "fc-list.stub", bin_dir / "fc-list")
        (bin_dir / "fc-list").chmod(0o755)
        (state / "families").write_text("Noto Sans CJK SC\nNoto Serif CJK SC\n")
        (state / "libs").write_text(
            "libpango-1.0.so.0 => x\nlibpangoft2-1.0.so.0 => x\nlibharfbuzz-subset.so.0 => x\n"
        )
        for tool in ("chromium", "chromedriver", "pdftoppm"):
            (bin_dir / tool).write_text("#!/bin/bash\n")
            (bin_dir / tool).chmod(0o755)
    return {"PATH": str(bin_dir), "STATE": str(state), "HOME": str(tmp_path)}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    return subprocess.run([bash, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def _installed(env: dict[str, str]) -> set[str]:
    log = Path(env["STATE"]) / "apt.log"
    if not log.is_file():
        return set()
    out: set[str] = set()
    for line in log.read_text().splitlines():
        words = line.split()
        if words and words[0] == "install":
            out.update(w for w in words[1:] if not w.startswith("-"))
    return out


def test_demo_installs_fonts_and_pdf_libraries_on_a_fresh_machine(tmp_path):
    env = _machine(tmp_path)
    done = _run(env, "--demo")
    assert done.returncode == 0, done.stderr
    assert _installed(env) == DEMO_PACKAGES  # no browser for the demo
    log = (Path(env["STATE"]) / "apt.log").read_text().splitlines()
    assert log[0].startswith("update")
    # a second run finds everything and asks apt-get for nothing
    (Path(env["STATE"]) / "apt.log").unlink()
    again = _run(env, "--demo")
    assert again.returncode == 0, again.stderr
    assert _installed(env) == set()


def test_the_suite_also_installs_the_browser_and_poppler(tmp_path):
    env = _machine(tmp_path)
    _run(env)
    assert _installed(env) == DEMO_PACKAGES | {"chromium", "chromium-driver", "poppler-utils"}


def test_a_complete_machine_installs_nothing(tmp_path):
    env = _machine(tmp_path, complete=True)
    for args in (("--demo",), ()):
        done = _run(env, *args)
        assert done.returncode == 0, done.stderr
    assert not (Path(env["STATE"]) / "apt.log").exists()


def test_only_the_serif_font_missing_is_noticed(tmp_path):
    """Certificates print in Noto Serif CJK SC: another Chinese font is not enough."""
    env = _machine(tmp_path, complete=True)
    (Path(env["STATE"]) / "families").write_text("Noto Sans CJK SC\nWenQuanYi Zen Hei\n")
    assert _run(env, "--demo").returncode == 0
    assert _installed(env) == {"fonts-noto-cjk"}


def test_without_root_the_demo_stops_and_names_the_packages(tmp_path):
    env = _machine(tmp_path, uid=1000)
    done = _run(env, "--demo")
    assert done.returncode == 1
    assert "fonts-noto-cjk" in done.stderr and "apt-get install" in done.stderr
    assert _installed(env) == set()
    # the suite only warns: the tests that need a package say so themselves
    assert _run(env).returncode == 0


def test_make_demo_runs_the_demo_step_before_anything_else():
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.M)
    assert recipe is not None
    first = recipe.group(1).splitlines()[0].strip()
    assert first == "@bash scripts/system-deps.sh --demo"
    assert os.access(SCRIPT, os.R_OK)
