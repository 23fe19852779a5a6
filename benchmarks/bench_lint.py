"""Lint speed: one file (the pre-commit case) and a large queue (the CI case); list speed.

Usage: python benchmarks/bench_lint.py [--files 10000] [--repeat 5] [--compare]
Builds a workspace in a temporary folder with `handoff init`, writes N valid packets (half .md,
half .json, each with real evidence files), then times `handoff lint` as a subprocess (median
of --repeat runs). --compare also times check-jsonschema on the JSON half, when installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from handoff_cli.api import init_workspace  # noqa: E402
from handoff_cli.demo import SEED  # noqa: E402

BIN = Path(sys.executable).parent


def build(root: Path, count: int) -> None:
    init_workspace(root)
    evidence = root / "workspace" / "refunds"
    evidence.mkdir(parents=True)
    for name in ("orders.xlsx", "customer.md", "policy.md"):
        (evidence / name).write_text("evidence\n")
    base = dict(SEED, evidence={
        "orderFile": "workspace/refunds/orders.xlsx",
        "conversationSummary": "workspace/refunds/customer.md",
        "policyExcerpt": "workspace/refunds/policy.md",
    })
    for i in range(count):
        run_id = f"refund-{i:06d}"
        data = dict(base, runId=run_id)
        if i % 2:
            (root / "packets" / f"{run_id}.json").write_text(json.dumps(data, indent=2))
        else:
            lines = ["---"]
            for key, value in data.items():
                lines.append(f"{key}: {json.dumps(value)}")
            lines += ["---", f"Packet {i}: the customer asks for a refund.", ""]
            (root / "packets" / f"{run_id}.md").write_text("\n".join(lines))


def timed(cmd: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed: {result.stderr[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    handoff = str(BIN / "handoff")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        build(root, args.files)
        one = timed([handoff, "lint", "packets/refund-000000.md"], root, args.repeat)
        many = timed([handoff, "lint", "--quiet"], root, max(1, args.repeat // 2))
        listing = timed([handoff, "list", "--format", "json"], root, max(1, args.repeat // 2))
        startup = timed([sys.executable, "-c", "import handoff_cli.cli"], root, args.repeat)
        print(f"import handoff_cli.cli        {startup * 1000:8.1f} ms")
        print(f"lint 1 file                   {one * 1000:8.1f} ms")
        print(f"lint {args.files} files            {many:8.2f} s  "
              f"({many / args.files * 1e6:.0f} us/file)")
        print(f"list {args.files} packets (json)   {listing:8.2f} s")
        checker = shutil.which("check-jsonschema") or (
            str(BIN / "check-jsonschema") if (BIN / "check-jsonschema").exists() else None)
        if args.compare and checker:
            schema = root / "packet.schema.json"
            schema.write_text(subprocess.run([handoff, "schema"], capture_output=True,
                                             text=True, check=True).stdout)
            files = sorted(str(p) for p in (root / "packets").glob("*.json"))
            cj_one = timed([checker, "--schemafile", str(schema), files[0]], root, args.repeat)
            cj_many = timed([checker, "--schemafile", str(schema), *files], root,
                            max(1, args.repeat // 2))
            print(f"check-jsonschema 1 file       {cj_one * 1000:8.1f} ms")
            print(f"check-jsonschema {len(files)} json   {cj_many:8.2f} s")


if __name__ == "__main__":
    main()
