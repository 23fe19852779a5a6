"""handoff against check-jsonschema, side by side in one run, and BENCHMARKS.md from the result.

Usage: python benchmarks/compare.py [--sizes 1000,10000,50000] [--repeat 3] [--out BENCHMARKS.md]

For each size N (smallest first) it grows one `handoff init` workspace (with the packets'
evidence files) to N seed-like Markdown packets, and one folder to the same N packets as JSON for
check-jsonschema, which checks them against `handoff schema`'s output; each cold run starts
without a cache. Every time is a whole process's wall time (median of
--repeat runs; cold runs once per size), measured in the same run so the ratios hold on a busy
machine. Peak memory is the lint process's maximum resident set size (its workers included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TOP = HERE.parent

# The targets: (measure, limit, what the limit is a multiple of).
TARGETS = (
    ("cold lint 10k", 0.5, "check-jsonschema"),
    ("warm lint 10k", 0.1, "check-jsonschema"),
    ("one file", 0.5, "check-jsonschema"),
    ("list --format json 10k", 0.25, "check-jsonschema"),
)
PEAK_LIMIT_MIB = 200
GROWTH_LIMIT = 5.5


def tool(name: str) -> str | None:
    found = BIN / name
    return str(found) if found.exists() else shutil.which(name)


def packet(i: int) -> dict[str, object]:
    """The demo's refund seed (handoff_cli.demo.SEED), varied per index (runId, amount, one
    evidence file)."""
    from handoff_cli.demo import SEED

    return {
        **SEED,
        "runId": f"refund-{i:06d}",
        "agentGoal": f"Prepare refund decision material for request {i} above the policy limit",
        "triggerReason": f"Refund of {100 + i % 9000} EUR exceeds standard policy and the "
                         "customer has two prior complaints",
        "evidence": {
            "orderFile": "workspace/refunds/orders.xlsx",
            "conversationSummary": f"workspace/refunds/customer-{i % 100:02d}.md",
            "policyExcerpt": "workspace/refunds/refund-policy.md",
        },
    }


def markdown(data: dict[str, object], i: int) -> str:
    lines = ["---"]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {v}" for k, v in value.items()]
        elif isinstance(value, list):
            lines.append(f"{key}:")
            for option in value:
                assert isinstance(option, dict)
                lines.append(f"  - label: {option['label']}")
                lines.append(f"    risk: {option['risk']}")
        else:
            lines.append(f"{key}: {value}")
    lines += ["---", f"The customer of request {i} asks for a full refund.", ""]
    return "\n".join(lines)


@dataclass
class Corpus:
    """One workspace and one JSON folder that grow from size to size: each size adds the
    packets the last one lacked (so 50,000 writes 40,000 more on top of 10,000)."""

    root: Path
    json_dir: Path
    schema: Path
    count: int = 0


def start(base: Path, handoff: str) -> Corpus:
    """An empty `handoff init` workspace with the packets' evidence files, and the schema."""
    root, json_dir = base / "ws", base / "json"
    subprocess.run([handoff, "init", str(root)], check=True, capture_output=True)
    evidence = root / "workspace" / "refunds"
    evidence.mkdir(parents=True)
    for name in ["orders.xlsx", "refund-policy.md", *(f"customer-{n:02d}.md" for n in range(100))]:
        (evidence / name).write_text("evidence\n")
    json_dir.mkdir()
    schema = base / "packet.schema.json"
    schema.write_text(subprocess.run([handoff, "schema"], check=True, capture_output=True,
                                     text=True).stdout)
    return Corpus(root, json_dir, schema)


def write_new(path: str, data: bytes) -> None:
    """Write a new file in one system call (no buffering layer: 100,000 files add up)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def grow(corpus: Corpus, count: int) -> None:
    """Add packets until the corpus holds `count` (as Markdown and as JSON)."""
    packets = str(corpus.root / "packets") + os.sep
    json_dir = str(corpus.json_dir) + os.sep
    for i in range(corpus.count, count):
        data = packet(i)
        write_new(f"{packets}{data['runId']}.md", markdown(data, i).encode())
        write_new(f"{json_dir}{data['runId']}.json", json.dumps(data, indent=2).encode())
    corpus.count = max(corpus.count, count)


@dataclass
class Run:
    seconds: float
    peak_mib: float


# Both tools run as installed packages do: with compiled bytecode (pip compiles a wheel's
# modules on install; an editable install under PYTHONDONTWRITEBYTECODE would compile every
# module on every run and measure that instead).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compile_sources() -> None:
    """Write handoff's bytecode once, as installing its wheel would."""
    import compileall

    compileall.compile_dir(str(TOP / "handoff_cli"), quiet=1)


def run_once(cmd: list[str], cwd: Path) -> Run:
    """One process's wall time and peak memory (children it waited for included)."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        process = subprocess.Popen(cmd, cwd=cwd, stdout=sink, stderr=subprocess.PIPE, env=ENV)
        assert process.stderr is not None
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed ({process.returncode}): "
                         f"{errors.decode(errors='replace')[-800:]}")
    if process.returncode == 1:
        raise SystemExit(f"{' '.join(cmd[:3])} ... found problems in the generated packets: "
                         f"{errors.decode(errors='replace')[-800:]}")
    return Run(elapsed, usage.ru_maxrss / 1024)


def median(cmd: list[str], cwd: Path, repeat: int) -> Run:
    runs = [run_once(cmd, cwd) for _ in range(repeat)]
    return Run(statistics.median(r.seconds for r in runs), max(r.peak_mib for r in runs))


@dataclass
class Point:
    size: int
    handoff: dict[str, Run] = field(default_factory=dict)
    checker: dict[str, Run] = field(default_factory=dict)


def measure(corpus: Corpus, size: int, repeat: int, handoff: str,
            checker: str | None) -> Point:
    point = Point(size)
    grow(corpus, size)
    root, json_dir, schema = corpus.root, corpus.json_dir, corpus.schema
    shutil.rmtree(root / ".handoff" / "cache", ignore_errors=True)  # cold: no cache yet
    lint = [handoff, "lint", "--quiet"]
    point.handoff["cold lint"] = run_once(lint, root)
    point.handoff["warm lint"] = median(lint, root, repeat)
    point.handoff["no-cache lint"] = run_once([*lint, "--no-cache"], root)
    point.handoff["list --format json"] = median(
        [handoff, "list", "--format", "json"], root, repeat)
    first = "packets/refund-000000.md"
    point.handoff["one file"] = median([handoff, "lint", first], root, repeat * 2)
    if checker:
        names = sorted(p.name for p in json_dir.iterdir())
        check = [checker, "--schemafile", str(schema)]
        point.checker["all"] = run_once([*check, *names], json_dir)
        point.checker["one file"] = median([*check, names[0]], json_dir, repeat * 2)
    return point


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        memory_text = f"{int(memory) / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory_text = "?"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    return (f"{platform.system()} {platform.release()}, {cpu}, {cores} cores, {memory_text}; "
            f"Python {platform.python_version()}; load average at start {load_average()}")


def versions(handoff: str, checker: str | None) -> str:
    def version_of(cmd: list[str]) -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).strip().splitlines()[-1] if done.returncode == 0 \
            else "?"

    parts = [version_of([handoff, "--version"])]
    from importlib.metadata import PackageNotFoundError, version

    try:
        parts.append(f"jsonschema-rs {version('jsonschema-rs')}")
    except PackageNotFoundError:
        parts.append("without jsonschema-rs")
    if checker:
        parts.append(version_of([checker, "--version"]))
    return "; ".join(parts)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def report(points: list[Point], machine_text: str, versions_text: str, checker: bool) -> str:
    """BENCHMARKS.md: the table of every size, the targets with their ratios, the machine."""
    out = ["# Benchmarks", "",
           "Generated by `python benchmarks/compare.py` (do not edit by hand). Wall time of whole "
           "processes; handoff lints N Markdown packets, check-jsonschema checks the same N "
           "packets as JSON against `handoff schema`'s output, in the same run.", "",
           f"Machine: {machine_text}.", "", f"Versions: {versions_text}.", "",
           "| packets | handoff cold lint | warm lint | lint --no-cache | list --format json "
           "| one file | peak memory (cold) | check-jsonschema all | check-jsonschema one file "
           "| cold / cj | warm / cj |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in points:
        h, c = p.handoff, p.checker
        cj_all = c["all"].seconds if checker else 0.0
        out.append(
            f"| {p.size:,} | {h['cold lint'].seconds:.2f} s | {h['warm lint'].seconds:.2f} s "
            f"| {h['no-cache lint'].seconds:.2f} s | {h['list --format json'].seconds:.2f} s "
            f"| {h['one file'].seconds * 1000:.0f} ms | {h['cold lint'].peak_mib:.0f} MiB "
            + (f"| {cj_all:.2f} s | {c['one file'].seconds * 1000:.0f} ms "
               f"| {ratio(h['cold lint'].seconds, cj_all)} "
               f"| {ratio(h['warm lint'].seconds, cj_all)} |" if checker
               else "| - | - | - | - |"))
    out += ["", "## Targets", ""]
    out += target_lines(points, checker)
    return "\n".join(out) + "\n"


def target_lines(points: list[Point], checker: bool) -> list[str]:
    lines = ["| target | measured | limit | met |", "|---|---:|---:|:---:|"]
    by_size = {p.size: p for p in points}
    ten = by_size.get(10_000) or max(points, key=lambda p: p.size)
    label = f"{ten.size:,}"
    if checker:
        cj = ten.checker
        measured = {
            "cold lint 10k": ten.handoff["cold lint"].seconds / cj["all"].seconds,
            "warm lint 10k": ten.handoff["warm lint"].seconds / cj["all"].seconds,
            "one file": ten.handoff["one file"].seconds / cj["one file"].seconds,
            "list --format json 10k": ten.handoff["list --format json"].seconds
            / cj["all"].seconds,
        }
        for name, limit, base in TARGETS:
            value = measured[name]
            shown = name.replace("10k", label)
            lines.append(f"| {shown} vs {base} | {value:.2f}x | <= {limit}x "
                         f"| {'yes' if value <= limit else 'no'} |")
    peak = ten.handoff["cold lint"].peak_mib
    lines.append(f"| peak memory of the cold lint of {label} | {peak:.0f} MiB "
                 f"| < {PEAK_LIMIT_MIB} MiB | {'yes' if peak < PEAK_LIMIT_MIB else 'no'} |")
    if 10_000 in by_size and 50_000 in by_size:  # five times the packets, at most 5.5x the time
        for measure in ("cold lint", "warm lint", "list --format json"):
            growth = (by_size[50_000].handoff[measure].seconds
                      / by_size[10_000].handoff[measure].seconds)
            lines.append(f"| {measure} of 50,000 / of 10,000 | {growth:.2f}x "
                         f"| <= {GROWTH_LIMIT}x | {'yes' if growth <= GROWTH_LIMIT else 'no'} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000",
                        help="comma-separated packet counts (default 1000,10000,50000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per warm measurement")
    parser.add_argument("--out", type=Path, default=TOP / "BENCHMARKS.md",
                        help="where to write the Markdown report (default: BENCHMARKS.md)")
    parser.add_argument("--no-compare", action="store_true",
                        help="skip check-jsonschema even when it is installed")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    handoff = tool("handoff")
    if handoff is None:
        raise SystemExit("handoff is not installed in this environment (pip install -e .)")
    checker = None if args.no_compare else tool("check-jsonschema")
    if checker is None and not args.no_compare:
        print("check-jsonschema not found (pip install -e '.[dev]'): handoff alone",
              file=sys.stderr)
    machine_text = machine()
    compile_sources()
    points = []
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp:
        corpus = start(Path(tmp), handoff)
        for size in sorted(set(sizes)):
            print(f"{size:,} packets ...", file=sys.stderr, flush=True)
            points.append(measure(corpus, size, max(1, args.repeat), handoff, checker))
    machine_text += f", at the end {load_average()}"
    text = report(points, machine_text, versions(handoff, checker), checker is not None)
    args.out.write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
