"""`planner check`: is a committed plan current, self-consistent and within policy?

Three independent verdicts, every failure one line:
- stale: the plan's input hashes (scenario, catalog, calibration, override, tool version) differ
  from the ones recomputed now, so the plan no longer answers the scenario;
- violated: the plan's own numbers break one of its constraints (value above limit, capacity
  below demand, a latency above its SLO, a rack above its usable cap);
- policy: each rule's pass / warn / deny.
Exit code: 1 when something is violated, else 4 on a policy deny, else 2 when stale, else 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner import __version__
from planner.errors import EXIT_INPUT, EXIT_OK, EXIT_POLICY_DENY, EXIT_STALE
from planner.gitops.diff import deployment_key
from planner.gitops.fmt import quantity
from planner.gitops.policy import RuleResult
from planner.plan.hashing import INPUT_PARTS
from planner.schemas.plan import Constraint, InputHashes, Plan

REL_TOL = 1e-5
"""Plans are written with 6 significant digits, so figures may differ by up to 5e-6 relative."""
LOWER_BOUND_KINDS = frozenset({"demand"})
"""Constraint kinds that hold when value >= limit (capacity >= demand); all others are value <= limit."""


def within(value: float, limit: float, rel_tol: float = REL_TOL) -> bool:
    """``value <= limit``, allowing for the rounding of plan files."""
    return value <= limit + rel_tol * max(abs(limit), abs(value)) + 1e-12


def stale_reasons(plan: Plan, current: InputHashes, *, override: str | None, scenario_file: str = "",
                  tool_version: str = __version__) -> list[str]:
    """Why the plan no longer matches its inputs (empty when it does)."""
    recorded = plan.input_sha256
    names = {"scenario": f"scenario {scenario_file}".strip()}
    reasons = [f"the {names.get(part, part)} changed since the plan was solved "
               f"(sha256 {getattr(recorded, part)[:12]} -> {getattr(current, part)[:12]})"
               for part in INPUT_PARTS if getattr(recorded, part) != getattr(current, part)]
    if plan.tool_version != tool_version:
        reasons.append(f"the plan was solved by planner {plan.tool_version}, this is {tool_version}")
    if plan.scenario.override != override:
        reasons.append(f"the plan was solved with override {plan.scenario.override!r}, expected {override!r}")
    if not reasons and recorded.combined != current.combined:
        reasons.append("the combined input hash differs (the plan file was edited by hand?)")
    return reasons


def _constraint_violation(c: Constraint) -> str | None:
    if c.kind in LOWER_BOUND_KINDS:
        if within(c.limit, c.value):
            return None
        return f"constraint {c.name}: {c.value:g} {c.unit} is below its requirement {c.limit:g} {c.unit}"
    if within(c.value, c.limit):
        return None
    return f"constraint {c.name}: {c.value:g} {c.unit} exceeds its limit {c.limit:g} {c.unit}"


def _constraint_violations(plan: Plan) -> list[str]:
    return [v for c in plan.constraints if (v := _constraint_violation(c))]


def _deployment_violations(plan: Plan) -> list[str]:
    out = []
    for d in plan.deployments:
        key = deployment_key(d)
        if not within(d.demand_requests_per_s, d.capacity_requests_per_s):
            out.append(f"deployment {key}: capacity {d.capacity_requests_per_s:g} req/s is below "
                       f"demand {d.demand_requests_per_s:g} req/s")
        if d.gpus != d.replicas * d.tp * d.pp:
            out.append(f"deployment {key}: {d.gpus} GPUs but {d.replicas} replicas x tp{d.tp} x pp{d.pp}")
        for label, value_s, slo_s in (("TTFT", d.ttft_p95_s, d.slo_ttft_p95_s),
                                      ("ITL", d.itl_p95_s, d.slo_itl_p95_s)):
            if slo_s is not None and not within(value_s, slo_s):
                out.append(f"deployment {key}: {label} p95 {quantity('latency_s', value_s)} misses its SLO "
                           f"{quantity('latency_s', slo_s)}")
    return out


def _rack_violations(plan: Plan) -> list[str]:
    return [f"rack {r.id}: max power {quantity('power_w', r.power_max_w)} exceeds its usable cap "
            f"{quantity('power_w', r.usable_cap_w)}"
            for r in plan.racks if not within(r.power_max_w, r.usable_cap_w)]


def violations(plan: Plan) -> list[str]:
    """Every way the plan's own numbers break its constraints (empty when none)."""
    status = [f"the plan's status is {plan.status}"] if plan.status == "infeasible" else []
    return status + _constraint_violations(plan) + _deployment_violations(plan) + _rack_violations(plan)


def verified_summary(plan: Plan) -> str:
    """What `violations` re-verified, for the "ok" line."""
    return (f"{len(plan.constraints)} constraints, {len(plan.deployments)} deployments "
            f"(capacity, SLOs, GPU counts) and {len(plan.racks)} racks")


@dataclass(frozen=True)
class CheckReport:
    stale: list[str] = field(default_factory=list)
    violated: list[str] = field(default_factory=list)
    policy: list[RuleResult] = field(default_factory=list)
    verified: str = ""
    """What was re-verified (see verified_summary), printed as an "ok" line when nothing failed."""

    @property
    def denied(self) -> bool:
        return any(r.outcome == "deny" for r in self.policy)

    @property
    def exit_code(self) -> int:
        if self.violated:
            return EXIT_INPUT
        if self.denied:
            return EXIT_POLICY_DENY
        return EXIT_STALE if self.stale else EXIT_OK

    def lines(self) -> list[str]:
        """One line per finding: ``stale ...`` or ``ok``, ``fail ...`` or ``ok``, then each rule."""
        out = [f"stale {reason}" for reason in self.stale]
        out = out or ["ok    inputs unchanged since the plan was solved"]
        out += [f"fail  {reason}" for reason in self.violated]
        if not self.violated and self.verified:
            out.append(f"ok    {self.verified} hold")
        return out + [r.line() for r in self.policy]

    def verdict(self) -> str:
        counts = [(len(self.stale), "stale"), (len(self.violated), "violated"),
                  (sum(r.outcome == "deny" for r in self.policy), "denied"),
                  (sum(r.outcome == "warn" for r in self.policy), "warned")]
        found = ", ".join(f"{n} {label}" for n, label in counts if n)
        return f"check {'failed' if self.exit_code else 'passed'}" + (f": {found}" if found else "")
