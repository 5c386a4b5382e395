"""Time rendering the Markdown and HTML reports of the largest fixture plan (target: < 1 s).

    python3 bench/bench_report.py [PLAN.json] [--repeat N]

Prints the one-off import cost (pydantic, Jinja2, matplotlib), the first render (matplotlib's
font cache warm-up included) and the median of N further renders of both formats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "report"
sys.path.insert(0, str(ROOT))  # this checkout's planner, even when another one is pip-installed


def largest_fixture() -> Path:
    return max(sorted(FIXTURES.glob("*.plan.json")), key=lambda p: p.stat().st_size)


def render_both(plan: object) -> tuple[float, float]:
    from planner.report import render_report

    start = time.perf_counter()
    render_report(plan, "md")  # type: ignore[arg-type]
    middle = time.perf_counter()
    render_report(plan, "html")  # type: ignore[arg-type]
    return middle - start, time.perf_counter() - middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", nargs="?", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    path = args.plan or largest_fixture()

    start = time.perf_counter()
    import matplotlib.figure  # noqa: F401  (the HTML charts import it lazily)

    from planner.plan import load_plan
    from planner.report import render_report  # noqa: F401
    imports_s = time.perf_counter() - start
    plan = load_plan(path)

    first_md_s, first_html_s = render_both(plan)
    runs = [render_both(plan) for _ in range(args.repeat)]
    md_s = statistics.median(r[0] for r in runs)
    html_s = statistics.median(r[1] for r in runs)
    print(f"plan: {path.name} ({len(plan.deployments)} deployments, {len(plan.racks)} racks)")
    print(f"imports (one-off): {imports_s:.3f} s")
    print(f"first render: md {first_md_s:.3f} s, html {first_html_s:.3f} s")
    print(f"median of {args.repeat}: md {md_s:.3f} s + html {html_s:.3f} s = {md_s + html_s:.3f} s "
          f"(target < 1 s: {'ok' if md_s + html_s < 1.0 else 'SLOW'})")


if __name__ == "__main__":
    main()
