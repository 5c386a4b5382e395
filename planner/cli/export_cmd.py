"""`planner export PLAN.json --format shell|k8s [--out FILE]`: how to run each deployment of a plan.

shell: a bash script with one launch per deployment (`bash run.sh list`, `bash run.sh NAME REPLICA`);
k8s: Kubernetes manifests (a Deployment, or a LeaderWorkerSet when a replica spans servers, per
deployment). The engine commands are the plan's launch specs (planner.export; docs/export.md).
"""

from __future__ import annotations

import click

FORMATS = ("shell", "k8s")


def _images(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        engine, sep, image = pair.partition("=")
        if not sep or not engine or not image:
            raise click.BadParameter(f"{pair!r}: expected ENGINE=IMAGE (vllm=vllm/vllm-openai:v0.11.0)",
                                     param_hint="--image")
        out[engine] = image
    return out


@click.command("export")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="shell", show_default=True,
              help="shell: a bash script that starts each replica; k8s: Kubernetes manifests.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Write to this file (atomically) instead of stdout.")
@click.option("--image", "images", multiple=True, metavar="ENGINE=IMAGE",
              help="With --format k8s: container image of an engine (vllm, sglang, trt-llm); repeatable.")
@click.option("--catalog", "catalog_dirs", multiple=True, metavar="DIR", type=click.Path(file_okay=False),
              help="Extra catalog folder, for a plan written before deployments carried launch specs.")
@click.option("--period", default=None, metavar="LABEL",
              help="A roadmap plan: export this period's deployments (default: the first period).")
def export(plan_file: str, fmt: str, out_file: str | None, images: tuple[str, ...],
           catalog_dirs: tuple[str, ...], period: str | None) -> None:
    """Print how to run each deployment of a plan: a shell script or Kubernetes manifests."""
    from planner.export.rows import gpus_per_server, launch_rows, of_period, plan_title
    from planner.io.files import refuse_overwriting_inputs, write_atomic
    from planner.plan import read_plan

    if out_file is not None:
        refuse_overwriting_inputs([out_file], [plan_file])
    read = read_plan(plan_file)
    if (note := read.migration_note(plan_file)) is not None:
        click.echo(f"Note: {note}", err=True)
    plan = of_period(read.plan, period, plan_file)
    catalog = None
    if any(d.launch is None for d in plan.deployments):
        from planner.catalog import load_catalog

        catalog = load_catalog(catalog_dirs)
    rows = launch_rows(plan, catalog, plan_file)
    title = plan_title(plan, plan_file, period)
    if fmt == "shell":
        from planner.export.shell import render_shell

        text = render_shell(rows, gpus_per_server(plan), title)
    else:
        from planner.export.k8s import render_k8s

        text = render_k8s(rows, _images(images), title)
    if out_file is None:
        click.echo(text, nl=False)
    else:
        write_atomic(out_file, text)
        click.echo(f"wrote {out_file} ({fmt})", err=True)
