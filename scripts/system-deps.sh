#!/usr/bin/env bash
# Install the Debian packages popreg needs, when they are missing:
#   - the demo's pages and files (`make demo`, `--demo`): the libraries WeasyPrint draws the
#     PDFs with (Pango, HarfBuzz, fontconfig) and the CJK fonts the PDFs name
#     (Noto Sans CJK SC, Noto Serif CJK SC: fonts-noto-cjk);
#   - the suite (`make test`, no argument) also: Chromium and ChromeDriver for the browser
#     tests, poppler-utils to read PDFs back.
# Runs apt-get as root, or through `sudo -n` when that needs no password; elsewhere it says
# what is missing and how to install it.  With --demo a package still missing is an error
# (exit 1: the demo's PDFs would not print); for the suite it is a warning (the tests that
# need it say so).
set -euo pipefail
MODE="${1:-}"
PATH="$PATH:/usr/sbin:/sbin"
need=()

has_lib() {  # a shared library the dynamic loader finds
  local libs
  libs="$(ldconfig -p 2>/dev/null || true)"
  grep -q -F "$1" <<<"$libs"
}
has_family() {  # a font family fontconfig knows (output read whole: no SIGPIPE under pipefail)
  local families
  families="$(fc-list : family 2>/dev/null || true)"
  grep -q -F "$1" <<<"$families"
}
missing() {
  need=()
  command -v fc-list >/dev/null || need+=(fontconfig)
  has_lib libpango-1.0.so.0 || need+=(libpango-1.0-0)
  has_lib libpangoft2-1.0.so.0 || need+=(libpangoft2-1.0-0)
  has_lib libharfbuzz-subset.so.0 || need+=(libharfbuzz-subset0)
  if ! has_family "Noto Sans CJK SC" || ! has_family "Noto Serif CJK SC"; then
    need+=(fonts-noto-cjk)
  fi
  if [ "$MODE" != "--demo" ]; then
    command -v chromium >/dev/null || need+=(chromium)
    command -v chromedriver >/dev/null || need+=(chromium-driver)
    command -v pdftoppm >/dev/null || need+=(poppler-utils)
  fi
  return 0
}

fail() { if [ "$MODE" = --demo ]; then exit 1; fi; exit 0; }

missing "$MODE"
[ ${#need[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    as_root=(unavailable)
  fi
fi
if [ "${as_root[0]:-}" = unavailable ] || ! command -v apt-get >/dev/null; then
  echo "缺少系统软件包 / missing Debian packages: ${need[*]}" >&2
  echo "  请以 root 身份安装 / install them as root: apt-get install ${need[*]}" >&2
  fail
fi
echo "installing ${need[*]} ..."
if ! "${as_root[@]}" apt-get update -qq >/dev/null \
   || ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; then
  echo "无法安装 / could not install: ${need[*]} (apt-get failed: is the package mirror reachable?)" >&2
  fail
fi
fc-cache -f >/dev/null 2>&1 || true
missing "$MODE"
if [ ${#need[@]} -ne 0 ]; then
  echo "安装后仍缺少 / still missing after installing: ${need[*]}" >&2
  fail
fi
