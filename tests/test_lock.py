"""The lock file (constraints.txt) and the ranges (pyproject.toml) agree, and the environment the
lock describes re-solves the committed plans to the same bytes (so the README's first command
leaves a fresh clone's `git status` clean)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)", line)
        assert m, f"constraints.txt: {line!r} is not an exact `name==version` pin"
        name = canonicalize_name(m.group(1))
        assert name not in pins, f"constraints.txt pins {name} twice"
        pins[name] = m.group(2)
    return pins


def _requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    # an extra that names planner's own other extra (test brings planner[dask]) is no dependency to pin
    return [r for r in reqs if canonicalize_name(r.name) != canonicalize_name(project["name"])]


def test_every_dependency_has_a_bounded_range() -> None:
    for req in (Requirement(r) for r in PYPROJECT["project"]["dependencies"]):
        ops = {s.operator for s in req.specifier}
        assert ">=" in ops and "<" in ops, f"pyproject.toml: {req} needs a tested lower bound and an upper bound"


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt does not pin {req.name} (run scripts/lock.sh)"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {req.name}=={pins[name]}, outside pyproject.toml's {req.specifier}"


def _installed_matches_lock() -> list[str]:
    """Runtime dependencies whose installed version differs from the lock ([] when all match)."""
    pins = _pins()
    out = []
    for req in (Requirement(r) for r in PYPROJECT["project"]["dependencies"]):
        try:
            have = version(req.name)
        except PackageNotFoundError:
            have = "missing"
        if have != pins[canonicalize_name(req.name)]:
            out.append(f"{req.name} {have} (lock {pins[canonicalize_name(req.name)]})")
    return out


COMMITTED = sorted(p.parent.name for p in (ROOT / "plans").glob("*/plan.json"))


@pytest.mark.parametrize("name", COMMITTED)
def test_the_locked_environment_re_solves_committed_plans_to_the_same_bytes(name: str, tmp_path: Path) -> None:
    differs = _installed_matches_lock()
    if differs:
        pytest.skip("installed versions differ from constraints.txt: " + ", ".join(differs))
    from planner.cli.main import main

    out = tmp_path / name
    rc = main(["solve", str(ROOT / "scenarios" / f"{name}.yaml"), "--out", str(out)])
    assert rc == 0
    for file in ("plan.json", "report.md"):
        committed = (ROOT / "plans" / name / file).read_bytes()
        assert (out / file).read_bytes() == committed, \
            f"plans/{name}/{file} is not what the locked environment solves (run scripts/update_plans.sh)"
