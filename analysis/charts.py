"""Charts of a comparison (PNG, matplotlib, Agg), with Chinese region names.

Each ``chart_*`` function takes the tidy tables :mod:`analysis.compare` computes and returns a
matplotlib Figure; :func:`draw_all` saves them:

- ``cycle_by_region.png``: destocking cycle by region and year (plan.csv, 2025 start to 2030) with
  the 18-month target and the 36-month land-rule line (§2.2.3);
- ``land_supply_by_year.png``: city land (公顷) and supply (万m²) by year against 表48/表45;
- ``target_heatmap.png``: met / missed per run × target, shaded by the relative shortfall;
- ``replay_fan.png``: the market replay's city-wide cycle by month, p10–p90 band and median.

Chinese text needs a CJK font: :func:`use_cjk_font` picks one if installed (Noto Sans CJK,
WenQuanYi, Source Han, SimHei…) and warns once if none is (install ``fonts-noto-cjk``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402

if TYPE_CHECKING:
    from analysis.compare import Comparison

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)
CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "wqy", "sourcehansans", "simhei", "msyh")
CYCLE_TARGET_MONTHS = 18.0  # 第五章: at most 18 months by 2030
LAND_RULE_MONTHS = 36.0  # §2.2.3: above 36 months no new commercial-housing land
DPI = 110

_cjk_family: str | None = None
_cjk_checked = False


def use_cjk_font() -> str | None:
    """Put an installed CJK font first in matplotlib's sans-serif list; returns its family name,
    or None (after one warning) if none is installed. Fonts installed after matplotlib built its
    font cache are found by file name and added."""
    global _cjk_family, _cjk_checked
    if _cjk_checked:
        return _cjk_family
    _cjk_checked = True
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((f for f in CJK_FAMILIES if f in installed), None)
    if family is None:
        for path in font_manager.findSystemFonts():
            if any(h in Path(path).name.lower() for h in CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        family = next((f for f in CJK_FAMILIES if f in installed), None)
    if family is None:
        log.warning(
            "no CJK font found: Chinese region names will show as boxes in the charts "
            "(install one, e.g. apt-get install fonts-noto-cjk)"
        )
        from model.plotting import quiet_missing_glyphs

        quiet_missing_glyphs()  # one warning above, not one per glyph
    else:
        plt.rcParams["font.sans-serif"] = [family, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    _cjk_family = family
    return family


def _colours(labels: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {label: cmap(i % 10) for i, label in enumerate(labels)}


def _grid(n: int, ncols: int) -> tuple[int, int]:
    return max(1, math.ceil(n / ncols)), min(n, ncols) if n else 1


# ---------------------------------------------------------------------------------------------
# The charts
# ---------------------------------------------------------------------------------------------
def chart_cycle_by_region(cycles: pd.DataFrame, labels: Sequence[str]) -> plt.Figure:
    """Small multiples, one panel per region (全市 first): cycle (months) by year, a line per
    run, with the 18-month target and the 36-month land-rule line."""
    regions = list(dict.fromkeys(
        [*cycles.loc[cycles["region"] == "city", "region"], *cycles["region"]]))
    names = dict(zip(cycles["region"], cycles["name_zh"]))
    nrows, ncols = _grid(len(regions), 4)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.7 * nrows), squeeze=False,
                             sharex=True)
    colour = _colours(labels)
    ymax = max(40.0, float(np.nanmax(cycles["cycle_months"].to_numpy(dtype=float))) * 1.05
               if len(cycles) else 40.0)
    for ax, region in zip(axes.flat, regions):
        sub = cycles[cycles["region"] == region]
        for label in labels:
            s = sub[sub["run"] == label].sort_values("year")
            if len(s):
                ax.plot(s["year"], s["cycle_months"], marker="o", ms=3, color=colour[label],
                        label=label)
        ax.axhline(CYCLE_TARGET_MONTHS, color="green", ls="--", lw=1)
        ax.axhline(LAND_RULE_MONTHS, color="red", ls=":", lw=1)
        ax.set_title(f"{names.get(region, region)} ({region})", fontsize=9)
        ax.set_ylim(0, ymax)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(regions):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("cycle (months) 去化周期", fontsize=8)
    handles, legend_labels = axes.flat[0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="green", ls="--"), plt.Line2D([], [], color="red", ls=":")]
    legend_labels += ["18-month target (第五章)", "36-month land rule (§2.2.3)"]
    fig.legend(handles, legend_labels, loc="lower center", ncol=min(4, len(handles)),
               fontsize=8, frameon=False)
    fig.suptitle("Destocking cycle by region and year (end of year, plan.csv)", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig


def chart_land_supply_by_year(
    land_by_year: pd.DataFrame, supply_by_year: pd.DataFrame
) -> plt.Figure:
    """City land (公顷) and supply (万m²) by year: a bar per run, the plan's guidance (表48,
    表45) as a black line."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    for ax, table, unit, source in (
        (axes[0], land_by_year, "land (公顷 ha)", "表48"),
        (axes[1], supply_by_year, "supply (万m²)", "表45"),
    ):
        runs = [c for c in table.columns if c != "plan guidance"]
        years = [int(y) for y in table.index]
        width = 0.8 / max(1, len(runs))
        colour = _colours(runs)
        for i, label in enumerate(runs):
            x = np.arange(len(years)) + (i - (len(runs) - 1) / 2) * width
            ax.bar(x, table[label].to_numpy(dtype=float), width, label=label, color=colour[label])
        if "plan guidance" in table:
            ax.plot(np.arange(len(years)), table["plan guidance"].to_numpy(dtype=float), "k-o",
                    lw=2, label=f"plan guidance ({source})")
        ax.set_xticks(np.arange(len(years)), [str(y) for y in years])
        ax.set_ylabel(unit)
        ax.set_title(f"City {unit.split(' ')[0]} by year vs {source}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def chart_target_heatmap(att: pd.DataFrame, labels: Sequence[str]) -> plt.Figure:
    """Runs × targets: green met; missed in red, darker the larger the relative shortfall
    (shortfall ÷ required, capped at 100%); each cell shows the achieved value."""
    keys = list(dict.fromkeys(att["target_key"]))
    score = np.full((len(labels), len(keys)), np.nan)
    text = [["" for _ in keys] for _ in labels]
    for rec in att.itertuples(index=False):
        if rec.run not in labels:
            continue
        i, j = labels.index(rec.run), keys.index(rec.target_key)
        rel = 0.0 if rec.met else min(1.0, max(0.05, float(rec.shortfall_rel or 0.0)))
        score[i, j] = -1.0 if rec.met else rel
        text[i][j] = _short_number(rec.achieved, rec.unit)
    cmap = LinearSegmentedColormap.from_list(
        "attain", [(0.0, "#81c784"), (0.499, "#c8e6c9"), (0.5, "#ffcdd2"), (1.0, "#b71c1c")])
    fig, ax = plt.subplots(figsize=(max(7, 0.55 * len(keys) + 3), 0.6 * len(labels) + 3.2))
    ax.imshow(np.ma.masked_invalid(score), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
    for i in range(len(labels)):
        for j in range(len(keys)):
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=6.5)
    ax.set_xticks(range(len(keys)), keys, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_title("Target attainment: green met, red missed (darker = larger shortfall)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _short_number(x: float, unit: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if unit == "share":
        return f"{100 * x:.0f}%"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}"


def chart_replay_fan(replay: pd.DataFrame, labels: Sequence[str]) -> plt.Figure:
    """One panel per run: the replay's city-wide cycle by month, p10–p90 band and median line,
    with the 18-month target."""
    runs = [label for label in labels if (replay["run"] == label).any()]
    nrows, ncols = _grid(len(runs), 2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 3.0 * nrows), squeeze=False,
                             sharey=True)
    colour = _colours(labels)
    for ax, label in zip(axes.flat, runs):
        sub = replay[replay["run"] == label]
        x = pd.to_datetime(sub["month"] + "-01")
        ax.fill_between(x, sub["p10"], sub["p90"], color=colour[label], alpha=0.25,
                        label="p10–p90")
        ax.plot(x, sub["p50"], color=colour[label], lw=1.8, label="median")
        ax.axhline(CYCLE_TARGET_MONTHS, color="green", ls="--", lw=1, label="18 months")
        region = sub["region"].iloc[0]
        where = "全市 city" if region == "city" else "主城区 main city"
        ax.set_title(f"{label} — {where}", fontsize=9)
        ax.set_ylabel("cycle (months)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    for ax in list(axes.flat)[len(runs):]:
        ax.set_visible(False)
    fig.suptitle("Market replay: destocking cycle by month (p10–p90 of the replications)",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


# ---------------------------------------------------------------------------------------------
# All of them
# ---------------------------------------------------------------------------------------------
def draw_all(cmp: "Comparison", out_dir: Path) -> dict[str, Path]:
    """Draw every chart that has data into ``out_dir``; returns the PNG files by name."""
    use_cjk_font()
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = [r.label for r in cmp.runs]
    ok = [r.label for r in cmp.runs if r.ok]
    figures = {}
    if len(cmp.cycles):
        figures["cycle_by_region.png"] = lambda: chart_cycle_by_region(cmp.cycles, ok)
    if len(cmp.land_by_year.columns) and len(cmp.supply_by_year.columns):
        figures["land_supply_by_year.png"] = lambda: chart_land_supply_by_year(
            cmp.land_by_year, cmp.supply_by_year)
    if len(cmp.attainment):
        figures["target_heatmap.png"] = lambda: chart_target_heatmap(cmp.attainment, labels)
    if len(cmp.replay):
        figures["replay_fan.png"] = lambda: chart_replay_fan(cmp.replay, labels)
    written = {}
    for name, make in figures.items():
        fig = make()
        path = out_dir / name
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written[name] = path
        log.info("chart: %s", path)
    return written
