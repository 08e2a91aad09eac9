#!/usr/bin/env bash
# Set up the test requirements and run the whole test suite.
# Extra arguments go to pytest (for example -k weights).
#
# The browser test needs Debian's chromium. As root with apt-get, this
# script installs it (with CJK fonts for the Chinese pages); elsewhere the
# browser test is skipped unless TL_REQUIRE_BROWSER=1 makes it fail.
set -euo pipefail
cd "$(dirname "$0")"

if [[ ! -x /usr/bin/chromium && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser test"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi

bash scripts/setup.sh --dev
exec .venv/bin/python -m pytest -q "$@"
