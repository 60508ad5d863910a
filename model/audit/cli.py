"""Command line of the plan audit: ``python -m model.audit [FOLDER] [--out DIR]``."""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime
from pathlib import Path

from model.audit import format_findings, run_audit, write_audit
from model.data import DEFAULT_DATASET, REPO_ROOT, load_dataset
from model.errors import ArgumentParser, RunDirError

DESCRIPTION = "The plan audit: check a plan dataset against itself, driven by its manifest."


def parse_args(argv: list[str]) -> argparse.Namespace:
    # usage errors: one line, exit 1 (the documented 0/1; docs/errors.md)
    parser = ArgumentParser(prog="python -m model.audit", description=DESCRIPTION)
    parser.add_argument("dataset", nargs="?", default=None,
                        help="dataset folder (default: scenarios/chifeng); also dataset=PATH")
    parser.add_argument("--out", default=None,
                        help="output folder (default: runs/audit/<dataset>/<timestamp>); also out=PATH")
    # Hydra-style key=value overrides, for symmetry with model.run.
    rest, overrides = [], {}
    for arg in argv:
        if "=" in arg and not arg.startswith("-"):
            key, value = arg.split("=", 1)
            if key not in ("dataset", "out"):
                parser.error(f"unknown override {key!r} (valid: dataset=PATH, out=PATH)")
            overrides[key] = value
        else:
            rest.append(arg)
    args = parser.parse_args(rest)
    args.dataset = overrides.get("dataset", args.dataset)
    args.out = overrides.get("out", args.out)
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    folder = Path(args.dataset) if args.dataset else DEFAULT_DATASET
    # a dataset problem is raised to model.errors.cli: one line per problem, "model.audit:
    # input error: <file> line L, column C: …", exit 1, nothing written (docs/errors.md)
    ds = load_dataset(folder)
    checks = run_audit(ds)
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_dir = Path(args.out) if args.out else REPO_ROOT / "runs" / "audit" / ds.name / stamp
    try:
        path = write_audit(checks, out_dir, ds)
    except OSError as exc:
        raise RunDirError(f"output folder {out_dir} cannot be written ({exc.strerror or exc}); "
                          f"choose another with out=PATH") from None
    print(format_findings(ds, checks))
    print(f"\nwritten: {path} (findings), {out_dir / 'audit_checks.csv'} (every check), "
          f"{out_dir / 'audit_report.md'} and .html (report)")
    return 0
