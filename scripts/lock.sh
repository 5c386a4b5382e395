#!/usr/bin/env bash
# Refresh constraints.txt: the exact versions of every package `pip install -e ".[test]"` brings,
# resolved fresh in a throwaway virtual environment with the newest releases the ranges allow.
# Run it, then the whole suite with the new lock (bash .ci/run), then scripts/update_plans.sh
# (committed plans record the solver version), and commit all three together.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)/venv-lock"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade -e ".[test]"
tmp="$(mktemp constraints.txt.XXXXXX)"
{
  echo "# Exact versions the test suite passed on (Python 3.11, Linux x86_64), for pip's -c option:"
  echo "#   python3 -m pip install -c constraints.txt -e \".[test]\""
  echo "# Regenerate with scripts/lock.sh; pyproject.toml keeps the ranges, .ci/newest tests the newest."
  "$venv/bin/python" -m pip freeze --exclude-editable | LC_ALL=C sort -f
} > "$tmp"
mv "$tmp" constraints.txt
echo "wrote constraints.txt"
