"""``report.html``: one self-contained page (CSS inline, charts as data: URIs) with a comparison's
tables, charts and a short reading of them, in the report language (zh for Chifeng); it opens in
a browser from disk, no server needed.

The reading is generated from the numbers (:func:`reading`): which runs meet the final-year cycle
target, how far the plan as written is from its own goals, land and supply against the plan's
guidance, the share of the common targets each run meets, which targets every run misses, which
runs have identical plans, and which runs have no plan and why. Tables and sections are cited as
the dataset cites them (summary.json ``citations``; Chifeng: 表45, 表48, 表34, §2.2.3, §2.4.1),
and not at all where it gives none.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime
from pathlib import Path

import pandas as pd

from analysis.tables import (
    Comparison,
    Run,
    attainment_display,
    common_targets,
    groups_display,
    headline_display,
    plan_layout_display,
    plan_layout_heading,
    runs_table,
)
from model.labels import Labels

TOL_MONTHS = 1e-6  # a cycle at the band's edge is in the band

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","WenQuanYi Zen Hei",
"Microsoft YaHei","PingFang SC",sans-serif;
margin:2em auto;max-width:1400px;color:#222;line-height:1.5;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
td.met{background:#e8f5e9}td.missed{background:#ffebee}
td.alert{background:#ffebee;color:#b71c1c;font-weight:bold}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
.note{color:#555;font-size:0.9em}.fail{color:#b71c1c}
.scroll{overflow-x:auto}
details summary{cursor:pointer;color:#1565c0}
"""

CHARTS = ("target_heatmap.png", "cycle_by_region.png", "land_supply_by_year.png",
          "replay_fan.png")


def guidance_citations(L: Labels) -> str:
    """``（表48、表45）`` / `` (表48, 表45)``: the dataset's citations of its land and supply
    guidance, bracketed; '' when it cites neither."""
    cited = [c for c in (L.cite_first("land_guidance"), L.cite_first("supply_guidance")) if c]
    if not cited:
        return ""
    return f"（{'、'.join(cited)}）" if L.zh else f" ({', '.join(cited)})"


def chart_caption(name: str, L: Labels, band: tuple[float, float],
                  rule_months: float | None = 36.0) -> str:
    """The caption of one chart of analysis/charts.py (``rule_months``: the land rule's suspend
    line the runs share, None when there is none to draw)."""
    lo, hi = band
    rule = rule_months if rule_months is not None else float("nan")
    captions = {
        "cycle_by_region.png": L.pick(
            zh="各区县年末去化周期：绿色为{lo:g}—{hi:g}个月合理区间{b}" + (
                "，红色虚线为{m:g}个月暂停供地线{r}" if rule_months is not None else "")
               + "；红圈为低于区间或需求未满足（库存不足）、高于区间的年份。",
            en="Destocking cycle by region and year: the {lo:g}–{hi:g}-month band{b} in "
               "green" + (", the {m:g}-month land-rule line{r} dotted red"
                          if rule_months is not None else "")
               + "; red rings mark years below the band or with unmet demand (stock-outs) "
               "and above it.", lo=lo, hi=hi, m=rule,
            b=L.bracket("cycle_band"), r=L.bracket("land_rule")),
        "land_supply_by_year.png": L.pick(
            zh="全市逐年用地（公顷）与供应（万㎡），对照规划指引{g}。",
            en="City land (公顷) and supply (万㎡) by year against the plan's guidance{g}.",
            g=guidance_citations(L)),
        "target_heatmap.png": L.pick(
            zh="目标达成情况（按指标类别与范围汇总）：格中为已达成/考核数，绿色全部达成，红色均未达成。",
            en="Target attainment by target family and scope: met / reported in each cell, "
               "green all met, red none."),
        "replay_fan.png": L.pick(
            zh="市场模拟：全市去化周期逐月变化，阴影为 p10—p90，实线为中位数，绿色为合理区间，"
               "红点为中位数超出区间的月份。",
            en="Market replay: the city-wide destocking cycle by month, p10–p90 band and median; "
               "the reasonable band in green, red dots where the median is outside it."),
    }
    return captions[name]


def esc(x: object) -> str:
    return html.escape(str(x))


def image_tag(path: Path, alt: str) -> str:
    """An <img> with the PNG embedded as a base64 data: URI."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def html_table(frame: pd.DataFrame, table_id: str = "",
               classes: pd.DataFrame | None = None) -> str:
    """A DataFrame of display strings as an HTML table; cells ending in ✓/✗ are coloured, and
    ``classes`` (same shape, CSS class names or '') colours any other cell."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for j, v in enumerate(row):
            text = str(v)
            cls = "met" if text.endswith("✓") or "✓ (" in text else (
                "missed" if text.endswith("✗") or "✗ (" in text else "")
            if classes is not None and classes.iat[i, j]:
                cls = classes.iat[i, j]
            cells.append(f'<td class="{cls}">{esc(text)}</td>' if cls else f"<td>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return (f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


# ---------------------------------------------------------------------------------------------
# The reading
# ---------------------------------------------------------------------------------------------
def _value(run: Run, *path: str) -> float:
    d = run.summary
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    try:
        return float(d)
    except (TypeError, ValueError):
        return math.nan


def _required(cmp: Comparison, target_id: str, scope: str = "city") -> float | None:
    """The `required` value of a target every run reporting it agrees on (final year for
    per-year targets), else None."""
    att = cmp.attainment
    if not len(att):
        return None
    sub = att[(att["target_id"] == target_id) & (att["scope"] == scope)]
    if target_id == "cycle_months" and len(sub):
        last = max(k.rsplit(",", 1)[-1] for k in sub["target_key"])
        sub = sub[sub["target_key"].str.endswith("," + last)]
    values = sub["required"].round(6).unique() if len(sub) else []
    return float(values[0]) if len(values) == 1 else None


def _run_required(run: Run, target_id: str, scope: str = "city") -> float | None:
    """The `required` value of one run's (single) target row, else None."""
    t = run.targets
    if t is None:
        return None
    hit = t.loc[(t["target_id"] == target_id) & (t["scope"] == scope), "required"]
    return float(hit.iloc[0]) if len(hit) == 1 else None


def reading(cmp: Comparison) -> list[str]:
    """A few plain sentences read off the comparison (each a finding, with its numbers)."""
    from model.sweep import failure_reason

    L = cmp.labels
    sep = "、" if L.zh else ", "
    lines: list[str] = []
    ok = [r for r in cmp.runs if r.ok]
    year = next((int(_value(r, "headline", "final_year")) for r in ok
                 if not math.isnan(_value(r, "headline", "final_year"))), None)
    target = _required(cmp, "cycle_months") or 18.0
    meet = [r.label for r in ok if _value(r, "headline", "cycle_months_city") <= target + 1e-6]
    miss = [L.pick(zh="{r}（{c}）", en="{r} ({c})", r=r.label,
                   c=L.value(_value(r, "headline", "cycle_months_city"), "months"))
            for r in ok if r.label not in meet]
    if ok:
        lines.append(L.pick(
            zh="{y}年全市去化周期目标（不高于{t:g}个月）：{m}{x}。",
            en="{y} city destocking cycle against the {t:g}-month target: {m}{x}.",
            y=year or "", t=target,
            m=L.pick(zh="{a} 达成", en="met by {a}", a=sep.join(meet)) if meet
            else L.pick(zh="没有方案达成", en="met by no run"),
            x=(L.pick(zh="；{b} 未达成", en="; missed by {b}", b=sep.join(miss)) if miss else "")))
    paw = next((r for r in ok if r.scenario == "plan_as_written"), None)
    if paw is not None:
        land_t = _run_required(paw, "land_total_ha")
        supply_t = _run_required(paw, "supply_total_10k_m2")
        where = L.cite_first("targets")
        totals = (L.pick(zh="（{w}合计：{a}、{b}）", en=" ({w} totals: {a}, {b})",
                         w=where or L.term("required"),
                         a=L.value(land_t, "ha"), b=L.value(supply_t, "10k_m2"))
                  if land_t is not None and supply_t is not None else "")
        as_written = [L.pick(zh="{t}{w}", en="{t} {w}", t=t, w=w) for t, w in (
            (L.cite_first("supply_guidance"), L.pick(zh="供应", en="supply")),
            (L.cite_first("land_guidance"), L.pick(zh="用地", en="land"))) if t]
        main = _value(paw, "headline", "cycle_months_main_city")
        lines.append(L.pick(
            zh="按规划原文{p}执行，{y}年末全市去化周期{c}{m}，用地{land}、供应{supply}{totals}。",
            en="The plan as written{p} ends {y} at a city cycle of {c}{m}, with {land} of land "
               "and {supply} of supply{totals}.",
            p=(L.pick(zh="（{x}）", en=" ({x})", x=("、" if L.zh else ", ").join(as_written))
               if as_written else ""),
            y=year or "", c=L.value(_value(paw, "headline", "cycle_months_city"), "months"),
            m="" if math.isnan(main) else L.pick(zh="、主城区{v}", en=" and {v} in the main city",
                                                 v=L.value(main, "months")),
            land=L.value(_value(paw, "headline", "land_total_ha"), "ha"),
            supply=L.value(_value(paw, "headline", "supply_total_10k_m2"), "10k_m2"),
            totals=totals))
    if cmp.guidance is not None and ok:
        plan_land = sum(v for (rid, _), v in cmp.guidance.land_ha.items()
                        if rid in cmp.guidance.region_ids)
        parts = [f"{r.label} "
                 f"{round(_value(r, 'headline', 'land_total_ha') - plan_land, 2) + 0.0:+.2f}"
                 for r in ok]
        cited = L.cite_first("land_guidance")
        lines.append(L.pick(zh="用地合计与{t}各行之和（{p}）相比（公顷）：{parts}。",
                            en="Land over the plan period against the {p} of {t} rows (ha): "
                               "{parts}.", p=L.value(plan_land, "ha"),
                            t=L.pick(zh="{c}", en="{c}'s", c=cited) if cited
                            else L.pick(zh="规划用地指引", en="the land guidance's"),
                            parts=("；" if L.zh else "; ").join(parts)))
    common = common_targets(cmp.runs)
    if common and len(ok) > 1:
        head = cmp.headline.set_index("indicator")
        shares = [f"{r.label} {L.number(head.loc['targets_met_share', r.label], 'share')}"
                  for r in ok]
        lines.append(L.pick(zh="各方案共同考核的{n}项目标中，达成比例：{s}。",
                            en="Of the {n} targets every run reports, the share met: {s}.",
                            n=len(common), s=("；" if L.zh else "; ").join(shares)))
    if len(cmp.groups) and ok:
        missed_all = []
        for (tid, sc), sub in cmp.groups.groupby(["target_id", "scope_class"], sort=False):
            sub = sub[sub["run"].isin([r.label for r in ok])]
            if len(sub) == len(ok) and (sub["met"] == 0).all():
                missed_all.append(f"{L.target_name(tid)}（{L.term('scope.' + sc)}）" if L.zh
                                  else f"{L.target_name(tid)} ({L.term('scope.' + sc)})")
        if missed_all:
            lines.append(L.pick(zh="所有方案均未达成：{t}。", en="Missed by every run: {t}.",
                                t=sep.join(missed_all)))
    rep = [(r.label, _value(r, "replay", "city", "p_cycle_le_target_end")) for r in ok]
    rep = [(label, p) for label, p in rep if not math.isnan(p)]
    if rep:
        lines.append(L.pick(
            zh="市场模拟：{y}年12月全市去化周期达标的概率——{s}。",
            en="Market replay, probability that the city cycle is at or under target in "
               "December {y}: {s}.", y=year or "",
            s=("；" if L.zh else "; ").join(f"{label} {L.number(p, 'probability')}"
                                           for label, p in rep)))
    lines += [f"{line}。" if L.zh else f"{line[0].upper()}{line[1:]}." for line in cmp.identical]
    for r in cmp.runs:
        if not r.ok:
            lines.append(L.pick(zh="{r}：无方案——{why}。", en="{r}: no plan — {why}.", r=r.label,
                                why=failure_reason(r.summary) or L.status(r.status)))
    if cmp.incomplete:
        lines.append(L.pick(zh="{n}个运行未完成，未纳入比较：{d}。",
                            en="{n} run(s) did not finish and are left out: {d}.",
                            n=len(cmp.incomplete), d=sep.join(d.name for d in cmp.incomplete)))
    if cmp.damaged:
        lines.append(L.pick(zh="{n}个运行的文件在运行后被改动或缺失，未纳入比较：{d}。",
                            en="{n} run(s) left out because a file changed or went missing "
                               "since the run: {d}.",
                            n=len(cmp.damaged), d=sep.join(d.name for d in cmp.damaged)))
    return lines


# ---------------------------------------------------------------------------------------------
# Cycle tables with stock-outs and band breaches in red
# ---------------------------------------------------------------------------------------------
def cycle_tables(cmp: Comparison) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Per run with a plan: region × year cycle (months, 1 decimal) and the CSS class of each
    cell ('alert' below the band, above it, or with unmet demand)."""
    L = cmp.labels
    low, high = cmp.band_months
    out = []
    for label, sub in cmp.cycles.groupby("run", sort=False):
        years = sorted(sub["year"].unique())
        regions = list(dict.fromkeys([*sub.loc[sub["region"] == "city", "region"],
                                      *sub["region"]]))
        frame, classes = [], []
        for rid in regions:
            rows = sub[sub["region"] == rid].set_index("year")
            name = L.region(rid) if not L.zh else str(rows["name_zh"].iloc[0])
            cells, cls = [name], [""]
            for y in years:
                if y not in rows.index:
                    cells.append("–")
                    cls.append("")
                    continue
                c = float(rows.loc[y, "cycle_months"])
                unmet = float(rows.loc[y, "unmet_demand_10k_m2"])
                cells.append(L.number(c, "months"))
                outside = c < low - TOL_MONTHS or c > high + TOL_MONTHS
                cls.append("alert" if (outside or unmet > 1e-6) else "")
            frame.append(cells)
            classes.append(cls)
        cols = [L.term("region"), *[L.pick(zh="{y}年末", en="{y}", y=y) for y in years]]
        out.append((str(label), pd.DataFrame(frame, columns=cols),
                    pd.DataFrame(classes, columns=cols)))
    return out


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------
def build_html(cmp: Comparison, charts: dict[str, Path]) -> str:
    """The whole page as a string."""
    L = cmp.labels
    labels = [r.label for r in cmp.runs]
    band = cmp.band_months
    title = cmp.guidance.title if cmp.guidance and cmp.guidance.title else ""
    h1 = L.pick(zh="{t}：{n}个方案比较", en="Housing plan: comparison of {n} runs",
                t=title or "住房发展规划", n=len(cmp.runs))
    runs = runs_table(cmp).fillna("")
    runs_shown = runs.assign(status=[L.status(s) for s in runs["status"]]).rename(columns={
        "run": L.term("run"), "scenario": L.term("scenario"), "status": L.term("status"),
        "reason": L.pick(zh="无方案的原因", en="Why no plan"),
        "overrides": L.pick(zh="覆盖参数", en="Overrides"),
        "run_dir": L.pick(zh="运行目录", en="Run directory")})
    parts = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if L.zh else "en"}"><head><meta charset="utf-8">',
        f"<title>{esc(h1)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{esc(h1)}</h1>",
        f'<p class="note">{esc(cmp.out_dir.parent)} · '
        + esc(L.pick(zh="生成于", en="written")) + f" {datetime.now().isoformat(timespec='minutes')}"
        + " · " + esc(L.pick(zh="数据集", en="dataset"))
        + f" {esc(cmp.guidance.dataset_name if cmp.guidance else 'unknown')}"
        + (f" · {esc(title)}" if title and not L.zh else "") + "</p>",
        f"<h2>{esc(L.pick(zh='要点', en='Reading'))}</h2><ul>",
        *[f"<li>{esc(line)}</li>" for line in reading(cmp)],
        "</ul>",
        f"<h2>{esc(L.pick(zh='主要指标', en='Headline indicators'))}</h2>",
        '<p class="note">' + esc(L.pick(
            zh="去化周期、空置率为期末年末值，其余为规划期合计；“市场模拟”各行为逐月市场模拟的全市结果。"
               "数值按规划印刷精度取整；完整精度见 headline.csv。",
            en="End of the final year for cycle and vacancy, plan-period totals otherwise; "
               "replay rows: the market replay's city aggregate. Rounded as the plan prints; "
               "full precision in headline.csv.")) + "</p>",
        html_table(headline_display(cmp.headline, L), "headline"),
        f"<h2>{esc(L.pick(zh='目标达成情况', en='Target attainment'))}</h2>",
        '<p class="note">' + esc(L.pick(
            zh="按指标类别与范围汇总：已达成/考核数。各方案考核的目标数可能不同（如逐年路径、各区县目标），"
               "比较时请看“共同目标达成率”。",
            en="By target family and scope: met / reported. Runs may report different numbers of "
               "targets (yearly paths, per-region targets); compare the share of common targets "
               "met.")) + "</p>",
        html_table(groups_display(cmp.groups, labels, L), "targets"),
    ]
    if "target_heatmap.png" in charts:
        caption = chart_caption("target_heatmap.png", L, band, cmp.rule_months)
        parts += [f'<p class="note">{esc(caption)}</p>',
                  image_tag(charts["target_heatmap.png"], caption)]
    parts += [f"<details><summary>{esc(L.pick(zh='逐项目标（展开）', en='Every target (expand)'))}"
              "</summary>", html_table(attainment_display(cmp.attainment, labels, L),
                                       "targets_all"), "</details>",
              f"<h2>{esc(L.pick(zh='图表', en='Charts'))}</h2>"]
    for name in CHARTS[1:]:
        if name in charts:
            caption = chart_caption(name, L, band, cmp.rule_months)
            parts += [f"<h3>{esc(caption)}</h3>", image_tag(charts[name], caption)]
    parts.append("<h2>" + esc(L.pick(zh="各区县年末去化周期（个月）",
                                     en="Destocking cycle by region, end of year (months)"))
                 + "</h2>")
    parts.append('<p class="note">' + esc(L.pick(
        zh="红色：低于{lo:g}个月（库存不足）或当年需求未满足，或高于{hi:g}个月（超出合理区间）。",
        en="Red: below {lo:g} months (stock-out) or demand unmet that year, or above {hi:g} "
           "months (above the band).", lo=band[0], hi=band[1])) + "</p>")
    for label, frame, classes in cycle_tables(cmp):
        parts += [f"<h3>{esc(label)}</h3>", html_table(frame, "", classes)]
    parts.append("<h2>" + esc(plan_layout_heading(L)) + "</h2>")
    for term, layout, unit in (("supply", cmp.supply, "10k_m2"), ("land", cmp.land, "ha")):
        for table, sub in (layout.groupby("table", sort=False) if len(layout) else []):
            parts += [f"<h3>{esc(L.term(term))} — {esc(table)}（{esc(L.unit(unit))}）</h3>"
                      if L.zh else
                      f"<h3>{esc(L.term(term))} — {esc(table)} ({esc(L.unit(unit))})</h3>",
                      html_table(plan_layout_display(sub, L, unit))]
    parts += [f"<h2>{esc(L.pick(zh='参与比较的运行', en='Runs'))}</h2>",
              html_table(runs_shown, "runs"), "</body></html>"]
    return "\n".join(parts)


def write_report(cmp: Comparison, path: Path, charts: dict[str, Path] | None = None) -> Path:
    """Write report.html (charts from ``cmp.files`` unless given)."""
    charts = charts if charts is not None else {
        k: v for k, v in cmp.files.items() if k.endswith(".png")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_html(cmp, charts), encoding="utf-8")
    return path
