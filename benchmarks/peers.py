"""AutoML quality against peers (issue 9): our AutoML, FLAML and an untuned HistGradientBoosting
on every dataset of the public suite, at several budgets and seeds.

    python benchmarks/peers.py ../shared/bench --budgets 60 300 --seeds 0 1 2 \
        --systems ours flaml hgb --n-jobs 2 --out benchmarks/peers.jsonl

Every (budget, seed, dataset, system) is one fit in a fresh subprocess with a hard timeout
(3 x budget + 120 s), so the systems cannot disturb each other (threads, memory, crashes). Each
finished run appends one JSON line to --out; a run already there without an error is skipped
unless --force, so an interrupted benchmark resumes where it stopped. All systems are scored
by the same function, from their predictions on the test split. Render with
`python benchmarks/render_results.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import git_commit, machine, read_suites
from peer_systems import SYSTEMS, Key, Run, run_one

# A run that has not finished after TIMEOUT_FACTOR x budget + TIMEOUT_EXTRA_S is killed.
TIMEOUT_FACTOR = 3.0
TIMEOUT_EXTRA_S = 120.0
STDERR_TAIL_CHARS = 1500

# --- the harness ----------------------------------------------------------------------------


def done_runs(out: Path) -> set[Key]:
    """Runs recorded in ``out`` without an error."""
    if not out.exists():
        return set()
    keys = set()
    for line in out.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("error") is None:
            keys.add((r["dataset"], r["system"], float(r["budget_s"]), int(r["seed"])))
    return keys


def run_isolated(bench: Path, run: Run, timeout_s: float) -> dict[str, Any]:
    """Run one fit in a fresh Python process (its own session, killed with everything it
    started on timeout) and return what it reported, with ``error`` set if it failed."""
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        result, log = Path(tmp) / "result.json", Path(tmp) / "stderr.log"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            str(bench),
            "--one",
            json.dumps(asdict(run)),
            "--result",
            str(result),
        ]
        with log.open("wb") as sink:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
            timed_out = False
            try:
                child.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                # Our trial workers run in sessions of their own: kill them by pid first.
                for pid in _descendants(child.pid):
                    _kill(pid)
            finally:
                _kill_session(child.pid)  # on timeout, and any worker the child left behind
                returncode = child.wait()
        outcome: dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
        if not outcome:
            tail = log.read_text(errors="replace")[-STDERR_TAIL_CHARS:].strip()
            reason = (
                f"timeout: killed after {timeout_s:.0f} s"
                if timed_out
                else f"the subprocess ended with {_exit_reason(returncode)} and no result"
            )
            outcome["error"] = f"{reason}; stderr tail: {tail}" if tail else reason
        elif timed_out:  # finished, but hung on the way out
            outcome.setdefault("detail", {})["note"] = "exit hung; killed at the timeout"
        return outcome


def _kill_session(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """The processes under ``pid``, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def record(
    run: Run, spec: dict[str, Any], outcome: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """The JSON line of one run."""
    wall = outcome.get("wall_s")
    return {
        "dataset": run.dataset,
        "task": spec["task"],
        "metric": spec["metric"],
        "system": run.system,
        "budget_s": run.budget_s,
        "seed": run.seed,
        "n_jobs": run.n_jobs,
        "wall_s": None if wall is None else round(wall, 3),
        "ratio": None if wall is None else round(wall / run.budget_s, 4),
        "test_score": outcome.get("test_score"),
        "detail": outcome.get("detail"),
        "commit": context["commit"],
        "dirty": context["dirty"],
        "machine": context["machine"],
        "error": outcome.get("error"),
        "versions": outcome.get("versions"),
        "command": context["command"],
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def append_line(out: Path, row: dict[str, Any]) -> None:
    """Append one JSON line durably."""
    with out.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _dirty() -> bool:
    """Whether the code being measured (automl/, benchmarks/) differs from the commit.

    The benchmarks' own results (``*.json``, ``*.jsonl``, RESULTS.md) do not count: a run
    that follows another one in the same checkout would otherwise always look modified."""
    outputs = [f":(exclude)benchmarks/{p}" for p in ("*.json", "*.jsonl", "RESULTS.md")]
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "automl", "benchmarks", *outputs],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    return bool(status.strip())


def _progress(run: Run, row: dict[str, Any], index: int, total: int) -> str:
    where = f"[{index}/{total}] {run.dataset} {run.system} {run.budget_s:g}s seed {run.seed}"
    if row["error"] is not None:
        return f"{where}: FAILED {str(row['error'])[:200]}"
    return f"{where}: score={row['test_score']:.5g} wall={row['wall_s']:.1f}s ({row['ratio']:.2f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("bench", type=Path, help="the public suite folder (suites.json inside)")
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", help="default: every dataset of the suite")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/peers.jsonl"))
    parser.add_argument("--force", action="store_true", help="re-run runs already in --out")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a Run as JSON: the subprocess
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    bench = args.bench.resolve()

    if args.one is not None:
        run_one(bench, Run(**json.loads(args.one)), args.result)
        return

    suites = read_suites(bench)
    names = args.datasets or list(suites)
    unknown = [n for n in names if n not in suites]
    if unknown:
        parser.error(f"not in {bench / 'suites.json'}: {', '.join(unknown)}")
    context = {
        "commit": git_commit(),
        "dirty": _dirty(),
        "machine": machine(),
        "command": shlex.join(["python", *sys.argv]),
    }
    done = set() if args.force else done_runs(args.out)
    runs = [
        Run(name, system, budget, seed, args.n_jobs)
        for budget in args.budgets
        for seed in args.seeds
        for name in names
        for system in args.systems
    ]
    todo = [r for r in runs if r.key() not in done]
    if len(todo) < len(runs):
        print(f"{len(runs) - len(todo)} runs already in {args.out}, skipped", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for index, run in enumerate(todo, 1):
        timeout = TIMEOUT_FACTOR * run.budget_s + TIMEOUT_EXTRA_S
        outcome = run_isolated(bench, run, timeout)
        row = record(run, suites[run.dataset], outcome, context)
        append_line(args.out, row)
        print(_progress(run, row, index, len(todo)), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
