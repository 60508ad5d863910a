"""The mid-term review's note for officials and its charts, written from the run's files.

:func:`model.review.run_review` writes the review's tables (review_comparison.csv,
review_targets.csv, review_headline.csv, adjustments.csv, review_meta.json …); this module reads
them back — never the review's objects in memory — and writes:

* the charts ``review_paths.png`` and ``adjustments.png`` (``_en``: English labels);
* the note ``review_note.md`` and a self-contained ``review_note.html`` (Chinese) and
  ``review_note_en.md`` / ``review_note_en.html``: the answer in at most five paragraphs, then
  what happened, the risks, the re-plan, the trade-offs of the target adjustments, and an annex.

``python -m model.review RUN_DIR`` (:func:`main`) re-writes the note of a finished review run.
Data flows one way: this module imports model.review, never the reverse. docs/review.md §5
describes the note.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from model.actuals import EXAMPLE_ACTUALS
from model.csvio import read_csv
from model.data import DatasetError
from model.labels import Labels
from model.pipeline import Outcome
from model.review import (
    KEEP,
    PATHS,
    TERMINAL_SHORT_SHARE,
    _bool,
    _g,
    adjustment_needed,
    at_risk_groups,
    candidate_groups,
    relaxation_levels,
    replan_status,
)


# ---------------------------------------------------------------------------------------------
# After the review: charts, note, the files in summary.json
# ---------------------------------------------------------------------------------------------
def with_note(outcome: Outcome, run_dir: str | Path | None) -> Outcome:
    """A finished review's Outcome (:func:`model.review.run_review`) with its reading: the charts
    and the note written into ``run_dir`` from the review's files, the files listed in the
    summary's ``review`` section and the note's place as the last printed line. An Outcome
    without a review (bad actuals, a failed re-plan) or without a run directory is returned as
    it is."""
    if run_dir is None or "review" not in outcome.summary:
        return outcome
    run_dir = Path(run_dir)
    adjusted = "adjustments" in outcome.tables
    write_charts(run_dir, adjusted)
    write_note(run_dir)
    review = {**outcome.summary["review"],
              "files": sorted(p.name for p in run_dir.glob("review_*")) + (
                  ["adjustments.csv", "adjustments.png", "adjustments_en.png"] if adjusted
                  else [])}
    L = Labels(str(outcome.summary.get("report_lang") or "en"))  # the printed summary's
    line = L.pick(zh="  评估说明（供审阅）：{p}", en="  officials' note: {p}",
                  p=run_dir / "review_note.html")
    return dataclasses.replace(outcome, summary={**outcome.summary, "review": review},
                               messages=(*outcome.messages, line))


def write_charts(run_dir: Path, adjustments: bool = True) -> None:
    """review_paths.png and, with ``adjustments``, adjustments.png — each in Chinese and English
    (``_en``), from review_comparison.csv and adjustments.csv."""
    for lang in ("zh", "en"):
        paths_chart(run_dir, lang)
        if adjustments:
            adjustments_chart(run_dir, lang)


# ---------------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------------
def _plt():
    from model.plotting import pyplot

    return pyplot()


PATH_STYLE = {"original": ("tab:blue", "--"), "actual": ("black", "-"),
              "course": ("tab:orange", ":"), "replan": ("tab:green", "-")}


CHART_TEXT = {
    "zh": {"land_ha": "住宅用地出让（公顷）", "supply_10k_m2": "商品住宅预售（万㎡）",
           "inventory_end_10k_m2": "年末库存（万㎡）", "cycle_end_months": "去化周期（个月）",
           "original": "原规划", "actual": "实际", "course": "现行路径", "replan": "重新规划",
           "paths": "全市：原规划、实际、现行路径与重新规划",
           "p_band": "重放：{final}年12月全市去化周期处于12—18个月的概率",
           "delta_unmet": "用地变化（公顷，相对保持目标）", "infeasible": "不可行",
           "adjust": "各项目标调整：相对保持目标的变化"},
    "en": {"land_ha": "land sold, ha", "supply_10k_m2": "presale, 万m²",
           "inventory_end_10k_m2": "unsold stock, end of year, 万m²",
           "cycle_end_months": "destocking cycle, months",
           "original": "adopted plan", "actual": "actual", "course": "current course",
           "replan": "re-plan", "paths": "City: adopted plan, actual, current course, re-plan",
           "p_band": "replay: P(city cycle in 12–18 months, December {final})",
           "delta_unmet": "change in land, ha (against keeping the targets)",
           "infeasible": "infeasible",
           "adjust": "each adjustment against keeping the targets"},
}


def paths_chart(run_dir: Path, lang: str = "zh") -> Path:
    """review_paths.png (review_paths_en.png): city land, presale, end-of-year stock and cycle by
    year on the four paths (read from review_comparison.csv); Chinese labels by default."""
    plt = _plt()
    text = CHART_TEXT[lang]
    comp = read_csv(run_dir / "review_comparison.csv")
    city = comp[comp["region"] == "city"].sort_values("year")
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for ax, q in zip(axes, ("land_ha", "supply_10k_m2", "inventory_end_10k_m2",
                            "cycle_end_months")):
        for path in PATHS:
            col = f"{q}_{path}"
            if col in city and city[col].notna().any():
                color, style = PATH_STYLE[path]
                ax.plot(city["year"], city[col], style, color=color, marker="o", ms=3,
                        label=text[path])
        ax.set_title(text[q], fontsize=9)
        ax.set_xticks(sorted(city["year"]))
        ax.tick_params(labelsize=8)
    axes[-1].axhspan(12, 18, color="green", alpha=0.08)
    axes[0].legend(fontsize=7)
    fig.suptitle(text["paths"], fontsize=10)
    fig.tight_layout()
    out = run_dir / ("review_paths.png" if lang == "zh" else "review_paths_en.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def adjustments_chart(run_dir: Path, lang: str = "zh") -> Path:
    """adjustments.png (adjustments_en.png): for each candidate, the change in unmet demand
    against keeping the targets (万m²) and the replay's probability that the city ends December
    of the last year in the 12–18-month band; infeasible candidates marked."""
    plt = _plt()
    text = CHART_TEXT[lang]
    adj = read_csv(run_dir / "adjustments.csv")
    n = len(adj)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.42 * n + 1.6), sharey=True)
    y = np.arange(n)[::-1]
    feasible = adj["feasible"].astype(bool)
    delta = adj["delta_land_ha"].fillna(0.0)
    colors = ["tab:green" if bool(s) else ("tab:blue" if f else "lightgrey")
              for s, f in zip(adj["smallest_change"], feasible)]
    ax1.barh(y, delta, color=colors)
    for yi, f, d in zip(y, feasible, delta):
        ax1.text(0, yi, f"  {text['infeasible']}" if not f else f" {d:+.1f}", va="center",
                 fontsize=7)
    ax1.axvline(0, color="grey", lw=0.6)
    ax1.set_yticks(y)
    ax1.set_yticklabels(adj["candidate"], fontsize=8)
    ax1.set_xlabel(text["delta_unmet"], fontsize=8)
    ax1.set_title(text["adjust"], fontsize=9)
    ax2.barh(y, adj["p_cycle_in_band"].fillna(0.0),
             color=["tab:blue" if f else "lightgrey" for f in feasible])
    ax2.set_xlim(0, 1)
    final = int(json.loads((run_dir / "review_meta.json").read_text(encoding="utf-8"))
                ["final_year"]) if (run_dir / "review_meta.json").exists() else ""
    ax2.set_xlabel(text["p_band"].format(final=final), fontsize=8)
    fig.tight_layout()
    out = run_dir / ("adjustments.png" if lang == "zh" else "adjustments_en.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def image_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def escape(text: Any) -> str:
    return html.escape(str(text))


# ---------------------------------------------------------------------------------------------
# The note for officials (every number read back from the run's files)
# ---------------------------------------------------------------------------------------------
def _f(x: Any, digits: int = 1) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "–" if math.isnan(x) else "∞"
    text = f"{x:,.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text  # no "-0.0"


NOTE_TEXT = {
    "zh": {
        "title": "住房发展规划中期评估：供会议使用的要点",
        "years": "{obs}年为实际数据（{file}），{rest}年重新规划；比较基准为{base}。面积单位万㎡，用地单位"
                 "公顷，金额单位亿元；所有数字均取自本次运行的文件（见附件）。",
        "base_plan": "已通过规划（{sup}批准预售、{land}用地各行）",
        "base_file": "基准方案（{file}）",
        "risk": "按现行路径（{rest}年沿用{base_short}的用地，批准预售以其用地能形成的可售面积为限），"
                "{n}项规划目标存在风险：{items}。",
        "norisk": "按现行路径（{rest}年沿用{base_short}的用地与批准预售），规划目标均无风险。",
        "noadj": "目标不需调整，但{rest}年的年度供地与批准预售安排须调整（见下）：从{last}年末实际状态"
                 "重新规划满足{met}",
        "noadj_keep": "从可行性看目标不需调整：{hard}作为硬约束时，从{last}年末实际状态重新规划仍有可行"
                      "方案（adjustments.csv中的keep_targets：用地总量{land}公顷，{final}年全市去化周期{c}"
                      "个月，未满足需求{unmet}万㎡）。但下文的重新规划（规划目标按软约束处理，超出时"
                      "计入代价而不禁止）未满足：{missed}；满足：{met}",
        "all_met": "，规划目标与模型检查均已满足",
        "missed": "；未满足：{items}",
        "spend": "。重新规划需公共收购存量{buy}万㎡、公共支出{spend}亿元。",
        "met_none": "（无）",
        "noadj_risk": "按市场重放，{final}年12月全市去化周期处于{lo_band}—{hi_band}个月合理区间的概率为"
                      "{p}（各需求情景{lo}—{hi}），低于{pmin}（即每10次重放中不到{n10}次落在区间内；"
                      "{pmin}为稳健方案要求达到的概率，配置项{pkey}）：结果对需求水平敏感，{next}年"
                      "以后须按年复核。",
        "adj": "需要调整目标：保持现有目标不可行（最小放宽：{relax}）；能恢复可行的最小调整为：{change}。",
        "item_met": "{name}{sense}{req}（{got}）",
        "item_missed": "{name}要求{sense}{req}，重新规划{got}（{gap}）",
        "over": "超出{x}", "short": "差{x}", "points": "个百分点",
        "unmet_met": "{scope}无未满足需求（{period}）",
        "unmet_missed": "{scope}未满足需求{got}（{period}）",
        "floor_note": "，低于{lo_band}—{hi_band}个月合理区间的下限：库存偏紧",
        "sold_out": "{region}{year}年末库存售罄",
        "per_year": "每年",
        "per_year_after": "",
        "land_rule_obs": "{obs}年实际出让在{n}个区域·年份超出土地规则允许的面积（共{x}公顷；"
                         "{items}）",
        "land_rule_obs_item": "{region}{year}年超出{x}公顷",
        "above_line": "{final}年末去化周期仍高于{line}个月（土地规则：高于此线的区域暂停新增住宅用地出让，"
                      "{src}）的区域：{items}个月",
        "feed_short": "为{next}年准备的可售面积（期末供地）不足所需一半的区域：{items}（所需量为"
                      "{final}年需求×terminal.feed_share）",
        "feed_item": "{region}{got}/{req}万㎡",
        "notested": "本次未评估目标调整（review.adjust=false）。",
        "replan": "重新规划：{rest}年新增住宅用地分别为{land}公顷（{base_short}{oland}），批准预售"
                  "（新增供应）面积分别为{sale}万㎡（{base_short}{osale}）。",
        "happened": "{obs}年实际出让住宅用地{land}公顷，为{base_short}（{oland}公顷）的{pct}；{last}年末"
                    "库存{stock}万㎡，去化周期{cyc}个月（{base_short}为{ocyc}个月）。",
        "vacancy": "空置率目标（全市{vc}、主城区{vm}）在任何供应方案下都无法实现：需要租赁转化、拆除等"
                   "供应以外的手段（本模型未模拟）。",
        "s1": "一、{obs}年实际情况与{base_short}",
        "s2": "二、不作调整时的风险",
        "s3": "三、{rest}年重新规划",
        "s4": "四、目标调整的取舍",
        "annex": "附件",
        "cols_happened": ["范围", "指标", "{base_short}", "实际"],
        "cols_replan": ["年份", "范围", "出让用地（公顷）", "批准预售（万㎡）", "销售（万㎡）",
                        "年末库存（万㎡）", "去化周期（个月）"],
        "cols_adj": ["候选调整", "目标变化", "可行", "与保持目标相同", "未满足需求变化（万㎡）",
                     "用地变化（公顷）", "公共支出变化（亿元）", "全市{final}年去化周期（个月）",
                     "P({lo_band}—{hi_band}个月)"],
        "infeasible": "否；最小可行：{relax}",
        "risk_item": "{t}：要求{sense}{req}{unit}，现行路径{course}，重新规划{replan}",
        "checks": "模型检查（非规划目标）：{items}。",
        "rules": "规则：现行路径下土地规则、供应节奏或期末供地在{n}个区域·年份不满足（见"
                 "review_targets.csv，kind = rule）。",
        "replay": "市场重放（{reps}次重复，从{last}年末实际状态起）：{final}年12月全市去化周期处于{lo_band}—{hi_band}个月"
                  "的概率为{p}；按需求情景为{lo}—{hi}（uncertainty.csv）。",
        "same": "以下候选调整与保持目标得到同一方案（调整后的目标在重新规划中不起约束作用）：",
        "same_value": "以下候选调整的取值与现有目标相同，方案不变：",
        "not_applicable": "以下候选调整不适用（本数据集未模拟该目标）：",
        "quantities": {"land_ha": "出让用地（公顷）", "supply_10k_m2": "批准预售（万㎡）",
                       "sales_10k_m2": "销售（万㎡）", "inventory_end_10k_m2": "年末库存（万㎡）",
                       "cycle_end_months": "去化周期（个月）"},
        "caveats": "说明：实际数据只记录销售、不记录需求，因此已观测年份的未满足需求记为0。",
        "example": "本次使用的是随附的示例实际数据，并非统计数据。",
        "presale_above": "实际批准预售超过时序模型由已出让土地形成的可售面积（共{x}万㎡，{where}），"
                         "期初在途面积可能被低估。",
        "files": ["review_comparison.csv：基准、实际、现行路径、重新规划，按区域和年份对照",
                  "review_targets.csv：每项目标在各路径上的结果（at_risk为风险目标）",
                  "review_headline.csv、review_changes.csv：主要指标与变化",
                  "plan.csv、targets.csv、uncertainty.csv：重新规划；original/、course/：基准与现行路径",
                  "adjustments.csv：每项候选调整（均以万㎡、公顷、亿元计）"],
        "yes": "是", "no": "否", "sep": "、",
        "none": "无",
    },
    "en": {
        "title": "Mid-term review of the housing plan: points for the meeting",
        "years": "{obs} observed ({file}); {rest} re-planned; the baseline is {base}. Floor area in "
                 "万m², land in hectares, money in 亿元; every number is read from this run's files "
                 "(see the annex).",
        "base_plan": "the adopted plan ({sup} presale approvals and {land} land, rows)",
        "base_file": "the baseline plan ({file})",
        "risk": "On the current course ({base_short}'s land for {rest}, its presale approvals as "
                "far as that land can make floor area ready), {n} of the plan's target(s) are at "
                "risk: {items}.",
        "norisk": "On the current course ({base_short}'s land and presale for {rest}), none of "
                  "the plan's targets is at risk.",
        "noadj": "No target needs adjusting, but the yearly land and presale for {rest} do (see "
                 "below): a re-plan from the observed end of {last} meets {met}",
        "noadj_keep": "No target needs adjusting for feasibility: with {hard} held as hard limits "
                      "a re-plan from the observed end of {last} still exists (adjustments.csv, "
                      "keep_targets: land {land} ha, city cycle {c} months in {final}, unmet demand "
                      "{unmet} 万m²). But the re-plan below (the plan's targets soft: a miss is costed, not "
                      "forbidden) misses {missed}; it meets {met}",
        "all_met": "; every plan target and tool check is met",
        "missed": "; it misses {items}",
        "spend": ". The re-plan needs {buy} 万m² of unsold stock bought by the public and {spend} "
                 "亿元 of public spending.",
        "met_none": "(none)",
        "noadj_risk": " In the market replay the city cycle ends December {final} in the "
                      "{lo_band}–{hi_band}-month band with probability {p} (across demand cases "
                      "{lo}–{hi}), below {pmin} (fewer than {n10} in 10 replays in the band; {pmin} "
                      "is the probability a robust plan must reach, config key {pkey}): the result "
                      "depends on the level of demand; review it every year from {next}.",
        "adj": "An adjustment is needed: keeping the targets is infeasible (smallest relaxation: "
               "{relax}); the smallest change that restores feasibility: {change}.",
        "item_met": "{name} {sense} {req} ({got})",
        "item_missed": "{name}: required {sense} {req}, re-plan {got} ({gap})",
        "over": "over by {x}", "short": "short by {x}", "points": " percentage points",
        "unmet_met": "no unmet demand, {scope} ({period})",
        "unmet_missed": "unmet demand {got}, {scope} ({period})",
        "floor_note": ", below the floor of the {lo_band}–{hi_band}-month band: stock runs short",
        "sold_out": "{region} sold out at the end of {year}",
        "per_year": "",
        "per_year_after": " a year",
        "land_rule_obs": "In {obs} land sold broke the land rule in {n} region-years ({x} ha above "
                         "what it allowed in all; {items})",
        "land_rule_obs_item": "{region} {year} by {x} ha",
        "above_line": "Regions still above {line} months at the end of {final} (the land rule "
                      "suspends new residential land above that line, {src}): {items} months",
        "feed_short": "regions whose land makes ready less than half of what {next} needs (the "
                      "terminal feed, {final} demand × terminal.feed_share): {items}",
        "feed_item": "{region} {got} of {req} 万m²",
        "notested": "Target adjustments were not evaluated (review.adjust=false).",
        "replan": "The re-plan: new residential land {land} ha in {rest} ({base_short} {oland}), "
                  "presale approvals (new supply) {sale} 万m² ({base_short} {osale}).",
        "happened": "In {obs} the city sold {land} ha of residential land, {pct} of {base_short}'s "
                    "{oland} ha; at the end of {last} the stock is {stock} 万m², a {cyc}-month "
                    "cycle ({base_short} {ocyc} months).",
        "vacancy": "The vacancy targets (city {vc}, main city {vm}) are out of reach of any supply "
                   "plan: they need instruments beyond supply (conversion to rental, demolition; "
                   "not modelled).",
        "s1": "1. What happened in {obs}, against {base_short}",
        "s2": "2. Risks if nothing changes",
        "s3": "3. The re-plan for {rest}",
        "s4": "4. Adjusting targets: the trade-offs",
        "annex": "Annex",
        "cols_happened": ["scope", "indicator", "{base_short}", "actual"],
        "cols_replan": ["year", "scope", "land sold, ha", "presale approvals, 万m²", "sales, 万m²",
                        "stock at year end, 万m²", "cycle, months"],
        "cols_adj": ["candidate", "target change", "feasible", "same plan as keeping targets",
                     "Δ unmet demand, 万m²", "Δ land, ha", "Δ public spending, 亿元",
                     "city cycle {final}, months", "P({lo_band}–{hi_band} months)"],
        "infeasible": "no; feasible from {relax}",
        "risk_item": "{t}: required {sense} {req}{unit}, current course {course}, re-plan {replan}",
        "checks": "The tool's checks (not plan targets): {items}.",
        "rules": "Rules: on the current course the land rule, the pace or the land for the year "
                 "after the plan are not met in {n} region-years (review_targets.csv, kind = rule).",
        "replay": "Market replay ({reps} replications, from the observed end of {last}): P(city "
                  "cycle in {lo_band}–{hi_band} months, December {final}) = {p}; {lo}–{hi} across demand cases "
                  "(uncertainty.csv).",
        "same": "These candidates give the same plan as keeping the targets (the changed target "
                "does not bind in the re-plan):",
        "same_value": "These candidates set the targets to their present values (the same plan):",
        "not_applicable": "These candidates are not applicable (not modelled for this dataset):",
        "quantities": {"land_ha": "land sold, ha", "supply_10k_m2": "presale approvals, 万m²",
                       "sales_10k_m2": "sales, 万m²",
                       "inventory_end_10k_m2": "stock at year end, 万m²",
                       "cycle_end_months": "cycle, months"},
        "caveats": "Caveats: the actuals record sales, not demand, so unmet demand in the observed "
                   "years counts as 0.",
        "example": "This run uses the shipped actuals, an illustrative example, not statistics.",
        "presale_above": "Observed presale approvals exceed the floor area the timing model makes "
                         "ready from land sold ({x} 万m² in all; {where}): the opening pipeline may "
                         "be understated.",
        "files": ["review_comparison.csv: baseline, actual, current course and re-plan per "
                  "region and year",
                  "review_targets.csv: every target on each path (at_risk)",
                  "review_headline.csv, review_changes.csv: headline indicators and changes",
                  "plan.csv, targets.csv, uncertainty.csv: the re-plan; original/, course/: the "
                  "baseline and the current course",
                  "adjustments.csv: every candidate, in 万m², ha and 亿元"],
        "yes": "yes", "no": "no", "sep": ", ",
        "none": "none",
    },
}
BASE_SHORT = {"zh": ("已通过规划", "基准方案"), "en": ("the adopted plan", "the baseline")}


def _join(values, digits: int = 2) -> str:
    return " / ".join(_f(v, digits) for v in values)


#: A region whose stock at a year end is below this (万m²) is sold out.
SOLD_OUT_10K_M2 = 0.05
def _thresholds(meta: Mapping[str, Any]) -> dict:
    """review_meta.json's thresholds, with the defaults for a run directory written before."""
    out = {"band_low_months": 12.0, "band_high_months": 18.0,
           "land_rule_suspend_above_months": 36.0, "land_rule_source": "",
           "p_band_min": 0.8, "p_band_min_key": "robust.chance_alpha",
           "terminal_short_share": TERMINAL_SHORT_SHARE}
    out.update(meta.get("thresholds") or {})
    return out


def sold_out(plan: pd.DataFrame) -> list[tuple[str, int]]:
    """(region, first year) for each region whose stock the re-plan runs out in a year still to
    plan (below :data:`SOLD_OUT_10K_M2` at the year end)."""
    p = plan[~plan["observed"].map(_bool).fillna(False).astype(bool)]
    p = p[p["inventory_end_10k_m2"].astype(float) < SOLD_OUT_10K_M2].sort_values("year")
    return [(r, int(g["year"].iloc[0])) for r, g in p.groupby("region", sort=False)]


def _labels(comp: pd.DataFrame, lang: str) -> Labels:
    """The note's labels: ``lang`` with review_comparison.csv's Chinese region names."""
    return Labels(lang).with_names({str(r): str(n) for r, n in zip(comp["region"],
                                                                   comp["name_zh"])})


def _scope_text(scope: str, comp: pd.DataFrame, lang: str) -> str:
    """A target's scope in a sentence: 全市, 主城区 (city, main city), else the region's name."""
    L = _labels(comp, lang)
    return L.scope_word(scope) if scope in ("city", "main_city") else L.region(scope)


def _span(years, lang: str) -> str:
    """Years as the note prints them: '2026—2027' (2026–2027 in English), '2026' for one."""
    if not years:
        return ""
    if years[0] == years[-1]:
        return str(years[0])
    return f"{years[0]}{'—' if lang == 'zh' else '–'}{years[-1]}"


def _period_text(period: str, lang: str) -> str:
    return str(period).replace("-", "—" if lang == "zh" else "–")


def status_items(status: pd.DataFrame, comp: pd.DataFrame, meta: Mapping[str, Any],
                 lang: str) -> tuple[list[str], list[str]]:
    """(met, missed): the re-plan's targets and checks as the note prints them. Met ones are
    merged across scopes with the same requirement (去化周期（2030）不高于18.0个月（全市15.8、
    主城区13.9）); each missed one names its requirement, the re-plan's value and the gap."""
    tx, th, L = NOTE_TEXT[lang], _thresholds(meta), Labels(lang)
    sep = tx["sep"]
    met, missed = [], []
    done = status[status["met"]]
    for _key, part in done.groupby(["target_id", "periods", "required", "unit", "sense"],
                                   sort=False):
        r = part.iloc[0]
        scopes = [_scope_text(s, comp, lang) for s in part["scope"]]
        period = _period_text(r["periods"], lang)
        if r["target_id"] == "unmet_demand_10k_m2":
            met.append(tx["unmet_met"].format(scope=sep.join(scopes), period=period))
            continue
        word = L.target_word(r["target_id"])
        name = f"{word}（{period}）" if lang == "zh" else f"{word} ({period})"
        many = r["years"] > 1
        req = (f"{L.figure(r['required'], r['unit'])}{L.figure_unit(r['unit'])}"
               f"{tx['per_year_after'] if many else ''}")
        if many:
            got = sep.join(scopes)
        else:
            got = sep.join(f"{s}{'' if lang == 'zh' else ' '}{L.figure(a, r['unit'])}"
                           for s, a in zip(scopes, part["achieved_replan"]))
        sense = (tx["per_year"] if many else "") + L.term(f"sense.{r['sense']}")
        met.append(tx["item_met"].format(name=name, sense=sense, req=req, got=got))
    for r in status[~status["met"]].itertuples(index=False):
        scope = _scope_text(r.scope, comp, lang)
        period = _period_text(r.period, lang)
        got = f"{L.figure(r.achieved_replan, r.unit)}{L.figure_unit(r.unit)}"
        if r.target_id == "unmet_demand_10k_m2":
            missed.append(tx["unmet_missed"].format(scope=scope, got=got, period=period))
            continue
        word = L.target_word(r.target_id)
        name = f"{scope}{word}（{period}）" if lang == "zh" else f"{word}, {scope} ({period})"
        x = (f"{L.figure(r.shortfall_replan, r.unit)}{L.figure_unit(r.unit)}"
             if r.unit != "share" else f"{float(r.shortfall_replan) * 100:.1f}{tx['points']}")
        gap = tx["over" if r.sense == "max" else "short"].format(x=x)
        text = tx["item_missed"].format(name=name, sense=L.term(f"sense.{r.sense}"),
                                        req=f"{L.figure(r.required, r.unit)}"
                                            f"{L.figure_unit(r.unit)}",
                                        got=got, gap=gap)
        if r.target_id == "cycle_floor_months":
            text = text[:-1] + tx["floor_note"].format(
                lo_band=_g(th["band_low_months"]), hi_band=_g(th["band_high_months"])) + text[-1]
        missed.append(text)
    return met, missed


def verdict_text(targets: pd.DataFrame, plan: pd.DataFrame, comp: pd.DataFrame,
                 adj: pd.DataFrame, head: pd.DataFrame, meta: Mapping[str, Any], lang: str,
                 rest: str, last: int, final: int) -> str:
    """The answer when keeping the targets is feasible (``keep_targets`` in adjustments.csv):
    no target needs adjusting — then exactly what the re-plan the note shows meets and misses,
    read from review_targets.csv (achieved against required, the band floor and unmet demand
    included) and plan.csv (regions sold out). Only targets with rows are named, so a target the
    dataset does not have is never said to be kept; when the re-plan misses a target of
    review.hard that keeping is feasible for, the keep_targets plan's land, cycle and unmet
    demand are given beside it."""
    tx = NOTE_TEXT[lang]
    status = replan_status(targets)
    met, missed = status_items(status, comp, meta, lang)
    missed += [tx["sold_out"].format(region=_region_name(comp, r, lang), year=y)
               for r, y in sold_out(plan)]
    hard = [g for g in meta.get("hard", []) if g in set(status["group"].dropna())]
    hard_missed = status[~status["met"] & status["group"].isin(hard)]
    met_text = tx["sep"].join(met) or tx["met_none"]
    if len(hard_missed):
        keep = adj[adj["candidate"] == KEEP].iloc[0]
        text = tx["noadj_keep"].format(
            hard=tx["sep"].join(Labels(lang).group_word(g) for g in hard),
            last=last, final=final, land=_f(keep["land_total_ha"], 2),
            c=_f(keep["cycle_months_city_end"]), unmet=_f(keep["unmet_demand_10k_m2"], 2),
            missed=tx["sep"].join(missed), met=met_text)
    else:
        text = tx["noadj"].format(rest=rest, last=last, met=met_text)
        text += tx["missed"].format(items=tx["sep"].join(missed)) if missed else tx["all_met"]
    h = head.set_index("indicator")
    return text + tx["spend"].format(buy=_f(h.loc["purchased_10k_m2", "replan"]),
                                     spend=_f(h.loc["public_spending_100m_yuan", "replan"], 2))


def relaxation_note(text: Any, comp: pd.DataFrame, lang: str) -> str:
    """adjustments.csv's ``relaxation`` (``vacancy_share[city] 0.2 → 0.2923 share (+0.09235)``,
    read by :func:`model.review.relaxation_levels`) as the smallest feasible level of each
    conflicting target, in the note's language: 全市空置率29.23% / city vacancy 29.23%. Text it
    cannot read is returned as it is."""
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    L = Labels(lang)
    parts = []
    for tid, scope, value, unit in relaxation_levels(text):
        word = L.target_word(tid)
        where = _scope_text(scope, comp, lang)
        level = f"{value:.2%}" if unit == "share" else f"{L.figure(value, unit)}" \
            f"{L.figure_unit(unit)}"
        parts.append(f"{where}{word}{level}" if lang == "zh" else f"{where} {word} {level}")
    return NOTE_TEXT[lang]["sep"].join(parts) if parts else text


def _override_text(overrides: str, lang: str, has_main: bool = True) -> str:
    """A candidate's overrides in words (空置率改为硬约束；全市空置率 22.0%), for a candidate that
    changes no target of this dataset and so has no target_change text; main-city values are
    left out for a dataset without a main city."""
    out = []
    L = Labels(lang)
    for item in str(overrides).split(";"):
        key, _, value = item.strip().partition("=")
        field_ = key.split(".")
        if len(field_) == 3 and field_[0] == "targets" and field_[2] == "mode":
            g = L.group_word(field_[1])
            out.append(f"{g}目标改为{'硬约束' if value == 'hard' else value}" if lang == "zh"
                       else f"{g} target {value}")
            continue
        name = field_[-1]
        for tid, unit in (("vacancy_share", "share"), ("cycle_months", "months"),
                          ("land_total_ha", "ha"), ("supply_total_10k_m2", "10k_m2"),
                          ("subsidised_volume_10k_m2", "10k_m2")):
            if name.startswith(tid.split("_10k")[0].replace("_ha", "").replace("_share", "")):
                scope = ("main_city" if "main_city" in name else "city")
                if scope == "main_city" and not has_main:
                    break
                try:
                    v = L.figure(float(value), unit) + L.figure_unit(unit)
                except ValueError:
                    v = value
                word, where = L.target_word(tid), L.scope_word(scope)
                out.append(f"{where}{word} {v}" if lang == "zh" else f"{word}, {where} {v}")
                break
        else:
            out.append(item.strip())
    return ("；" if lang == "zh" else "; ").join(o for o in out if o)


def candidate_bullet(row, lang: str, has_main: bool = True) -> str:
    """One candidate as a bullet: its change in words, its id in brackets."""
    text = str(row.get("target_change_zh" if lang == "zh" else "target_change", "") or "")
    if text in ("", "无", "none", "nan"):
        text = _override_text(row["overrides"], lang, has_main)
    elif lang == "zh":
        text = text.replace("；", "，")
    return f"{text}（{row['candidate']}）" if lang == "zh" else f"{text} ({row['candidate']})"


def land_rule_observed(targets: pd.DataFrame, comp: pd.DataFrame, main_id: str | None,
                       lang: str, obs: str) -> str:
    """The observed years' land-rule breaches (land_rule rows of an observed year the actuals
    miss): how many region-years, the hectares above what the rule allowed, the largest three
    (the main city first)."""
    t = targets[(targets["target_id"] == "land_rule")
                & targets["observed_year"].map(_bool).fillna(False).astype(bool)]
    t = t[t["met_replan"].map(_bool).eq(False)]
    if t.empty:
        return ""
    t = t.assign(_main=t["scope"].eq(main_id)).sort_values(["_main", "shortfall_replan"],
                                                             ascending=False)
    tx = NOTE_TEXT[lang]
    items = tx["sep"].join(tx["land_rule_obs_item"].format(
        region=_scope_text(r.scope, comp, lang), year=r.period, x=_f(r.shortfall_replan, 2))
        for r in t.head(3).itertuples(index=False))
    if len(t) > 3:
        items += "等" if lang == "zh" else " and others"
    return tx["land_rule_obs"].format(obs=obs, n=len(t), x=_f(t["shortfall_replan"].sum(), 2),
                                      items=items)


def replan_rules(targets: pd.DataFrame, plan: pd.DataFrame, comp: pd.DataFrame,
                 meta: Mapping[str, Any], lang: str, final: int) -> list[str]:
    """After the re-plan: regions still above the land rule's suspension line at the end of the
    final year (plan.csv), and regions whose land makes ready less than
    :data:`TERMINAL_SHORT_SHARE` of what the year after the plan needs (terminal_feed rows)."""
    tx, th = NOTE_TEXT[lang], _thresholds(meta)
    out = []
    line = float(th["land_rule_suspend_above_months"])
    end = plan[(plan["year"] == final) & (plan["cycle_end_months"].astype(float) > line)]
    if len(end):
        out.append(tx["above_line"].format(
            final=final, line=_g(line), src=th["land_rule_source"] or "land.rule",
            items=tx["sep"].join(f"{_region_name(comp, r.region, lang)} {_f(r.cycle_end_months)}"
                                 for r in end.itertuples(index=False))))
    feed = targets[(targets["target_id"] == "terminal_feed")
                   & targets["achieved_replan"].notna()]
    feed = feed[feed["achieved_replan"].astype(float)
                < th["terminal_short_share"] * feed["required"].astype(float)]
    if len(feed):
        feed = feed.assign(_gap=feed["required"].astype(float)
                           - feed["achieved_replan"].astype(float)).sort_values(
            "_gap", ascending=False)
        items = tx["sep"].join(tx["feed_item"].format(
            region=_scope_text(r.scope, comp, lang), got=_f(max(r.achieved_replan, 0.0)),
            req=_f(r.required)) for r in feed.head(3).itertuples(index=False))
        if len(feed) > 3:
            items += "等" if lang == "zh" else " and others"
        out.append(tx["feed_short"].format(next=final + 1, final=final, items=items))
    return out


def note_blocks(run_dir: Path, lang: str = "zh") -> list[tuple]:
    """The note as blocks — ("h1"|"h2"|"p"|"key", text), ("ul", [items]), ("table", frame,
    caption), ("img", file, alt), ("annex",) — built only from the files of ``run_dir``. The first
    paragraphs (at most five) are the answer; tables follow; charts and files go to the annex."""
    tx = NOTE_TEXT[lang]
    L = Labels(lang)

    def read(name: str) -> pd.DataFrame:
        return read_csv(run_dir / name)

    comp, targets, head = read("review_comparison.csv"), read("review_targets.csv"), \
        read("review_headline.csv")
    meta = json.loads((run_dir / "review_meta.json").read_text(encoding="utf-8"))
    adj = read("adjustments.csv") if (run_dir / "adjustments.csv").exists() else None
    unc = read("uncertainty.csv") if (run_dir / "uncertainty.csv").exists() else None
    plan = read("plan.csv")

    obs_years = sorted(comp.loc[comp["observed"], "year"].unique())
    all_years = sorted(comp["year"].unique())
    rest = [y for y in all_years if y not in obs_years]
    p_obs, p_rest = _span(obs_years, lang), _span(rest, lang)
    final, last = all_years[-1], obs_years[-1]
    city = comp[comp["region"] == "city"].set_index("year")
    main_id = meta.get("main_city_id")
    h = head.set_index("indicator")
    original = meta.get("original")
    base_short = BASE_SHORT[lang][1 if original else 0]
    cite = meta.get("cite") or {}
    base = (tx["base_file"].format(file=Path(original).name) if original else
            tx["base_plan"].format(sup=cite.get("supply_guidance", "supply_guidance"),
                                   land=cite.get("land_guidance", "land_guidance")))
    fmt = dict(base_short=base_short)
    th = _thresholds(meta)
    band = {"lo_band": _g(th["band_low_months"]), "hi_band": _g(th["band_high_months"])}

    blocks: list[tuple] = [("h1", tx["title"]),
                           ("p", tx["years"].format(obs=p_obs, rest=p_rest, base=base,
                                                    file=Path(meta["actuals"]).name))]
    # -- the answer: at most five paragraphs ---------------------------------------------------
    groups = at_risk_groups(targets)
    risk = targets[targets["at_risk"]]
    if groups:
        items = []
        for g in groups:
            r = risk[[f"{x.target_id}[{x.scope}]" == g for x in risk.itertuples(index=False)]
                     ].iloc[-1]
            value = f"{L.figure(r.achieved_course, r.unit)}{L.figure_unit(r.unit)}"
            items.append(f"{_target_name(r, lang)}（{value}）" if lang == "zh" else
                         f"{_target_name(r, lang)} ({value})")
        blocks.append(("key", tx["risk"].format(rest=p_rest, n=len(groups),
                                                items=tx["sep"].join(items), **fmt)))
    else:
        blocks.append(("key", tx["norisk"].format(rest=p_rest, **fmt)))
    needed = adjustment_needed(adj)
    p_band = h["replan"].get("p_cycle_in_band_end[city]", np.nan)
    spread = _case_spread(unc)
    if needed is None:
        status = replan_status(targets)
        missed = status_items(status, comp, meta, lang)[1] + [
            tx["sold_out"].format(region=_region_name(comp, r, lang), year=y)
            for r, y in sold_out(plan)]
        blocks.append(("key", tx["notested"] + (
            tx["missed"].format(items=tx["sep"].join(missed)).lstrip("；; ") + ("。" if lang == "zh" else ".")
            if missed else "")))
    elif not needed:
        text = verdict_text(targets, plan, comp, adj, head, meta, lang, p_rest, last, final)
        if p_band == p_band and p_band < th["p_band_min"]:
            text += tx["noadj_risk"].format(
                final=final, p=_f(p_band, 2), lo=spread[0], hi=spread[1],
                next=rest[0] if rest else final, pmin=_g(th["p_band_min"]),
                n10=_g(th["p_band_min"] * 10), pkey=th["p_band_min_key"], **band)
        blocks.append(("key", text))
    else:
        keep = adj[adj["candidate"] == KEEP].iloc[0]
        best = adj[adj["smallest_change"].astype(bool)]
        change = (_change_text(best.iloc[0], lang) if len(best) else tx["none"])
        blocks.append(("key", tx["adj"].format(
            relax=relaxation_note(keep["relaxation"], comp, lang), change=change)))
    text = tx["replan"].format(
        rest=p_rest, land=_join(city.loc[rest, "land_ha_replan"]),
        oland=_join(city.loc[rest, "land_ha_original"]),
        sale=_join(city.loc[rest, "supply_10k_m2_replan"]),
        osale=_join(city.loc[rest, "supply_10k_m2_original"]), **fmt)
    for extra in replan_rules(targets, plan, comp, meta, lang, final):
        text += f"{extra}。" if lang == "zh" else f" {extra[0].upper()}{extra[1:]}."
    blocks.append(("key", text))
    land_obs = city.loc[obs_years, "land_ha_actual"].sum()
    land_orig = city.loc[obs_years, "land_ha_original"].sum()
    text = tx["happened"].format(
        obs=p_obs, land=_f(land_obs, 2), oland=_f(land_orig, 2),
        pct=f"{land_obs / land_orig:.0%}" if land_orig else "–", last=last,
        stock=_f(city.loc[last, "inventory_end_10k_m2_actual"]),
        cyc=_f(city.loc[last, "cycle_end_months_actual"]),
        ocyc=_f(city.loc[last, "cycle_end_months_original"]), **fmt)
    breaches = land_rule_observed(targets, comp, main_id, lang, p_obs)
    if breaches:
        text += (breaches + "。") if lang == "zh" else (" " + breaches + ".")
    blocks.append(("key", text))
    vac = risk[(risk["target_id"] == "vacancy_share") & ~risk["met_replan"].astype(bool)]
    if len(vac):
        req = vac.set_index("scope")["required"]
        blocks.append(("key", tx["vacancy"].format(vc=L.figure(req.get("city"), "share"),
                                                   vm=L.figure(req.get("main_city"), "share"))))
    # -- 1. what happened --------------------------------------------------------------------
    blocks.append(("h2", tx["s1"].format(obs=p_obs, **fmt)))
    rows = []
    for scope in ("city", main_id):
        part = comp[comp["region"] == scope].set_index("year") if scope else None
        if part is None or part.empty:
            continue
        name = L.scope_word("city" if scope == "city" else "main_city")
        for q in ("land_ha", "supply_10k_m2", "sales_10k_m2"):
            rows.append([name, tx["quantities"][q], _f(part.loc[obs_years, f"{q}_original"].sum()),
                         _f(part.loc[obs_years, f"{q}_actual"].sum())])
        for q in ("inventory_end_10k_m2", "cycle_end_months"):
            rows.append([name, f"{tx['quantities'][q]} {last}", _f(part.loc[last, f"{q}_original"]),
                         _f(part.loc[last, f"{q}_actual"])])
    columns = [c.format(**fmt) for c in tx["cols_happened"]]
    blocks.append(("table", pd.DataFrame(rows, columns=columns), "review_comparison.csv"))
    above = meta.get("presale_above_ready") or {}
    if above:
        where = tx["sep"].join(f"{_region_name(comp, r, lang)} {_f(v)}" for r, v in above.items())
        blocks.append(("p", tx["presale_above"].format(x=_f(sum(above.values())), where=where)))
    # -- 2. risks ----------------------------------------------------------------------------
    blocks.append(("h2", tx["s2"]))
    items = [tx["risk_item"].format(t=_target_name(r, lang), sense=L.term(f"sense.{r.sense}"),
                                    req=L.figure(r.required, r.unit), unit=L.figure_unit(r.unit),
                                    course=L.figure(r.achieved_course, r.unit),
                                    replan=L.figure(r.achieved_replan, r.unit))
             for r in risk.itertuples(index=False)]
    blocks.append(("ul", items or [tx["norisk"].format(rest=p_rest, **fmt)]))
    checks = targets[targets["check_failed"]] if "check_failed" in targets else targets.iloc[:0]
    if len(checks):
        blocks.append(("p", tx["checks"].format(items=tx["sep"].join(
            f"{_target_name(r, lang)} {L.figure(r.achieved_course, r.unit)}"
            f"{L.figure_unit(r.unit)}"
            for r in checks.drop_duplicates("target_id").itertuples(index=False)))))
    rules = targets[targets["rule_broken"]] if "rule_broken" in targets else targets.iloc[:0]
    if len(rules):
        blocks.append(("p", tx["rules"].format(n=len(rules))))
    # -- 3. the re-plan ----------------------------------------------------------------------
    blocks.append(("h2", tx["s3"].format(rest=p_rest)))
    rows = []
    for y in rest:
        for scope in ("city", main_id):
            part = comp[(comp["region"] == scope) & (comp["year"] == y)] if scope else None
            if part is None or part.empty:
                continue
            r = part.iloc[0]
            rows.append([y, L.scope_word("city" if scope == "city" else "main_city"),
                         _f(r["land_ha_replan"], 2), _f(r["supply_10k_m2_replan"]),
                         _f(r["sales_10k_m2_replan"]), _f(r["inventory_end_10k_m2_replan"]),
                         _f(r["cycle_end_months_replan"])])
    blocks.append(("table", pd.DataFrame(rows, columns=tx["cols_replan"]),
                   "review_comparison.csv (re-plan)"))
    if p_band == p_band:
        blocks.append(("p", tx["replay"].format(reps=meta.get("replications", ""), last=last,
                                                final=final, p=_f(p_band, 2), lo=spread[0],
                                                hi=spread[1], **band)))
    # -- 4. adjustments ----------------------------------------------------------------------
    if adj is not None:
        blocks.append(("h2", tx["s4"]))
        kinds = candidate_groups(adj, targets)
        for kind in ("same", "same_value", "not_applicable"):
            if len(kinds[kind]):
                blocks.append(("p", tx[kind]))
                blocks.append(("ul", [candidate_bullet(r, lang, bool(main_id))
                                      for _i, r in kinds[kind].iterrows()]))
        shown = kinds["shown"]
        frame = pd.DataFrame({
            c.format(final=final, **band): v for c, v in zip(tx["cols_adj"], (
                shown["candidate"], [_change_text(r, lang) for _i, r in shown.iterrows()],
                [tx["yes"] if f else tx["infeasible"].format(
                    relax=relaxation_note(x, comp, lang))
                 for f, x in zip(shown["feasible"].map(_bool).fillna(False),
                                 shown["relaxation"])],
                [tx["no"]] * len(shown),
                shown["delta_unmet_demand_10k_m2"].map(lambda x: _f(x, 1)),
                shown["delta_land_ha"].map(lambda x: _f(x, 1)),
                shown["delta_public_spending_100m_yuan"].map(lambda x: _f(x, 2)),
                shown["cycle_months_city_end"].map(lambda x: _f(x, 1)),
                shown["p_cycle_in_band"].map(lambda x: _f(x, 2))))})
        blocks.append(("table", frame.drop(columns=[tx["cols_adj"][3]]),
                       "adjustments.csv"))
    # -- annex -------------------------------------------------------------------------------
    blocks.append(("annex",))
    blocks.append(("h2", tx["annex"]))
    suffix = "" if lang == "zh" else "_en"
    for name in (f"review_paths{suffix}.png", f"adjustments{suffix}.png"):
        if (run_dir / name).exists():
            blocks.append(("img", name, name))
    blocks.append(("ul", tx["files"]))
    shipped = "actuals" in meta and Path(str(meta["actuals"])).name == EXAMPLE_ACTUALS.name
    blocks.append(("p", tx["caveats"] + (tx["example"] if shipped else "")))
    return blocks


def _case_spread(unc: pd.DataFrame | None) -> tuple[str, str]:
    """The lowest and highest city P(in band) across demand cases, price response 0."""
    if unc is not None and "part" in unc.columns:
        unc = unc[unc["part"] == "grid"]
    if unc is None or unc.empty:
        return "–", "–"
    part = unc[(unc["scope"] == "city") & (unc["price_response"].abs() < 1e-12)]
    if part.empty:
        part = unc[unc["scope"] == "city"]
    return _f(part["p_cycle_in_band"].min(), 2), _f(part["p_cycle_in_band"].max(), 2)


def _region_name(comp: pd.DataFrame, region: str, lang: str) -> str:
    """A region's name in the note: regions.csv's name_zh, or the id written out in English
    (``bairin_left`` → ``Bairin Left``, model.labels)."""
    return _labels(comp, lang).region(region)


def _change_text(row, lang: str) -> str:
    """A candidate's change to the targets, in the note's language."""
    text = str(row.get("target_change", ""))
    if lang != "zh":
        if text in ("", "none"):
            return (f"{row['candidate']} (changes no target: absent from this dataset or the "
                    f"same value)")
        return f"{row['candidate']}: {text}"
    zh = str(row.get("target_change_zh", "") or text)
    if zh in ("", "无", "none"):
        return f"{row['candidate']}（未改变任何目标：本数据集无此目标或取值相同）"
    return zh


def _target_name(row, lang: str) -> str:
    L = Labels(lang)
    word, scope, period = L.target_word(row.target_id), L.scope_word(row.scope), str(row.period)
    return f"{scope}{word}（{period}）" if lang == "zh" else f"{word}, {scope} ({period})"


def _cell(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (float, np.floating)):
        if x != x:
            return "–"
        return f"{x:.3g}" if abs(x) < 1 else f"{x:,.2f}"
    return str(x)


def render_markdown(blocks: list[tuple]) -> str:
    out = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            out.append(f"# {b[1]}\n")
        elif kind == "h2":
            out.append(f"## {b[1]}\n")
        elif kind == "key":
            out.append(f"**{b[1]}**\n")
        elif kind == "p":
            out.append(f"{b[1]}\n")
        elif kind == "ul":
            out.append("\n".join(f"- {i}" for i in b[1]) + "\n")
        elif kind == "table":
            frame, caption = b[1], b[2]
            lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
                     "|" + "---|" * len(frame.columns)]
            lines += ["| " + " | ".join(_cell(v).replace("|", "/") for v in row) + " |"
                      for row in frame.itertuples(index=False)]
            out.append("\n".join(lines) + f"\n\n*{caption}*\n")
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1]})\n")
        elif kind == "annex":
            out.append("---\n")
    return "\n".join(out)


def render_html(blocks: list[tuple], run_dir: Path, lang: str = "zh") -> str:
    """A self-contained page (images embedded); printed, the body fits two A4 pages and the
    annex starts on a new page; wide tables wrap instead of being cut off."""
    body = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{escape(b[1])}</{kind}>")
        elif kind == "key":
            body.append(f"<p class='key'>{escape(b[1])}</p>")
        elif kind == "p":
            body.append(f"<p>{escape(b[1])}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in b[1]) + "</ul>")
        elif kind == "table":
            frame, caption = b[1], b[2]
            head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
            rows = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row)
                           + "</tr>" for row in frame.itertuples(index=False))
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
                        f"<p class='src'>{escape(caption)}</p>")
        elif kind == "img":
            body.append(f"<figure><img src='{image_data_uri(run_dir / b[1])}' "
                        f"alt='{escape(b[2])}'><figcaption>{escape(b[1])}</figcaption></figure>")
        elif kind == "annex":
            body.append("<div class='annex'></div>")
    style = ("body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',"
             "'PingFang SC',sans-serif;max-width:1000px;margin:1.5em auto;line-height:1.45;"
             "font-size:14px}h1{font-size:1.35em}h2{font-size:1.1em;margin:1em 0 .3em}"
             ".key{margin:.25em 0;font-weight:600}"
             "table{border-collapse:collapse;font-size:.8em;width:100%;table-layout:auto}"
             "td,th{border:1px solid #ccc;padding:2px 4px;text-align:right;word-break:break-word}"
             "td:first-child,td:nth-child(2),th{text-align:left}"
             "th{background:#f0f0f0}img{max-width:100%}.src{font-size:.75em;color:#666;margin:0}"
             "@page{size:A4;margin:14mm}@media print{body{font-size:11px;margin:0}"
             ".annex{page-break-before:always}figure{page-break-inside:avoid}}")
    title = NOTE_TEXT[lang]["title"]
    return (f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head>"
            f"<meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def write_note(run_dir: Path) -> tuple[Path, Path]:
    """review_note.md / review_note.html (Chinese) and review_note_en.md / review_note_en.html
    (English), from the run's files."""
    for lang, suffix in (("zh", ""), ("en", "_en")):
        blocks = note_blocks(run_dir, lang)
        (run_dir / f"review_note{suffix}.md").write_text(render_markdown(blocks), encoding="utf-8")
        (run_dir / f"review_note{suffix}.html").write_text(render_html(blocks, run_dir, lang),
                                                           encoding="utf-8")
    return run_dir / "review_note.md", run_dir / "review_note.html"


REVIEW_FILES = ("review_comparison.csv", "review_changes.csv", "review_targets.csv",
                "review_headline.csv", "review_meta.json")


def main(argv: list[str] | None = None) -> int:
    """``python -m model.review RUN_DIR``: re-generate the officials' note of a review run."""
    import sys

    from model.errors import RunDirError, UserError

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        raise UserError("usage: python -m model.review RUN_DIR (the folder of a run of "
                        "python -m model.run +scenario=midterm_2028)")
    run_dir = Path(args[0])
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such folder (expected the folder of a run of "
                        f"python -m model.run +scenario=midterm_2028)")
    if (run_dir / "summary.json").exists() or (run_dir / ".hydra").is_dir():
        from model.rundir import verify_run

        # the note is written from the run's files: refuse them if they changed since the run
        subs = [run_dir / sub for sub in ("original", "course")
                if (run_dir / sub / "summary.json").exists()]
        problems = [p for d in (run_dir, *subs) for p in verify_run(d)]
        if problems:
            raise UserError([f"{p}; run the review again" for p in problems])
    missing = [f for f in REVIEW_FILES if not (run_dir / f).is_file()]
    if missing:
        raise UserError(f"{run_dir} is not a finished mid-term review run (no {missing[0]}); "
                        f"a review run comes from python -m model.run +scenario=midterm_2028")
    try:
        md, page = write_note(run_dir)
    except DatasetError as exc:
        raise UserError([f"review note: {p}" for p in exc.problems]) from None
    except (ValueError, KeyError, IndexError, pd.errors.ParserError) as exc:
        raise UserError(f"{run_dir}: the review files cannot be read ({type(exc).__name__}: "
                        f"{exc}); they may be truncated — run the review again") from None
    except OSError as exc:
        raise RunDirError(f"{run_dir}: the note cannot be written ({exc.strerror or exc})") \
            from None
    print(md)
    print(page)
    return 0

