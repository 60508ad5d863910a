"""``report.html``: one self-contained page (CSS inline, charts as data: URIs) with a comparison's
tables, charts and a short reading of them; it opens in a browser from disk, no server needed.

The reading is generated from the numbers (:func:`reading`): which runs meet the 2030 cycle
target, how far the plan as written is from its own goals, land and supply against 表48/表45,
which targets every run misses, and which runs have no plan and why.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from analysis.compare import Comparison, Run

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
margin:2em auto;max-width:1300px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
td.met{background:#e8f5e9}td.missed{background:#ffebee}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
.note{color:#555;font-size:0.9em}.fail{color:#b71c1c}
.scroll{overflow-x:auto}
"""

CHART_CAPTIONS = {
    "cycle_by_region.png": "Destocking cycle by region and year, with the 18-month target "
    "(第五章) and the 36-month land-rule line (§2.2.3).",
    "land_supply_by_year.png": "City land (公顷) and supply (万m²) by year against the plan's "
    "guidance (表48, 表45).",
    "target_heatmap.png": "Target attainment, run × target (green met, red missed; darker = "
    "larger shortfall relative to the target).",
    "replay_fan.png": "Market replay: the city-wide destocking cycle by month, p10–p90 band and "
    "median over the replications.",
}


def esc(x: object) -> str:
    return html.escape(str(x))


def image_tag(path: Path, alt: str) -> str:
    """An <img> with the PNG embedded as a base64 data: URI."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def html_table(frame: pd.DataFrame, table_id: str = "") -> str:
    """A DataFrame of display strings as an HTML table; cells ending in ✓/✗ are coloured."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            text = str(v)
            cls = ' class="met"' if text.endswith("✓") or "✓ (" in text else (
                ' class="missed"' if text.endswith("✗") or "✗ (" in text else "")
            cells.append(f"<td{cls}>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return (f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


# ---------------------------------------------------------------------------------------------
# The reading
# ---------------------------------------------------------------------------------------------
def _value(run: "Run", *path: str) -> float:
    d = run.summary
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    try:
        return float(d)
    except (TypeError, ValueError):
        return math.nan


def reading(cmp: "Comparison") -> list[str]:
    """A few plain sentences read off the comparison (each a finding, with its numbers)."""
    from model.sweep import failure_reason

    lines: list[str] = []
    ok = [r for r in cmp.runs if r.ok]
    target = _required(cmp, "cycle_months[city,2030]") or 18.0
    meet = [r.label for r in ok if _value(r, "headline", "cycle_months_city") <= target + 1e-6]
    miss = [f"{r.label} ({_value(r, 'headline', 'cycle_months_city'):.1f} months)" for r in ok
            if r.label not in meet]
    if ok:
        lines.append(
            f"2030 city destocking cycle against the {target:g}-month target: "
            + (f"met by {', '.join(meet)}" if meet else "met by no run")
            + (f"; missed by {', '.join(miss)}" if miss else "") + "."
        )
    paw = next((r for r in ok if r.scenario == "plan_as_written"), None)
    if paw is not None:
        lines.append(
            f"The plan as written (表45 supply, 表48 land) ends 2030 at a "
            f"{_value(paw, 'headline', 'cycle_months_city'):.1f}-month cycle city-wide and "
            f"{_value(paw, 'headline', 'cycle_months_main_city'):.1f} in the main city, with "
            f"{_value(paw, 'headline', 'land_total_ha'):.2f} ha of land and "
            f"{_value(paw, 'headline', 'supply_total_10k_m2'):.2f} 万m² of supply "
            f"(表34 totals: 574.93 ha, 1089.46 万m²)."
            if cmp.guidance is not None and cmp.guidance.dataset_name == "chifeng" else
            f"The plan as written ends 2030 at a "
            f"{_value(paw, 'headline', 'cycle_months_city'):.1f}-month city cycle."
        )
    if cmp.guidance is not None and ok:
        plan_land = sum(v for (rid, _), v in cmp.guidance.land_ha.items()
                        if rid in cmp.guidance.region_ids)
        parts = [f"{r.label} {_value(r, 'headline', 'land_total_ha') - plan_land + 0.0:+.1f} ha"
                 for r in ok]
        lines.append(f"Land 2026–2030 against the {plan_land:.2f} ha of 表48's rows: "
                     + "; ".join(parts) + ".")
    if len(cmp.attainment):
        missed_all = [
            k for k, sub in cmp.attainment.groupby("target_key", sort=False)
            if len(sub) == len(ok) and len(ok) > 0 and not sub["met"].any()
        ]
        if missed_all:
            lines.append("Missed by every run: " + ", ".join(missed_all) + ".")
    rep = [(r.label, _value(r, "replay", "city", "p_cycle_le_target_end")) for r in ok]
    rep = [(label, p) for label, p in rep if not math.isnan(p)]
    if rep:
        lines.append("Market replay, probability that the city cycle is at or under target in "
                     "December 2030: " + "; ".join(f"{label} {p:.2f}" for label, p in rep) + ".")
    failed = [r for r in cmp.runs if not r.ok]
    for r in failed:
        lines.append(f"{r.label}: no plan — {failure_reason(r.summary) or r.status}.")
    if cmp.incomplete:
        lines.append(f"{len(cmp.incomplete)} run(s) did not finish and are left out: "
                     + ", ".join(d.name for d in cmp.incomplete) + ".")
    return lines


def _required(cmp: "Comparison", target_key: str) -> float | None:
    sub = cmp.attainment[cmp.attainment["target_key"] == target_key] if len(
        cmp.attainment) else cmp.attainment
    values = sub["required"].round(6).unique() if len(sub) else []
    return float(values[0]) if len(values) == 1 else None


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------
def build_html(cmp: "Comparison", charts: dict[str, Path]) -> str:
    """The whole page as a string."""
    from analysis.compare import attainment_display, headline_display, runs_table

    labels = [r.label for r in cmp.runs]
    parts = [
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">",
        f"<title>Run comparison — {esc(cmp.out_dir.parent.name)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Housing plan: comparison of {len(cmp.runs)} runs</h1>",
        f'<p class="note">{esc(cmp.out_dir.parent)} · written '
        f"{datetime.now().isoformat(timespec='minutes')} · dataset "
        f"{esc(cmp.guidance.dataset_name if cmp.guidance else 'unknown')}</p>",
        "<h2>Reading</h2><ul>",
        *[f"<li>{esc(line)}</li>" for line in reading(cmp)],
        "</ul>",
        "<h2>Headline indicators</h2>",
        '<p class="note">End of 2030 for cycle and vacancy, 2026–2030 totals otherwise; '
        "万m² = 10k_m2, 亿元 = 100m_yuan. Replay rows: the market replay's city aggregate.</p>",
        html_table(headline_display(cmp.headline), "headline"),
        "<h2>Target attainment</h2>",
        html_table(attainment_display(cmp.attainment, labels), "targets"),
    ]
    for name, caption in CHART_CAPTIONS.items():
        if name in charts:
            parts += [f"<h3>{esc(caption)}</h3>", image_tag(charts[name], caption)]
    parts.append("<h2>Supply and land by region and year, as 表45 and 表48</h2>")
    for title, layout, unit in (("供应 supply", cmp.supply, "万m²"), ("用地 land", cmp.land,
                                                                      "公顷")):
        for table, sub in (layout.groupby("table", sort=False) if len(layout) else []):
            shown = sub.drop(columns=["table", "region"]).rename(
                columns={"name_zh": "区域", "total": "合计 2026–2030"})
            shown = shown.map(lambda v: v if isinstance(v, str) else f"{v:,.2f}")
            parts += [f"<h3>{esc(title)} — {esc(table)} ({esc(unit)})</h3>", html_table(shown)]
    parts += ["<h2>Runs</h2>", html_table(runs_table(cmp).fillna(""), "runs"),
              "</body></html>"]
    return "\n".join(parts)


def write_report(cmp: "Comparison", path: Path, charts: dict[str, Path] | None = None) -> Path:
    """Write report.html (charts from ``cmp.files`` unless given)."""
    charts = charts if charts is not None else {
        k: v for k, v in cmp.files.items() if k.endswith(".png")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_html(cmp, charts), encoding="utf-8")
    return path
