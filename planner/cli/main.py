"""`planner` entry point: a click group whose subcommands are imported only when called.

Lazy loading keeps `planner estimate` fast (no pandas, PuLP or matplotlib at start-up). Expected
errors (PlannerError) are printed as one `Error: ...` line with their exit code; `--debug` shows
the traceback.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import Any

import click

from planner import __version__

GC_YOUNG_THRESHOLD = 50_000
"""New container objects between two young-generation collections while a command runs (Python: 700)."""

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread counts of the BLAS that numpy loads, set to 1 for a command unless the user set them.

planner's numeric core is elementwise numpy and calls no BLAS routine, yet OpenBLAS starts a thread
per core when numpy is imported and those threads spin: on a 2-core machine that cost 0.06 CPU s of
`python -c "import numpy"` and about 0.1 CPU s of a cold `planner solve` (issue 13, measured
2026-11-28), for no work. Sweep workers inherit the setting. A value the user exported is kept."""

# command name -> "module:attribute" (a click.Command)
COMMANDS: dict[str, str] = {
    "estimate": "planner.cli.estimate_cmd:estimate",
    "compare": "planner.cli.compare_cmd:compare",
    "catalog": "planner.cli.catalog_cmd:catalog",
    "solve": "planner.cli.solve_cmd:solve",
    "validate": "planner.cli.solve_cmd:validate",
    "schema": "planner.cli.solve_cmd:schema",
    "report": "planner.cli.report_cmd:report",
    "diff": "planner.cli.gitops_cmd:diff",
    "check": "planner.cli.gitops_cmd:check",
    "calibrate": "planner.cli.calibrate_cmd:calibrate",
    "accuracy": "planner.cli.calibrate_cmd:accuracy",
    "sweep": "planner.cli.sweep_cmd:sweep",
    "export": "planner.cli.export_cmd:export",
}
# command name -> its line in `planner --help`: listed here so that help imports no command
# module (each pulls in pydantic, numpy or PuLP); a loaded command shows the same line.
SUMMARIES: dict[str, str] = {
    "accuracy": "Score the estimates against your measurements.",
    "calibrate": "Refit the estimation core on your measurements.",
    "catalog": "Browse and extend the GPU and model catalogs.",
    "check": "Fail CI on a stale, violated or denied plan.",
    "compare": "Compare models x GPUs x precisions in one table.",
    "diff": "What a capacity change does, plan to plan.",
    "estimate": "Estimate one deployment: memory, latency, power.",
    "export": "How to run a plan: a shell script or Kubernetes manifests.",
    "report": "Render a plan file as Markdown, HTML or JSON.",
    "schema": "Print the JSON Schema of a file kind.",
    "solve": "Solve a scenario: the fleet that serves it.",
    "sweep": "Solve a scenario over a grid and a sample of futures.",
    "validate": "Check scenarios against schema and catalogs.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # command not built yet
            raise
        command: click.Command = getattr(module, attr)
        command.short_help = SUMMARIES[cmd_name]
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `planner --help`, without importing the commands."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUMMARIES[name]) for name in self.list_commands(ctx)])

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=1)
            hint = f" Did you mean `planner {close[0]}`?" if close else ""
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="planner")
@click.option("--debug", is_flag=True, help="Show tracebacks of expected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Capacity planning for LLM inference: GPUs, parallelism, power and cost under latency SLOs.

    Exit codes: 0 ok / no change, 1 input error, 2 plan changed (diff) or stale (check),
    3 infeasible scenario, 4 policy deny.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    from planner.errors import PlannerError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if "numpy" not in sys.modules:  # read once, when numpy loads its BLAS; an in-process caller's numpy is as is
        for name in BLAS_THREAD_VARIABLES:
            os.environ.setdefault(name, "1")
    # A command's start-up builds ~60,000 long-lived container objects (modules, schema classes,
    # numpy); at Python's default threshold (a young collection per 700 new containers) the cyclic
    # collector runs ~130 times over them, 40-60 ms CPU of a cold `planner solve` (issue 13). Per
    # 50,000 it runs ~12 times (~25 ms) and cyclic garbage stays bounded (a few MB); restored after.
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
    try:
        rv = cli.main(args=args, prog_name="planner", standalone_mode=False)
    except PlannerError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc.render()}", err=True)
        explanation = getattr(exc, "explanation", None)
        if explanation:
            for line in explanation:
                click.echo(f"  - {line}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return 1 if exc.exit_code == 2 else exc.exit_code  # usage errors are input errors
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    finally:
        gc.set_threshold(*thresholds)
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
