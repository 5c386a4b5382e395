#!/usr/bin/env bash
# Re-solve every shipped scenario and rewrite its committed plan (plans/<name>/plan.json, report.md).
# Run after changing a scenario, a catalog, the calibration or the model; tests/test_committed_plans.py
# fails while any committed plan is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in scenarios/*.yaml scenarios/roadmaps/*.yaml; do  # roadmaps (horizon) sit in a subfolder: single-period tests glob scenarios/*.yaml
  name=$(basename "$f" .yaml)
  case $f in scenarios/roadmaps/*) name="roadmaps/$name" ;; esac  # plans/roadmaps/: single-period tests glob plans/*/
  rc=0
  planner solve "$f" --out "plans/$name" > /dev/null || rc=$?
  case $rc in
    0) echo "solved $f" ;;
    3) echo "infeasible (as documented) $f"; rm -rf "plans/$name" ;;
    *) echo "error $rc on $f" >&2; exit $rc ;;
  esac
done
