"""Hostile-input generators and an in-process CLI harness for tests/test_properties_inputs.py.

Documents are made by mutating valid seeds (the committed scenarios, plans, fixtures and shipped
measurements): keys dropped, duplicated or retyped, extreme numbers (0, -1, 1e308, inf, nan, 1e-308,
10**400), wrong types, deep nesting, aliases, unicode, binary bytes, truncation. A mutation draws
its choices through a ``Chooser``: ``DataChooser`` wraps hypothesis' ``data.draw`` (so failures
shrink), ``RandomChooser`` a seeded ``random.Random`` (for long fuzz loops outside the suite).

``run_cli`` runs ``planner.cli.main.main`` in-process with a time limit (SIGALRM) and returns what
a user would see: exit code, stdout, stderr, or the uncaught exception (a traceback in a real run).
The folder is loaded by path (the tests folder is not a package).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import random
import signal
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_SEEDS = sorted((ROOT / "scenarios").glob("*.yaml")) + [ROOT / "tests/fixtures/gitops/chatbot.yaml"]
PLAN_SEEDS = sorted((ROOT / "plans").glob("*/plan.json")) + sorted((ROOT / "tests/fixtures/report").glob("*.plan.json"))
CSV_SEEDS = sorted((ROOT / "planner/data/measurements").glob("*.csv"))
FIXTURES = ROOT / "tests/fixtures/measurements"
VLLM_SEEDS = sorted(FIXTURES.glob("vllm-*.json")) + [FIXTURES / "not-vllm.json"]
POWER_SEEDS = sorted(FIXTURES.glob("nvidia-smi-*"))
TIME_LIMIT_S = 5.0

# --------------------------------------------------------------------------- choosers


class RandomChooser:
    """Choices from a seeded random.Random (fuzz loops)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return options[self.rng.randrange(len(options))]


class DataChooser:
    """Choices drawn from hypothesis (``st.data()``), so failing examples shrink and replay."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))

    def choice(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return options[self.data.draw(self.st.integers(0, len(options) - 1))]


# --------------------------------------------------------------------------- values

NASTY_NUMBERS: tuple[Any, ...] = (0, -1, 0.0, -0.0, 1e308, -1e308, 1e-308, 5e-324, float("inf"), float("-inf"),
                                  float("nan"), 10**400, -(10**400), 2**63, 2**64 + 1, 0.5, 3.7, 1, 7)
NASTY_STRINGS: tuple[str, ...] = ("", " ", "\t", "nan", "inf", "-inf", "1e308", "-1", "0", "0x10", "1_000",
                                  "yes", "null", "~", "{}", "[]", "../../../../x", "/etc/passwd", "a/b", "..",
                                  "h100-sxm", "llama-3.1-8b", "fp8", "int4", "vllm", "é", "\u202e", "🚀",
                                  "\x00", "\x1b[31m", "a" * 5000, "\\", "'", '"', "%s%n", "{0}", "<script>",
                                  "H100 80GB", "?", "*", "&a", "!!python/object:os.system")


def nasty_value(ch: Any) -> Any:
    kind = ch.integer(0, 5)
    if kind <= 1:
        return ch.choice(NASTY_NUMBERS)
    if kind == 2:
        return ch.choice(NASTY_STRINGS)
    if kind == 3:
        return ch.choice([None, True, False, [], {}, [1, 2], {"a": 1}, [[]], [None], [{}], [1, None, "x"],
                          {"quant_method": 5}, ["full_attention", 1]])
    if kind == 4 and ch.integer(0, 2) == 0:
        return nested(ch.integer(1, 3) * 50, ch.choice(["list", "dict"]))
    return ch.choice(["x" * ch.integer(0, 3) + "é", -ch.integer(1, 10**6), ch.integer(0, 10**12)])


def nested(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def retype(value: Any, ch: Any) -> Any:
    """A value of another type carrying the same content where possible."""
    if isinstance(value, bool):
        return ch.choice([str(value).lower(), int(value), [value]])
    if isinstance(value, (int, float)):
        return ch.choice([str(value), [value], {"value": value}, bool(value), -value if value else -1])
    if isinstance(value, str):
        return ch.choice([[value], {value: value} if value else {"": 1}, len(value), value.upper(), value * 3])
    if isinstance(value, list):
        return ch.choice([{str(i): v for i, v in enumerate(value)}, str(value), value[:1] * 3, [value]])
    if isinstance(value, dict):
        return ch.choice([list(value.items()), list(value), str(value), [value]])
    return ch.choice(["", 0, []])


# --------------------------------------------------------------------------- tree mutations


def tree_paths(doc: Any, prefix: tuple = (), seen: set[int] | None = None) -> list[tuple]:
    """Every key path of a JSON-like tree (the root is ()); a shared sub-tree is entered once."""
    seen = set() if seen is None else seen
    out = [prefix]
    if isinstance(doc, (dict, list)):
        if id(doc) in seen or len(prefix) > 100:
            return out
        seen.add(id(doc))
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += tree_paths(value, prefix + (key,), seen)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += tree_paths(value, prefix + (i,), seen)
    return out


def get_at(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def laughs(levels: int, width: int) -> list:
    """Shared sub-lists: YAML dumps them as anchors and aliases ("billion laughs", width**levels leaves)."""
    value: list = ["lol"] * width
    for _ in range(levels - 1):
        value = [value] * width
    return value


def mutate_tree(doc: Any, ch: Any, steps: int, aliases: bool = False, keys: tuple[str, ...] = ()) -> Any:
    """``aliases``: also plant shared sub-trees (only for YAML, which keeps them as aliases); ``keys``: names
    the reader looks for, set (hostile) on a mapping of the document."""
    doc = copy.deepcopy(doc)
    for _ in range(steps):
        paths = tree_paths(doc)
        mappings = [p for p in paths if isinstance(get_at(doc, p), dict)]
        if keys and mappings and ch.integer(0, 1) == 0:
            get_at(doc, ch.choice(mappings))[ch.choice(keys)] = nasty_value(ch)
            continue
        path = ch.choice(paths)
        if not path:
            if ch.integer(0, 9) == 0:
                doc = nasty_value(ch)
            continue
        parent, key = get_at(doc, path[:-1]), path[-1]
        op = ch.integer(0, 7)
        if op == 0:  # drop
            del parent[key]
        elif op == 1 and isinstance(parent, list):  # duplicate an item
            parent.insert(key, copy.deepcopy(parent[key]))
        elif op == 1:  # unknown sibling key
            parent[ch.choice(["extra", key + "_x" if isinstance(key, str) else "k", "", "é", "1"])] = 1
        elif op == 2:
            parent[key] = retype(parent[key], ch)
        elif op == 6 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
            parent[key] = parent[key] * ch.choice([-1, 0, 10, 1e300, 1e-300, 1000.5])
        elif op == 7 and aliases and ch.integer(0, 1):
            parent[key] = laughs(ch.integer(2, 9), ch.integer(2, 9))
        elif op == 7 and ch.integer(0, 1):
            parent[key] = nested(ch.integer(20, 120), ch.choice(["list", "dict"]))
        else:
            parent[key] = nasty_value(ch)
    return doc


# --------------------------------------------------------------------------- text mutations

YAML_SNIPPETS: tuple[str, ...] = (
    "? [a, b]\n: 1\n",
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n",
    "x: !!python/object/apply:os.system ['true']\n",
    "x: !!binary aGVsbG8=\n",
    "<<: {a: 1}\n",
    "x: 2001-12-14t21:59:43.10-05:00\n",
    "--- \n--- \n",
    "\ufeff",
    "%YAML 1.1\n---\n",
    "x: .inf\n",
    "x: .nan\n",
    "\t",
    "x: 0o17\n",
    "x: 1e309\n",
    "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
)


def mutate_text(text: bytes, ch: Any, snippets: tuple[str, ...]) -> bytes:
    op = ch.integer(0, 7)
    if not text:
        return ch.choice(snippets).encode()
    at = ch.integer(0, len(text))
    if op == 0:
        return text[:at]
    if op == 1:
        return text[:at] + bytes(ch.integer(0, 255) for _ in range(ch.integer(1, 8))) + text[at:]
    if op == 2:  # at the top level: first or last
        return ch.choice(snippets).encode() + text if ch.integer(0, 1) else text + b"\n" + ch.choice(snippets).encode()
    if op == 3:
        lines = text.splitlines(keepends=True)
        i = ch.integer(0, len(lines) - 1)
        return b"".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
    if op == 4:
        i = min(at, len(text) - 1)
        return text[:i] + bytes([text[i] ^ (1 << ch.integer(0, 7))]) + text[i + 1:]
    if op == 5:
        return text.replace(b"\n", b"\r\n") if ch.integer(0, 1) else text.decode("utf-8", "replace").encode("utf-16")
    if op == 6:
        return text[:at] + ch.choice(snippets).encode() + text[at:]
    return text + text[:at]


def dump_yaml(doc: Any) -> bytes:
    try:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
    except (yaml.YAMLError, RecursionError, ValueError):
        return b"x: 1\n"


def dump_json(doc: Any) -> bytes:
    try:
        return json.dumps(doc, indent=1).encode()
    except (ValueError, RecursionError):
        return b"{}"


def mutated_yaml(seed_text: str, ch: Any) -> bytes:
    """A scenario- or catalog-like YAML document: a mutated tree, then perhaps a text mutation."""
    doc = yaml.safe_load(seed_text)
    out = dump_yaml(mutate_tree(doc, ch, ch.integer(1, 3), aliases=True)) if ch.integer(0, 3) else seed_text.encode()
    if ch.integer(0, 2) == 0:
        out = mutate_text(out, ch, YAML_SNIPPETS)
    return out


def mutated_json(seed_text: str, ch: Any, keys: tuple[str, ...] = ()) -> bytes:
    doc = json.loads(seed_text)
    out = dump_json(mutate_tree(doc, ch, ch.integer(1, 3), keys=keys)) if ch.integer(0, 4) else seed_text.encode()
    if ch.integer(0, 3) == 0:
        out = mutate_text(out, ch, ('"x": NaN,', "Infinity", "-Infinity", "1e999", "[" * 3000, '"\\ud800"',
                                    "\x00", '{"a": 1, "a": 2}', "null"))
    return out


CSV_CELLS: tuple[str, ...] = ("", " ", "nan", "NaN", "inf", "-inf", "1e308", "1e-308", "5e-324", "-1", "0",
                              "1e400", "abc", "é", "\x00", "1,5", '"', "h100-sxm", "fp8", "int4", "wall",
                              "per GPU", "10" * 50, "1" + "0" * 400)


def mutated_csv(seed_text: str, ch: Any, max_rows: int = 12) -> bytes:
    """Measurement rows: a few seed rows, cells replaced, columns dropped or duplicated, text mangled."""
    rows = list(csv.reader(io.StringIO(seed_text)))
    header, body = rows[0], rows[1:]
    start = ch.integer(0, max(0, len(body) - 1))
    body = [list(r) for r in body[start:start + ch.integer(1, max_rows)]]
    for _ in range(ch.integer(1, 4)):
        op = ch.integer(0, 5)
        col = ch.integer(0, len(header) - 1)
        if op <= 1 and body:
            body[ch.integer(0, len(body) - 1)][col] = ch.choice(CSV_CELLS)
        elif op == 2 and body:  # a plausible number made implausible, or merely different
            row = body[ch.integer(0, len(body) - 1)]
            try:
                row[col] = repr(float(row[col]) * ch.choice([0.5, 2.0, 10.0, 1e-3, 1e3, -1.0, 1e-300, 1e300]))
            except (ValueError, IndexError):
                continue
        elif op == 3:
            header = header[:col] + header[col + 1:]
            body = [r[:col] + r[col + 1:] for r in body]
        elif op == 4:
            header = header + [header[col]]
            body = [r + [r[col] if col < len(r) else ""] for r in body]
        elif body:
            body.append(list(body[0]) + ["extra"] * ch.integer(0, 2))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header] + body)
    out = buf.getvalue().encode()
    if ch.integer(0, 3) == 0:
        out = mutate_text(out, ch, ("a" * 140_000, '"unterminated', "\r", "\x00", ",,,,,,", "\ufeff"))
    return out


def mutated_power_log(seed_text: str, ch: Any) -> bytes:
    lines = seed_text.splitlines(keepends=True)
    for _ in range(ch.integer(1, 3)):
        i = ch.integer(0, len(lines) - 1)
        parts = lines[i].split(",") if "," in lines[i] else lines[i].split(" ")
        j = ch.integer(0, len(parts) - 1)
        parts[j] = ch.choice(CSV_CELLS + ("99999999 W", "-5 W", "nan W", "2026/13/45 25:61:61.000", "[N/A]",
                                          "20261121", "99:99:99", "    "))
        lines[i] = ("," if "," in lines[i] else " ").join(parts)
        if not lines[i].endswith("\n"):
            lines[i] += "\n"
    out = "".join(lines).encode()
    if ch.integer(0, 2) == 0:
        out = mutate_text(out, ch, ("\x00", "a" * 140_000, "\r", "#", "timestamp, index, power.draw [W]\n"))
    return out


# --------------------------------------------------------------------------- harness


class Hang(BaseException):
    """The command ran past the time limit (BaseException: no `except Exception` swallows it)."""


@dataclass
class Outcome:
    rc: int | None
    out: str
    err: str
    seconds: float
    crash: str | None = None  # "ExcType: message @ file:line" of an uncaught exception
    tb: str = ""
    hung: bool = False
    changed: dict[str, str] = field(default_factory=dict)  # relative path -> "new" | "modified" | "deleted"


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def diff_snapshots(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    changed = {p: "new" for p in after if p not in before}
    changed.update({p: "modified" for p in after if p in before and after[p] != before[p]})
    changed.update({p: "deleted" for p in before if p not in after})
    return changed


def _crash_site(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/planner/" in f.filename] or frames
    site = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} @ {site}"


def run_cli(args: list[str], root: Path, time_limit_s: float = TIME_LIMIT_S) -> Outcome:
    """Run ``planner ARGS`` in-process; ``root`` is snapshotted to see what the command wrote."""
    from planner.cli.main import main

    before = snapshot(root)
    out_buf, err_buf = io.TextIOWrapper(io.BytesIO(), "utf-8"), io.TextIOWrapper(io.BytesIO(), "utf-8")
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit_s)
    start = time.perf_counter()
    rc, crash, tb, hung = None, None, "", False
    limit = sys.getrecursionlimit()
    try:
        with redirect_stdout(out_buf), redirect_stderr(err_buf):
            rc = main(list(args))
    except Hang:
        hung = True
    except SystemExit as exc:  # click's own exit paths
        rc = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:  # noqa: BLE001 - anything else is what a user sees as a traceback
        crash, tb = _crash_site(exc), traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        sys.setrecursionlimit(limit)
    seconds = time.perf_counter() - start
    texts = []
    for buf in (out_buf, err_buf):
        buf.flush()
        texts.append(buf.buffer.getvalue().decode("utf-8", "replace"))
    changed = diff_snapshots(before, snapshot(root))
    return Outcome(rc, texts[0], texts[1], seconds, crash, tb, hung, changed)


def problems(outcome: Outcome, allowed_rc: set[int], out_dir: str | None, names: list[str],
             error_required: set[int] = frozenset({1})) -> list[str]:
    """What is wrong with ``outcome`` by the issue-9 rules (empty when nothing is).

    ``out_dir``: the only folder (relative to the harness root) a command may write into; ``names``:
    file names of which the error message must mention one (empty: no file to name).
    ``error_required``: exit codes that must come with an ``Error: ...`` line.
    """
    found = []
    if outcome.hung:
        found.append(f"hang (> {TIME_LIMIT_S} s)")
    if outcome.crash:
        found.append(f"traceback {outcome.crash}")
    if outcome.rc is not None and outcome.rc not in allowed_rc:
        found.append(f"exit code {outcome.rc} not in {sorted(allowed_rc)}")
    if "Traceback" in outcome.err or "Traceback" in outcome.out:
        found.append("'Traceback' printed")
    for path, how in outcome.changed.items():
        if out_dir is None or not path.startswith(out_dir.rstrip("/") + "/") or how != "new" and how != "modified":
            found.append(f"{how} file outside the output folder: {path}")
    if outcome.rc in error_required and not outcome.hung and not outcome.crash:
        errors = [line for line in outcome.err.splitlines() if line.startswith("Error: ")]
        if len(errors) != 1:
            found.append(f"{len(errors)} 'Error: ' lines on stderr (want 1)")
        elif names and not any(name in errors[0] for name in names):
            found.append(f"the error does not name the file ({' or '.join(names)}): {errors[0][:200]}")
    return found


def restore(root: Path, saved: dict[str, bytes]) -> None:
    """Put the tree under ``root`` back to ``saved`` (relative path -> bytes): drop new files."""
    for path in sorted(root.rglob("*"), reverse=True):
        rel = str(path.relative_to(root))
        if path.is_file() and rel not in saved:
            path.unlink()
    for rel, data in saved.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)


def save_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def written(root: Path, outcome: Outcome) -> dict[str, bytes]:
    return {p: (root / p).read_bytes() for p in sorted(outcome.changed) if (root / p).is_file()}


def run_twice(args: list[str], root: Path) -> tuple[Outcome, list[str]]:
    """Run twice from the same files; the second run must print and write the same bytes."""
    saved = save_tree(root)
    first = run_cli(args, root)
    first_files = written(root, first)
    restore(root, saved)
    if first.hung or first.crash:
        return first, []
    second = run_cli(args, root)
    second_files = written(root, second)
    restore(root, saved)
    found = []
    if (first.rc, first.out, first.err) != (second.rc, second.out, second.err):
        found.append("a second run printed something else (rc/stdout/stderr differ)")
    if first_files != second_files:
        found.append("a second run wrote other bytes")
    return first, found


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- cases per input family

WORK = "d1/d2/d3/d4/work"  # the command's cwd under the harness root: room to see writes above it
OUT = f"{WORK}/out"


@dataclass
class Case:
    """One CLI call on generated files: what may happen, and where it may write."""

    args: list[str]
    files: dict[str, bytes]  # path relative to WORK -> content
    allowed_rc: set[int]
    names: list[str]  # file names the error message may name (empty: no file)
    out_dir: str | None = None  # relative to the harness root
    error_required: set[int] = field(default_factory=lambda: {1})


def seed_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _override_names(doc_bytes: bytes) -> list[str]:
    try:
        doc = yaml.safe_load(doc_bytes)
        names = list(doc["overrides"]) if isinstance(doc, dict) and isinstance(doc.get("overrides"), dict) else []
        return [n for n in names if isinstance(n, str)][:3]
    except Exception:  # noqa: BLE001 - any unreadable document simply has no override to try
        return []


def plan_for(scenario: Path) -> Path:
    plan = ROOT / "plans" / scenario.stem / "plan.json"
    return plan if plan.exists() else ROOT / "plans/chatbot/plan.json"


def scenario_case(ch: Any, command: str | None = None) -> Case:
    seed = ch.choice(SCENARIO_SEEDS)
    text = mutated_yaml(seed_text(seed), ch)
    files = {"in/s.yaml": text}
    command = command or ch.choice(["validate", "validate", "check"])
    override = ch.choice([None, *_override_names(text)])
    extra = ["--override", override] if override else []
    if command == "validate":
        return Case(["validate", "in/s.yaml", *extra], files, {0, 1}, ["s.yaml"])
    if command == "check":
        files["in/plan.json"] = plan_for(seed).read_bytes()
        return Case(["check", "in/s.yaml", "--plan", "in/plan.json", *extra], files, {0, 1, 2}, ["s.yaml"],
                    error_required=set())
    return Case(["solve", "in/s.yaml", "--no-analysis", "--out", "out", "--format", "json", *extra], files,
                {0, 1, 3}, ["s.yaml"], out_dir=OUT)


def plan_case(ch: Any, command: str | None = None) -> Case:
    seed = ch.choice(PLAN_SEEDS)
    files = {"in/p.json": mutated_json(seed_text(seed), ch)}
    command = command or ch.choice(["report", "report", "diff-self", "diff", "check"])
    if command == "report":
        fmt = ch.choice(["md", "html", "json"])
        if ch.integer(0, 1):
            return Case(["report", "in/p.json", "--format", fmt, "--out", "out/r." + fmt], files, {0, 1},
                        ["p.json"], out_dir=OUT)
        return Case(["report", "in/p.json", "--format", fmt], files, {0, 1}, ["p.json"])
    if command == "diff-self":  # a plan against itself: no change, or an input error
        return Case(["diff", "in/p.json", "in/p.json", "--format", ch.choice(["text", "json"])], files, {0, 1},
                    ["p.json"])
    if command == "diff":
        files["in/base.json"] = seed.read_bytes()
        fmt = ch.choice(["text", "md", "json", "github-comment"])
        return Case(["diff", "in/base.json", "in/p.json", "--format", fmt], files, {0, 1, 2}, ["p.json"])
    scenario = ROOT / "scenarios" / f"{seed.parent.name}.yaml"
    files["in/s.yaml"] = (scenario if scenario.exists() else ROOT / "scenarios/chatbot.yaml").read_bytes()
    return Case(["check", "in/s.yaml", "--plan", "in/p.json"], files, {0, 1, 2}, ["p.json"], error_required=set())


def csv_case(ch: Any, command: str | None = None) -> Case:
    files = {"in/m.csv": mutated_csv(seed_text(ch.choice(CSV_SEEDS)), ch)}
    command = command or ch.choice(["accuracy", "calibrate"])
    if command == "accuracy":
        return Case(["accuracy", "in/m.csv", "--format", ch.choice(["text", "json"])], files, {0, 1}, ["m.csv"])
    extra = ["--allow-clamped"] if ch.integer(0, 1) else []
    return Case(["calibrate", "in/m.csv", "--out", "out/c.yaml", *extra], files, {0, 1}, ["m.csv"], out_dir=OUT)


# keys planner/calibration/importers.py reads from a vLLM result
VLLM_KEYS = ("completed", "date", "duration", "engine", "gpu", "max_concurrency", "model_id", "num_gpus",
             "output_throughput", "pp", "precision", "request_rate", "request_throughput", "total_input_tokens",
             "total_output_tokens", "tp", "median_ttft_ms", "mean_itl_ms", "median_itl_ms", "mean_ttft_ms")


def vllm_case(ch: Any, command: str | None = None) -> Case:
    files = {"in/r.json": mutated_json(seed_text(ch.choice(VLLM_SEEDS)), ch, VLLM_KEYS)}
    args = ["calibrate", "import", "--vllm", "in/r.json", "--gpu", "h100-sxm"]
    if ch.integer(0, 1):
        files["in/power.csv"] = (FIXTURES / "nvidia-smi-query.csv").read_bytes()
        args += ["--power", "in/power.csv", "--tp", "2"]  # the log holds GPUs 0 and 1
    if ch.integer(0, 1):
        return Case(args + ["--out", "out/m.csv"], files, {0, 1}, ["r.json"], out_dir=OUT)
    return Case(args, files, {0, 1}, ["r.json"])


def power_case(ch: Any, command: str | None = None) -> Case:
    seed = ch.choice(POWER_SEEDS)
    files = {"in/p.log": mutated_power_log(seed_text(seed), ch),
             "in/r.json": (FIXTURES / "vllm-llama8b-c8.json").read_bytes()}
    args = ["calibrate", "import", "--vllm", "in/r.json", "--power", "in/p.log", "--gpu", "h100-sxm",
            "--gpus", ch.choice(["0", "0", "0", "1", "0,1", "7", "x", "", "-1"]), "--out", "out/m.csv"]
    names = ["p.log"]
    for flag, values in (("--start", ("2026-11-21T14:00:20", "2026-11-21T14:02:00", "9999-12-31T23:59:59", "x",
                                      "2026-02-30T00:00:00", "")),
                         ("--end", ("2026-11-21T14:01:40", "2026-11-21T13:00:00", "0001-01-01T00:00:00", "nan")),
                         ("--trim-s", ("0", "10", "49.9", "50", "1e308", "nan", "inf"))):
        if ch.integer(0, 3) == 0:
            args += [flag, ch.choice(values)]
            names.append(flag)
    return Case(args, files, {0, 1}, names, out_dir=OUT)


HF_SEEDS: tuple[dict, ...] = (
    {"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
     "max_position_embeddings": 131072, "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
     "num_key_value_heads": 8, "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
     "vocab_size": 128256, "_name_or_path": "meta-llama/Llama-3.1-8B-Instruct"},
    {"model_type": "qwen3_moe", "num_hidden_layers": 48, "hidden_size": 2048, "num_attention_heads": 32,
     "num_key_value_heads": 4, "intermediate_size": 6144, "vocab_size": 151936, "max_position_embeddings": 40960,
     "head_dim": 128, "num_experts": 128, "num_experts_per_tok": 8, "moe_intermediate_size": 768,
     "decoder_sparse_step": 1, "mlp_only_layers": [], "use_sliding_window": False, "torch_dtype": "bfloat16"},
    {"model_type": "deepseek_v3", "num_hidden_layers": 61, "hidden_size": 7168, "num_attention_heads": 128,
     "num_key_value_heads": 128, "intermediate_size": 18432, "vocab_size": 129280,
     "max_position_embeddings": 163840, "moe_intermediate_size": 2048, "n_routed_experts": 256,
     "n_shared_experts": 1, "num_experts_per_tok": 8, "first_k_dense_replace": 3, "moe_layer_freq": 1,
     "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
     "v_head_dim": 128, "torch_dtype": "bfloat16",
     "quantization_config": {"quant_method": "fp8", "fmt": "e4m3", "weight_block_size": [128, 128]}},
    {"model_type": "gpt_oss", "num_hidden_layers": 24, "hidden_size": 2880, "num_attention_heads": 64,
     "num_key_value_heads": 8, "intermediate_size": 2880, "vocab_size": 201088, "max_position_embeddings": 131072,
     "head_dim": 64, "num_local_experts": 32, "num_experts_per_tok": 4, "sliding_window": 128,
     "layer_types": ["sliding_attention", "full_attention"] * 12, "quantization_config": {"quant_method": "mxfp4"},
     "torch_dtype": "bfloat16"},
    {"model_type": "gemma2", "num_hidden_layers": 42, "hidden_size": 3584, "num_attention_heads": 16,
     "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 256000, "max_position_embeddings": 8192,
     "head_dim": 256, "sliding_window": 4096, "tie_word_embeddings": True, "torch_dtype": "float32"},
    {"model_type": "llava", "text_config": {"model_type": "mistral", "num_hidden_layers": 32, "hidden_size": 4096,
                                            "num_attention_heads": 32, "num_key_value_heads": 8,
                                            "intermediate_size": 14336, "vocab_size": 32768,
                                            "max_position_embeddings": 32768, "sliding_window": None}},
)


# keys planner/catalog/hf_import.py reads from a Hugging Face config.json
HF_KEYS = ("_name_or_path", "attention_bias", "decoder_sparse_step", "first_k_dense_replace", "head_dim", "hidden_size",
           "intermediate_size", "kv_lora_rank", "layer_types", "max_position_embeddings", "max_sequence_length",
           "mlp_only_layers", "model_type", "moe_intermediate_size", "moe_layer_freq", "moe_topk", "n_embd", "n_head",
           "n_inner", "n_layer", "n_positions", "n_routed_experts", "n_shared_experts", "num_attention_heads",
           "num_experts", "num_experts_per_tok", "num_hidden_layers", "num_key_value_heads", "num_local_experts",
           "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "quantization_config", "seq_length",
           "shared_expert_intermediate_size", "sliding_window", "sliding_window_pattern", "text_config",
           "tie_word_embeddings", "torch_dtype", "use_sliding_window", "v_head_dim", "vocab_size", "experts_per_token")


def hf_case(ch: Any, command: str | None = None) -> Case:
    files = {"in/config.json": mutated_json(json.dumps(ch.choice(HF_SEEDS)), ch, HF_KEYS)}
    args, names = ["catalog", "import-hf", "in/config.json"], ["config.json"]
    if ch.integer(0, 2) == 0:
        args += ["--id", str(ch.choice(["m", "x.y-1", "", "UPPER", "../x", "é", "a" * 300]))]
        names.append("--id")
    if ch.integer(0, 3) == 0:
        args += ["--params-b", str(ch.choice(NASTY_NUMBERS))]
        names.append("--params-b")
    if ch.integer(0, 1):
        return Case(args + ["--out", "out/m.yaml"], files, {0, 1}, names, out_dir=OUT)
    return Case(args, files, {0, 1}, names)


def _user_catalog_seeds() -> tuple[str, str]:
    gpus = yaml.safe_load((ROOT / "catalogs/gpus.yaml").read_text(encoding="utf-8"))["gpus"]
    models = yaml.safe_load((ROOT / "catalogs/models.yaml").read_text(encoding="utf-8"))["models"]
    gpu = dict(next(g for g in gpus if g["id"] == "h100-sxm"), id="my-gpu", aliases=[])
    model = dict(next(m for m in models if m["id"] == "llama-3.1-8b"), id="my-model", aliases=[])
    return (yaml.safe_dump({"schema_version": 1, "gpus": [gpu]}, sort_keys=False),
            yaml.safe_dump({"schema_version": 1, "models": [model]}, sort_keys=False))


def catalog_case(ch: Any, command: str | None = None) -> Case:
    gpus_text, models_text = _user_catalog_seeds()
    which = ch.integer(0, 2)
    files = {"in/cat/gpus.yaml": mutated_yaml(gpus_text, ch) if which != 1 else gpus_text.encode(),
             "in/cat/models.yaml": mutated_yaml(models_text, ch) if which != 0 else models_text.encode()}
    names = ["gpus.yaml", "models.yaml", "my-gpu", "my-model"]  # or: the entry is gone, renamed or unfit
    command = command or ch.choice(["estimate", "estimate", "list"])
    if command == "list":
        return Case(["catalog", ch.choice(["gpus", "models"]), "--catalog", "in/cat"], files, {0, 1}, names)
    args = ["estimate", "--catalog", "in/cat", "--model", "my-model", "--gpu", "my-gpu", "--input-tokens", "512",
            "--output-tokens", "128", "--batch-size", "max", "--precision", ch.choice(["bf16", "fp8"]),
            "--format", ch.choice(["table", "json"])]
    return Case(args, files, {0, 1}, names)


# flag -> (usual values, hostile values)
FLAG_VALUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "--model": (("llama-3.1-8b", "llama-3.1-70b", "deepseek-v3", "gpt-oss-120b", "qwen3-30b-a3b",
                 "meta-llama/Llama-3.1-8B-Instruct"), ("", " ", "nope", "../x", "é", "\x00")),
    "--params": (("70e9", "70B", "8b"), ("0", "-1", "nan", "inf", "1e308", "1e400", "1e-308", "", "B", "70e9e9")),
    "--gpu": (("h100-sxm", "b200", "a100-sxm-40gb", "v100-sxm", "mi300x", "H100 80GB"), ("", "nope", "é")),
    "--precision": (("bf16", "fp16", "fp8", "int8", "int4", "fp4"), ("FP8", "", "fp3")),
    "--tp": (("1", "2", "8"), ("0", "-1", "3", "1024", "99999999999999999999", "nan", "1.5")),
    "--pp": (("1", "2"), ("0", "-4", "7", "1000000")),
    "--batch-size": (("1", "32", "256", "max"), ("0", "-1", "1024", "100000000", "1e3", "1.5", "maxi")),
    "--input-tokens": (("2048", "100", "0.5"), ("0", "-1", "1e308", "inf", "nan", "1e-308", "1e7", "5e-324")),
    "--output-tokens": (("512", "1", "64"), ("0", "-1", "1e308", "inf", "nan", "1e-308", "0.5", "1e7")),
    "--engine": (("vllm", "sglang", "trt-llm"), ("TRT-LLM", "", "tgi")),
    "--power-limit-w": (("300", "700"), ("0", "-1", "nan", "inf", "1e308", "1e-308")),
    "--duty-cycle": (("1", "0.5"), ("0", "-1", "2", "nan", "inf", "1e-308")),
    "--electricity-usd-per-kwh": (("0.1", "0"), ("-1", "nan", "inf", "1e308")),
    "--pue": (("1.3", "1"), ("0", "0.5", "-1", "nan", "inf", "1e308")),
    "--format": (("table", "json"), ("xml",)),
}


def estimate_case(ch: Any, command: str | None = None) -> Case:
    """Mostly usual flags, one to three hostile ones."""
    model_flag = "--model" if ch.integer(0, 3) else "--params"
    flags = [f for f in FLAG_VALUES if f not in ("--model", "--params") or f == model_flag]
    hostile = {ch.choice(flags) for _ in range(ch.integer(0, 3))}
    args = ["estimate"]
    for flag in flags:
        required = flag in (model_flag, "--gpu", "--input-tokens", "--output-tokens", "--batch-size")
        if flag in hostile or required and ch.integer(0, 30) or ch.integer(0, 2) == 0:
            usual, bad = FLAG_VALUES[flag]
            args += [flag, ch.choice(bad if flag in hostile else usual)]
    return Case(args, {}, {0, 1}, [])


FAMILIES = {"scenario": scenario_case, "plan": plan_case, "csv": csv_case, "vllm": vllm_case,
            "power": power_case, "hf": hf_case, "catalog": catalog_case, "estimate": estimate_case}


def materialize(case: Case, root: Path) -> Path:
    """Write the case's files under root/WORK; return the working folder."""
    work = root / WORK
    (work / "out").mkdir(parents=True, exist_ok=True)
    for rel, data in case.files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    return work


def check_case(case: Case, root: Path, twice: bool = True) -> tuple[Outcome, list[str]]:
    """Run a materialized case (cwd must be root/WORK) and list every rule it breaks."""
    if twice:
        outcome, found = run_twice(case.args, root)
    else:
        outcome, found = run_cli(case.args, root), []
    found = problems(outcome, case.allowed_rc, case.out_dir, case.names, case.error_required) + found
    printed = outcome.out.strip() or "--out" not in case.args  # with --out a report goes to the file
    if "json" in case.args and outcome.rc in (0, 2) and printed and not outcome.crash and not outcome.hung:
        found += json_problems(outcome.out)
    return outcome, found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_problems(text: str) -> list[str]:
    """`--format json` prints exactly one strict JSON document (no NaN or Infinity)."""
    try:
        json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        return [f"--format json printed no single strict JSON document: {str(exc)[:120]}"]
    return []


def calibration_case(ch: Any, command: str | None = None) -> Case:
    """A mutated calibration file (`planner calibrate` output) passed to estimate, check or solve."""
    files = {"in/cal.yaml": mutated_yaml(seed_text(ROOT / "planner/data/calibration.yaml"), ch)}
    command = command or ch.choice(["estimate", "estimate", "check"])
    if command == "estimate":
        args = ["estimate", "--calibration", "in/cal.yaml", "--model", ch.choice(["llama-3.1-8b", "qwen3-8b"]),
                "--gpu", ch.choice(["h100-sxm", "h200", "b200"]), "--engine", ch.choice(["vllm", "trt-llm"]),
                "--input-tokens", "1000", "--output-tokens", "200", "--batch-size", "16"]
        return Case(args, files, {0, 1}, ["cal.yaml"])
    if command == "check":
        files["in/s.yaml"] = (ROOT / "scenarios/chatbot.yaml").read_bytes()
        files["in/plan.json"] = (ROOT / "plans/chatbot/plan.json").read_bytes()
        return Case(["check", "in/s.yaml", "--plan", "in/plan.json", "--calibration", "in/cal.yaml"], files,
                    {0, 1, 2}, ["cal.yaml"], error_required=set())
    files["in/s.yaml"] = (ROOT / "scenarios/chatbot.yaml").read_bytes()
    return Case(["solve", "in/s.yaml", "--calibration", "in/cal.yaml", "--no-analysis", "--out", "out", "--format",
                 "json"], files,
                {0, 1, 3}, ["cal.yaml"], out_dir=OUT)


def policy_case(ch: Any, command: str | None = None) -> Case:
    """A mutated review policy for `planner check --policy` (with and without --base)."""
    files = {"in/policy.yaml": mutated_yaml(seed_text(ROOT / "policies/default.yaml"), ch),
             "in/s.yaml": (ROOT / "scenarios/chatbot.yaml").read_bytes(),
             "in/plan.json": (ROOT / "plans/chatbot/plan.json").read_bytes()}
    args = ["check", "in/s.yaml", "--plan", "in/plan.json", "--policy", "in/policy.yaml"]
    if ch.integer(0, 1):
        files["in/base.json"] = mutated_json(seed_text(ROOT / "plans/chatbot/plan.json"), ch)
        args += ["--base", "in/base.json"]
    return Case(args, files, {0, 1, 2, 4}, ["policy.yaml", "base.json"], error_required=set())


FAMILIES.update(calibration=calibration_case, policy=policy_case)


class memory_cap:  # noqa: N801 - used as a context manager
    """Cap this process's address space at its current size + ``extra_bytes`` (a reader that never stops then
    fails fast with MemoryError instead of exhausting the machine); the old limit comes back on exit."""

    def __init__(self, extra_bytes: int = 768 * 2**20) -> None:
        self.extra_bytes = extra_bytes

    def __enter__(self) -> memory_cap:
        import resource

        self.old = resource.getrlimit(resource.RLIMIT_AS)
        status = Path("/proc/self/status").read_text(encoding="ascii")
        vm_bytes = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmSize:"))) * 1024
        soft = vm_bytes + self.extra_bytes
        if self.old[1] != resource.RLIM_INFINITY:
            soft = min(soft, self.old[1])
        resource.setrlimit(resource.RLIMIT_AS, (soft, self.old[1]))
        return self

    def __exit__(self, *exc: object) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, self.old)


# --------------------------------------------------------------------------- valid-looking scenario changes

SCALE_FACTORS = (0.1, 0.5, 0.9, 1.1, 2, 3, 10, 100, 0.01)
ENUM_SWAPS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("min_tco", "min_power", "min_energy", "min_gpus", "min_carbon"),
                    ("min_tco", "min_power", "min_energy", "min_gpus", "min_carbon")),
    **dict.fromkeys(("bf16", "fp16", "fp8", "int8", "int4", "fp4"), ("bf16", "fp16", "fp8", "int8", "int4", "fp4")),
    **dict.fromkeys(("vllm", "sglang", "trt-llm"), ("vllm", "sglang", "trt-llm")),
    "air": ("air", "liquid"), "liquid": ("air", "liquid"),
}
SCENARIO_GPUS = ("h100-sxm", "h200", "b200", "a100-sxm-80gb", "l40s", "mi300x", "H100 80GB", "B200-SXM")


def _structural(doc: dict, ch: Any) -> None:
    op = ch.integer(0, 4)
    if op == 0 and doc.get("workloads"):
        workload = copy.deepcopy(ch.choice(doc["workloads"]))
        workload["name"] = f"{workload['name']}-{ch.integer(2, 9)}"
        doc["workloads"].append(workload)
    elif op == 1:
        doc.setdefault("hardware", {})["inventory"] = {ch.choice(SCENARIO_GPUS): ch.choice([0, 1, 4, 8, 16, 1000])}
    elif op == 2:
        doc.setdefault("finance", {})["budget_usd"] = ch.choice([1000, 1e5, 1e6, 1e9])
    elif op == 3:
        doc.setdefault("hardware", {})["gpus"] = sorted({ch.choice(SCENARIO_GPUS[:6]) for _ in range(ch.integer(1, 2))})
    else:
        doc.setdefault("site", {})["power_cap_kw"] = ch.choice([0.5, 5, 20, 100, 1e4])


def semantic_scenario(doc: dict, ch: Any) -> dict:
    """A scenario a user might write: numbers scaled, enums swapped, keys dropped, lists trimmed, limits added."""
    doc = copy.deepcopy(doc)
    if ch.integer(0, 1):
        _structural(doc, ch)
    for _ in range(ch.integer(1, 3)):
        path = ch.choice([p for p in tree_paths(doc) if p and p[0] != "overrides"] or [()])
        if not path:
            break
        parent, key, value = get_at(doc, path[:-1]), path[-1], get_at(doc, path)
        if is_finite_number(value) and ch.integer(0, 3):
            scaled = value * ch.choice(SCALE_FACTORS)
            parent[key] = round(scaled) if isinstance(value, int) else scaled
        elif isinstance(value, str) and value in ENUM_SWAPS:
            parent[key] = ch.choice(ENUM_SWAPS[value])
        elif isinstance(value, list) and len(value) > 1:
            parent[key] = value[:ch.integer(1, len(value) - 1)]
        elif isinstance(parent, dict) and key != "name":
            del parent[key]
    return doc
