"""`planner check`: is a committed plan current, self-consistent, within the current scenario's
limits and within policy?

Independent verdicts, every failure one line:
- stale: the plan's input hashes (scenario, catalog, calibration, override, tool version) differ
  from the ones recomputed now, so the plan no longer answers the scenario;
- violated: the plan's own numbers break one of its constraints (value above limit, capacity
  below demand, a latency above its SLO, a rack above its usable cap), its counts do not add up
  (totals, GPUs per deployment and per server type, negative counts), or it breaks a limit of the
  scenario as it is now (traffic, capacity with headroom and N+k spares, p95 SLOs, rack and site
  power, racks, inventory, budget): a stale plan is also checked against the edited scenario;
- policy: each rule's pass / warn / deny.
Exit code: 1 when something is violated, else 4 on a policy deny, else 2 when stale, else 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from planner import __version__
from planner.catalog.loader import Catalog
from planner.errors import EXIT_INPUT, EXIT_OK, EXIT_POLICY_DENY, EXIT_STALE
from planner.gitops.diff import deployment_key, parallelism
from planner.gitops.fmt import quantity
from planner.gitops.limits import (
    capacity_shortfall,
    rack_limit_violations,
    racks_count,
    routed,
    site_limit_violations,
    workload_presence,
)
from planner.gitops.policy import RuleResult
from planner.gitops.slo import CLAIM_REL_TOL, REL_TOL, close, slo_checks, within
from planner.plan.hashing import INPUT_PARTS
from planner.problem.build import money, site_limits, workload_demand
from planner.problem.model import WorkloadDemand
from planner.scenario.load import LoadedScenario
from planner.schemas.plan import Constraint, Deployment, InputHashes, Plan
from planner.schemas.scenario import Scenario

__all__ = ["REL_TOL", "CheckReport", "scenario_violations", "stale_reasons", "unchecked_slos",
           "verified_summary", "violations", "within"]

LOWER_BOUND_KINDS = frozenset({"demand"})
"""Constraint kinds that hold when value >= limit (capacity >= demand); all others are value <= limit."""
UNCHECKED_SLO_KEYS = ("ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms")
"""Scenario SLOs a plan cannot be checked against: it records p95 latencies only."""


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


def deployment_count_violations(deployments: Iterable[Deployment]) -> list[str]:
    """A deployment's own sums: capacity at least its demand, and GPUs = replicas x tp x pp x dp (a roadmap
    period's deployments are held to the same)."""
    out = []
    for d in deployments:
        key = deployment_key(d)
        if not within(d.demand_requests_per_s, d.capacity_requests_per_s):
            out.append(f"deployment {key}: capacity {d.capacity_requests_per_s:g} req/s is below "
                       f"demand {d.demand_requests_per_s:g} req/s")
        dp = parallelism(d)[1]  # a replica is tp x pp x dp GPUs (plan schema; absent: 1)
        if d.gpus != d.replicas * d.tp * d.pp * dp:
            out.append(f"deployment {key}: {d.gpus} GPUs but {d.replicas} replicas x tp{d.tp} x pp{d.pp}"
                       + (f" x dp{dp}" if dp != 1 else ""))
    return out


def _deployment_violations(plan: Plan) -> list[str]:
    return deployment_count_violations(plan.deployments) + [c.miss() for c in slo_checks(plan) if not c.met]


def _rack_violations(plan: Plan) -> list[str]:
    return [f"rack {r.id}: max power {quantity('power_w', r.power_max_w)} exceeds its usable cap "
            f"{quantity('power_w', r.usable_cap_w)}"
            for r in plan.racks if not within(r.power_max_w, r.usable_cap_w)]


def _negative_counts(plan: Plan) -> list[str]:
    counts: list[tuple[str, int]] = [(f"totals.{f}", getattr(plan.totals, f)) for f in ("gpus", "servers", "racks")]
    for d in plan.deployments:
        counts += [(f"deployment {deployment_key(d)} {f}", getattr(d, f))
                   for f in ("replicas", "gpus", "tp", "pp", "batch_size")]
        counts += [(f"deployment {deployment_key(d)} {f}", n) for f in ("ep", "dp") if (n := getattr(d, f)) is not None]
    for g in plan.servers:
        counts += [(f"server group {g.gpu} {f}", getattr(g, f)) for f in ("servers", "gpus", "gpus_per_server")]
    counts += [(f"rack {r.id} servers", r.servers) for r in plan.racks]
    return [f"negative count: {where} = {n}" for where, n in counts if n < 0]


def gpus_bought(plan: Plan) -> Counter[str]:
    """GPUs bought per GPU type: servers x GPUs per server (what inventory limits count)."""
    bought = Counter[str]()
    for g in plan.servers:
        bought[g.gpu] += g.servers * g.gpus_per_server
    return bought


def _count_violations(plan: Plan) -> list[str]:
    """The plan's counts add up: totals against their parts, GPUs in use against servers bought."""
    t = plan.totals
    parts = [("gpus", "GPUs", sum(g.gpus for g in plan.servers), "in its server groups (servers[].gpus)"),
             ("servers", "servers", sum(g.servers for g in plan.servers), "in its server groups (servers[].servers)"),
             ("racks", "racks", len(plan.racks), "listed (racks[])")]
    out = [f"totals.{name}: {getattr(t, name)} {what}, but the plan has {n} {where}"
           for name, what, n, where in parts if getattr(t, name) != n]
    used = Counter[str]()
    for d in plan.deployments:
        used[d.gpu] += d.gpus
    bought = gpus_bought(plan)
    out += [f"GPUs of {gpu}: deployments use {n}, but the plan buys {bought[gpu]} "
            f"(servers x gpus_per_server)" for gpu, n in sorted(used.items()) if n > bought[gpu]]
    return _negative_counts(plan) + out


def violations(plan: Plan) -> list[str]:
    """Every way the plan's own numbers break its constraints or do not add up (empty when none)."""
    status = [f"the plan's status is {plan.status}"] if plan.status == "infeasible" else []
    return (status + _constraint_violations(plan) + _deployment_violations(plan) + _rack_violations(plan)
            + _count_violations(plan))


# -- against the current scenario ----------------------------------------------------------------

def _demands(scenario: Scenario) -> list[WorkloadDemand]:
    """The enabled workloads in the problem's units (the legacy call resolves no model name)."""
    return [workload_demand(w, w.model) for w in scenario.workloads if w.enabled]


def _workload_violations(plan: Plan, scenario: Scenario) -> list[str]:
    """Traffic routed and capacity kept (with headroom and N+k spares) per enabled workload."""
    out = workload_presence(plan, (w.name for w in scenario.workloads if w.enabled),
                             (w.name for w in scenario.workloads))
    for w in _demands(scenario):
        out += routed(plan, w) + capacity_shortfall(plan, w, [d.capacity_requests_per_s for d in plan.deployments])
    return out


def _slo_violations(plan: Plan, scenario: Scenario) -> list[str]:
    """p95 latencies against the scenario's SLOs. A miss of an SLO the plan records unchanged is
    left to `violations` (its own SLO check), so one miss is one line."""
    slos = {w.name: (w.slo.ttft_p95_s, w.slo.itl_p95_s) for w in _demands(scenario)}
    recorded = {(c.deployment, c.latency): c.slo_s for c in slo_checks(plan)}
    return [c.miss(f"the scenario's slo.{c.latency.lower()}_p95_ms") for c in slo_checks(plan, slos)
            if not c.met and not close(recorded.get((c.deployment, c.latency), -1.0), c.slo_s)]


def _site_violations(plan: Plan, scenario: Scenario, gpu_id: Callable[[str], str]) -> list[str]:
    """The site's limits against the plan's written figures (legacy call of scenario_violations)."""
    bought = gpus_bought(plan)
    inventory = [(name, bought[gpu_id(name)], limit) for name, limit in scenario.hardware.inventory.items()]
    site = site_limits(scenario.site)
    return (rack_limit_violations(plan, site) + racks_count(plan, site)
            + site_limit_violations(site, money(scenario.finance), plan.totals.it_power_nameplate_w,
                                    plan.totals.capex_usd, inventory))


def scenario_violations(plan: Plan, scenario: LoadedScenario | Scenario,
                        catalog: Catalog | Callable[[str], str] = str, *,
                        calibration: str | Path | None = None) -> list[str]:
    """Every claim of the plan that the scenario (as it is now, not as the plan recorded it), the
    catalog and the estimation core do not support, and every limit of the scenario it breaks.

    With a LoadedScenario and a Catalog (what `planner check` passes), every deployment is
    re-derived (see planner.gitops.rederive): its configuration against what the scenario allows,
    then capacity, latencies and power recomputed with the calibration the plan was solved with
    (``calibration``: the --calibration it was solved with, else the scenario's), and the scenario's
    limits checked with the recomputed figures. When the plan is stale its written figures are not
    compared with recomputed ones (they answer the old inputs; the stale verdict asks for a re-solve).
    Complements `violations`, which reports a miss of an unchanged SLO.

    The older call ``(plan, Scenario, gpu_id)`` checks the written figures against the scenario's
    limits only (``gpu_id`` maps a ``hardware.inventory`` name to the catalog id).
    """
    if isinstance(scenario, LoadedScenario) and isinstance(catalog, Catalog):
        # imported here, not at the top: `planner diff` loads planner.gitops without the estimation core
        from planner.gitops.rederive import check_context, problem_violations

        ctx = check_context(scenario, catalog, calibration)
        return problem_violations(plan, ctx, stale=bool(stale_reasons(plan, ctx.problem.hashes,
                                                                      override=scenario.override)))
    now = scenario.scenario if isinstance(scenario, LoadedScenario) else scenario
    gpu_id = catalog if callable(catalog) else str
    return _workload_violations(plan, now) + _slo_violations(plan, now) + _site_violations(plan, now, gpu_id)


def unchecked_slos(scenario: LoadedScenario | Scenario) -> str | None:
    """One note naming the scenario's p50/p99 SLOs, which a plan's written figures cannot be checked
    against (it records p95 latencies only). None with a LoadedScenario: `scenario_violations` then
    re-derives every deployment, and candidate generation's code checks every quantile."""
    if isinstance(scenario, LoadedScenario):
        return None
    named = []
    for w in scenario.workloads:
        keys = [k for k in UNCHECKED_SLO_KEYS if w.enabled and getattr(w.slo, k) is not None]
        if keys:
            named.append(f"{w.name} ({', '.join(keys)})")
    if not named:
        return None
    return f"p50/p99 SLOs are not checked, the plan records p95 latencies only: {'; '.join(named)}"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _scenario_summary(scenario: Scenario) -> str:
    site, enabled = scenario.site, [w for w in scenario.workloads if w.enabled]
    parts = [f"traffic and capacity of {_n(len(enabled), 'workload')}"]
    parts += ["p95 SLOs"] if any(w.slo.ttft_p95_ms or w.slo.itl_p95_ms for w in enabled) else []
    parts += ["rack power"] + (["air cooling"] if site.cooling == "air" else [])
    parts += ["site power"] if site.power_cap_kw is not None else []
    parts += ["racks"] if site.racks is not None else []
    parts += ["inventory"] if scenario.hardware.inventory else []
    parts += ["budget"] if scenario.finance.budget_usd is not None else []
    return "the scenario's limits hold: " + ", ".join(parts)


def verified_summary(plan: Plan, scenario: LoadedScenario | Scenario | None = None) -> list[str]:
    """What was re-verified, one "ok" line each: the plan's own figures, then (with a LoadedScenario,
    as `scenario_violations` re-derives them) its claims, then the scenario's limits."""
    own = (f"{_n(len(plan.constraints), 'constraint')}, {_n(len(plan.deployments), 'deployment')} "
           f"(capacity, SLOs, GPU counts), {_n(len(plan.racks), 'rack')} and the totals hold")
    if scenario is None:
        return [own]
    if not isinstance(scenario, LoadedScenario):
        return [own, _scenario_summary(scenario)]
    rederived = (f"re-derived from the scenario, the catalog and the estimation core: each deployment's model, "
                 f"engine, GPU, precision, TP/PP (EP/DP where recorded) and batch (fits memory), its capacity, "
                 f"TTFT and ITL (every SLO quantile), power, power limit, speculative decoding, sizing margin, launch "
                 f"command and energy by phase and cause, the servers, racks, totals, constraints, runner-up "
                 f"alternatives and constants (within {CLAIM_REL_TOL * 100:g} %); not re-derived: what-if values, "
                 f"the other objectives' plans and a sizing_confidence plan's point-estimate plan (they need "
                 f"re-solves)")
    return [own, rederived, _scenario_summary(scenario.scenario)]


@dataclass(frozen=True)
class CheckReport:
    stale: list[str] = field(default_factory=list)
    violated: list[str] = field(default_factory=list)
    policy: list[RuleResult] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    """What was re-verified (see verified_summary), printed as "ok" lines when nothing failed."""
    notes: list[str] = field(default_factory=list)
    """What could not be checked: printed, never a failure."""

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
        """One line per finding: ``stale ...`` or ``ok``, ``fail ...`` or ``ok``, notes, then each rule."""
        out = [f"stale {reason}" for reason in self.stale]
        out = out or ["ok    inputs unchanged since the plan was solved"]
        out += [f"fail  {reason}" for reason in self.violated]
        if not self.violated:
            out += [f"ok    {line}" for line in self.verified]
        out += [f"note  {note}" for note in self.notes]
        return out + [r.line() for r in self.policy]

    def verdict(self) -> str:
        counts = [(len(self.stale), "stale"), (len(self.violated), "violated"),
                  (sum(r.outcome == "deny" for r in self.policy), "denied"),
                  (sum(r.outcome == "warn" for r in self.policy), "warned")]
        found = ", ".join(f"{n} {label}" for n, label in counts if n)
        return f"check {'failed' if self.exit_code else 'passed'}" + (f": {found}" if found else "")
