"""Run directories: named by what ran, owned by their run, failed runs marked (docs/errors.md).

Naming (conf/config.yaml): ``runs/<scenarios>[@<dataset>]/<timestamp>[_<overrides>]``, e.g.
``runs/district+tight_land/2026-03-01_10-00-00``, ``runs/default@mini_city/…``,
``runs/default/2026-03-01_10-00-00_targets.cycle_months_end=21``. The two resolvers
``${run_name:}`` and ``${run_tag:}`` compute the parts from the command-line overrides.

Ownership: a single run claims its directory before Hydra writes anything into it
(:class:`RunDirGuard`, a Hydra callback). It refuses — one line, exit code 4 — a directory that
another live run holds (``.run.lock``), one that holds any file already (a finished run, or an
unfinished one: nothing already written is overwritten or mixed with the new run's files), and
one that cannot be created. A sweep job may run again in its own directory (model/sweep.py):
the previous outputs are then moved to ``superseded/<when>/`` first, so nothing is lost and
nothing stale sits beside the new summary.json.

Marking: a run without a plan is marked in its folder name when Hydra named the folder
(``…_INFEASIBLE``, ``…_INPUT-ERROR``, ``…_SOLVER-ERROR``, ``…_INTERRUPTED``, ``…_ERROR``);
a folder named with ``hydra.run.dir`` keeps its name, and summary.json's ``status`` says the
same.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from model.errors import (
    EXIT_INFEASIBLE,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_SOLVER,
    RunDirError,
)

LOCK = ".run.lock"
SUPERSEDED = "superseded"
#: Overrides that name the run's folder itself, not its tag.
_NOT_IN_TAG = ("scenario", "dataset", "sweep")
_UNSAFE = re.compile(r"[^\w.,=+@-]+")
TAG_MAX_CHARS = 60
#: Folder-name suffix of a run without a plan, by summary status (or exit code).
FAILED_SUFFIX = {
    "input_error": "INPUT-ERROR",
    "infeasible": "INFEASIBLE",
    "solver_error": "SOLVER-ERROR",
    "interrupted": "INTERRUPTED",
    "error": "ERROR",
}
_EXIT_STATUS = {EXIT_INPUT: "input_error", EXIT_INFEASIBLE: "infeasible",
                EXIT_SOLVER: "solver_error", EXIT_INTERNAL: "error",
                EXIT_INTERRUPTED: "interrupted"}


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
def _split_override(item: str) -> tuple[str, str]:
    key, _, value = str(item).partition("=")
    return key.lstrip("+~"), value


def _list_value(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [v.strip().strip("'\"") for v in value.split(",") if v.strip()]


def safe(text: str) -> str:
    """A folder-name-safe form of ``text`` (letters, digits, Chinese, . , = + @ - kept)."""
    return _UNSAFE.sub("_", text).strip("_") or "_"


def scenario_names(task_overrides: list[str], scenario_key: str | None) -> list[str]:
    """The scenarios a run combines: every ``+scenario=`` value in order (``[a,b]`` is two),
    else the config's ``scenario`` key."""
    names: list[str] = []
    for item in task_overrides:
        key, value = _split_override(item)
        if key == "scenario":
            names += _list_value(value)
    return names or [str(scenario_key or "default")]


def dataset_label(dataset: str | None) -> str:
    """'' for the bundled dataset, else '@<its folder name>'."""
    if dataset in (None, ""):
        return ""
    from model.data import DEFAULT_DATASET

    path = Path(str(dataset)).expanduser().resolve()
    return "" if path == DEFAULT_DATASET.resolve() else f"@{safe(path.name)}"


def override_tag(task_overrides: list[str]) -> str:
    """A short, folder-safe tag of the overrides that are not the scenario or the dataset:
    ``key=value`` joined by ',' (a path value by its file name), hashed when long."""
    parts = []
    for item in task_overrides:
        key, value = _split_override(item)
        if key.split(".")[0] in _NOT_IN_TAG or key.startswith("hydra."):
            continue
        value = value.strip("'\"")
        if "/" in value or "\\" in value:
            value = Path(value.replace("\\", "/")).name
        parts.append(f"{key}={value}")
    tag = safe(",".join(parts)) if parts else ""
    if len(tag) > TAG_MAX_CHARS:
        digest = hashlib.sha1(",".join(parts).encode()).hexdigest()[:8]
        tag = f"{tag[:TAG_MAX_CHARS - 10]}~{digest}"
    return tag


def _run_name(_root_: Any) -> str:
    task = list(OmegaConf.select(_root_, "hydra.overrides.task", default=[]) or [])
    names = scenario_names(task, OmegaConf.select(_root_, "scenario", default=None))
    return safe("+".join(names)) + dataset_label(OmegaConf.select(_root_, "dataset",
                                                                  default=None))


def _run_tag(_root_: Any) -> str:
    task = list(OmegaConf.select(_root_, "hydra.overrides.task", default=[]) or [])
    tag = override_tag(task)
    return f"_{tag}" if tag else ""


def register_resolvers() -> None:
    """``${run_name:}`` and ``${run_tag:}`` for conf/config.yaml's hydra.run.dir."""
    for name, fn in (("run_name", _run_name), ("run_tag", _run_tag)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()


# ---------------------------------------------------------------------------------------------
# Ownership
# ---------------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _holder(lock: Path) -> dict | None:
    """The live run holding ``lock`` (its record), or None if the lock is stale or absent."""
    try:
        record = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("host") != socket.gethostname():
        return record  # another machine's run: cannot tell, assume it is alive
    pid = record.get("pid")
    return record if isinstance(pid, int) and _pid_alive(pid) else None


def _describe(run_dir: Path) -> str:
    """What the files already in a directory are, for the refusal message."""
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
            return (f"a finished run (status {data.get('status')}, "
                    f"{data.get('created', 'time unknown')})")
        except (OSError, ValueError):
            return "a run whose summary.json cannot be read"
    if (run_dir / ".hydra").is_dir():
        return "an unfinished run (no summary.json: interrupted or killed)"
    return "other files"


def claim(run_dir: str | Path, require_empty: bool = True) -> Path:
    """Create ``run_dir`` if needed and take its lock; RunDirError (one line, exit 4) if it
    cannot be created, another live run holds it, or (``require_empty``) it holds any file."""
    run_dir = Path(run_dir)
    hint = "choose another hydra.run.dir (or leave it out: every run gets a new folder)"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunDirError(f"run directory {run_dir}: a file is in the way (a path component "
                          f"is a file, not a folder); {hint}") from None
    except OSError as exc:
        raise RunDirError(f"run directory {run_dir} cannot be created ({exc.strerror or exc}); "
                          f"{hint}") from None
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir}: a file is in the way; {hint}")
    lock = run_dir / LOCK
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.now().isoformat(timespec="seconds")}
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if holder is not None:
                raise RunDirError(
                    f"run directory {run_dir} is in use by another run (pid {holder.get('pid')} "
                    f"on {holder.get('host')}, since {holder.get('started')}); wait for it or "
                    f"{hint}") from None
            try:
                lock.unlink()  # a stale lock: its run is gone
            except FileNotFoundError:
                pass
            continue
        except OSError as exc:
            raise RunDirError(f"run directory {run_dir} is not writable "
                              f"({exc.strerror or exc}); {hint}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        break
    else:
        raise RunDirError(f"run directory {run_dir}: cannot take its lock; {hint}")
    if require_empty:
        others = [p for p in run_dir.iterdir() if p.name != LOCK]
        if others:
            release(run_dir)
            raise RunDirError(f"run directory {run_dir} already holds {_describe(run_dir)}; "
                              f"nothing was written; {hint}, or delete that folder to redo it")
    return run_dir


def release(run_dir: str | Path) -> None:
    """Drop this process's lock on ``run_dir`` (a lock of another process is left alone)."""
    lock = Path(run_dir) / LOCK
    try:
        record = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if record.get("pid") == os.getpid() and record.get("host") == socket.gethostname():
        try:
            lock.unlink()
        except OSError:
            pass


def supersede(run_dir: str | Path, keep: tuple[str, ...] = (".hydra", LOCK)) -> Path | None:
    """Move a previous run's outputs in ``run_dir`` to ``superseded/<when>/`` (nothing is
    deleted); returns that folder, or None if there was nothing to move. The log (open by this
    run's logger) and Hydra's config of this run stay."""
    run_dir = Path(run_dir)
    log_names = {p.name for p in run_dir.glob("*.log") if p.name != "highs.log"}
    movable = [p for p in run_dir.iterdir()
               if p.name not in keep and p.name != SUPERSEDED and p.name not in log_names]
    if not movable:
        return None
    when = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            created = json.loads(summary.read_text(encoding="utf-8")).get("created")
            when = safe(str(created).replace(":", "-")) if created else when
        except (OSError, ValueError):
            pass
    target = run_dir / SUPERSEDED / when
    n = 1
    while target.exists():
        n += 1
        target = run_dir / SUPERSEDED / f"{when}-{n}"
    target.mkdir(parents=True)
    for p in movable:
        shutil.move(str(p), str(target / p.name))
    return target


def mark_failed(run_dir: str | Path, status: str) -> Path:
    """Rename a Hydra-named run folder to show the run has no plan (``…_INFEASIBLE``); returns
    the new path (the old one if the rename is not possible)."""
    run_dir = Path(run_dir)
    suffix = FAILED_SUFFIX.get(status, "ERROR")
    target = run_dir.with_name(f"{run_dir.name}_{suffix}")
    if not run_dir.is_dir() or target.exists():
        return run_dir
    try:
        run_dir.rename(target)
    except OSError:
        return run_dir
    return target


def status_of_exit(code: int) -> str:
    return _EXIT_STATUS.get(code, "error")


try:  # Hydra is a dependency; the guard only keeps this module importable on its own
    from hydra.experimental.callback import Callback
except ImportError:  # pragma: no cover
    Callback = object  # type: ignore[assignment,misc]


class RunDirGuard(Callback):  # type: ignore[misc,valid-type]
    """Hydra callback: a single run claims its directory before Hydra writes into it."""

    #: The directory this process claimed, and whether Hydra named it (it may then be renamed).
    claimed: Path | None = None
    auto_named: bool = False

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        import sys

        from model.errors import report_error

        run_dir = Path(str(config.hydra.run.dir)).expanduser().absolute()
        explicit = any(str(o).lstrip("+").startswith("hydra.run.dir=")
                       for o in (config.hydra.overrides.hydra or []))
        try:
            claim(run_dir, require_empty=True)
        except RunDirError as exc:
            raise SystemExit(report_error("model.run", exc)) from None
        RunDirGuard.claimed, RunDirGuard.auto_named = run_dir, not explicit
        sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Integrity: what the run wrote, and whether it is still there as written
# ---------------------------------------------------------------------------------------------
SUMMARY = "summary.json"
#: summary.json keys: each file's size and sha256 as written, and the summary's own sha256.
FILES_KEY = "files"
SELF_KEY = "summary_sha256"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_records(run_dir: str | Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """``{name: {"bytes": size, "sha256": hex}}`` of each file as written, for summary.json's
    ``files`` (checked by :func:`verify_run`)."""
    run_dir = Path(run_dir)
    return {name: {"bytes": (run_dir / name).stat().st_size,
                   "sha256": sha256_file(run_dir / name)} for name in names}


def summary_digest(summary: dict[str, Any]) -> str:
    """sha256 of a (JSON-ready) summary without its own ``summary_sha256``: the same for the
    dict written and the dict read back, whatever the indentation."""
    body = {k: v for k, v in summary.items() if k != SELF_KEY}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(summary: dict[str, Any]) -> dict[str, Any]:
    """``summary`` (JSON-ready) with its ``summary_sha256``, so an edit of summary.json itself
    (a headline figure, the status) is detected like an edit of a table."""
    return {**summary, SELF_KEY: summary_digest(summary)}


def _record_problem(name: Any, rec: Any) -> str | None:
    """Why one entry of ``files`` cannot be a record this tool wrote, or None."""
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(
            name).parts:
        return f"file name {name!r} is not a name inside the run folder"
    if not isinstance(rec, dict):
        return f"{name}: {rec!r} is not a size and sha256"
    size, digest = rec.get("bytes"), rec.get("sha256")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return f"{name}: bytes = {size!r} is not a size"
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        return f"{name}: sha256 = {digest!r} is not a sha256"
    return None


def verify_run(run_dir: str | Path) -> list[str]:
    """One line per way ``run_dir`` differs from what its run wrote, naming the file and what
    differs; ``[]`` for an intact run.

    - the folder or its summary.json missing (an unfinished run: interrupted, killed, still
      running), summary.json unreadable, or edited since (its ``summary_sha256``);
    - each file summary.json records (``files``): missing, another size (truncated or
      extended), or the same size with another sha256 (edited).

    Files the run did not record (a comparison folder, notes, ``.hydra/``, the logs) are not
    checked; a summary written before the records existed (no ``files``) has nothing to check."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return [f"{run_dir}: no such folder"]
    path = run_dir / SUMMARY
    if not path.is_file():
        what = ("an unfinished run (interrupted, killed or still running)"
                if (run_dir / ".hydra").is_dir() else "not a run folder")
        return [f"{path}: missing — {what}; a finished run writes summary.json last"]
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [f"{path}: cannot be read ({why[:160]}): truncated or edited since the run"]
    if not isinstance(summary, dict):
        return [f"{path}: not a run summary (a JSON {type(summary).__name__}, not an object)"]
    problems = []
    recorded = summary.get(SELF_KEY)
    if recorded is not None and recorded != summary_digest(summary):
        problems.append(f"{path}: its content differs from the sha256 the run recorded in it "
                        f"(edited since the run)")
    files = summary.get(FILES_KEY)
    if files is None:
        return problems
    if not isinstance(files, dict):
        return [*problems, f"{path}: 'files' is not a record of file sizes and sha256"]
    for name, rec in files.items():
        bad = _record_problem(name, rec)
        if bad:
            problems.append(f"{path}: 'files' record damaged ({bad})")
            continue
        file = run_dir / name
        if not file.is_file():
            problems.append(f"{file}: missing (the run wrote it, {rec['bytes']} bytes; deleted "
                            f"or moved since)")
            continue
        size = file.stat().st_size
        if size != rec["bytes"]:
            problems.append(f"{file}: {size} bytes, not the {rec['bytes']} the run wrote "
                            f"({'truncated' if size < rec['bytes'] else 'grown'} or edited since)")
        elif sha256_file(file) != rec["sha256"]:
            problems.append(f"{file}: sha256 differs from the one the run recorded (same size, "
                            f"{size} bytes: edited since the run)")
    return problems
