#!/usr/bin/env bash
# Set up the test requirements and run the whole test suite.
# Extra arguments go to pytest (for example -k weights).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh --dev
exec .venv/bin/python -m pytest -q "$@"
