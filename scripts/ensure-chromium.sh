#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives it; Playwright's
# own browser download does not work on every machine). Does nothing when it is already there.
# Needs apt-get and root (or passwordless sudo); otherwise says so loudly and leaves it to the
# tests, which then skip the browser tests with the same message.
set -euo pipefail
CHROMIUM="${INTAKE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "!!! ensure-chromium: $CHROMIUM is missing and apt-get is not available: browser tests will be SKIPPED" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "!!! ensure-chromium: not root and no passwordless sudo: install chromium yourself (apt-get install chromium); browser tests will be SKIPPED" >&2
    exit 0
  fi
fi
echo "ensure-chromium: installing Debian's chromium for the browser tests" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
"$CHROMIUM" --version >&2
