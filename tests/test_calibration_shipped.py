"""The shipped data: measurements copied with provenance, and a calibration `planner calibrate` reproduces."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
import yaml

from planner.calibration.coefficients import default_calibration_path, load_calibration
from planner.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "planner" / "data"
FIRST = DATA / "measurements" / "calibration-h100-a100.csv"
# ../shared/data/measurements-calibration.csv, copied unchanged (planner/data/README.md)
FIRST_SHA256 = "199750dc9ce593b6ebaf6b518e4d26a9b20ec77b47785982ed52b8d3d24cf756"
SHIPPED = DATA / "measurements" / "measurements.csv"
# the project's measurement set: the header and rows of the two source files below, unchanged, in order
SOURCES = {"measurements-calibration.csv": (48, FIRST_SHA256),
           "measurements-ampere-ada.csv": (54, "2fdad4f3374ccbc4d3c96bc18c7ece18fdc32e93b4d869e41fdb0edc47e3f704")}


def test_measurements_are_the_documented_copy():
    assert hashlib.sha256(FIRST.read_bytes()).hexdigest() == FIRST_SHA256
    assert FIRST_SHA256 in (DATA / "README.md").read_text(encoding="utf-8")


def test_the_measurement_set_is_the_documented_sources_unchanged():
    """Each source file is rebuilt byte for byte from the set's header and its slice of rows."""
    header, *rows = SHIPPED.read_bytes().split(b"\r\n")
    assert rows[-1] == b""  # CRLF after the last row, as in the sources
    start = 0
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for name, (count, sha) in SOURCES.items():
        part = b"\r\n".join([header, *rows[start:start + count]]) + b"\r\n"
        assert hashlib.sha256(part).hexdigest() == sha, name
        assert sha in readme and name in readme
        start += count
    assert start == len(rows) - 1


def test_shipped_calibration_is_the_default_and_names_its_data():
    assert default_calibration_path() == DATA / "calibration.yaml"
    cal, _ = load_calibration(None)
    assert cal.provenance["data_sha256"] == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert cal.provenance["command"] == f"planner calibrate {SHIPPED.name}"
    assert "clamped" not in cal.provenance  # no fitted coefficient ends at a bound (issue 11 item 4)


def test_refitting_reproduces_the_shipped_calibration(tmp_path, monkeypatch, capsys):
    shipped = yaml.safe_load((DATA / "calibration.yaml").read_text(encoding="utf-8"))
    day = dt.date.fromisoformat(shipped["provenance"]["date"])
    epoch = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    out = tmp_path / "calibration.yaml"
    assert main(["calibrate", str(SHIPPED), "--out", str(out)]) == 0  # refused if a coefficient hit a bound
    capsys.readouterr()
    fresh = yaml.safe_load(out.read_text(encoding="utf-8"))
    hint = "the shipped calibration is stale: run `python3 scripts/accuracy_table.py --refit`"
    assert fresh["provenance"] == shipped["provenance"], hint
    for key in ("coefficients", "per_gpu", "per_engine"):
        assert fresh[key].keys() == shipped[key].keys(), hint
    flat = [(fresh["coefficients"], shipped["coefficients"])]
    flat += [(fresh[k][g], shipped[k][g]) for k in ("per_gpu", "per_engine") for g in shipped[k]]
    for new, old in flat:
        assert new.keys() == old.keys(), hint
        for name in old:  # tolerance: a different BLAS may move the last fitted digit
            assert new[name] == pytest.approx(old[name], rel=1e-3, abs=1e-7), f"{name}: {hint}"
