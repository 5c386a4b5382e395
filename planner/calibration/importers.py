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

from planner.calibration.measurements import COLUMNS
from planner.errors import CalibrationError

SMI_POWER_FIELDS = ("power.draw", "power.draw.average", "power.draw.instant")
SMI_GPU_FIELDS = ("index", "uuid", "pci.bus_id")
_MISSING = {"", "-", "n/a", "[n/a]", "[not supported]", "[unknown error]", "nan"}
_EPOCH = _dt.datetime(1970, 1, 1)
MIN_SAMPLES_PER_GPU = 2
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


def _number(text: str) -> float:
    t = text.strip().lower()
    if t in _MISSING:
        return np.nan
    t = re.sub(r"\s*(w|%|mhz|mib|c)$", "", t)
    try:
        return float(t)
    except ValueError:
        return np.nan


def read_power_log(path: str | Path) -> PowerSamples:
    """Read an nvidia-smi query CSV or dmon log (detected from its first line)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise CalibrationError("power log not found", file=str(p), fix="check the path") from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.lstrip().startswith("#"):
        return _read_dmon(str(p), text)
    if any(f in first for f in SMI_POWER_FIELDS):
        return _read_smi_csv(str(p), text)
    fix = ("record with `nvidia-smi --query-gpu=timestamp,index,power.draw --format=csv -lms 500`, keeping "
           "its header line, or with `nvidia-smi dmon -s p -o DT`")
    if np.isfinite(_parse_time(first.split(",")[0], SMI_TIME_FORMATS)):
        raise CalibrationError("the nvidia-smi log has no header line (recorded with "
                               "--format=csv,noheader?), so its columns are unknown", file=str(p), fix=fix)
    raise CalibrationError("not an nvidia-smi log: expected a `--query-gpu` CSV header with power.draw, "
                           "or `dmon` output", file=str(p), fix=fix)


def _read_smi_csv(path: str, text: str) -> PowerSamples:
    rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    header = [re.sub(r"\s*\[.*\]$", "", h.strip()) for h in rows[0]]
    power_col = next((header.index(f) for f in SMI_POWER_FIELDS if f in header), None)
    if power_col is None:
        raise CalibrationError(f"no power.draw column (columns: {', '.join(header)})", file=path,
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
        gpus.append(row[gpu_col].strip() if gpu_col is not None else "0")
        times.append(_parse_time(row[time_col], SMI_TIME_FORMATS) if time_col is not None else np.nan)
        powers.append(_number(row[power_col]))
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
            raise CalibrationError(f"no pwr column (columns: {', '.join(columns)})", file=path,
                                   fix="record with `nvidia-smi dmon -s p -o DT`")
        gpus.append(row.get("gpu", row.get("idx", "0")))
        if "date" in row and "time" in row:
            times.append(_parse_time(f"{row['date']} {row['time']}", ("%Y%m%d %H:%M:%S",)))
        else:
            times.append(np.nan)
        powers.append(_number(row["pwr"]))
    if columns is None:
        raise CalibrationError("no dmon header line", file=path)
    return PowerSamples(path, "nvidia-smi dmon", np.array(gpus, dtype=str), np.array(times, dtype=float),
                        np.array(powers, dtype=float))


def _fmt_time(t: float) -> str:
    return (_EPOCH + _dt.timedelta(seconds=float(t))).strftime("%Y-%m-%d %H:%M:%S")


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
        end = _parse_time(str(self.data.get("date", "")), ("%Y%m%d-%H%M%S", "%Y-%m-%d %H:%M:%S"))
        duration = _float(self.data.get("duration"))
        if not (np.isfinite(end) and np.isfinite(duration)):
            return np.nan, np.nan
        return end - duration, end


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def read_vllm_result(path: str | Path) -> VllmResult:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CalibrationError("vLLM result not found", file=str(p), fix="check the path") from None
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=str(p),
                               fix="pass the file written by `vllm bench serve --save-result`") from None
    if not isinstance(data, dict):
        raise CalibrationError("expected a JSON object", file=str(p))
    missing = [k for k in VLLM_REQUIRED if k not in data]
    if missing:
        raise CalibrationError(f"not a vLLM benchmark result: missing key(s) {', '.join(missing)}",
                               file=str(p), fix="pass the file written by `vllm bench serve --save-result`")
    if not _float(data["completed"]) > 0:
        raise CalibrationError(f"completed = {data['completed']!r}: no request finished", file=str(p),
                               fix="rerun the benchmark")
    return VllmResult(str(p), data)


def _g(v: float, digits: int) -> str:
    return "" if not np.isfinite(v) else f"{round(float(v), digits):g}"


def vllm_row(result: VllmResult, config: Mapping[str, Any], *, power: WindowPower | None = None,
             stat: str = "median", source_id: str = "") -> dict[str, str]:
    """One measurement row from a vLLM result, the run's configuration and (optionally) its power.

    ``config`` holds model, gpu, num_gpus, tp, pp, precision, engine; missing ones are taken from the
    result (``model_id`` and ``--metadata`` keys). ``stat`` picks median or mean TTFT and ITL.
    """
    d = result.data
    cfg = {k: config.get(k) if config.get(k) not in (None, "") else d.get(k) for k in CONFIG_KEYS}
    cfg["model"] = cfg["model"] or d.get("model_id")
    missing = [k for k in ("model", "gpu") if not cfg[k]]
    if missing:
        raise CalibrationError(f"the run's {' and '.join(missing)} is not known", file=result.path,
                               fix=f"pass --{missing[0]} (or `vllm bench serve --metadata {missing[0]}=...`)")
    tp = int(_float(cfg["tp"])) if cfg["tp"] not in (None, "") else 1
    pp = int(_float(cfg["pp"])) if cfg["pp"] not in (None, "") else 1
    num_gpus = int(_float(cfg["num_gpus"])) if cfg["num_gpus"] not in (None, "") else tp * pp
    completed = _float(d["completed"])
    throughput = _float(d["output_throughput"])
    concurrency = _float(d.get("max_concurrency"))
    notes = [f"vllm bench serve {Path(result.path).name}", f"completed={int(completed)}",
             f"request_throughput={_g(_float(d.get('request_throughput')), 4)}",
             f"{stat} TTFT and ITL"]
    if isinstance(d.get("request_rate"), str | int | float):
        notes.append(f"request_rate={d['request_rate']}")
    row = {c: "" for c in COLUMNS}
    row.update({
        "source_id": source_id or "vllm-bench", "model": str(cfg["model"]), "gpu": str(cfg["gpu"]),
        "num_gpus": str(num_gpus), "tp": str(tp), "pp": str(pp), "precision": str(cfg["precision"] or "bf16"),
        "engine": str(cfg["engine"] or "vLLM"),
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
    rows = []
    gpu_list = list(gpus) if gpus else None
    for r in results:
        wp = None
        if power is not None:
            lo, hi = _window(r, power, start_s, end_s, trim_s, several=len(results) > 1)
            gpu_list = gpu_list or _default_gpus(power, config, r)
            wp = average_power(power, start_s=lo, end_s=hi, gpus=gpu_list)
        rows.append(vllm_row(r, config, power=wp, stat=stat, source_id=source_id))
    return rows


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
    want = config.get("num_gpus") or r.get("num_gpus")
    if want in (None, ""):
        tp = _float(config.get("tp") or r.get("tp") or 1)
        pp = _float(config.get("pp") or r.get("pp") or 1)
        want = tp * pp
    if int(_float(want)) != len(known):
        raise CalibrationError(f"the log has {len(known)} GPU(s) ({', '.join(known)}) but the run used "
                               f"{int(_float(want))}", file=power.path,
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
    header = [h.strip() for h in next(csv.reader([header_line]))] if header_line else list(COLUMNS)
    for r in rows:
        lost = [c for c, v in r.items() if v and c not in header and c != "notes"]
        if lost:
            raise CalibrationError(f"the file has no column(s) {', '.join(lost)} for the imported values",
                                   file=path, fix="add the columns to its header, or write to a new file")
    body = existing if existing.endswith("\n") or not existing else existing + newline
    return body + rows_to_csv(rows, header, with_header=not header_line, newline=newline)
