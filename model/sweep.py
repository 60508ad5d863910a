"""Sweeps: ``python -m model.run -m +scenario=a,b,c`` or ``python -m model.run -m +sweep=NAME``.

Hydra's joblib launcher (conf/config.yaml) runs the jobs of a sweep in parallel, each in its own
run directory ``<sweep dir>/<its overrides>`` (e.g. ``runs/sweeps/scenarios/+scenario=tight_land``).
This module is what makes a sweep robust:

- :func:`run_job` wraps one job. A job whose run directory is already complete (summary.json for
  the same overrides and the same data) is skipped, so running a sweep again resumes it. A job that
  fails — input error, infeasible hard targets, solver trouble, or an unexpected exception — is
  recorded, never raised, so it cannot stop the other jobs. Every job leaves ``job.json``
  (status, exit code, reason, skipped, wall time).
- :class:`SweepStatus` (a Hydra callback) collects the ``job.json`` of every job of the sweep at its
  end, writes ``sweep_status.csv`` into the sweep directory and prints the table.
- :func:`last_exit_code` gives the sweep's exit code: the largest exit code among its jobs (0 when
  every job produced a plan; 1 input error, 2 infeasible, 3 solver error, 4 a job's folder in
  use by another process, 5 an unexpected error; docs/errors.md).
- Completeness is keyed on the overrides, the dataset's hash and the composed config's hash, so
  editing a scenario file re-runs the jobs it changes; a job that runs again moves its previous
  outputs to ``superseded/`` first.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from model.csvio import write_csv

log = logging.getLogger(__name__)

JOB_RECORD = "job.json"
STATUS_FILE = "sweep_status.csv"
SUMMARY = "summary.json"
EXIT_ERROR = 5  # an unexpected exception in a job (a bug): as a single run (model/errors.py)
STATUS_COLUMNS = [
    "job",
    "status",
    "exit_code",
    "skipped",
    "reason",
    "wall_time_s",
    "overrides",
    "run_dir",
]

_last_exit_code = 0


# ---------------------------------------------------------------------------------------------
# One job
# ---------------------------------------------------------------------------------------------
def read_json(path: Path) -> dict | None:
    """A JSON file as a dict, or None if it is missing or unreadable (e.g. half written)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def completeness(
    run_dir: Path, overrides: Sequence[str], data_hash: str | None = None,
    config_hash: str | None = None,
) -> tuple[bool, str]:
    """Whether ``run_dir`` already holds this job's finished run, and why (or why not).

    Complete means: summary.json is there (it is written last), it was written for the same
    overrides, for the same composed config (``config_hash``: a scenario file or a default
    edited since changes it), for a dataset with the same hash as now, and its files are as the
    run wrote them (:func:`model.rundir.verify_run`). A run recorded without a config hash (an
    older version) is not complete when one is asked for."""
    summary = read_json(run_dir / SUMMARY)
    if summary is None:
        return False, "no summary.json"
    if sorted(summary.get("overrides") or []) != sorted(overrides):
        return False, f"summary.json is for other overrides: {summary.get('overrides')}"
    old_hash = summary.get("data_hash")
    if data_hash and old_hash and old_hash != data_hash:
        return False, f"the dataset changed (data hash {old_hash[:12]} → {data_hash[:12]})"
    old_cfg = summary.get("config_hash")
    if config_hash and old_cfg != config_hash:
        return False, ("the composed config changed (a scenario file or a default was edited; "
                       f"config hash {str(old_cfg)[:12]} → {config_hash[:12]})")
    from model.rundir import verify_run

    damaged = verify_run(run_dir)
    if damaged:  # a file truncated, edited or deleted since: run the job again
        return False, f"damaged: {damaged[0]}"
    return True, f"complete run (status {summary.get('status')})"


def failure_reason(summary: dict) -> str:
    """One line saying why a finished run has no plan (empty for an optimal run)."""
    status = summary.get("status")
    if status == "optimal":
        return ""
    if status == "input_error":
        return "input error: " + "; ".join(summary.get("errors") or ["(no message)"])
    if status == "infeasible":
        conflict = ", ".join(summary.get("conflict") or []) or "none identified"
        note = summary.get("conflict_note") or ""
        return f"infeasible: hard targets conflict ({conflict})" + (f"; {note}" if note else "")
    if status == "solver_error":
        return f"solver error: HiGHS stopped with {summary.get('solver_status')}"
    return f"status {status}"


def exit_code_of(summary: dict) -> int:
    """The exit code a single run with this summary returned (see model/run.py)."""
    codes = {"optimal": 0, "input_error": 1, "infeasible": 2, "solver_error": 3}
    return codes.get(summary.get("status"), EXIT_ERROR)


def run_job(
    run_dir: str | Path,
    overrides: Sequence[str],
    run: Callable[[], int],
    data_hash: str | None = None,
    config_hash: str | None = None,
) -> int:
    """Run one sweep job unless its run directory is complete; never raise; write job.json.

    ``run`` does the job (writes the run directory, returns its exit code). Returns the job's
    exit code, which Hydra keeps as the job's return value. The job holds its directory's lock
    while it runs (another process running the same job is refused); a job that runs again
    first moves the previous outputs to ``superseded/`` (model/rundir.py)."""
    from model import rundir
    from model.errors import RunDirError

    run_dir = Path(run_dir)
    t0 = time.perf_counter()
    try:
        rundir.claim(run_dir, require_empty=False)
    except RunDirError as exc:
        log.error("%s", exc.problems[0])
        return exc.exit_code  # the other process owns job.json too: leave it alone
    try:
        return _run_claimed(run_dir, overrides, run, data_hash, config_hash, t0)
    finally:
        rundir.release(run_dir)


def _run_claimed(run_dir, overrides, run, data_hash, config_hash, t0) -> int:
    from model import rundir

    done, why = completeness(run_dir, overrides, data_hash, config_hash)
    skipped = done
    if done:
        log.info("skipped: %s already holds a %s", run_dir, why)
    else:
        if why != "no summary.json":
            log.warning("running again: %s", why)
        moved = rundir.supersede(run_dir)
        if moved is not None:
            log.warning("the previous outputs of %s are kept in %s", run_dir, moved)
        try:
            run()
        except KeyboardInterrupt:
            _record(run_dir, overrides, "interrupted", 130, "interrupted (Ctrl-C)", False, t0)
            raise
        except Exception as exc:  # noqa: BLE001 - a job must not take the sweep down
            from model.errors import internal_error_line

            line = internal_error_line("job", exc, run_dir)
            log.error("%s", line)
            record = _record(run_dir, overrides, "error", EXIT_ERROR, line, False, t0)
            return record["exit_code"]
    summary = read_json(run_dir / SUMMARY)
    if summary is None:
        record = _record(
            run_dir, overrides, "error", EXIT_ERROR, "error: the job wrote no summary.json",
            False, t0,
        )
    else:
        record = _record(
            run_dir, overrides, summary.get("status", "unknown"), exit_code_of(summary),
            failure_reason(summary), skipped, t0,
        )
    return record["exit_code"]


def _record(
    run_dir: Path, overrides: Sequence[str], status: str, exit_code: int, reason: str,
    skipped: bool, t0: float,
) -> dict[str, Any]:
    """Write and return job.json: this job's line of the sweep's status table."""
    record = {
        "status": status,
        "exit_code": exit_code,
        "skipped": skipped,
        "reason": reason,
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "overrides": list(overrides),
        "run_dir": str(run_dir),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / JOB_RECORD).write_text(json.dumps(record, ensure_ascii=False, indent=2), "utf-8")
    return record


# ---------------------------------------------------------------------------------------------
# The whole sweep
# ---------------------------------------------------------------------------------------------
def job_dirs(sweep_dir: Path, since: float | None = None) -> list[Path]:
    """The job directories of a sweep (those Hydra wrote .hydra/ into), optionally only those
    started at or after ``since`` (epoch seconds), i.e. this sweep's jobs, not older ones."""
    dirs = []
    for marker in sorted(sweep_dir.rglob(".hydra/overrides.yaml")):
        if since is None or marker.stat().st_mtime >= since:
            dirs.append(marker.parent.parent)
    return dirs


def status_table(sweep_dir: str | Path, since: float | None = None) -> pd.DataFrame:
    """One row per job of the sweep: status, exit code, skipped, reason, wall time."""
    sweep_dir = Path(sweep_dir)
    rows = []
    for job_dir in job_dirs(sweep_dir, since):
        rec = read_json(job_dir / JOB_RECORD)
        fresh = rec is not None and (
            since is None or (job_dir / JOB_RECORD).stat().st_mtime >= since
        )
        if not fresh:
            rec = {
                "status": "incomplete",
                "exit_code": 130,
                "skipped": False,
                "reason": "the job started but left no job.json (killed or interrupted)",
                "wall_time_s": None,
                "overrides": [],
                "run_dir": str(job_dir),
            }
        rows.append({
            "job": job_dir.relative_to(sweep_dir).as_posix(),
            **{k: rec.get(k) for k in STATUS_COLUMNS if k != "job"},
            "overrides": " ".join(rec.get("overrides") or []),
        })
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)


def format_status(table: pd.DataFrame, sweep_dir: Path) -> str:
    """The status table as text for the terminal, with a one-line total and how to resume."""
    ok = int((table["status"] == "optimal").sum())
    skipped = int(table["skipped"].fillna(False).astype(bool).sum())
    lines = [
        f"Sweep {sweep_dir}: {len(table)} jobs, {ok} with a plan, {len(table) - ok} without"
        + (f", {skipped} skipped (already complete)" if skipped else ""),
    ]
    width = max([len(str(j)) for j in table["job"]] + [3])
    for row in table.itertuples(index=False):
        flag = " (skipped)" if row.skipped else ""
        reason = f"  {row.reason}" if row.reason else ""
        lines.append(f"  {row.job:<{width}}  {row.status}{flag}{reason}")
    lines.append(f"  table: {sweep_dir / STATUS_FILE}")
    lines.append(
        f"  rerun the same command (with hydra.sweep.dir={sweep_dir}) to resume: complete jobs "
        "are skipped; delete a job's folder to redo it"
    )
    return "\n".join(lines)


def sweep_exit_code(table: pd.DataFrame) -> int:
    """The largest exit code among the jobs (0 when every job produced a plan)."""
    codes = pd.to_numeric(table["exit_code"], errors="coerce").fillna(EXIT_ERROR)
    return int(codes.max()) if len(codes) else 0


def last_exit_code() -> int:
    """The exit code of the sweep that last ended in this process (0 if none ran)."""
    return _last_exit_code


try:  # Hydra is a dependency; the guard only keeps this module importable on its own
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object  # type: ignore[assignment,misc]


class SweepStatus(Callback):  # type: ignore[misc,valid-type]
    """Hydra callback: at the end of a multirun, write sweep_status.csv and print the table."""

    def __init__(self) -> None:
        self.started: float | None = None

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        # one second of slack for file systems that store whole seconds
        self.started = time.time() - 1.0

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        global _last_exit_code
        sweep_dir = Path(str(config.hydra.sweep.dir))
        table = status_table(sweep_dir, self.started)
        write_csv(table, sweep_dir / STATUS_FILE)
        _last_exit_code = sweep_exit_code(table)
        print(format_status(table, sweep_dir), flush=True)  # CLI output
        from model.same_plan import identical_plans_in  # "the target does not bind"

        for line in identical_plans_in(job_dirs(sweep_dir, self.started)):
            print(f"  {line}", flush=True)


def current_data_hash(dataset_folder: str | Path) -> str | None:
    """The hash of the dataset a job will read (model.data.dataset_hash), or None if unreadable;
    a complete run made from other data is not skipped."""
    from model.data import dataset_hash

    try:
        return dataset_hash(dataset_folder)
    except (OSError, ValueError):
        return None
