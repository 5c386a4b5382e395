"""Golden LP files: each constraint family of the integer program, on one tiny hand-made problem
where every family is active, written by PuLP's ``writeLP`` and compared with a committed file in
tests/unit/golden_lp/ (one per family, one per objective, one with every limit elastic).

The comparison is on a normalized text: statements joined onto one line, terms ordered by variable
name, numbers printed with 12 significant digits, sections sorted, PuLP's comment lines dropped, so
a PuLP release that wraps or orders lines differently does not fail it; a changed coefficient, bound,
sense or constraint name does. Regenerate after an intended change with
``PLANNER_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_program_golden_lp.py`` and review the diff.

The tiny problem (every figure by hand): two GPU types, g1 (4 per 2 kW server, $10k + $20k server,
inventory 16) and g2 (8 per 6 kW server, $10k + $20k); workload chat (10 rps peak, 25 % headroom,
N+1) on a 1-GPU g1 point of 4 rps or a 2-GPU g2 point of 9 rps; workload batch (3 rps, no spares)
on a 1-GPU g1 point of 2 rps. Site: 20 kW, 3 racks of 10 kW derated to 8 kW (4 g1 servers or 1 g2
server each), budget $500k, PUE 1.5 at $0.1/kWh and 400 g/kWh, colocation $1.2 per W-year, 4 years.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from planner.optimize.program import ALL_FAMILIES, OBJECTIVE_EXPR, build_program

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parent / "golden_lp"
UPDATE = os.environ.get("PLANNER_UPDATE_GOLDEN") == "1"

# constraint family -> the constraint names it writes (regular expressions, matched in full)
FAMILIES: dict[str, tuple[str, ...]] = {
    "capacity": (r"capacity_.+", r"route_.+", r"one_pool_.+", r"load_\d+", r"used_\d+", r"spares_\d+"),
    "servers": (r"servers_.+",),
    "racks": (r"rack_power_.+", r"no_empty_racks_.+", r"racks_total"),
    "site_power": (r"site_power",),
    "inventory": (r"inventory_.+",),
    "budget": (r"budget",),
}


def tiny_problem(tiny, objective: str = "min_tco", **site):
    gpus = [tiny.gpu("g1", inventory_gpus=16), tiny.gpu("g2", gpus_per_server=8, server_max_power_w=6000.0)]
    workloads = [tiny.workload("chat", peak_requests_per_s=10.0, headroom=0.25, redundancy=1),
                 tiny.workload("batch", peak_requests_per_s=3.0)]
    p = tiny.problem(workloads, gpus, objective=objective, power_cap_w=20_000.0, racks=3, budget_usd=500_000.0,
                     colocation_usd_per_w_year=1.2, **site)
    cand = tiny.candidates([tiny.Point("chat", "g1", 1, 4.0, 300.0, 20.0),
                            tiny.Point("chat", "g2", 2, 9.0, 700.0, 30.0),
                            tiny.Point("batch", "g1", 1, 2.0, 300.0, 10.0)])
    return p, cand


# --- normalized LP --------------------------------------------------------------------------

SECTIONS = ("Minimize", "Maximize", "Subject To", "Bounds", "Generals", "Binaries", "End")
VAR = r"(?<= )[A-Za-z_][\w\-.]*"  # a variable of a canonical expression (after '+ coef ')
TERM = re.compile(r"([+-]?)\s*(\d[\d.e+-]*)?\s*([A-Za-z_][\w\-.]*)")


def _number(text: str) -> str:
    return f"{float(text):.12g}"


def _expression(text: str) -> str:
    """Terms ordered by variable name, each as '+ coef var' with a canonical coefficient."""
    terms = []
    for sign, coef, var in TERM.findall(text):
        value = float(coef) if coef else 1.0
        terms.append((var, -value if sign == "-" else value))
    return " ".join(f"{'-' if v < 0 else '+'} {_number(str(abs(v)))} {name}" for name, v in sorted(terms))


def _statement(line: str) -> tuple[str, str]:
    """'name: expression sense rhs' -> (name, canonical text)."""
    name, _, body = line.partition(":")
    m = re.match(r"(.*?)\s*(<=|>=|=)\s*(\S+)\s*$", body)
    if not m:  # the objective
        return name.strip(), f"{name.strip()}: {_expression(body)}"
    lhs, sense, rhs = m.groups()
    return name.strip(), f"{name.strip()}: {_expression(lhs)} {sense} {_number(rhs)}"


def parse_lp(text: str) -> dict[str, list[str]]:
    """Sections of an LP file, continuation lines joined, comments dropped."""
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        if raw.startswith("\\*") or not raw.strip():
            continue
        if raw.strip() in SECTIONS:
            current = raw.strip()
            sections.setdefault(current, [])
        elif raw[0].isspace() and current in ("Minimize", "Subject To") and sections[current]:
            sections[current][-1] += " " + raw.strip()
        else:
            sections.setdefault(str(current), []).append(raw.strip())
    return sections


def excerpt(text: str, patterns: tuple[str, ...], *, objective: bool = False) -> str:
    """The normalized LP of the constraints whose names match ``patterns`` (and the objective when
    asked), with the bounds and integrality of the variables they use."""
    s = parse_lp(text)
    lines, used = [], set()
    if objective:
        _, obj = _statement(s["Minimize"][0])
        lines += ["Minimize", obj]
        used |= set(re.findall(VAR, obj.partition(":")[2]))
    chosen = sorted(_statement(c) for c in s.get("Subject To", []))
    chosen = [(n, c) for n, c in chosen if any(re.fullmatch(p, n) for p in patterns)]
    if chosen:
        lines.append("Subject To")
        for _, c in chosen:
            lines.append(c)
            used |= set(re.findall(VAR, c.partition(":")[2]))
    bounds = sorted(b for b in s.get("Bounds", []) if set(re.findall(r"[A-Za-z_][\w\-.]*", b)) & used)
    for section, entries in (("Bounds", bounds), ("Generals", sorted(set(s.get("Generals", [])) & used)),
                             ("Binaries", sorted(set(s.get("Binaries", [])) & used))):
        if entries:
            lines += [section, *entries]
    return "\n".join([*lines, "End"]) + "\n"


def written_lp(m, tmp_path: Path) -> str:
    path = tmp_path / "program.lp"
    m.prob.writeLP(str(path))
    return path.read_text(encoding="utf-8")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.lp"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} is missing: run with PLANNER_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8"), (
        f"the program's {name} constraints changed; if intended, regenerate with PLANNER_UPDATE_GOLDEN=1 "
        f"and review the diff of {path.relative_to(GOLDEN.parents[2])}")


# --- tests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_constraint_family_matches_its_golden_lp(family, tiny, tmp_path):
    p, cand = tiny_problem(tiny)
    check_golden(family, excerpt(written_lp(build_program(p, cand), tmp_path), FAMILIES[family]))


def test_air_cooled_racks_match_their_golden_lp(tiny, tmp_path):
    """Air cooling at 6.5 kW under the 8 kW derated breaker: 3 g1 servers per rack (not 4), 1 g2."""
    p, cand = tiny_problem(tiny, cooling="air", air_cooling_limit_w=6_500.0)
    check_golden("racks_air_cooled", excerpt(written_lp(build_program(p, cand), tmp_path), FAMILIES["racks"]))


@pytest.mark.parametrize("objective", sorted(OBJECTIVE_EXPR))
def test_objective_matches_its_golden_lp(objective, tiny, tmp_path):
    p, cand = tiny_problem(tiny, objective)
    check_golden(f"objective_{objective}", excerpt(written_lp(build_program(p, cand), tmp_path), (), objective=True))


def test_elastic_limits_match_their_golden_lp(tiny, tmp_path):
    """Every limit family elastic: each cap gains a slack in its family's unit (kW, racks, GPUs, k$),
    capacity a shortfall that also drops routed traffic, and the objective their penalties."""
    p, cand = tiny_problem(tiny)
    text = written_lp(build_program(p, cand, elastic=ALL_FAMILIES), tmp_path)
    patterns = (r"capacity_.+", r"route_.+", r"site_power", r"racks_total", r"inventory_.+", r"budget")
    check_golden("elastic", excerpt(text, patterns, objective=True))


def test_every_constraint_belongs_to_one_golden_family(tiny, tmp_path):
    """A new constraint family needs its own golden file (add it to FAMILIES)."""
    p, cand = tiny_problem(tiny)
    names = [_statement(c)[0] for c in parse_lp(written_lp(build_program(p, cand), tmp_path))["Subject To"]]
    for name in names:
        owners = [f for f, patterns in FAMILIES.items() if any(re.fullmatch(pt, name) for pt in patterns)]
        assert len(owners) == 1, (name, owners)


def test_normalization_ignores_wrapping_order_and_number_spelling():
    a = "\\* x *\\\nMinimize\nOBJ: 2 b + 1.50 a\nSubject To\nc1: a + 2 b\n - 3 c >= 4\nEnd\n"
    b = "Minimize\nOBJ: 1.5 a + 2 b\nSubject To\nc1: - 3 c + a + 2.0 b >= 4.0\nEnd\n"
    assert excerpt(a, (r"c1",), objective=True) == excerpt(b, (r"c1",), objective=True)
    assert excerpt(a, (r"c1",)) != excerpt(a.replace(">= 4", ">= 5"), (r"c1",))
