"""A deployment's serving decisions as the report shows them: its speculative decoding and power limit
(a small table; the heading names a disaggregated pool's role) and how to run it (the plan's launch spec
as a shell block, one flag per line).

The block is plain text; the templates escape it (HTML autoescape, a Markdown fence longer than any run of
backticks in it), so a hand-edited plan cannot inject markup. `planner export` writes the complete script.
"""

from __future__ import annotations

import shlex

from planner.report import format as f
from planner.report.tables import Cell, Table, key_value_table
from planner.schemas.plan import Deployment, Launch
from planner.schemas.speculative import Speculative

CONTINUATION = " \\\n    "
"""Where a long command goes on (a shell reads the lines as one command)."""
LINE_CHARS = 72
"""A command line is continued before a flag that would make it longer (a printed page holds about 90)."""
PLACEHOLDERS = {"$(LWS_LEADER_ADDRESS)": "the first server's address",
                "$(LWS_WORKER_INDEX)": "the server's rank (1, 2, ...)"}
"""Words of a multi-server command filled in per server (LeaderWorkerSet sets them; planner export's script asks)."""


def speculative_text(spec: Speculative) -> str:
    """``eagle, 3 draft tokens per step, acceptance 0.75`` (and the draft model for method draft)."""
    k = spec.tokens_or_default
    text = f"{spec.method}, {k} draft token{'s' if k != 1 else ''} per step, acceptance {spec.acceptance_or_default:g}"
    return text + (f", draft model {spec.draft_model}" if spec.draft_model else "")


FACTOR = f.Unit(1.0, 3, "")
"""A sizing factor (1 + an expected error), as the plan records it to 4 decimals."""


def sizing_rows(d: Deployment, src: str) -> list[tuple[str, Cell]]:
    """How its workload's sizing_confidence sized the deployment (docs/confidence.md): the quantile, the factors
    the latencies were multiplied and the capacity divided by, and the expected-error groups they come from."""
    m = d.sizing_margin
    if m is None:
        return []
    return [("Sized at confidence (the SLOs hold at this quantile of the estimate's error)",
             f.fig(m.confidence, f.PERCENT, f"{src}.sizing_margin.confidence")),
            ("TTFT estimate multiplied by", f.fig(m.ttft_factor, FACTOR, f"{src}.sizing_margin.ttft_factor")),
            ("ITL estimate multiplied by", f.fig(m.itl_factor, FACTOR, f"{src}.sizing_margin.itl_factor")),
            ("Capacity divided by (throughput error)",
             f.fig(m.throughput_factor, FACTOR, f"{src}.sizing_margin.throughput_factor")),
            ("Expected-error groups of the factors", Cell(m.group, f"{src}.sizing_margin.group"))]


def serving_table(d: Deployment, i: int, limited: bool) -> Table:
    """Rows for what the deployment decides beyond its configuration: its speculative decoding when on, its
    GPU power limit when below TDP (``limited``), the sizing margin when its workload sets sizing_confidence;
    no rows when none (the heading names a disaggregated pool's role and the limit too)."""
    src = f"deployments[{i}]"
    rows = []
    if d.speculative is not None:
        rows.append(("Speculative decoding", Cell(speculative_text(d.speculative), f"{src}.speculative")))
    if limited and d.power_limit_w is not None:
        rows.append(("GPU power limit", f.fig(d.power_limit_w, f.W, f"{src}.power_limit_w")))
    rows += sizing_rows(d, src)
    return key_value_table(rows, header=("Decision", "Value"), empty_text="")


def _shell(argv: list[str], env: dict[str, str] | None = None) -> str:
    """A command as shell text, continued on a new line before a ``--flag`` that would pass LINE_CHARS."""
    words = [f"{k}={shlex.quote(v)}" for k, v in sorted((env or {}).items())] + [shlex.quote(w) for w in argv]
    lines: list[str] = []
    for word in words:
        if not lines or (word.startswith("--") and len(lines[-1]) + 1 + len(word) > LINE_CHARS):
            lines.append(word)
        else:
            lines[-1] += " " + word
    return CONTINUATION.join(lines)


def _comment(text: str) -> str:
    """``text`` as one shell comment line (no newline or control character can end it)."""
    return "# " + "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)


def how_to_run(d: Deployment) -> str | None:
    """The launch spec of one replica as a shell block (power limit, leader setup, engine, other servers,
    notes); None for a plan written before deployments carried one."""
    launch: Launch | None = d.launch
    if launch is None:
        return None
    per_node = launch.gpus_per_replica // max(launch.nodes_per_replica, 1)
    lines = [_comment(f"{d.replicas} replica{'s' if d.replicas != 1 else ''} of {launch.gpus_per_replica} GPUs "
                      f"({launch.engine}); set {launch.visible_devices_env} to a replica's {per_node} GPUs")]
    if launch.power_limit_argv:
        lines += [_comment("as root on each server, before the engine: the GPU power limit"),
                  _shell(launch.power_limit_argv)]
    if launch.leader_setup_argv:
        lines += [_comment("first server of a replica"), _shell(launch.leader_setup_argv)]
    lines.append(_shell(launch.argv, launch.env))
    if launch.worker_argv:
        lines += [_comment(f"each other server of a replica ({launch.nodes_per_replica - 1})"),
                  _shell(launch.worker_argv, launch.env)]
    lines += [_comment(f"needs {c.path} beside it (planner export writes it)") for c in launch.config_files]
    lines += [_comment(f"{word}: {meaning}") for word, meaning in PLACEHOLDERS.items()
              if any(word in w for w in [*launch.argv, *launch.worker_argv, *launch.leader_setup_argv])]
    lines += [_comment(f"note: {n}") for n in launch.notes]
    return "\n".join(lines)
