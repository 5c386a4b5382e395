"""The report shows each deployment's serving decisions: speculative decoding when on, the GPU power limit
when below TDP, and how to run it (its launch spec as a shell block) -- escaped in HTML and fenced in
Markdown so a hand-edited plan cannot inject markup; a plan without the fields renders as before."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from planner.catalog import load_catalog
from planner.export.launch import launch_for
from planner.plan.io import load_plan
from planner.report import render_report
from planner.report.serving import how_to_run, serving_table
from planner.schemas.plan import Plan
from planner.schemas.speculative import Speculative

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
CHATBOT = ROOT / "plans" / "chatbot" / "plan.json"


def _serving_plan(limit_w: float | None = None, **launch_update: object) -> Plan:
    """The chatbot plan with EAGLE speculation, a launch spec derived as the plan builder does, and (when
    given) a GPU power limit on its deployment and servers."""
    plan, catalog = load_plan(CHATBOT), load_catalog()
    d = plan.deployments[0].model_copy(update={"speculative": Speculative(method="eagle", tokens=3).resolved(),
                                               "power_limit_w": limit_w})
    per_server = plan.servers[0].gpus_per_server
    launch = launch_for(d, catalog.model(d.model), catalog.gpu(d.gpu), per_server)
    d = d.model_copy(update={"launch": launch.model_copy(update=launch_update)})
    servers = [s.model_copy(update={"power_limit_w": limit_w}) for s in plan.servers]
    return plan.model_copy(update={"deployments": [d, *plan.deployments[1:]], "servers": servers})


def test_a_plan_without_the_fields_shows_no_serving_block():
    plan = load_plan(CHATBOT)
    if any(d.launch or d.speculative for d in plan.deployments):
        plan = plan.model_copy(update={"deployments": [d.model_copy(update={"launch": None, "speculative": None})
                                                       for d in plan.deployments]})
    for fmt in ("md", "html"):
        text = render_report(plan, fmt)
        assert "How to run" not in text and "Speculative decoding" not in text


def test_speculative_settings_power_limit_and_launch_command_are_shown():
    plan = _serving_plan(limit_w=560.0)
    d = plan.deployments[0]
    md, page = render_report(plan, "md"), render_report(plan, "html")
    assert "| Speculative decoding | eagle, 3 draft tokens per step, acceptance 0.75 |" in md
    assert "| GPU power limit | 560 W |" in md
    assert 'data-src="deployments[0].speculative"' in page and 'data-src="deployments[0].power_limit_w"' in page
    block = re.search(r"```bash\n(.*?)\n```", md, re.S)
    assert block, md
    script = block.group(1)
    assert "nvidia-smi" in script and "-pl 560" in script  # the limit is set before the engine starts
    [command] = [line for line in script.replace(" \\\n    ", " ").splitlines() if line.startswith(d.launch.argv[0])]
    assert shlex.split(command) == d.launch.argv  # the command, continued over lines, is the plan's argv
    assert "&#34;num_speculative_tokens&#34;:3" in page or "&quot;num_speculative_tokens&quot;:3" in page
    assert '<pre class="launch"><code>' in page


def test_the_launch_block_is_text_in_both_formats():
    hostile = "<script>alert(1)</script>```\n# heading"
    plan = _serving_plan(notes=[hostile], env={"X": "`rm -rf`"})
    md, page = render_report(plan, "md"), render_report(plan, "html")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    fence = re.search(r"^(`{3,})bash$", md, re.M)
    assert fence and len(fence.group(1)) > 3  # longer than the backticks inside, so they cannot close it
    body = md[fence.end():md.index("\n" + fence.group(1) + "\n", fence.end())]
    assert "# note: <script>alert(1)</script>``` # heading" in body  # one comment line, the newline made a space
    assert "X='`rm -rf`'" in body


def test_the_block_names_each_server_s_command_of_a_multi_server_replica():
    plan = _serving_plan()
    d = plan.deployments[0]
    spread = d.launch.model_copy(update={"nodes_per_replica": 2, "leader_setup_argv": ["ray", "start", "--head"],
                                         "worker_argv": ["ray", "start", "--address=$(LWS_LEADER_ADDRESS):6379"]})
    text = how_to_run(d.model_copy(update={"launch": spread}))
    assert text is not None
    lines = text.splitlines()
    assert lines.index("# first server of a replica") < lines.index("ray start --head")
    assert "# each other server of a replica (1)" in lines
    assert "# $(LWS_LEADER_ADDRESS): the first server's address" in lines
    assert serving_table(d.model_copy(update={"speculative": None}), 0, limited=False).rows == []


def test_the_json_specs_carry_the_serving_decisions_when_recorded():
    from planner.report.specs import deployment_specs

    plan = _serving_plan(limit_w=560.0)
    spec = deployment_specs(plan)[0]
    assert spec["speculative"]["method"] == "eagle" and spec["speculative"]["tokens"] == 3
    assert spec["gpu_power_limit_watts"] == 560.0
    assert shlex.split(spec["launch_command"]) == plan.deployments[0].launch.argv
    assert "role" not in spec  # aggregated
    plain = deployment_specs(load_plan(CHATBOT))[0]
    assert not {"speculative", "gpu_power_limit_watts", "role"} & set(plain)
