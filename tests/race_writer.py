"""A real outside writer for the race tests (test_write_races.py), run as its own process.

It reads one JSON request per line on stdin and answers one JSON line on stdout:
- {"op": "write", "path", "mode": "rename"|"inplace", "base", "tag", "most", "stop", "first"}:
  rewrite the packet again and again (each time `base` with a fresh marker) until `most` writes
  are done or the file `stop` exists; answer {"last": the text written last, or null,
  "writes": n}. The first write starts at once, and when it is complete the file `first` (if
  given) is created; with "gate", the writer then waits for the file `gate` before it writes
  again. The answer comes after the last write is complete.
- {"op": "edit", "root", "runId", "value", "go"}: when the file `go` exists, set agentGoal with
  handoff_cli.api.update_packet (the agent's safe edit); answer {"exit": 0|code, "error"}.
Coordination is by files and pipes only: nothing here sleeps.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def write(path: Path, mode: str, text: str) -> None:
    if mode == "rename":  # what an agent or editor does: a temporary file renamed over it
        temp = path.with_name(f".{path.name}.writer-tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    else:  # a plain in-place write: truncate, then write
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


def writes(request: dict[str, Any]) -> dict[str, Any]:
    path, stop = Path(request["path"]), Path(request["stop"])
    last = None
    count = 0
    while count < request["most"]:
        text = request["base"].replace("The customer asks",
                                       f"MARK {request['tag']}-{count}. The customer asks")
        write(path, request["mode"], text)
        last, count = text, count + 1
        if count == 1 and request.get("first"):
            Path(request["first"]).touch()
            gate = request.get("gate")
            while gate and not Path(gate).exists():  # the test opens it: no sleeping
                pass
        if stop.exists():
            break
    return {"last": last, "writes": count}


def edit(request: dict[str, Any]) -> dict[str, Any]:
    from handoff_cli.api import PacketInput, update_packet
    from handoff_cli.errors import HandoffError
    from handoff_cli.workspace import open_workspace

    go = Path(request["go"])
    while not go.exists():  # the test creates it right before it decides
        pass
    try:
        update_packet(open_workspace(Path(request["root"])), request["runId"],
                      PacketInput(values={"agentGoal": request["value"]}), "race-agent")
    except HandoffError as exc:
        return {"exit": exc.exit_code, "error": str(exc)}
    return {"exit": 0, "error": None}


def main() -> None:
    import handoff_cli.api
    import handoff_cli.decisions  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        answer = writes(request) if request["op"] == "write" else edit(request)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
