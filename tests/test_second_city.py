"""Issue 15: a plan shaped like another city's works — no main city, guidance as city totals, a
three-year plan, no land history, no demand forecast (tests/data/three_year_city) — and no output
key or column name carries a calendar year."""
from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest

from model.data import DatasetError, load_dataset

# -- the dataset contract ------------------------------------------------------------------


def test_any_two_of_stock_sales_and_cycle_give_the_third(three_year_city):
    ds = three_year_city
    inv, sales, cycle = ds.inventory_10k_m2(), ds.monthly_sales_10k_m2(), ds.cycle_months()
    assert cycle["east"] == pytest.approx(120 / 6)        # cycle = stock ÷ monthly sales
    assert sales["west"] == pytest.approx(80 / 16)        # monthly sales = stock ÷ cycle
    assert inv["north"] == pytest.approx(24 * 2)          # stock = cycle × monthly sales
    assert (inv["south"], sales["south"], cycle["south"]) == (30, 3, 10)  # all three agree


def test_chifeng_monthly_sales_follow_from_table_19(chifeng):
    # 表19 prints stock and cycle: the main city's 271.53 万m² over 33 months
    assert chifeng.monthly_sales_10k_m2()["main_city"] == pytest.approx(271.53 / 33)


def test_no_main_city_no_land_history_no_demand(three_year_city):
    ds = three_year_city
    assert ds.main_city_id is None and not ds.has_main_city and not ds.has_districts
    assert ds.history_years == () and not ds.has_table("land_sold")
    assert dict(ds.land_sold_ha()) == {} and dict(ds.demand_10k_m2()) == {}
    assert ds.plan_years == (2026, 2027, 2028)


def test_city_total_guidance_is_split_by_base_year_sales(three_year_city):
    ds = three_year_city
    assert ds.guidance_is_city_total("supply_guidance")
    # base-year monthly sales: east 6, west 5, north 2, south 3 → 16
    w = ds.guidance_weights()
    assert w == pytest.approx({"east": 6 / 16, "west": 5 / 16, "north": 2 / 16, "south": 3 / 16})
    supply = ds.supply_guidance_10k_m2()
    assert supply[("east", 2026)] == pytest.approx(170 * 6 / 16)
    assert sum(v for (_r, y), v in supply.items() if y == 2027) == pytest.approx(165)
    equal = ds.__class__.__new__(ds.__class__)
    import dataclasses

    equal = dataclasses.replace(ds, guidance_split="equal")
    assert equal.land_guidance_ha()[("north", 2028)] == pytest.approx(65 / 4)


def _copy(tmp_path, src):
    target = tmp_path / "city"
    shutil.copytree(src, target)
    return target


def _problems(folder) -> list[str]:
    with pytest.raises(DatasetError) as err:
        load_dataset(folder)
    return err.value.problems


def test_three_that_disagree_and_one_of_three_are_named(tmp_path):
    from tests.conftest import THREE_YEAR_CITY

    d = _copy(tmp_path, THREE_YEAR_CITY)
    text = (d / "base_inventory.csv").read_text(encoding="utf-8")
    text = text.replace("south,30,3,10,", "south,30,3,14,").replace("west,80,,16,", "west,,,16,")
    (d / "base_inventory.csv").write_text(text, encoding="utf-8")
    problems = _problems(d)
    assert any("base_inventory.csv line 5, column cycle_months: value 14" in p
               and "gives 10.0 months" in p for p in problems), problems
    assert any("base_inventory.csv line 3: region 'west' gives 1 of" in p for p in problems)


def test_guidance_for_both_city_and_regions_is_refused(tmp_path):
    from tests.conftest import THREE_YEAR_CITY

    d = _copy(tmp_path, THREE_YEAR_CITY)
    with open(d / "land_guidance.csv", "a", encoding="utf-8") as fh:
        fh.write("east,2026,10,计划表2\n")
    assert any("land_guidance.csv: rows for both the city ('city') and regions" in p
               for p in _problems(d))


def test_old_table_names_keep_working(tmp_path, dataset_copy):
    """A manifest naming inventory_2025 (the old, year-bound name) loads as base_inventory."""
    man = dataset_copy / "manifest.yaml"
    text = man.read_text(encoding="utf-8").replace("  base_inventory:", "  inventory_2025:")
    text = text.replace("regions: base_inventory,", "regions: inventory_2025,")
    man.write_text(text, encoding="utf-8")
    ds = load_dataset(dataset_copy)
    assert ds.inventory_10k_m2()["harqin"] == 27.19
    assert ds.table("inventory_2025").equals(ds.table("base_inventory"))


def test_required_fact_periods_follow_the_manifest(tmp_path):
    from tests.conftest import THREE_YEAR_CITY

    d = _copy(tmp_path, THREE_YEAR_CITY)
    facts = (d / "facts.csv").read_text(encoding="utf-8").replace("price_yuan_m2,city,2025",
                                                                  "price_yuan_m2,city,2024")
    (d / "facts.csv").write_text(facts, encoding="utf-8")
    # the base year is 2025 in this manifest: the price must be the 2025 one
    assert any("no row for fact 'price_yuan_m2', scope 'city', period 2025" in p
               for p in _problems(d))


# -- every stage runs on it ----------------------------------------------------------------

YEAR = re.compile(r"(19|20|21)\d\d")


def _keys(obj, prefix=""):
    """Every mapping key in a nested JSON-like structure (list items are walked, not keyed)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield f"{prefix}{k}"
            yield from _keys(v, f"{prefix}{k}.")
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v, prefix)


def test_a_run_on_the_three_year_city(tmp_path):
    from model.config import default_settings
    from model.run import run_model

    settings = default_settings(**{"dataset": "tests/data/three_year_city",
                                   "sim.replications": 40,
                                   "uncertainty.replications": 30,
                                   "uncertainty.breakeven_replications": 20})
    outcome = run_model(settings)
    assert outcome.status == "optimal", outcome.messages
    plan = outcome.tables["plan"]
    assert set(plan.region) == {"east", "west", "north", "south"}
    assert set(plan.year) == {2026, 2027, 2028}
    head = outcome.headline
    assert head["cycle_months_main_city"] is None                # omitted, not 0
    assert head["vacancy_share_city"] is None                    # no vacancy data: not modelled
    text = "\n".join(outcome.messages)
    assert "main city" not in text.split("Market replay")[0].split("destocking cycle:")[1] \
        .splitlines()[0]
    notes = outcome.summary["dataset_notes"]
    assert any("no land history" in n for n in notes)
    assert any("no demand forecast" in n for n in notes)
    assert any("no main city" in n for n in notes)
    assert any("city totals only" in n and "east 37.5%" in n for n in notes)
    assert any("national rule" in n and "自然资源部" in n for n in notes)
    assert any(n.startswith("targets not modelled: floor_area_per_capita_m2") for n in notes)
    assert "nan" not in text
    assert "§2.2.3" not in text and "表19" not in text and "表31" not in text
    # the 3000 subsidised dwellings are modelled: 3000 × 100 m² ÷ 3 years = 10 万m² a year
    targets = outcome.tables["targets"]
    sub = targets[targets.target_id == "subsidised_volume_10k_m2"]
    assert len(sub) == 3 and sub.required.round(6).eq(10.0).all()
    # the land rule cites the national notice, not Chifeng's section
    assert outcome.summary["land_rule_source"].startswith("自然资源部")
    # no output key or column name holds a calendar year
    for name, table in outcome.tables.items():
        bad = [c for c in table.columns if YEAR.search(str(c))]
        assert not bad, (name, bad)
    bad = [k for k in _keys(outcome.summary) if YEAR.search(k.split(".")[-1])
           and not k.startswith("config.")]
    assert not bad, bad


def test_the_replay_measures_the_runs_own_cycle_target():
    """targets.cycle_months_end moves the replay's P(cycle ≤ target) with the optimiser's target
    (it used to read targets.csv only), and summary.json's config carries no year-named key."""
    from model.config import default_settings
    from model.run import run_model

    settings = default_settings(**{"dataset": "tests/data/three_year_city",
                                   "sim.replications": 30, "uncertainty.enabled": False,
                                   "targets.cycle_months_end": 15})
    outcome = run_model(settings)
    assert outcome.status == "optimal", outcome.messages
    replay = outcome.tables["replay_summary"]
    assert (replay["cycle_target_months"] == 15).all(), replay["cycle_target_months"]
    assert "P(cycle <= 15, stock-outs included)" in "\n".join(outcome.messages)
    assert not [k for k in _keys(outcome.summary["config"]) if YEAR.search(k.split(".")[-1])]


CHIFENG_CITATIONS = ("表45", "表48", "表19", "表34", "§2.2.3", "§2.4.1", "§6.1.1")


def _workbook_text(path) -> str:
    """Every sheet name and every cell of a workbook, one per line."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    cells = [str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row
             if v is not None]
    return "\n".join([*wb.sheetnames, *cells])


def _figure_text(fig) -> str:
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    text = "\n".join(t.get_text() for t in fig.findobj(Text))
    plt.close(fig)
    return text


def test_sweep_and_compare_on_the_three_year_city(tmp_path):
    """A two-job sweep through Hydra, then analysis.compare over it: both run, the comparison
    names the city's own years and tables, and no main-city row pretends to a value. plan.xlsx,
    report.html, the Markdown, the CSVs and the charts cite the city's own tables (计划表1,
    计划表2, …) and the national land rule, never Chifeng's, in Chinese and in English."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    sweep_dir = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "model.run", "-m", "dataset=tests/data/three_year_city",
         "demand.multiplier=0.9,1.1", "sim.replications=20", "uncertainty.enabled=false",
         "report.lang=zh",
         f"hydra.sweep.dir={sweep_dir}", "hydra.launcher.n_jobs=1"],
        cwd=repo, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    status = pd.read_csv(sweep_dir / "sweep_status.csv")
    assert len(status) == 2 and (status["status"] == "optimal").all()
    # dataset=tests/data/... in the overrides: one flat folder per job, not nested on '/'
    jobs = [p for p in sweep_dir.iterdir() if (p / "summary.json").is_file()]
    assert len(jobs) == 2 and all("∕" in p.name for p in jobs), sorted(sweep_dir.iterdir())
    out = tmp_path / "comparison"
    proc = subprocess.run([sys.executable, "-m", "analysis.compare", str(sweep_dir), "--out",
                           str(out), "--no-charts"], cwd=repo, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    headline = pd.read_csv(out / "headline.csv", encoding="utf-8-sig")
    text = headline.to_csv(index=False)
    assert "2030" not in text and "表4" not in text          # the city's own years and tables
    assert "2028" in text
    assert not headline.iloc[:, 0].astype(str).str.contains("main_city").any()
    land = headline.set_index(headline.columns[0]).loc["land_total_ha"]
    values = [float(v) for v in land.iloc[-2:]]
    assert values[0] < values[1]                            # more demand, more land

    # -- citations: the city's own, never Chifeng's (model/citations.py) ------------------
    import json

    from analysis import charts, report
    from analysis.compare import compare_runs
    from model import workbook
    from model.csvio import read_csv
    from model.labels import Labels

    run_dirs = sorted(p.parent for p in sweep_dir.rglob("summary.json")
                      if "comparison" not in p.parts)
    assert len(run_dirs) == 2
    for run_dir in run_dirs:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        assert summary["citations"]["supply_guidance"] == "计划表1"
        assert "cycle_band" not in summary["citations"]      # the dataset prints no band
        zh = _workbook_text(run_dir / "plan.xlsx")
        tables = {name: read_csv(run_dir / f"{name}.csv") for name in ("plan", "targets")}
        en = _workbook_text(workbook.write_plan_workbook(tmp_path, tables, summary,
                                                         Labels("en")))
        for text in (zh, en):
            assert not [c for c in CHIFENG_CITATIONS if c in text], run_dir
            assert "计划表1" in text and "计划表2" in text and "计划正文" in text
            assert "自然资源部" in text                       # the national rule, cited as such
        assert "供应（计划表1）" in zh and "用地（计划表2）" in zh and "指标（计划正文）" in zh
        assert "Supply (计划表1)" in en
        assert "住宅用地供应" in zh and "新增城镇住宅用地供应量" not in zh  # its own target names
    written = "\n".join(p.read_text(encoding="utf-8-sig") for p in out.iterdir()
                         if p.suffix in (".csv", ".md"))
    assert not [c for c in CHIFENG_CITATIONS if c in written]
    assert "计划表1 规划指引" in written and "按计划表1、计划表2格式" in written
    charts.use_cjk_font()  # as draw_all does
    for lang in ("zh", "en"):
        cmp = compare_runs([sweep_dir], tmp_path / f"comparison_{lang}", lang=lang, draw=False)
        page = report.build_html(cmp, {})
        figures = [charts.chart_cycle_by_region(cmp.cycles, [r.label for r in cmp.runs],
                                                cmp.labels, cmp.band_months),
                   charts.chart_land_supply_by_year(cmp.land_by_year, cmp.supply_by_year,
                                                    cmp.labels),
                   charts.chart_target_heatmap(cmp.groups, [r.label for r in cmp.runs],
                                               cmp.labels)]
        written = "\n".join([page, *(p.read_text(encoding="utf-8-sig")
                                     for p in cmp.out_dir.iterdir()
                                     if p.suffix in (".csv", ".md")),
                             *(_figure_text(f) for f in figures)])
        assert not [c for c in CHIFENG_CITATIONS if c in written], lang
        assert "计划表1" in written and "计划表2" in written and "自然资源部" in written
        if lang == "zh":
            assert "住宅用地供应" in page and "新增城镇住宅用地供应量" not in page


def test_midterm_review_on_the_three_year_city(tmp_path):
    from model.config import default_settings
    from model.run import run_model

    settings = default_settings(**{
        "dataset": "tests/data/three_year_city", "review.enabled": True,
        "review.actuals": "tests/data/three_year_city_actuals_2026.csv",
        "review.candidates": {"land_minus_20": ["targets.land_total_ha=x0.8"]},
        "review.combinations": [], "review.workers": 1, "review.replications": 20,
        "review.adjust": True, "review.current_course": True,
        "sim.replications": 20, "uncertainty.enabled": False, "solver.duals": False})
    out = run_model(settings, run_dir=tmp_path)
    assert out.status == "optimal", out.messages
    plan = out.tables["plan"].set_index(["region", "year"])
    # 2026 is observed (east: 120 + 60 − 70 = 110 万m² at the end of 2026), 2027–2028 re-planned
    assert plan.loc[("east", 2026), "inventory_end_10k_m2"] == pytest.approx(110)
    assert plan.loc[("east", 2027), "inventory_start_10k_m2"] == pytest.approx(110)
    adj = pd.read_csv(tmp_path / "adjustments.csv", encoding="utf-8-sig")
    row = adj[adj.candidate == "land_minus_20"].iloc[0]
    assert "203 → 162.4" in row.target_change                # 0.8 × the city's own 203 ha
    note = (tmp_path / "review_note.md").read_text(encoding="utf-8")
    assert "主城区" not in note and "表45" not in note and "2030" not in note
    assert "2026年为实际数据" in note and "计划表1" in note



def test_no_land_history_gives_the_steady_state_pipeline_and_a_guidance_cap(three_year_city):
    """Without 表21-like history the opening pipeline is the steady state of land bought at the
    base-year sales rate: 12 × monthly sales × Σ_k (1 − F_k) per region (Little's law for the
    land → presale queue), overridable; land take-up is capped at 1.25 × the largest yearly
    land guidance of the region."""
    from model.config import default_settings
    from model.inputs import build_inputs
    from model.timing import annual_shares

    inputs = build_inputs(default_settings(dataset="tests/data/three_year_city"), three_year_city)
    shares = annual_shares(inputs.timing)
    years = sum(1.0 - sum(shares[: k + 1]) for k in range(len(shares)))
    assert 1.2 < years < 1.4                                  # 12 ± 3 months, 20% at 30 months
    monthly = three_year_city.monthly_sales_10k_m2()          # east 6, west 5, north 2, south 3
    for r in ("east", "west", "north", "south"):
        assert inputs.pipeline.remaining[r] == pytest.approx(12 * monthly[r] * years, rel=1e-9)
    guide = three_year_city.land_guidance_ha()
    for r in ("east", "north"):
        top = max(v for (rr, _y), v in guide.items() if rr == r)
        assert inputs.land_cap_ha[r] == pytest.approx(1.25 * top)
    none = build_inputs(default_settings(**{"dataset": "tests/data/three_year_city",
                                            "timing.pipeline_10k_m2": 0}), three_year_city)
    assert sum(none.pipeline.remaining.values()) == pytest.approx(0.0)
