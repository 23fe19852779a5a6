"""Run the test suite on the oldest and newest supported Pythons this machine has.

`nox` (installed by `pip install -e ".[ci]"`) is what .ci/run calls after the README's own
test command; an interpreter that is not installed is skipped with a message.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import nox

SUPPORTED = ("3.10", "3.11", "3.12", "3.13")  # keep in step with pyproject's classifiers

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = True  # a listed one is known to be present


def _works(executable: str, version: str) -> bool:
    try:
        done = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def find_python(version: str) -> str | None:
    """The path of a working `pythonX.Y`: on PATH, else in pyenv's versions folder."""
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin",
                                                f"python{version}")), reverse=True)
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        if os.path.exists(candidate) and _works(candidate, version):
            return candidate
    return None


def _pythons() -> list[str]:
    found = {v: find_python(v) for v in SUPPORTED}
    for version, path in found.items():
        if path is None:
            print(f"nox: Python {version} is not installed here; not testing on it",
                  file=sys.stderr)
    present = [v for v in SUPPORTED if found[v]]
    # nox looks interpreters up on PATH; put each found one's folder first (pyenv's shims
    # answer `python3.10` with an error when that version is not the selected one).
    folders = [os.path.dirname(found[v] or "") for v in present]
    os.environ["PATH"] = os.pathsep.join([*dict.fromkeys(folders), os.environ.get("PATH", "")])
    return sorted({present[0], present[-1]}) if present else []


PYTHONS = _pythons()


@nox.session(python=PYTHONS or None)
def tests(session: nox.Session) -> None:
    """Install the project with its test extras, as CI does, and run the whole suite."""
    if not PYTHONS:
        session.skip("no supported Python (3.10 to 3.13) found besides the one CI already used")
    session.install("-q", "-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)
