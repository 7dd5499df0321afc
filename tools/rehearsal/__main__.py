"""`python -m tools.rehearsal` (what `make rehearse` runs): the whole loop on this machine.

Exit 0 when every step held, 1 when one did not, 2 when the tools are missing (act, moto)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tools.rehearsal.report import render
from tools.rehearsal.scenario import Scenario
from tools.rehearsal.world import World, default_paths

PROJECT = Path(__file__).resolve().parents[2]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.rehearsal", description=__doc__)
    parser.add_argument(
        "--work",
        type=Path,
        default=PROJECT / ".rehearsal",
        help="scratch folder, emptied first (default .rehearsal/)",
    )
    parser.add_argument("--report", type=Path, default=PROJECT / "reports" / "rehearsal.md")
    parser.add_argument(
        "--all-jobs",
        action="store_true",
        default=os.environ.get("REHEARSE_ALL_JOBS") == "1",
        help="also run pr.yml's lint and test jobs",
    )
    return parser.parse_args()


def _version(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().rsplit(" ", 1)[-1]


def _stop(signum: int, _frame: object) -> None:
    """SIGTERM, SIGINT, SIGHUP: unwind, so every service and process tree is stopped."""
    raise SystemExit(128 + signum)


def main() -> int:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _stop)
    args = _arguments()
    paths = default_paths(PROJECT)
    missing = [str(path) for path in paths.values() if not path.exists()]
    if missing:
        print(
            f"rehearsal: missing {', '.join(missing)}: run `make rehearse` (installs act and "
            "moto into .tools/rehearsal) after `make setup`",
            file=sys.stderr,
        )
        return 2
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    world = World(project=PROJECT, work=args.work, **paths)
    start = time.monotonic()
    tree = world.snapshot()
    scenario = Scenario(world, all_jobs=args.all_jobs)
    ok = False
    try:
        with world.services():
            scenario.notes += [
                f"`{spec}`: pinned in a workflow, no local stand-in, so a job using it cannot run"
                for spec in world.unmapped
            ]
            try:
                ok = scenario.run_all()
            finally:
                scenario.clean_up()
    finally:  # also when interrupted: the steps so far
        header = {
            "act": _version(paths["act_binary"]),
            "cores": str(os.cpu_count()),
            "snapshot": tree[:12],
            "scratch": str(args.work),
        }
        text = render(scenario, time.monotonic() - start, header)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
        print(f"\nreport: {args.report}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
