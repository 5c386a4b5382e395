"""`planner --help` lists every command without importing any of them (it answers in well under
0.1 s of CPU); each command's own --help is still its full docstring."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from planner.cli.main import COMMANDS, SUMMARIES, cli, main


def test_every_command_has_a_one_line_summary() -> None:
    assert sorted(SUMMARIES) == sorted(COMMANDS)
    assert all(s.endswith(".") and "\n" not in s and len(s) <= 60 for s in SUMMARIES.values())


def test_help_imports_no_command_module() -> None:
    code = ("import contextlib, io, json, sys\n"
            "from planner.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out: rc = main(['--help'])\n"
            "print(json.dumps([rc, out.getvalue(), sorted(m for m in sys.modules if m.startswith('planner.cli.')),"
            " [m for m in ('pydantic', 'numpy', 'pulp', 'pandas') if m in sys.modules]]))")
    rc, text, cli_modules, heavy = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                                             capture_output=True, text=True).stdout)
    assert rc == 0
    assert cli_modules == ["planner.cli.main"]
    assert heavy == []
    for name, summary in SUMMARIES.items():
        assert f"  {name}" in text and summary in text


def test_a_command_shows_its_own_help_and_the_same_summary(capsys) -> None:
    assert main(["solve", "--help"]) == 0
    assert "Solve SCENARIO" in capsys.readouterr().out
    command = cli.get_command(None, "solve")  # type: ignore[arg-type]
    assert command is not None and command.get_short_help_str() == SUMMARIES["solve"]


def test_an_unknown_command_suggests_the_close_one() -> None:
    result = CliRunner().invoke(cli, ["slove"])
    assert result.exit_code != 0 and "Did you mean `planner solve`?" in result.output
