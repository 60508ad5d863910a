"""``python -m analysis.compare``: the comparison tables hold the numbers of the run directories
(read back from them), the plan-layout tables hold 表45/表48, the charts render Chinese names, and
bad input gives one line and exit code 1."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from analysis import charts, compare
from tests.test_sweep import SCENARIOS, job_dir, scenario_sweep  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parent.parent


def run_compare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis.compare", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="session")
def comparison(scenario_sweep) -> Path:  # noqa: F811
    proc = run_compare(scenario_sweep)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return scenario_sweep / "comparison"


def summary_of(sweep_dir: Path, scenario: str) -> dict:
    return json.loads((job_dir(sweep_dir, scenario) / "summary.json").read_text(encoding="utf-8"))


def test_outputs_written(comparison):
    for name in ("headline.csv", "headline.md", "targets.csv", "targets_long.csv", "targets.md",
                 "supply_by_region_year.csv", "land_by_region_year.csv", "plan_tables.md",
                 "runs.csv", "report.html"):
        assert (comparison / name).is_file(), name
    for name in ("cycle_by_region", "land_supply_by_year", "target_heatmap", "replay_fan"):
        assert (comparison / "charts" / f"{name}.png").stat().st_size > 10_000, name


def test_headline_numbers_are_the_runs(comparison, scenario_sweep, chifeng):  # noqa: F811
    head = pd.read_csv(comparison / "headline.csv").set_index("indicator")
    assert list(head.columns[3:]) == list(SCENARIOS)  # plan_as_written first, then by name
    table_48 = sum(chifeng.land_guidance_ha().values())
    assert float(head.loc["land_total_ha", "plan_as_written"]) == pytest.approx(607.57, abs=1e-6)
    assert float(head.loc["land_total_ha", "plan_as_written"]) == pytest.approx(table_48)
    assert float(head.loc["land_total_ha", "tight_land"]) == pytest.approx(400.0, abs=1e-6)
    for scenario in SCENARIOS:
        summary = summary_of(scenario_sweep, scenario)
        assert head.loc["status", scenario] == "optimal"
        for key in ("cycle_months_city", "cycle_months_main_city", "supply_total_10k_m2",
                    "unmet_demand_10k_m2", "public_spending_100m_yuan", "land_revenue_100m_yuan"):
            assert float(head.loc[key, scenario]) == pytest.approx(summary["headline"][key]), key
        assert float(head.loc["replay_p_cycle_le_target_city", scenario]) == pytest.approx(
            summary["replay"]["city"]["p_cycle_le_target_end"])
    assert float(head.loc["cycle_months_city", "plan_target"]) == pytest.approx(18.0)
    md = (comparison / "headline.md").read_text(encoding="utf-8")
    assert "| land_total_ha |" in md and "607.57" in md


def test_target_attainment_is_the_runs(comparison, scenario_sweep):  # noqa: F811
    wide = pd.read_csv(comparison / "targets.csv").set_index("target_key")
    for scenario in SCENARIOS:
        own = pd.read_csv(job_dir(scenario_sweep, scenario) / "targets.csv")
        folded = ("land_rule", "presale_ramp", "land_ramp", "terminal_feed")
        own = own[~own["target_id"].isin(folded)].set_index("target_key")
        for key, row in own.iterrows():
            assert bool(wide.loc[key, f"{scenario}: met"]) == bool(row["met"]), (scenario, key)
            assert float(wide.loc[key, f"{scenario}: achieved"]) == pytest.approx(row["achieved"])
    assert not bool(wide.loc["cycle_months[city,2030]", "plan_as_written: met"])
    rule = wide.loc["land_rule[region-years]"]
    assert float(rule["plan_as_written: achieved"]) > 0 and bool(rule["tight_land: met"])
    md = (comparison / "targets.md").read_text(encoding="utf-8")
    assert "22.96 ✗" in md  # the plan as written: 23-month cycle in 2030 against 18


def test_plan_layout_tables_hold_tables_45_and_48(comparison, scenario_sweep, chifeng):  # noqa: F811
    for name, column, guidance in (
        ("land_by_region_year.csv", "land_ha", chifeng.land_guidance_ha()),
        ("supply_by_region_year.csv", "supply_10k_m2", chifeng.supply_guidance_10k_m2()),
    ):
        table = pd.read_csv(comparison / name)
        plan = table[table["table"].str.startswith(("表45", "表48"))].set_index("region")
        assert list(plan.index[:-1]) == list(chifeng.region_ids)  # the plan's row order
        assert plan.loc["main_city", "name_zh"] == "主城区"
        for (rid, year), value in guidance.items():
            assert plan.loc[rid, str(year)] == pytest.approx(value)
        assert plan.loc["total", "total"] == pytest.approx(sum(guidance.values()))
        for scenario in SCENARIOS:
            block = table[table["table"] == scenario].set_index("region")
            run_plan = pd.read_csv(job_dir(scenario_sweep, scenario) / "plan.csv")
            for row in run_plan.itertuples(index=False):
                assert block.loc[row.region, str(row.year)] == pytest.approx(getattr(row, column))
            assert block.loc["total", "total"] == pytest.approx(run_plan[column].sum())
    land = pd.read_csv(comparison / "land_by_region_year.csv")
    paw = land[(land["table"] == "plan_as_written") & (land["region"] == "total")]
    assert float(paw["total"].iloc[0]) == pytest.approx(607.57, abs=1e-6)
    md = (comparison / "plan_tables.md").read_text(encoding="utf-8")
    assert "表45 plan guidance (万m²)" in md and "表48 plan guidance (公顷 ha)" in md
    assert "| 主城区 |" in md and "| 合计 |" in md


def test_run_labels_keep_what_differs():
    summaries = [
        {"scenario": "default", "overrides": ["targets.cycle_months_end=15", "sim.seed=1"]},
        {"scenario": "default", "overrides": ["targets.cycle_months_end=21", "sim.seed=1"]},
    ]
    assert compare.run_labels(summaries) == ["cycle_months_end=15", "cycle_months_end=21"]
    summaries = [{"scenario": "a", "overrides": ["+scenario=a", "solver.duals=False"]},
                 {"scenario": "b", "overrides": ["+scenario=b", "solver.duals=false"]}]
    assert compare.run_labels(summaries) == ["a", "b"]


def test_charts_render_chinese_names(comparison):
    if charts.use_cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    cycles = pd.DataFrame({"run": ["x", "x"], "region": ["main_city", "main_city"],
                           "name_zh": ["主城区", "主城区"], "year": [2025, 2026],
                           "cycle_months": [33.0, 28.7]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = charts.chart_cycle_by_region(cycles, ["x"])
        fig.canvas.draw()
    assert not [w for w in caught if "missing from font" in str(w.message)]


@pytest.mark.parametrize("case", ["empty", "missing", "not_a_run"])
def test_bad_input_one_line_exit_1(tmp_path, case):
    if case == "empty":
        target = tmp_path / "empty"
        target.mkdir()
    elif case == "missing":
        target = tmp_path / "nope"
    else:
        target = tmp_path / "junk"
        target.mkdir()
        (target / "notes.txt").write_text("hello")
    proc = run_compare(target)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("analysis.compare: input error: ") and str(target.name) in lines[0]
