"""Catalog files parsed once per user (planner.catalog.parsed_cache): a kept document is exactly
what parsing gives, an edited file is parsed again, a bad file gives the parser's message and is
never kept, and a cache that cannot be used (read-only, damaged) is no cache."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from planner.catalog import parsed_cache
from planner.catalog.loader import load_catalog
from planner.errors import InputError
from planner.io import files

pytestmark = pytest.mark.unit

GPU = (Path(__file__).parent / "fixtures" / "catalogs" / "user-a6000.yaml").read_text(encoding="utf-8")


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "user-catalog"
    folder.mkdir()
    (folder / "mine.yaml").write_text(GPU)
    return folder


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.marshal"))


def test_a_kept_catalog_equals_a_parsed_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, user_dir: Path) -> None:
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, "")
    parsed = load_catalog([user_dir])
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    cold = load_catalog([user_dir])
    assert len(_entries(tmp_path / "cache")) == len(cold.files)  # one entry per catalog file

    def no_parsing(*_args: object) -> None:
        raise AssertionError("a kept document was parsed again")

    monkeypatch.setattr(files, "parse_yaml", no_parsing)
    warm = load_catalog([user_dir])
    for catalog in (cold, warm):
        assert catalog.gpus == parsed.gpus and catalog.models == parsed.models and catalog.engines == parsed.engines
        assert catalog.sha256() == parsed.sha256() and catalog.files == parsed.files


def test_an_edited_file_is_parsed_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, user_dir: Path) -> None:
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    assert load_catalog([user_dir]).gpu("my-a6000").memory_gib == 48
    (user_dir / "mine.yaml").write_text(GPU.replace("memory_gib: 48", "memory_gib: 24"))
    assert load_catalog([user_dir]).gpu("my-a6000").memory_gib == 24
    assert len(_entries(tmp_path / "cache")) == len(load_catalog([user_dir]).files)  # replaced, not added


def test_a_bad_file_gives_the_parser_message_and_is_not_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            user_dir: Path) -> None:
    (user_dir / "mine.yaml").write_text(GPU.replace("    tdp_w: 300\n", "    tdp_w: 300\n    tdp_w: 301\n"))
    messages = []
    for cache_dir in ("", str(tmp_path / "cache"), str(tmp_path / "cache")):
        monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, cache_dir)
        with pytest.raises(InputError) as info:
            load_catalog([user_dir])
        messages.append(info.value.render())
    assert messages[0] == messages[1] == messages[2] and "duplicate key" in messages[0]
    kept = parsed_cache.parsed_yaml_cache()
    assert kept is not None and kept.get(user_dir / "mine.yaml", (user_dir / "mine.yaml").read_bytes()) == (False, None)


def test_damaged_entries_are_parsed_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, user_dir: Path) -> None:
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    first = load_catalog([user_dir])
    for i, entry in enumerate(_entries(tmp_path / "cache")):  # truncated, garbage, empty, another type
        data = entry.read_bytes()
        entry.write_bytes([data[: len(data) // 2], b"\x00garbage" * 7, b"", b"\xe9\x03\x00\x00"][i % 4])
    again = load_catalog([user_dir])
    assert again.gpus == first.gpus and again.models == first.models and again.sha256() == first.sha256()


def test_an_unusable_cache_folder_is_no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              user_dir: Path) -> None:
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, "")
    parsed = load_catalog([user_dir])
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, str(blocker / "cache"))
    assert parsed_cache.parsed_yaml_cache() is None
    assert load_catalog([user_dir]).gpus == parsed.gpus
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, str(tmp_path / "shared"))
    assert parsed_cache.parsed_yaml_cache() is not None
    (tmp_path / "shared" / "parsed-yaml").chmod(0o777)  # others could write code-free but false documents
    assert parsed_cache.parsed_yaml_cache() is None


def test_a_document_marshal_cannot_hold_is_not_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(parsed_cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    cache = parsed_cache.parsed_yaml_cache()
    assert cache is not None
    path, raw = tmp_path / "dated.yaml", b"released: 2024-03-18\n"
    cache.put(path, raw, {"released": datetime.date(2024, 3, 18)})
    assert cache.get(path, raw) == (False, None) and _entries(tmp_path / "cache") == []
