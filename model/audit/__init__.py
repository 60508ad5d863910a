"""The plan audit: check a plan dataset against itself, driven by its manifest's relations.

    python -m model.audit                      # the bundled Chifeng dataset
    python -m model.audit tests/data/mini_city # another dataset folder
    python -m model.audit dataset=PATH --out DIR

Every relation in ``manifest.yaml`` — and every default relation the dataset's tables allow that
the manifest does not list (defaults.py; their checks have ``origin`` default) — becomes one or
more checks; each compares a printed figure with the figure computed from the plan's own rows (or
applies one of the plan's rules or targets to its own numbers). All checks go to
``audit_checks.csv`` with a status (ok, rounding, info, finding, merged); the findings go to
``audit.csv`` with the columns ``check, tables, scope, printed, computed, difference, note, id,
severity, verdict, caused_by, unit, note_zh, printed_as, origin`` (difference = printed −
computed; printed_as says whether ``printed`` is a printed figure, a row sum or a derived figure;
origin whether the relation is the manifest's or a default), and a short report for officials to
``audit_report.md`` / ``.html``.
Exit code 0 when the audit ran (findings are results), 1 when the dataset cannot be read.

The check families live in tables.py (totals, shares, districts, same quantity, derived figures,
ranges, ratios, how supply was built), market.py (implied sales, the base stock identity,
history stock-flow, forecast against the market, the destocking path), rules.py (land rules,
district directives, plot ratios) and targets.py (growth rates, targets against today's level and
against flows); defaults.py derives the default relations; links.py gives each finding its
verdict, severity, cause and id; report.py writes the report.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd

from model.audit.core import (
    COPY, DEFAULT, DERIVED, DIFFERENT, FINDING, INFO, MANIFEST, MATERIAL, MERGED, METHOD, MINOR,
    OK, PRINTED, PRINTED_AS, ROUNDING, ROW_SUM, SEVERITIES, TYPO, UNCLEAR, VERDICTS, Check,
    RelationError,
)
from model.audit.defaults import default_relations
from model.audit.links import finalise
from model.audit.market import (
    check_cycle_projections, check_forecast_vs_market, check_implied_sales, check_stock_flows,
    check_stock_identity, project_cycle, project_path,
)
from model.audit.rules import check_land_directives, check_land_rules, check_plot_ratios
from model.audit.tables import (
    check_claims, check_district_sums, check_ranges, check_ratios, check_same_quantity,
    check_shares, check_supply_construction, check_totals,
)
from model.audit.targets import check_growth_rates, check_target_flows, check_target_levels
from model.csvio import write_csv
from model.data import Dataset, DatasetError
from model.labels import quoted_unit  # units as the plan writes them (audit.csv keeps the codes)

log = logging.getLogger(__name__)

AUDIT_COLUMNS = ["check", "tables", "scope", "printed", "computed", "difference", "note",
                 "id", "severity", "verdict", "caused_by", "unit", "note_zh", "printed_as",
                 "origin"]
CHECK_COLUMNS = AUDIT_COLUMNS + ["status", "key"]
REPORTED = (FINDING,)  # statuses that go into audit.csv

# Relation kind → check family, in the order they run (a finding's cause runs before it).
CHECK_FAMILIES = {
    "totals": check_totals,
    "shares": check_shares,
    "district_sums": check_district_sums,
    "same_quantity": check_same_quantity,
    "claims": check_claims,
    "ranges": check_ranges,
    "ratios": check_ratios,
    "supply_construction": check_supply_construction,
    "implied_sales": check_implied_sales,
    "stock_identity": check_stock_identity,
    "stock_flows": check_stock_flows,
    "forecast_vs_market": check_forecast_vs_market,
    "cycle_projections": check_cycle_projections,
    "land_rules": check_land_rules,
    "land_directives": check_land_directives,
    "plot_ratios": check_plot_ratios,
    "growth_rates": check_growth_rates,
    "target_levels": check_target_levels,
    "target_flows": check_target_flows,
}


def run_audit(ds: Dataset) -> list[Check]:
    """Run every relation of the dataset's manifest, then the default relations its tables allow
    that the manifest does not list (model/audit/defaults.py; their checks have origin
    ``default``); a malformed manifest relation raises DatasetError."""
    relations = ds.manifest.get("relations") or {}
    problems = [f"manifest.yaml: relations.{kind} is not a known check "
                f"(known: {', '.join(CHECK_FAMILIES)})"
                for kind in relations if kind not in CHECK_FAMILIES]
    defaults = default_relations(ds)
    checks: list[Check] = []
    for kind, family in CHECK_FAMILIES.items():
        if kind in relations:
            try:
                checks.extend(family(ds, list(relations[kind] or [])))
            except (RelationError, KeyError, TypeError, ValueError, AttributeError,
                    IndexError) as exc:
                problems.append(f"manifest.yaml: relations.{kind}: cannot evaluate ({exc})")
        if kind in defaults:
            try:
                made = family(ds, defaults[kind])
            except (RelationError, KeyError, TypeError, ValueError, AttributeError,
                    IndexError) as exc:
                log.warning("default %s checks of %s skipped: %s", kind, ds.name, exc)
                continue
            checks.extend(c.with_(origin=DEFAULT) for c in made)
    if problems:
        raise DatasetError(problems)
    checks = finalise(ds, _default_keys(checks))
    log.info("audit of %s: %d checks (%d default), %d findings", ds.name, len(checks),
             sum(c.origin == DEFAULT for c in checks), sum(c.status == FINDING for c in checks))
    return checks


def _default_keys(checks: list[Check]) -> list[Check]:
    """Default checks' keys prefixed ``default:`` (stable, and apart from the manifest's), their
    notes marked; a cause naming a key only a default check has follows the rename."""
    manifest_keys = {c.key for c in checks if c.origin != DEFAULT}
    default_keys = {c.key for c in checks if c.origin == DEFAULT}
    renamed = {k: f"default:{k}" for k in default_keys - manifest_keys}

    out = []
    for c in checks:
        causes = tuple(renamed.get(k, k) for k in c.caused_by)
        if c.origin == DEFAULT:
            c = c.with_(key=f"default:{c.key}", note=f"default check — {c.note}",
                        note_zh=f"（默认核查）{c.note_zh}" if c.note_zh else c.note_zh)
        out.append(c.with_(caused_by=causes))
    return out


def printed_as_label(c: Check) -> str:
    """What the ``printed`` figure is: printed, row sum or derived; for a finding reported once
    over several years, the year shown (its largest gap)."""
    year = c.extra.get("series_year")
    return f"{c.printed_as} ({year}, largest gap)" if year else c.printed_as


def _row(c: Check) -> dict:
    return {"check": c.check, "tables": c.tables, "scope": c.scope, "printed": c.printed,
            "computed": c.computed, "difference": c.difference, "note": c.note,
            "id": c.extra.get("id", ""), "severity": c.severity, "verdict": c.verdict,
            "caused_by": "; ".join(c.extra.get("caused_by_ids", ())), "unit": c.unit,
            "note_zh": c.note_zh, "printed_as": printed_as_label(c), "origin": c.origin,
            "status": c.status, "key": c.key}


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    """Every check, one row each, with its status."""
    return pd.DataFrame([_row(c) for c in checks], columns=CHECK_COLUMNS)


def findings_frame(checks: list[Check]) -> pd.DataFrame:
    """The findings (audit.csv), numbered material first."""
    frame = checks_frame(checks)
    frame = frame[frame["status"].isin(REPORTED)].sort_values("id", kind="stable")
    return frame[AUDIT_COLUMNS].reset_index(drop=True)


def write_audit(checks: list[Check], out_dir: Path, ds: Dataset | None = None) -> Path:
    """Write audit_checks.csv (every check), the report (when the dataset is given) and, last and
    atomically, audit.csv (the findings); return audit.csv's path."""
    from model.audit.report import write_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rounded = {"printed": 4, "computed": 4, "difference": 4}
    findings = findings_frame(checks).round(rounded)
    write_csv(checks_frame(checks).round(rounded), out_dir / "audit_checks.csv")
    if ds is not None:
        write_report(ds, checks, out_dir)
    tmp = out_dir / "audit.csv.tmp"
    write_csv(findings, tmp)
    tmp.replace(out_dir / "audit.csv")  # written last: its presence means the audit is complete
    return out_dir / "audit.csv"


def summary_counts(checks: list[Check]) -> tuple[dict[str, int], dict[str, int]]:
    """(checks by status, findings by severity)."""
    by_status = {s: sum(c.status == s for c in checks)
                 for s in (FINDING, INFO, ROUNDING, OK, MERGED)}
    by_severity = {s: sum(c.status == FINDING and c.severity == s for c in checks)
                   for s in SEVERITIES}
    return by_status, by_severity


def format_findings(ds: Dataset, checks: list[Check]) -> str:
    """A readable findings table for the terminal: material first, grouped by check."""
    findings = findings_frame(checks)
    st, sev = summary_counts(checks)
    n_checks = sum(not c.extra.get("members") for c in checks)  # merged findings are not checks
    n_default = sum(c.origin == DEFAULT and not c.extra.get("members") for c in checks)
    lines = [f"Plan audit of {ds.name} ({ds.manifest.get('title', '')}): {n_checks} checks"
             + (f" ({n_default} of them default checks the dataset's tables allow, not listed "
                f"in its manifest: origin 'default')" if n_default else "") + ", "
             f"{st[FINDING]} findings ({sev[MATERIAL]} material, {sev[MINOR]} minor, "
             f"{sev[ROUNDING]} rounding), {st[INFO]} figures for information, {st[ROUNDING]} within "
             f"rounding, {st[OK]} consistent"
             + (f", {st[MERGED]} yearly findings reported within one finding over the years"
                if st[MERGED] else "")
             + ". difference = printed − computed; 'row sum' marks a printed column that is the "
             "sum of the plan's rows, not a printed figure."]
    for severity in SEVERITIES:
        part = findings[findings["severity"] == severity]
        if part.empty:
            continue
        lines.append("")
        lines.append(f"######## {severity} ({len(part)}) ########")
        for check, group in part.groupby("check", sort=False):
            lines.append(f"== {check} ({len(group)}) ==")
            for r in group.itertuples(index=False):
                nums = (f"{r.printed_as} {_fmt(r.printed)} | computed {_fmt(r.computed)} | "
                        f"diff {_fmt(r.difference)} {quoted_unit(r.unit)}".rstrip())
                cause = f" ← {r.caused_by}" if r.caused_by else ""
                lines.append(f"  {r.id} [{r.tables}] {r.scope}: {nums} ({r.verdict}){cause}")
                lines.append(f"      {r.note}")
    return "\n".join(lines)


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.4g}" if abs(x) < 1 else f"{x:,.2f}"


def main(argv: list[str] | None = None) -> int:
    from model.audit.cli import main as cli_main
    return cli_main(argv)


__all__ = ["AUDIT_COLUMNS", "CHECK_COLUMNS", "CHECK_FAMILIES", "Check", "FINDING", "INFO", "OK",
           "MANIFEST", "DEFAULT", "default_relations",
           "ROUNDING", "MERGED", "MATERIAL", "MINOR", "TYPO", "COPY", "DIFFERENT", "METHOD",
           "UNCLEAR", "VERDICTS", "PRINTED", "ROW_SUM", "DERIVED", "PRINTED_AS",
           "printed_as_label",
           "SEVERITIES", "run_audit", "checks_frame", "findings_frame", "write_audit",
           "format_findings", "summary_counts", "project_cycle", "project_path", "main"]
