#!/usr/bin/env bash
# Create .venv in the repository root, install the pinned requirements and
# prepare the offline ImageNet weights. Safe to run again: each step reuses
# what is already there.
#   bash scripts/setup.sh            app requirements
#   bash scripts/setup.sh --dev      app and test requirements
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
requirements=requirements.txt
if [[ "${1:-}" == "--dev" ]]; then
    requirements=requirements-dev.txt
fi

if [[ ! -x .venv/bin/python ]]; then
    echo "Creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# Skip pip when the requirement files are unchanged since the last install.
stamp=.venv/.installed-$(basename "$requirements" .txt)
digest=$(cat requirements*.txt | sha256sum | cut -d" " -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$digest" ]]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    echo "Installing $requirements (the first time downloads about 300 MB)"
    .venv/bin/python -m pip install --quiet -r "$requirements"
    echo "$digest" > "$stamp"
fi

echo "Preparing offline ImageNet weights"
.venv/bin/python -m tl_core weights fetch
