"""Exit codes, the user-error base class, and the wrapper every command line runs inside.

Every entry point (``python -m model.run``, ``model.audit``, ``model.review``,
``analysis.compare``, ``analysis.sensitivity``, ``analysis.discovery``) reports a problem the user can fix as one line
per problem — the key (or file, line, column), the value, and what is valid — and exits with a
documented code (docs/errors.md). No user error ends in a Python traceback:

* :class:`UserError` is the base of every error a user can fix (``ConfigError``,
  ``DatasetError``, ``InputError``, ``CompareError``, ``RunDirError``). It carries ``problems``
  (one line each) and the ``exit_code`` the command returns.
* :func:`cli` runs a command's ``main``: user errors → their lines on stderr and their exit
  code; Ctrl-C → one line and 130; anything else is a bug → one line naming the file that holds
  the traceback, and exit code 5.

This module imports nothing from the model, so every stage can use it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path
from typing import Callable, NoReturn, Sequence

log = logging.getLogger(__name__)

# The documented exit codes (docs/errors.md). Keep this table and the docs in step: a test
# reads the docs' table and compares it with EXIT_CODES.
EXIT_OK = 0
EXIT_INPUT = 1
EXIT_INFEASIBLE = 2
EXIT_SOLVER = 3
EXIT_RUN_DIR = 4
EXIT_INTERNAL = 5
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_OK: "success: a plan (model.run), an audit, a comparison, a note, an analysis",
    EXIT_INPUT: "bad input: config key or value, override syntax, dataset, CSV, path, resources",
    EXIT_INFEASIBLE: "the hard targets cannot all hold (model.run; relaxation.csv)",
    EXIT_SOLVER: "the solver stopped without an optimal answer (model.run)",
    EXIT_RUN_DIR: "the run directory cannot be used: in use, holds another run, not creatable",
    EXIT_INTERNAL: "an internal error (a bug): the traceback is in the file the line names",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

#: Set to 1 to let an internal error raise with its traceback (for developers).
DEBUG_ENV = "HOUSING_MODEL_DEBUG"


class UserError(Exception):
    """A problem the user can fix; ``problems`` holds one line each, ``exit_code`` the code."""

    exit_code = EXIT_INPUT
    kind = "input error"  # the word after the command's name: "model.run: input error: …"

    def __init__(self, problems: str | Sequence[str], exit_code: int | None = None):
        lines = [problems] if isinstance(problems, str) else [str(p) for p in problems]
        self.problems = [one_line(p) for p in lines] or ["(no message)"]
        if exit_code is not None:
            self.exit_code = exit_code
        super().__init__("\n".join(self.problems))


class RunDirError(UserError):
    """The run directory cannot be used (in use by another run, holds another run's files,
    cannot be created)."""

    exit_code = EXIT_RUN_DIR
    kind = "error"


def one_line(text: object) -> str:
    """``text`` on one line: inner newlines become ' | ' (a message must never span lines)."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return " | ".join(parts)


def problems_of(exc: BaseException) -> list[str]:
    """The one-line problems of a user error (``problems`` if it has them, else its text)."""
    problems = getattr(exc, "problems", None)
    if problems:
        return [one_line(p) for p in problems]
    return [one_line(exc) or type(exc).__name__]


def exit_code_of(exc: BaseException) -> int:
    return int(getattr(exc, "exit_code", EXIT_INPUT))


def report_problems(prog: str, problems: Sequence[str], stream=None,
                    kind: str = "input error") -> None:
    """Print each problem on its own line: ``<command>: <kind>: <problem>``."""
    stream = stream or sys.stderr
    for line in problems:
        print(f"{prog}: {kind}: {one_line(line)}", file=stream, flush=True)


def report_error(prog: str, exc: BaseException) -> int:
    """Print a user error's problems (one line each); return its exit code."""
    report_problems(prog, problems_of(exc), kind=getattr(exc, "kind", "input error"))
    return exit_code_of(exc)


def internal_error_file(exc: BaseException, where: Path | None = None) -> Path | None:
    """Write the traceback of an unexpected error to a file (``where`` if writable, else the
    temporary folder) and return its path."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for folder in (where, Path(tempfile.gettempdir())):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"internal-error-{stamp}-{os.getpid()}.txt"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


def internal_error_line(prog: str, exc: BaseException, where: Path | None = None) -> str:
    path = internal_error_file(exc, where)
    tail = f"; the traceback is in {path}" if path else ""
    return (f"{prog}: internal error (a bug, please report it): {type(exc).__name__}: "
            f"{one_line(exc)[:300]}{tail}")


def cli(prog: str, main: Callable[[], int | None], user_errors: tuple = ()) -> NoReturn:
    """Run a command's ``main`` and exit with its documented code (see the module docstring).

    ``user_errors`` adds exception types (besides :class:`UserError`) that are the user's to
    fix. ``main`` returns the exit code (None = 0)."""
    try:
        code = main()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted (Ctrl-C); nothing more was written", file=sys.stderr,
              flush=True)
        code = EXIT_INTERRUPTED
    except (UserError, *user_errors) as exc:
        code = report_error(prog, exc)
    except SystemExit as exc:  # argparse and Hydra exit this way with their own message
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_INPUT)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, for an unexpected error
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        print(internal_error_line(prog, exc), file=sys.stderr, flush=True)
        code = EXIT_INTERNAL
    sys.exit(code or 0)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a usage error on one line and the documented input-error code (1), not
    argparse's own 2 (which model.run uses for infeasible targets)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: input error: {one_line(message)} (see {self.prog} --help)",
              file=sys.stderr, flush=True)
        sys.exit(EXIT_INPUT)
