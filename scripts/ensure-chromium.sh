#!/bin/sh
# Install Debian's Chromium for the browser tests (tests/test_browser.py); a no-op when present.
# Playwright drives this browser: `playwright install` would download its own, which we avoid.
set -eu
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available;" \
         "install Chromium, or run the tests with -m 'not browser'" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "ensure-chromium: installing chromium with apt-get (about 20 s)" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
test -x "$CHROMIUM"
