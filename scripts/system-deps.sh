#!/usr/bin/env bash
# Install the Debian packages popreg's PDFs (CJK fonts) and browser tests (Chromium) need,
# when they are missing.  With --demo only what the demo's pages and files need (fonts).
# Runs as root on the project's machines; elsewhere it only reports what is missing.
set -euo pipefail
need=()
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-noto-cjk)
if [ "${1:-}" != "--demo" ]; then
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} ..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "missing Debian packages (install them with apt-get): ${need[*]}" >&2
fi
