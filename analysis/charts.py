"""Charts of a comparison (PNG, matplotlib, Agg), in the report language (model/labels.py).

Each ``chart_*`` function takes the tidy tables :mod:`analysis.tables` computes and a
:class:`~model.labels.Labels`, and returns a matplotlib Figure; :func:`draw_all` saves them:

- ``cycle_by_region.png``: destocking cycle by region and year (plan.csv, base year to the final
  year), the reasonable band (12–18 months) shaded, the 36-month land-rule line; years below
  the band or with unmet demand (stock-outs) and above it (band breaches) marked in red;
- ``land_supply_by_year.png``: city land (公顷) and supply (万㎡) by year against the plan's
  guidance;
- ``target_heatmap.png``: target family × scope (city, main city, regions) × run: the share of the
  group's targets met (green all; partly met from orange to red; red none), with met / reported
  in each cell — one row per target family and scope whatever the number of targets, so it fits
  a page;
- ``replay_fan.png``: the market replay's city-wide cycle by month, p10–p90 band and median, the
  reasonable band shaded, median months outside it in red.

The band, the land rule and the guidance tables are cited as the dataset cites them (the runs'
summary.json ``citations``, :meth:`Labels.cite`; Chifeng: §2.4.1, §2.2.3, 表48, 表45), and not
at all where it gives none.

Chinese text needs a CJK font: :func:`use_cjk_font` picks one if installed (Noto Sans CJK,
WenQuanYi, Source Han, SimHei…) and warns once if none is (install ``fonts-noto-cjk``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402

from analysis.tables import BAND_MONTHS, GUIDANCE_COLUMN, Comparison  # noqa: E402
from model.labels import Labels  # noqa: E402
from model.plotting import use_cjk_font  # noqa: E402,F401 (one CJK font set-up for every chart)

log = logging.getLogger(__name__)

LAND_RULE_MONTHS = 36.0  # the national 2024 rule (Chifeng §2.2.3): above 36 months no new land
DPI = 110
TOL_MONTHS = 1e-6  # a cycle at the band's edge is in the band
PAGE_WIDTH_IN = 12.5  # at DPI 110: 1375 px, the width of the report page
RED = "#c62828"
BAND_COLOUR = "#c8e6c9"

def _colours(labels: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


def _grid(n: int, ncols: int) -> tuple[int, int]:
    return max(1, math.ceil(n / ncols)), min(n, ncols) if n else 1


# ---------------------------------------------------------------------------------------------
# The charts
# ---------------------------------------------------------------------------------------------
def chart_cycle_by_region(cycles: pd.DataFrame, labels: Sequence[str], L: Labels | None = None,
                          band_months: tuple[float, float] = BAND_MONTHS,
                          rule_months: float | None = LAND_RULE_MONTHS) -> plt.Figure:
    """Small multiples, one panel per region (全市 first): cycle (months) by year, a line per
    run; the reasonable band shaded, the 36-month land-rule line; a year below the band or with
    unmet demand (stock-out) and a year above it (band breach) marked in red."""
    L = L or Labels()
    regions = list(dict.fromkeys(
        [*cycles.loc[cycles["region"] == "city", "region"], *cycles["region"]]))
    names = dict(zip(cycles["region"], cycles["name_zh"]))
    L = L.with_names(names)
    low, high = band_months
    nrows, ncols = _grid(len(regions), 4)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN, 2.6 * nrows + 0.9),
                             squeeze=False, sharex=True)
    colour = _colours(labels)
    finite = cycles["cycle_months"].replace([np.inf, -np.inf], np.nan)
    ymax = max(40.0, float(np.nanmax(finite.to_numpy(dtype=float))) * 1.05
               if finite.notna().any() else 40.0)
    unmet = cycles.get("unmet_demand_10k_m2", pd.Series(0.0, index=cycles.index)).fillna(0.0)
    for ax, region in zip(axes.flat, regions):
        sub = cycles[cycles["region"] == region]
        ax.axhspan(low, high, color=BAND_COLOUR, alpha=0.6, lw=0)
        for label in labels:
            s = sub[sub["run"] == label].sort_values("year")
            if len(s):
                ax.plot(s["year"], s["cycle_months"].clip(upper=ymax), marker="o", ms=3,
                        color=colour[label], label=label, lw=1.4)
        outside = ((sub["cycle_months"] < low - TOL_MONTHS)
                   | (sub["cycle_months"] > high + TOL_MONTHS))
        out = sub[outside
                  | (unmet.loc[sub.index] > 1e-6)]
        ax.scatter(out["year"], out["cycle_months"].clip(upper=ymax), s=26, color=RED,
                   zorder=5, marker="o", facecolors="none", linewidths=1.4)
        if rule_months is not None:
            ax.axhline(rule_months, color=RED, ls=":", lw=1)
        ax.set_title(L.region(region), fontsize=10)
        ax.set_ylim(0, ymax)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(regions):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(L.header("cycle", "months"), fontsize=8)
    handles, legend_labels = axes.flat[0].get_legend_handles_labels()
    handles += [plt.Rectangle((0, 0), 1, 1, color=BAND_COLOUR),
                plt.Line2D([], [], color=RED, ls=":"),
                plt.Line2D([], [], color=RED, marker="o", ls="", markerfacecolor="none")]
    legend_labels += [
        L.pick(zh="合理区间 {lo:g}—{hi:g} 个月{b}", en="reasonable band {lo:g}–{hi:g} "
               "months{b}", lo=low, hi=high, b=L.bracket("cycle_band")),
        L.pick(zh="{m:g}个月：暂停供地{r}", en="{m:g} months: land suspended{r}",
               r=L.bracket("land_rule"), m=rule_months if rule_months is not None else 0),
        L.pick(zh="红圈：低于区间或需求未满足（库存不足）、高于区间",
               en="red ring: below the band or demand unmet (stock-out), or above the band"),
    ]
    if rule_months is None:  # the runs' land rules differ or are not recorded: no line drawn
        n = len(handles) - 2
        del handles[n], legend_labels[n]
    fig.legend(handles, legend_labels, loc="lower center", ncol=min(3, len(handles)),
               fontsize=8, frameon=False)
    fig.suptitle(L.pick(zh="各区县商品住宅去化周期（年末，本方案 plan.csv）",
                        en="Destocking cycle by region and year (end of year, plan.csv)"),
                 fontsize=12)
    fig.tight_layout(rect=(0, 0.75 / (2.6 * nrows + 0.9), 1, 1 - 0.35 / (2.6 * nrows + 0.9)))
    return fig


def chart_land_supply_by_year(
    land_by_year: pd.DataFrame, supply_by_year: pd.DataFrame, L: Labels | None = None
) -> plt.Figure:
    """City land (公顷) and supply (万㎡) by year: a bar per run, the plan's guidance (as the
    dataset cites it: Chifeng's 表48, 表45) as a black line."""
    L = L or Labels()
    fig, axes = plt.subplots(1, 2, figsize=(PAGE_WIDTH_IN, 4.6))
    for ax, table, term, unit, source in (
        (axes[0], land_by_year, "land_supply", "ha", L.cite_first("land_guidance")),
        (axes[1], supply_by_year, "presale", "10k_m2", L.cite_first("supply_guidance")),
    ):
        runs = [c for c in table.columns if c != GUIDANCE_COLUMN]
        years = [int(y) for y in table.index]
        width = 0.8 / max(1, len(runs))
        colour = _colours(runs)
        for i, label in enumerate(runs):
            x = np.arange(len(years)) + (i - (len(runs) - 1) / 2) * width
            ax.bar(x, table[label].to_numpy(dtype=float), width, label=label, color=colour[label])
        if GUIDANCE_COLUMN in table:
            ax.plot(np.arange(len(years)), table[GUIDANCE_COLUMN].to_numpy(dtype=float), "k-o",
                    lw=2, label=L.term("plan_guidance") + (f" ({source})" if source else ""))
        ax.set_xticks(np.arange(len(years)), [L.year(y) for y in years])
        ax.set_ylabel(L.header(term, unit))
        ax.set_title(L.pick(zh="全市{what}（按年，对照{src}）", en="City {what} by year vs {src}",
                            what=L.term(term) if L.zh else L.term(term).lower(),
                            src=source or L.term("plan_guidance")),
                     fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def chart_target_heatmap(groups: pd.DataFrame, labels: Sequence[str], L: Labels | None = None
                         ) -> plt.Figure:
    """Target family × scope (rows) by run (columns): colour = share of the group's targets met
    (green all … red none), text = met / reported. Rows stay about a dozen however many targets
    the runs report, so the chart fits a page."""
    L = L or Labels()
    keys = list(dict.fromkeys(zip(groups["target_id"], groups["scope_class"])))
    runs = [label for label in labels if (groups["run"] == label).any()]
    share = np.full((len(keys), len(runs)), np.nan)
    text = [["–" for _ in runs] for _ in keys]
    for rec in groups.itertuples(index=False):
        if rec.run not in runs:
            continue
        i, j = keys.index((rec.target_id, rec.scope_class)), runs.index(rec.run)
        share[i, j] = rec.share_met
        text[i][j] = f"{rec.met}/{rec.n}"
    cmap = LinearSegmentedColormap.from_list(
        "attain", [(0.0, "#b71c1c"), (0.5, "#ef9a9a"), (0.999, "#ffe0b2"), (1.0, "#66bb6a")])
    height = 1.6 + 0.34 * len(keys)
    fig, ax = plt.subplots(figsize=(min(PAGE_WIDTH_IN, 4.5 + 1.5 * len(runs)), height))
    ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i in range(len(keys)):
        for j in range(len(runs)):
            dark = share[i, j] == share[i, j] and share[i, j] < 0.25  # white on dark red
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
    row_names = [f"{L.target_name(tid)} · {L.term('scope.' + sc)}" for tid, sc in keys]
    ax.set_yticks(range(len(keys)), row_names, fontsize=8.5)
    ax.set_xticks(range(len(runs)), runs, rotation=20, ha="right", fontsize=8.5)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", labeltop=True, labelbottom=False)
    plt.setp(ax.get_xticklabels(), ha="left")
    ax.set_xticks(np.arange(-0.5, len(runs)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(keys)), minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_title(L.pick(zh="目标达成：已达成 / 考核数（绿：全部达成，红：均未达成）",
                        en="Targets met / reported, by target and scope (green: all, red: none)"),
                 fontsize=10, pad=28)
    fig.tight_layout()
    return fig


def chart_replay_fan(replay: pd.DataFrame, labels: Sequence[str], L: Labels | None = None,
                     band_months: tuple[float, float] = BAND_MONTHS) -> plt.Figure:
    """One panel per run: the replay's city-wide cycle by month, p10–p90 band and median line,
    the reasonable band shaded and median months outside it in red."""
    L = L or Labels()
    low, high = band_months
    runs = [label for label in labels if (replay["run"] == label).any()]
    nrows, ncols = _grid(len(runs), 2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN, 3.0 * nrows + 0.6),
                             squeeze=False, sharey=True)
    colour = _colours(labels)
    for ax, label in zip(axes.flat, runs):
        sub = replay[replay["run"] == label]
        x = pd.to_datetime(sub["month"] + "-01")
        ax.axhspan(low, high, color=BAND_COLOUR, alpha=0.6, lw=0,
                   label=L.pick(zh="合理区间", en="reasonable band"))
        ax.fill_between(x, sub["p10"], sub["p90"], color=colour[label], alpha=0.25,
                        label="p10–p90")
        ax.plot(x, sub["p50"], color=colour[label], lw=1.8, label=L.term("median"))
        outside = (sub["p50"] < low - TOL_MONTHS) | (sub["p50"] > high + TOL_MONTHS)
        ax.scatter(x[outside.to_numpy()], sub["p50"][outside], s=6, color=RED, zorder=5,
                   label=L.pick(zh="中位数超出区间", en="median outside the band"))
        region = sub["region"].iloc[0]
        ax.set_title(f"{label} — {L.region(region)}", fontsize=9)
        ax.set_ylabel(L.header("cycle", "months"), fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(runs):]:
        ax.set_visible(False)
    fig.suptitle(L.pick(zh="市场模拟：全市去化周期逐月变化（各次模拟的 p10—p90）",
                        en="Market replay: destocking cycle by month (p10–p90 of the "
                        "replications)"), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


# ---------------------------------------------------------------------------------------------
# All of them
# ---------------------------------------------------------------------------------------------
def draw_all(cmp: Comparison, out_dir: Path) -> dict[str, Path]:
    """Draw every chart that has data into ``out_dir``; returns the PNG files by name."""
    use_cjk_font()
    out_dir.mkdir(parents=True, exist_ok=True)
    L = cmp.labels
    labels = [r.label for r in cmp.runs]
    ok = [r.label for r in cmp.runs if r.ok]
    figures = {}
    if len(cmp.cycles):
        figures["cycle_by_region.png"] = lambda: chart_cycle_by_region(
            cmp.cycles, ok, L, cmp.band_months, cmp.rule_months)
    if len(cmp.land_by_year.columns) and len(cmp.supply_by_year.columns):
        figures["land_supply_by_year.png"] = lambda: chart_land_supply_by_year(
            cmp.land_by_year, cmp.supply_by_year, L)
    if len(cmp.groups):
        figures["target_heatmap.png"] = lambda: chart_target_heatmap(cmp.groups, labels, L)
    if len(cmp.replay):
        figures["replay_fan.png"] = lambda: chart_replay_fan(cmp.replay, labels, L,
                                                             cmp.band_months)
    written = {}
    for name, make in figures.items():
        fig = make()
        path = out_dir / name
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written[name] = path
        log.info("chart: %s", path)
    return written
