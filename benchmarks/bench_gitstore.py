"""Contention on the shared git store: N agents pushing new packets to one remote at once.

Usage: python benchmarks/bench_gitstore.py [--clones 20]
Builds a bare repository and N clones of a workspace (git: {push: true}) in a temporary folder,
starts `handoff new ... --push` in every clone at the same moment (real subprocesses, real git),
and reports whether all landed (one commit and one packet file per agent on the remote) and
each push's wall time: the slowest is what an agent waits in the worst case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from handoff_cli.api import init_workspace  # noqa: E402


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout


def build(tmp: Path, clones: int) -> list[Path]:
    remote = tmp / "remote.git"
    git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    git(tmp, "clone", "--quiet", str(remote), "seed")
    seed = tmp / "seed"
    init_workspace(seed / "ops")
    evidence = seed / "ops" / "evidence"
    evidence.mkdir()
    (evidence / "orders.md").write_text("orders\n", encoding="utf-8")
    with (seed / "ops" / "handoff.yaml").open("a", encoding="utf-8") as handle:
        handle.write("git: {push: true}\n")
    git(seed, "add", "--all")
    git(seed, "-c", "user.name=seed", "-c", "user.email=seed@example.com", "commit", "--quiet",
        "-m", "workspace")
    git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    folders = []
    for n in range(clones):
        git(tmp, "clone", "--quiet", str(remote), f"agent{n}")
        top = tmp / f"agent{n}"
        git(top, "config", "user.email", f"agent{n}@example.com")
        git(top, "config", "user.name", f"agent{n}")
        folders.append(top / "ops")
    return folders


def command(n: int) -> list[str]:
    return [sys.executable, "-m", "handoff_cli", "new", "customer_exception",
            "--set", f"runId=bench-{n}", "--set", "agentGoal=Prepare refund decision material",
            "--set", "triggerReason=Refund amount exceeds standard policy",
            "--set", "agentNextActionAfterDecision=draft the reply",
            "--evidence", "orderFile=evidence/orders.md",
            "--option", "approve refund=sets a precedent", "--option", "reject=unhappy customer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clones", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="handoff-gitbench-") as name:
        tmp = Path(name)
        folders = build(tmp, args.clones)
        env = {**os.environ, "PYTHONPATH": str(HERE.parent), "GIT_CONFIG_NOSYSTEM": "1"}
        started = time.perf_counter()
        procs = [(time.perf_counter(), subprocess.Popen(
            command(n), cwd=folder, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)) for n, folder in enumerate(folders)]
        times, failures = [], []
        pending = dict(enumerate(procs))
        while pending:
            for n, (start, proc) in list(pending.items()):
                if proc.poll() is not None:
                    times.append(time.perf_counter() - start)
                    if proc.returncode != 0:
                        failures.append(f"agent{n}: exit {proc.returncode}: "
                                        f"{proc.stderr.read() if proc.stderr else ''}")
                    if proc.stderr:
                        proc.stderr.close()
                    del pending[n]
            time.sleep(0.01)
        wall = time.perf_counter() - started
        remote = tmp / "remote.git"
        commits = git(remote, "log", "--format=%s", "--grep=Handoff-Event: created",
                      "main").splitlines()
        files = git(remote, "ls-tree", "--name-only", "main:ops/packets").split()
        landed = len(commits) == args.clones and len(files) == args.clones
        print(f"{args.clones} clones pushing new packets at once (cpus: {os.cpu_count()})")
        print(f"all landed                    {'yes' if landed else 'NO'} "
              f"({len(commits)} commits, {len(files)} packet files, {len(failures)} failed)")
        print(f"slowest push                  {max(times):8.2f} s")
        print(f"median push                   {statistics.median(times):8.2f} s")
        print(f"fastest push                  {min(times):8.2f} s")
        print(f"all done after                {wall:8.2f} s")
        for failure in failures:
            print(failure.strip())
        if not landed or failures:
            sys.exit(1)


if __name__ == "__main__":
    main()
