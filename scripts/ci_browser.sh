#!/usr/bin/env bash
# Installs what tests/plugins/test_ui_browser.py drives: Debian's headless chromium and its
# chromedriver. Idempotent: does nothing when both are already there (like scripts/ci_services.sh).
# Without them the browser test skips with a reason; everything else of the UI is tested in-process.
set -euo pipefail

have_browser() { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; }

if have_browser; then
    echo "ci_browser: chromium and chromedriver are installed ($(chromium --version 2>/dev/null | head -1))"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "ci_browser: need root (or sudo) to install chromium" >&2; exit 1; }
    sudo=(sudo)
fi
echo "ci_browser: installing chromium chromium-driver"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
have_browser || { echo "ci_browser: chromium or chromedriver did not install" >&2; exit 1; }
echo "ci_browser: installed $(chromium --version 2>/dev/null | head -1)"
