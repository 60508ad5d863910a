"""``python -m analysis.compare <sweep dir or run dirs…> [--out DIR] [--lang zh|en]``: compare
finished runs.

Reads run directories only (analysis/tables.py computes every table) and writes, into
``<sweep dir>/comparison/`` (or ``<common parent>/comparison/`` for a list of run directories):

- ``headline.csv`` / ``.md``: the headline indicators side by side, one column per run;
- ``targets.csv`` (wide: achieved per run), ``targets_long.csv`` (every target row of every run),
  ``target_groups.csv`` (met / reported per target family × scope) and ``targets.md``;
- ``supply_by_region_year.csv``, ``land_by_region_year.csv`` and ``plan_tables.md``: region × year
  supply (万㎡) and land (公顷) as the plan prints its guidance (Chifeng: 表45, 表48), the plan's
  guidance first, then each run;
- ``charts/*.png`` (analysis/charts.py) and ``report.html`` (analysis/report.py).

The language of the Markdown, the charts and the report is ``--lang``, else the runs'
``report.lang`` (their summary's ``report_lang``), else the dataset manifest's ``lang``, else en.
CSVs are UTF-8 with BOM at 10 significant digits (model/csvio.py). When runs have identical plans
the command says so ("identical plans for …: the target does not bind").

Before reading a run, its files are checked against the size and sha256 its summary.json
records (model/rundir.py ``verify_run``): a run whose file was truncated, edited or deleted since
is refused — one line per file, naming it and what differs — or, with ``--skip-damaged``, left
out with a warning and listed in runs.csv and the report.

Exit codes: 0 written; 1 nothing to compare, or a damaged run (one line per problem on stderr,
no traceback; docs/errors.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Sequence

from analysis import charts, report
from analysis.tables import (  # noqa: F401 (the names this module has always offered)
    INDICATORS,
    OUT_DIR_NAME,
    SUMMARY,
    TOTAL,
    CompareError,
    Comparison,
    Guidance,
    Indicator,
    Run,
    attainment,
    attainment_display,
    attainment_groups,
    attainment_wide,
    city_by_year,
    compare,
    cycle_by_region_year,
    find_run_dirs,
    groups_display,
    headline_display,
    headline_table,
    identical_plans,
    load_guidance,
    load_runs,
    markdown_table,
    plan_layout,
    plan_layout_heading,
    plan_layout_markdown,
    read_summary,
    read_table,
    region_year_table,
    replay_city,
    run_labels,
    runs_table,
    targets_long,
    verify_runs,
)
from model.csvio import write_csv
from model.labels import LANGS

log = logging.getLogger(__name__)


def default_out_dir(paths: Sequence[str | Path], run_dirs: Sequence[Path]) -> Path:
    """``<folder>/comparison`` for one folder of runs; else next to the runs (common parent)."""
    if len(paths) == 1 and not (Path(paths[0]) / SUMMARY).exists():
        return Path(paths[0]).resolve() / OUT_DIR_NAME
    return Path(os.path.commonpath([str(d.parent) for d in run_dirs])) / OUT_DIR_NAME


def write_tables(cmp: Comparison, out_dir: Path) -> dict[str, Path]:
    """The CSV and Markdown tables into ``out_dir``; returns the files by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    L = cmp.labels
    labels = [r.label for r in cmp.runs]
    files = {
        "headline.csv": cmp.headline,
        "targets.csv": attainment_wide(cmp.attainment, labels),
        "targets_long.csv": targets_long(cmp.runs),
        "target_groups.csv": cmp.groups,
        "supply_by_region_year.csv": cmp.supply,
        "land_by_region_year.csv": cmp.land,
        "runs.csv": runs_table(cmp),
    }
    written = {name: write_csv(frame, out_dir / name) for name, frame in files.items()}
    same = "".join(f"\n\n> {line}" for line in cmp.identical)
    md = {
        "headline.md": f"# {L.pick(zh='主要指标', en='Headline indicators')}\n\n"
        + markdown_table(headline_display(cmp.headline, L)) + same,
        "targets.md": "# " + L.pick(zh="目标达成情况（✓ 达成，✗ 未达成）",
                                    en="Target attainment (✓ met, ✗ missed)") + "\n\n"
        + markdown_table(groups_display(cmp.groups, labels, L)) + "\n\n"
        + markdown_table(attainment_display(cmp.attainment, labels, L)),
        "plan_tables.md": "# " + plan_layout_heading(L) + "\n\n"
        + (plan_layout_markdown(cmp.supply, L.term("supply"), "10k_m2", L)
           if len(cmp.supply) else "")
        + "\n\n"
        + (plan_layout_markdown(cmp.land, L.term("land"), "ha", L) if len(cmp.land) else ""),
    }
    for name, text in md.items():
        path = out_dir / name
        path.write_text(text + "\n", encoding="utf-8")
        written[name] = path
    return written


def compare_runs(run_dirs: Sequence[str | Path], out_dir: str | Path | None,
                 lang: str | None = None, draw: bool = True,
                 skip_damaged: bool = False) -> Comparison:
    """Compare run directories from Python: check them, read them, write the tables, charts
    and report.html into ``out_dir`` (None: the default, <sweep dir>/comparison); returns the :class:`Comparison` (``cmp.files``: what was
    written). CompareError if there is nothing to compare, or if a run's files changed or went
    missing since the run (one line per file; ``skip_damaged`` leaves such runs out instead,
    listed in runs.csv and the report)."""
    found, incomplete = find_run_dirs(list(run_dirs))
    for d in incomplete:
        log.warning("incomplete run left out (no summary.json): %s", d)
    if out_dir is None:
        out_dir = default_out_dir(run_dirs, found)
    found, damaged = verify_runs(found, skip_damaged)
    cmp = compare(found, incomplete, lang, damaged)
    cmp.out_dir = Path(out_dir).resolve()
    cmp.files = write_tables(cmp, cmp.out_dir)
    if draw:
        cmp.files.update(charts.draw_all(cmp, cmp.out_dir / "charts"))
        cmp.files["report.html"] = report.write_report(cmp, cmp.out_dir / "report.html")
    return cmp


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI; returns the exit code (user errors are raised: :func:`model.errors.cli`)."""
    from model.errors import ArgumentParser

    parser = ArgumentParser(
        prog="python -m analysis.compare",
        description="Compare finished runs: tables (CSV, Markdown), charts (PNG), report.html.",
    )
    parser.add_argument("paths", nargs="+", help="a sweep directory, or run directories")
    parser.add_argument("--out", help="output folder (default: <sweep dir>/comparison)")
    parser.add_argument("--lang", choices=LANGS,
                        help="report language (default: the runs' report.lang, else the "
                             "dataset's manifest lang, else en)")
    parser.add_argument("--no-charts", action="store_true", help="tables only")
    parser.add_argument("--skip-damaged", action="store_true",
                        help="leave out runs whose files changed or went missing since the run "
                             "(default: refuse them, naming each file)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cmp = compare_runs(args.paths, args.out, args.lang, draw=not args.no_charts,
                       skip_damaged=args.skip_damaged)
    print(f"compared {len(cmp.runs)} runs "
          f"({sum(r.ok for r in cmp.runs)} with a plan) → {cmp.out_dir}")
    print(markdown_table(headline_display(cmp.headline, cmp.labels)))
    for line in cmp.identical:
        print(line)
    return 0


if __name__ == "__main__":
    from model.errors import cli

    cli("analysis.compare", main)
