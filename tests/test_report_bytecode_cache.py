"""The compiled-template cache (planner.report.bytecode_cache) never changes a report's bytes: a
cold cache, a warm one, a damaged one and one that cannot be written all render what no cache does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import render
from planner.report.bytecode_cache import CACHE_ENV_VAR, template_cache

pytestmark = pytest.mark.unit

PLAN = Path(__file__).parent / "fixtures" / "report" / "chatbot.plan.json"


@pytest.fixture(autouse=True)
def fresh_environments() -> Iterator[None]:
    """Each test builds the Jinja environments again (they are cached per process)."""
    render._markdown_env.cache_clear()
    render._html_env.cache_clear()
    yield
    render._markdown_env.cache_clear()
    render._html_env.cache_clear()


def _reports(monkeypatch: pytest.MonkeyPatch, cache_dir: str) -> tuple[str, str]:
    monkeypatch.setenv(CACHE_ENV_VAR, cache_dir)
    render._markdown_env.cache_clear()
    render._html_env.cache_clear()
    plan = load_plan(PLAN)
    return render.render_report(plan, "md"), render.render_report(plan, "html")


def test_cold_and_warm_cache_render_the_bytes_of_no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    uncached = _reports(monkeypatch, "")
    cold = _reports(monkeypatch, str(tmp_path))
    entries = sorted(tmp_path.rglob("*.cache"))
    warm = _reports(monkeypatch, str(tmp_path))
    assert cold == uncached and warm == uncached
    assert len(entries) >= 2  # at least report.md.j2 and report.html.j2 were stored
    assert sorted(tmp_path.rglob("*.cache")) == entries  # the warm run read them, wrote nothing new


def test_unwritable_cache_folder_renders_the_same_bytes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    uncached = _reports(monkeypatch, "")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    assert _reports(monkeypatch, str(blocker / "cache")) == uncached  # mkdir fails: no cache
    assert blocker.read_text() == "not a folder\n"


def test_damaged_entries_are_compiled_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    uncached = _reports(monkeypatch, "")
    _reports(monkeypatch, str(tmp_path))
    entries = list(tmp_path.rglob("*.cache"))
    for i, entry in enumerate(entries):  # truncated, garbage and empty entries
        data = entry.read_bytes()
        entry.write_bytes([data[: len(data) // 2], b"\x00garbage" * 7, b""][i % 3])
    assert _reports(monkeypatch, str(tmp_path)) == uncached


def test_a_folder_others_can_write_to_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    env = render._html_env()
    assert template_cache(env) is not None
    for folder in tmp_path.iterdir():
        folder.chmod(0o777)
    assert template_cache(env) is None


def test_environments_with_other_settings_use_other_entries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
    md, html = template_cache(render._markdown_env()), template_cache(render._html_env())
    assert md is not None and html is not None
    assert md.pattern != html.pattern  # type: ignore[attr-defined]
