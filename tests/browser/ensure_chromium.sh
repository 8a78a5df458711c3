#!/bin/sh
# Installs what the browser test (tests/test_explorer_browser.py) drives: Debian's
# chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver), from apt,
# only when one is missing and only as root. Elsewhere it says what to install and
# exits 0: the test then skips, or fails when the environment variable CI is set.
# `make test` and `make test-fast` run it first (about a minute on a fresh machine).
set -eu

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: /usr/bin/chromium or /usr/bin/chromedriver is missing and this" \
         "is not root with apt-get: the browser test will skip (fail under CI)." \
         "Install them with: sudo apt-get install chromium chromium-driver" >&2
    exit 0
fi
echo "ensure_chromium: installing chromium and chromium-driver with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver >/dev/null; }; then
    echo "ensure_chromium: apt-get could not install chromium chromium-driver: the" \
         "browser test will skip (fail under CI); the other tests run." >&2
    exit 0
fi
/usr/bin/chromedriver --version >&2
