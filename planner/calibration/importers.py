"""Turn what people measure into rows of the measurement CSV (planner.calibration.measurements).

Sources:
* ``nvidia-smi --query-gpu=timestamp,index,power.draw --format=csv -lms 500`` logs (units or
  ``nounits``; ``power.draw``, ``power.draw.average`` or ``power.draw.instant``);
* ``nvidia-smi dmon`` output (``-o DT`` adds the date and time needed to cut a window; ``-s p`` is
  enough);
* ``vllm bench serve --save-result`` JSON (also ``benchmarks/benchmark_serving.py``): throughput,
  TTFT, ITL, concurrency and token counts; ``--metadata gpu=h100-sxm tp=4 precision=fp8`` keys are
  read too.

Power is averaged per GPU over the benchmark window (by default the vLLM run itself: it ends at the
result's ``date`` and lasts ``duration`` seconds, the same window as its throughput, so energy per
token = power / throughput stays consistent), then summed over the GPUs of the run. Timestamps are
read as local wall-clock time, as both tools write them.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.calibration.measurements import COLUMNS, read_bounded
from planner.errors import CalibrationError

SMI_POWER_FIELDS = ("power.draw", "power.draw.average", "power.draw.instant")
SMI_GPU_FIELDS = ("index", "uuid", "pci.bus_id")
_MISSING = {"", "-", "n/a", "[n/a]", "[not supported]", "[unknown error]", "nan"}
_EPOCH = _dt.datetime(1970, 1, 1)
MIN_SAMPLES_PER_GPU = 2
MAX_SAMPLE_POWER_W = 5000.0  # above any one accelerator's draw (GB300 ~1.4 kW): a unit or column mistake
MAX_POWER_LOG_BYTES = 64 * 2**20  # about a day of 8 GPUs sampled every 0.5 s: cut longer logs to the runs
MAX_RESULT_BYTES = 128 * 2**20  # `--save-detailed` results hold per-request lists
MAX_TRIM_S = 86400.0
GPU_POWER_SCOPE = "GPU-only, summed over all GPUs"


# ---- power logs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerSamples:
    """Power samples of a log: one entry per (sample, GPU). ``time_s`` is NaN without timestamps."""

    path: str
    kind: str  # "nvidia-smi query" or "nvidia-smi dmon"
    gpu: np.ndarray  # str labels (index as written)
    time_s: np.ndarray
    power_w: np.ndarray

    @property
    def has_time(self) -> bool:
        return bool(np.isfinite(self.time_s).any())


@dataclass(frozen=True)
class WindowPower:
    """Average power per GPU over a window and their sum."""

    per_gpu_w: dict[str, float]
    samples: dict[str, int]
    start_s: float  # NaN = from the first sample
    end_s: float

    @property
    def total_w(self) -> float:
        return float(sum(self.per_gpu_w.values()))


def _seconds(t: _dt.datetime) -> float:
    return (t - _EPOCH).total_seconds()


def _parse_time(text: str, formats: Iterable[str]) -> float:
    for fmt in formats:
        try:
            return _seconds(_dt.datetime.strptime(text.strip(), fmt))
        except ValueError:
            continue
    return np.nan


SMI_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S")
WINDOW_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
                       "%Y-%m-%d %H:%M:%S", *SMI_TIME_FORMATS, "%Y%m%d-%H%M%S", "%Y%m%d %H:%M:%S")


def parse_window_time(text: str, what: str) -> float:
    """A user-given window bound (ISO 8601 local time, or nvidia-smi's format) in seconds."""
    t = _parse_time(text, WINDOW_TIME_FORMATS)
    if not np.isfinite(t):
        raise CalibrationError(f"{what} {text!r} is not a time",
                               fix="write it as 2026-11-21T14:03:00 (local time)")
    return t


def _without_unit(text: str) -> str:
    return re.sub(r"\s*(w|%|mhz|mib|c)$", "", text.strip().lower())


def _number(text: str) -> float:
    t = text.strip().lower()
    if t in _MISSING:
        return np.nan
    try:
        return float(_without_unit(t))
    except ValueError:
        return np.nan


def read_power_log(path: str | Path) -> PowerSamples:
    """Read an nvidia-smi query CSV or dmon log (detected from its first line)."""
    p = Path(path)
    raw = read_bounded(p, "power log", MAX_POWER_LOG_BYTES)
    text = raw.decode("utf-8", errors="replace")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("#"):
        return _read_dmon(str(p), text)
    if any(f in first for f in SMI_POWER_FIELDS):
        return _read_smi_csv(str(p), text)
    fix = ("record with `nvidia-smi --query-gpu=timestamp,index,power.draw --format=csv -lms 500`, keeping "
           "its header line, or with `nvidia-smi dmon -s p -o DT`")
    if not first:
        raise CalibrationError("the power log is empty", file=str(p), fix=fix)
    if np.isfinite(_parse_time(first.split(",")[0], SMI_TIME_FORMATS)):
        raise CalibrationError("the nvidia-smi log has no header line (recorded with "
                               "--format=csv,noheader?), so its columns are unknown", file=str(p), fix=fix)
    raise CalibrationError("not an nvidia-smi log: expected a `--query-gpu` CSV header with power.draw, "
                           "or `dmon` output", file=str(p), fix=fix)


def _sample_power(text: str, path: str, line: int) -> float:
    """One power sample in W (NaN when nvidia-smi wrote no value); garbage and implausible values are errors."""
    value = _number(text)
    if np.isnan(value) and text.strip().lower() not in _MISSING and _without_unit(text) not in _MISSING:
        raise CalibrationError(f"line {line}: power {_shown(text)} is not a number", file=path,
                               fix="remove or repair the line (nvidia-smi writes e.g. `312.45 W`)")
    if not np.isnan(value) and not (0.0 <= value <= MAX_SAMPLE_POWER_W):
        raise CalibrationError(f"line {line}: power {_shown(text)} is outside 0 .. {MAX_SAMPLE_POWER_W:g} W, "
                               "the range of one GPU's draw", file=path,
                               fix="remove or repair the line; the log must hold watts per GPU")
    return value


def _sample_time(text: str, formats: Iterable[str], path: str, line: int) -> float:
    """A sample's timestamp in local seconds (NaN when blank); a garbled timestamp is an error."""
    if text.strip().lower() in _MISSING:
        return np.nan
    t = _parse_time(text, formats)
    if np.isnan(t):
        raise CalibrationError(f"line {line}: timestamp {_shown(text)} is not in nvidia-smi's format", file=path,
                               fix="remove or repair the line (e.g. `2026/11/21 14:00:00.123`)")
    return t


def _shown(text: str) -> str:
    """A cell as quoted in messages, cut to a readable length."""
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _read_smi_csv(path: str, text: str) -> PowerSamples:
    try:
        rows = [r for r in csv.reader(io.StringIO(text), skipinitialspace=True)]
    except csv.Error as exc:
        raise CalibrationError(f"not a readable CSV ({exc})", file=path,
                               fix="remove the damaged line (nvidia-smi writes short lines)") from None
    while rows and not any(c.strip() for c in rows[0]):
        rows.pop(0)  # blank lines before the header
    header = [re.sub(r"\s*\[.*\]$", "", h.strip()) for h in rows[0]]
    power_col = next((header.index(f) for f in SMI_POWER_FIELDS if f in header), None)
    if power_col is None:
        raise CalibrationError(f"no power.draw column (columns: {_shown(', '.join(header))})", file=path,
                               fix="add power.draw to --query-gpu")
    gpu_col = next((header.index(f) for f in SMI_GPU_FIELDS if f in header), None)
    time_col = header.index("timestamp") if "timestamp" in header else None
    gpus, times, powers = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            if row[0].strip() == rows[0][0].strip():
                continue  # a repeated header (logs appended from several runs)
            raise CalibrationError(f"line {line}: {len(row)} fields, the header has {len(header)}", file=path,
                                   fix="remove truncated lines (e.g. the last one of an interrupted log)")
        if row[0].strip() == rows[0][0].strip():
            continue  # a repeated header
        gpus.append(row[gpu_col].strip() if gpu_col is not None else "0")
        times.append(_sample_time(row[time_col], SMI_TIME_FORMATS, path, line) if time_col is not None else np.nan)
        powers.append(_sample_power(row[power_col], path, line))
    return PowerSamples(path, "nvidia-smi query", np.array(gpus, dtype=str), np.array(times, dtype=float),
                        np.array(powers, dtype=float))


def _read_dmon(path: str, text: str) -> PowerSamples:
    columns: list[str] | None = None
    gpus, times, powers = [], [], []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        if raw.lstrip().startswith("#"):
            names = raw.lstrip().lstrip("#").split()
            if columns is None:
                columns = [n.lower() for n in names]
            continue  # units line and repeated headers
        if columns is None:
            raise CalibrationError(f"line {line}: data before the `# gpu pwr ...` header", file=path,
                                   fix="keep dmon's header lines in the log")
        fields = raw.split()
        if len(fields) != len(columns):
            raise CalibrationError(f"line {line}: {len(fields)} fields, the header has {len(columns)}",
                                   file=path, fix="remove truncated lines")
        row = dict(zip(columns, fields, strict=True))
        if "pwr" not in row:
            raise CalibrationError(f"no pwr column (columns: {_shown(', '.join(columns))})", file=path,
                                   fix="record with `nvidia-smi dmon -s p -o DT`")
        gpus.append(row.get("gpu", row.get("idx", "0")))
        if "date" in row and "time" in row:
            times.append(_sample_time(f"{row['date']} {row['time']}", ("%Y%m%d %H:%M:%S",), path, line))
        else:
            times.append(np.nan)
        powers.append(_sample_power(row["pwr"], path, line))
    if columns is None:
        raise CalibrationError("no dmon header line", file=path, fix="record with `nvidia-smi dmon -s p -o DT`")
    return PowerSamples(path, "nvidia-smi dmon", np.array(gpus, dtype=str), np.array(times, dtype=float),
                        np.array(powers, dtype=float))


def _fmt_time(t: float) -> str:
    try:
        return (_EPOCH + _dt.timedelta(seconds=float(t))).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError):  # a window trimmed past year 1 or 9999
        return f"{float(t):.0f} s from 1970-01-01 (out of the calendar)"


def average_power(s: PowerSamples, *, start_s: float = np.nan, end_s: float = np.nan,
                  gpus: Iterable[str] | None = None) -> WindowPower:
    """Mean power per GPU over [start_s, end_s] (NaN bound = open), for ``gpus`` (default: all)."""
    want = list(dict.fromkeys(str(g) for g in gpus)) if gpus else sorted(set(s.gpu.tolist()), key=_gpu_key)
    windowed = np.isfinite(start_s) or np.isfinite(end_s)
    if windowed and not s.has_time:
        raise CalibrationError(f"the {s.kind} log has no timestamps, so no benchmark window can be cut",
                               file=s.path, fix="record with timestamps (`-o DT` for dmon, `timestamp` in "
                               "--query-gpu), or log exactly the benchmark")
    in_window = np.ones(len(s.power_w), dtype=bool)
    if np.isfinite(start_s):
        in_window &= s.time_s >= start_s
    if np.isfinite(end_s):
        in_window &= s.time_s <= end_s
    per, counts = {}, {}
    for g in want:
        sel = (s.gpu == g) & in_window & np.isfinite(s.power_w)
        if int(sel.sum()) < MIN_SAMPLES_PER_GPU:
            raise CalibrationError(_too_few(s, g, int(sel.sum()), start_s, end_s), file=s.path,
                                   fix="check that the log and the benchmark ran at the same time (same "
                                   "clock and time zone), or pass --start/--end")
        per[g] = float(np.mean(s.power_w[sel]))
        counts[g] = int(sel.sum())
    return WindowPower(per_gpu_w=per, samples=counts, start_s=start_s, end_s=end_s)


def _gpu_key(g: str) -> tuple[int, str]:
    return (int(g), "") if g.isdigit() else (1 << 30, g)


def _too_few(s: PowerSamples, gpu: str, n: int, start_s: float, end_s: float) -> str:
    known = sorted(set(s.gpu.tolist()), key=_gpu_key)
    if gpu not in known:
        return f"GPU {gpu} is not in the log (GPUs: {', '.join(known)})"
    msg = f"only {n} power sample(s) of GPU {gpu}"
    if np.isfinite(start_s) or np.isfinite(end_s):
        t = s.time_s[np.isfinite(s.time_s)]
        lo = _fmt_time(start_s) if np.isfinite(start_s) else "start"
        hi = _fmt_time(end_s) if np.isfinite(end_s) else "end"
        msg += f" in the window {lo} .. {hi}; the log covers {_fmt_time(t.min())} .. {_fmt_time(t.max())}"
    return msg


# ---- vLLM benchmark results ---------------------------------------------------------------------
VLLM_REQUIRED = ("completed", "total_input_tokens", "total_output_tokens", "output_throughput")
CONFIG_KEYS = ("model", "gpu", "num_gpus", "tp", "pp", "precision", "engine")


@dataclass(frozen=True)
class VllmResult:
    path: str
    data: dict[str, Any]

    def get(self, key: str) -> Any:
        return self.data.get(key)

    @property
    def window(self) -> tuple[float, float]:
        """(start, end) of the run in local seconds: it ends at ``date`` and lasts ``duration``."""
        date = self.data.get("date")
        end = _parse_time(date, ("%Y%m%d-%H%M%S", "%Y-%m-%d %H:%M:%S")) if isinstance(date, str) else np.nan
        duration = _float(self.data.get("duration"))
        if not (np.isfinite(end) and np.isfinite(duration)):
            return np.nan, np.nan
        return end - duration, end


def _float(v: Any) -> float:
    """A JSON number or numeric string as a float; NaN for anything else (bool, null, list, text)."""
    if isinstance(v, bool):
        return np.nan
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return np.nan


# (key, smallest, largest, required): plausible ranges of the numbers a vLLM result holds
RESULT_NUMBERS: tuple[tuple[str, float, float, bool], ...] = (
    ("completed", 1, 1e9, True), ("total_input_tokens", 0, 1e15, True), ("total_output_tokens", 1, 1e15, True),
    ("output_throughput", 1e-6, 1e9, True), ("duration", 1e-3, 1e8, False), ("max_concurrency", 1, 1e7, False),
    ("request_throughput", 0, 1e9, False),
    *((f"{stat}_{metric}_ms", 0, 1e8, False) for stat in ("median", "mean") for metric in ("ttft", "itl")),
)
RESULT_FIX = "pass the file written by `vllm bench serve --save-result`, unedited"


def _parse_json(raw: bytes, path: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CalibrationError("is not UTF-8 text", file=path, fix=RESULT_FIX) from None
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=path,
                               fix=RESULT_FIX) from None
    except RecursionError:
        raise CalibrationError("not a vLLM result: JSON nested too deeply", file=path, fix=RESULT_FIX) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise CalibrationError(f"not a readable JSON document ({str(exc).splitlines()[0]})", file=path,
                               fix=RESULT_FIX) from None


def _check_result_numbers(data: dict[str, Any], path: str) -> None:
    """Every number the importer reads is a finite JSON number inside its plausible range."""
    for key, low, high, required in RESULT_NUMBERS:
        value = data.get(key)
        if value is None and not required:
            continue
        number = _float(value) if isinstance(value, int | float) else np.nan
        if not (low <= number <= high):
            raise CalibrationError(f"must be a number from {low:g} to {high:g}, got {_shown(_json_text(value))}",
                                   file=path, key_path=key, fix=RESULT_FIX)


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (ValueError, RecursionError):  # an integer too long for str(), a deeply nested list
        return f"a {type(value).__name__}"


def read_vllm_result(path: str | Path) -> VllmResult:
    p = Path(path)
    data = _parse_json(read_bounded(p, "vLLM result", MAX_RESULT_BYTES), str(p))
    if not isinstance(data, dict):
        raise CalibrationError("expected a JSON object", file=str(p), fix=RESULT_FIX)
    missing = [k for k in VLLM_REQUIRED if k not in data]
    if missing:
        raise CalibrationError(f"not a vLLM benchmark result: missing key(s) {', '.join(missing)}",
                               file=str(p), fix="pass the file written by `vllm bench serve --save-result`")
    if _float(data["completed"]) == 0:
        raise CalibrationError(f"completed = {data['completed']!r}: no request finished", file=str(p),
                               fix="rerun the benchmark")
    _check_result_numbers(data, str(p))
    return VllmResult(str(p), data)


def _g(v: float, digits: int) -> str:
    return "" if not np.isfinite(v) else f"{round(float(v), digits):g}"


MAX_PARALLEL = 4096  # GPUs of one run: beyond any serving deployment


def _whole(value: Any, key: str, source: str) -> int:
    """A run's tp, pp or num_gpus (a JSON number, or the text `--metadata tp=4` writes)."""
    number = _float(value.strip() if isinstance(value, str) else value)
    if not (1 <= number <= MAX_PARALLEL and number == int(number)):
        shown = repr(value) if isinstance(value, str) and len(value) <= 40 else _shown(_json_text(value))
        raise CalibrationError(f"must be a whole number from 1 to {MAX_PARALLEL}, got {shown}", file=source,
                               key_path=key, fix=f"pass --{key.replace('_', '-')} or fix the result's metadata")
    return int(number)


def run_config(result: VllmResult, config: Mapping[str, Any]) -> dict[str, Any]:
    """The run's model, gpu, tp, pp, num_gpus, precision and engine: ``config`` (command-line flags)
    first, else the result's keys (``model_id`` and ``--metadata``); each checked for its type."""
    d = result.data
    cfg = {k: config.get(k) if config.get(k) not in (None, "") else d.get(k) for k in CONFIG_KEYS}
    cfg["model"] = cfg["model"] or d.get("model_id")
    missing = [k for k in ("model", "gpu") if not cfg[k]]
    if missing:
        raise CalibrationError(f"the run's {' and '.join(missing)} is not known", file=result.path,
                               fix=f"pass --{missing[0]} (or `vllm bench serve --metadata {missing[0]}=...`)")
    for key in ("model", "gpu", "precision", "engine"):
        if cfg[key] is not None and not isinstance(cfg[key], str):
            raise CalibrationError(f"must be a name, got {_shown(_json_text(cfg[key]))}", file=result.path,
                                   key_path=key, fix=f"pass --{key}, or fix the result's metadata")
    tp = _whole(cfg["tp"], "tp", result.path) if cfg["tp"] not in (None, "") else 1
    pp = _whole(cfg["pp"], "pp", result.path) if cfg["pp"] not in (None, "") else 1
    given = cfg["num_gpus"] not in (None, "")
    return {**cfg, "tp": tp, "pp": pp,
            "num_gpus": _whole(cfg["num_gpus"], "num_gpus", result.path) if given else tp * pp}


def vllm_row(result: VllmResult, config: Mapping[str, Any], *, power: WindowPower | None = None,
             stat: str = "median", source_id: str = "") -> dict[str, str]:
    """One measurement row from a vLLM result, the run's configuration and (optionally) its power.

    ``config`` holds model, gpu, num_gpus, tp, pp, precision, engine; missing ones are taken from the
    result (``model_id`` and ``--metadata`` keys). ``stat`` picks median or mean TTFT and ITL.
    """
    d = result.data
    cfg = run_config(result, config)
    completed = _float(d["completed"])
    throughput = _float(d["output_throughput"])
    concurrency = _float(d.get("max_concurrency"))
    notes = [f"vllm bench serve {Path(result.path).name}", f"completed={int(completed)}",
             f"request_throughput={_g(_float(d.get('request_throughput')), 4)}",
             f"{stat} TTFT and ITL"]
    if isinstance(d.get("request_rate"), str | int | float):
        notes.append(f"request_rate={_shown(str(d['request_rate']))[1:-1]}")
    row = {c: "" for c in COLUMNS}
    row.update({
        "source_id": source_id or "vllm-bench", "model": cfg["model"], "gpu": cfg["gpu"],
        "num_gpus": str(cfg["num_gpus"]), "tp": str(cfg["tp"]), "pp": str(cfg["pp"]),
        "precision": cfg["precision"] or "bf16", "engine": cfg["engine"] or "vLLM",
        "batch_or_concurrency": _g(concurrency, 0),
        "input_tokens": _g(_float(d["total_input_tokens"]) / completed, 1),
        "output_tokens": _g(_float(d["total_output_tokens"]) / completed, 1),
        "throughput_tok_s": _g(throughput, 2),
        "ttft_ms": _g(_float(d.get(f"{stat}_ttft_ms")), 3),
        "itl_ms": _g(_float(d.get(f"{stat}_itl_ms")), 3),
    })
    if power is not None:
        row["avg_power_w"] = _g(power.total_w, 1)
        row["power_scope"] = GPU_POWER_SCOPE
        row["energy_j_per_token"] = _g(power.total_w / throughput, 5) if throughput > 0 else ""
        per = " ".join(f"{g}={w:.1f}" for g, w in power.per_gpu_w.items())
        notes.append(f"per-GPU W {per}; {min(power.samples.values())}+ samples per GPU")
    row["notes"] = "; ".join(notes)
    return row


def import_vllm_runs(results: list[VllmResult], config: Mapping[str, Any], *,
                     power: PowerSamples | None = None, gpus: Iterable[str] | None = None,
                     start_s: float = np.nan, end_s: float = np.nan, trim_s: float = 0.0,
                     stat: str = "median", source_id: str = "") -> list[dict[str, str]]:
    """One row per vLLM result, its power averaged over its own window of ``power`` (if given).

    The window is [start_s, end_s] when given, else the run's own (see VllmResult.window), shrunk by
    ``trim_s`` seconds at each end (to keep only the steady state). A log without timestamps is
    averaged whole, which only makes sense for a log of exactly one run.
    """
    if stat not in ("median", "mean"):
        raise CalibrationError(f"unknown statistic {stat!r}", fix="use median or mean")
    if np.isfinite(start_s) and np.isfinite(end_s) and end_s <= start_s:
        raise CalibrationError(f"--end {_fmt_time(end_s)} is not after --start {_fmt_time(start_s)}",
                               fix="give the window's start with --start and its end with --end")
    if not 0.0 <= trim_s <= MAX_TRIM_S:
        raise CalibrationError(f"--trim-s must be from 0 to {MAX_TRIM_S:g} seconds, got {trim_s:g}",
                               fix="cut a few seconds of warm-up, e.g. --trim-s 10")
    rows = []
    gpu_list = list(gpus) if gpus else None
    for r in results:
        wp = None
        if power is not None:
            lo, hi = _window(r, power, start_s, end_s, trim_s, several=len(results) > 1)
            gpu_list = gpu_list or _default_gpus(power, config, r)
            wp = _run_power(r, power, lo, hi, gpu_list, own_window=not (np.isfinite(start_s) or np.isfinite(end_s)))
        rows.append(vllm_row(r, config, power=wp, stat=stat, source_id=source_id))
    return rows


def _run_power(r: VllmResult, power: PowerSamples, lo: float, hi: float, gpus: list[str],
               own_window: bool) -> WindowPower:
    """average_power over one run's window; a problem with the run's own window also names the result."""
    try:
        return average_power(power, start_s=lo, end_s=hi, gpus=gpus)
    except CalibrationError as exc:
        if own_window and power.has_time:
            exc.message += f"; the window is the run of {r.path} (its `date`, back by its `duration`)"
        raise


def _window(r: VllmResult, power: PowerSamples, start_s: float, end_s: float, trim_s: float,
            several: bool) -> tuple[float, float]:
    if np.isfinite(start_s) or np.isfinite(end_s):
        lo, hi = start_s, end_s
    elif power.has_time:
        lo, hi = r.window
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise CalibrationError("the result has no date and duration to find its window in the power log",
                                   file=r.path, fix="pass --start and --end")
    else:
        if several:
            raise CalibrationError(f"the {power.kind} log has no timestamps: it cannot be split between "
                                   "several runs", file=power.path,
                                   fix="log with timestamps, or one log per run")
        return np.nan, np.nan
    if trim_s:
        lo, hi = lo + trim_s, hi - trim_s
        if np.isfinite(lo) and np.isfinite(hi) and hi <= lo:
            raise CalibrationError(f"--trim-s {trim_s:g} leaves nothing of the "
                                   f"{hi - lo + 2 * trim_s:.0f} s window", file=r.path,
                                   fix="use a smaller trim")
    return lo, hi


def _default_gpus(power: PowerSamples, config: Mapping[str, Any], r: VllmResult) -> list[str]:
    """All GPUs of the log, which must then match the run's GPU count (else --gpus is needed)."""
    known = sorted(set(power.gpu.tolist()), key=_gpu_key)
    want = run_config(r, config)["num_gpus"]
    if want != len(known):
        raise CalibrationError(f"the log has {len(known)} GPU(s) ({_shown(', '.join(known))[1:-1]}) but the run "
                               f"used {want}", file=power.path,
                               fix="pass --gpus with the indices the run used, e.g. --gpus 0,1,2,3")
    return known


# ---- writing rows -------------------------------------------------------------------------------
def rows_to_csv(rows: list[dict[str, str]], header: list[str] | None = None, *,
                with_header: bool = True, newline: str = "\n") -> str:
    """CSV text of ``rows`` in ``header``'s column order (default: the documented order)."""
    cols = list(header or COLUMNS)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    if with_header:
        w.writerow(cols)
    for r in rows:
        w.writerow([r.get(c, "") for c in cols])
    return buf.getvalue()


def append_rows(existing: str, rows: list[dict[str, str]], path: str) -> str:
    """``existing`` CSV text (read with newline="") with ``rows`` appended in its own column order and
    line endings; its text is kept as it is. A value for a column the file lacks is an error rather
    than silently dropped.
    """
    header_line = existing.splitlines()[0] if existing.strip() else ""
    newline = "\r\n" if "\r\n" in existing else "\n"
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(csv.reader([header_line]))] if header_line else list(COLUMNS)
    except csv.Error as exc:
        raise CalibrationError(f"its header line is not readable CSV ({exc})", file=path,
                               fix="write to a new file, or repair its first line") from None
    if existing.strip() and not header_line.strip():
        raise CalibrationError("its first line is blank, not the header naming the columns", file=path,
                               fix="remove the blank lines at its top, or write to a new file")
    for r in rows:
        lost = [c for c, v in r.items() if v and c not in header and c != "notes"]
        if lost:
            raise CalibrationError(f"the file has no column(s) {', '.join(lost)} for the imported values",
                                   file=path, fix="add the columns to its header, or write to a new file")
    body = existing if existing.endswith("\n") or not existing else existing + newline
    return body + rows_to_csv(rows, header, with_header=not header_line, newline=newline)
