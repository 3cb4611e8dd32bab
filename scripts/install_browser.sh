#!/bin/sh
# Install the headless browser the browser tests drive (tests/test_browser.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Uses Debian's
# Chromium through apt (Playwright's own browser download needs a network we may not have).
#   sudo scripts/install_browser.sh     # or as root in CI
set -eu
# fonts-wqy-zenhei: a CJK font, so the plots' Chinese labels render (minilab.plots falls back to boxes without it)
if [ -x /usr/bin/chromium ] && fc-list :lang=zh 2>/dev/null | grep -q .; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser.sh: apt-get not found; install Chromium with your package manager" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core fonts-wqy-zenhei
/usr/bin/chromium --version
