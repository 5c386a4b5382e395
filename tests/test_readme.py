"""The README's promises: its opening commands and its scenario example stay true."""

from __future__ import annotations

from pathlib import Path

from planner.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_install_and_test_commands() -> None:
    blocks = README.split("```bash\n")
    assert blocks[1].startswith("python3 -m pip install -c constraints.txt -e . "
                                "&& planner solve scenarios/chatbot.yaml\n")
    assert blocks[2].startswith('python3 -m pip install -c constraints.txt -e ".[test]" && python3 -m pytest -q\n')
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -q -c constraints.txt -e ".[test]"' in ci and "python3 -m pytest -q" in ci
    # the locked run is the last thing CI runs, so its result is what CI reports
    assert ci.rstrip().endswith("python3 -m pytest -q -p no:cacheprovider")


def test_readme_scenario_example_is_a_valid_scenario(tmp_path: Path) -> None:
    start = README.index("```yaml\n") + len("```yaml\n")
    example = README[start:README.index("```", start)]
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    loaded = load_scenario(path)
    assert loaded.scenario.workloads[0].model == "llama-3.3-70b"
    assert load_scenario(path, "traffic_x2").scenario.workloads[0].traffic.peak_requests_per_s == 60
