"""``python -m analysis.compare``: the comparison tables hold the numbers of the run directories
(read back from them), the plan-layout tables hold 表45/表48, runs are compared on the targets they
all report, identical plans are named, the charts render Chinese names and fit a page, every CSV
has a BOM and no floating-point noise, and bad input gives one line and exit code 1."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from analysis import charts, compare, report, tables
from model import rundir
from model.csvio import read_csv
from model.labels import Labels
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
                 "target_groups.csv",
                 "runs.csv", "report.html"):
        assert (comparison / name).is_file(), name
    for name in ("cycle_by_region", "land_supply_by_year", "target_heatmap", "replay_fan"):
        assert (comparison / "charts" / f"{name}.png").stat().st_size > 10_000, name


def test_headline_numbers_are_the_runs(comparison, scenario_sweep, chifeng):  # noqa: F811
    head = pd.read_csv(comparison / "headline.csv", encoding="utf-8-sig").set_index("indicator")
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
    assert "# 主要指标" in md  # Chifeng's manifest says lang: zh
    assert "| 新增住宅用地（2026—2030年） | 公顷 |  | 607.57 | 400.00 |" in md
    assert "| 2030年末去化周期（全市） | 个月 | 18.0 | 23.0 |" in md


def test_target_attainment_is_the_runs(comparison, scenario_sweep):  # noqa: F811
    wide = pd.read_csv(comparison / "targets.csv", encoding="utf-8-sig").set_index("target_key")
    for scenario in SCENARIOS:
        own = pd.read_csv(job_dir(scenario_sweep, scenario) / "targets.csv", encoding="utf-8-sig")
        folded = ("land_rule", "presale_ramp", "land_ramp", "terminal_feed")
        own = own[~own["target_id"].isin(folded)].set_index("target_key")
        for key, row in own.iterrows():
            assert bool(wide.loc[key, f"{scenario}: met"]) == bool(row["met"]), (scenario, key)
            assert float(wide.loc[key, f"{scenario}: achieved"]) == pytest.approx(row["achieved"])
    assert not bool(wide.loc["cycle_months[city,2030]", "plan_as_written: met"])
    rule = wide.loc["land_rule[region-years]"]
    assert float(rule["plan_as_written: achieved"]) > 0 and bool(rule["tight_land: met"])
    md = (comparison / "targets.md").read_text(encoding="utf-8")
    assert "| 商品住宅去化周期（全市，2030年） | 个月 | 不高于 18.0 | 23.0 ✗ |" in md  # 22.96


def test_plan_layout_tables_hold_tables_45_and_48(comparison, scenario_sweep, chifeng):  # noqa: F811
    for name, column, guidance in (
        ("land_by_region_year.csv", "land_ha", chifeng.land_guidance_ha()),
        ("supply_by_region_year.csv", "supply_10k_m2", chifeng.supply_guidance_10k_m2()),
    ):
        table = pd.read_csv(comparison / name, encoding="utf-8-sig")
        plan = table[table["table"].str.startswith(("表45", "表48"))].set_index("region")
        assert list(plan.index[:-1]) == list(chifeng.region_ids)  # the plan's row order
        assert plan.loc["main_city", "name_zh"] == "主城区"
        for (rid, year), value in guidance.items():
            assert plan.loc[rid, str(year)] == pytest.approx(value)
        assert plan.loc["total", "total"] == pytest.approx(sum(guidance.values()))
        for scenario in SCENARIOS:
            block = table[table["table"] == scenario].set_index("region")
            run_plan = pd.read_csv(job_dir(scenario_sweep, scenario) / "plan.csv", encoding="utf-8-sig")
            for row in run_plan.itertuples(index=False):
                assert block.loc[row.region, str(row.year)] == pytest.approx(getattr(row, column))
            assert block.loc["total", "total"] == pytest.approx(run_plan[column].sum())
    land = pd.read_csv(comparison / "land_by_region_year.csv", encoding="utf-8-sig")
    paw = land[(land["table"] == "plan_as_written") & (land["region"] == "total")]
    assert float(paw["total"].iloc[0]) == pytest.approx(607.57, abs=1e-6)
    md = (comparison / "plan_tables.md").read_text(encoding="utf-8")
    assert "### 供应 — 表45 规划指引（万㎡）" in md and "### 住宅用地 — 表48 规划指引（公顷）" in md
    assert "| 主城区 | 119.70 | 239.40 | 149.63 | 59.85 | 29.93 | 598.51 |" in md  # 表45 row
    assert "| 合计 |" in md


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
    cycles["unmet_demand_10k_m2"] = 0.0
    groups = pd.DataFrame({"target_id": ["cycle_months"], "scope_class": ["main_city"],
                           "run": ["x"], "n": [1], "met": [0], "share_met": [0.0],
                           "worst_shortfall_rel": [0.5]})
    L = Labels("zh", {"main_city": "主城区"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fig in (charts.chart_cycle_by_region(cycles, ["x"], L),
                    charts.chart_target_heatmap(groups, ["x"], L)):
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
    assert len(lines) == 1 and lines[0].startswith("analysis.compare: input error: ")
    assert str(target.name) in lines[0]


# ---------------------------------------------------------------------------------------------
# Comparing like with like
# ---------------------------------------------------------------------------------------------
def test_share_met_is_on_the_targets_every_run_reports(comparison, scenario_sweep):  # noqa: F811
    own = {s: read_csv(job_dir(scenario_sweep, s) / "targets.csv") for s in SCENARIOS}
    keys = [set(t.loc[(t["target_id"] != "land_rule") & (t["mode"] != "off"), "target_key"])
            for t in own.values()]
    common = set.intersection(*keys)
    head = read_csv(comparison / "headline.csv").set_index("indicator")
    for scenario, t in own.items():
        met = t[t["target_key"].isin(common)]["met"].astype(str).str.lower().eq("true").sum()
        assert float(head.loc["targets_met_share", scenario]) == pytest.approx(met / len(common))
    assert float(head.loc["targets_met_share", "plan_as_written"]) < float(
        head.loc["targets_met_share", "tight_land"])
    assert f"（{len(common)}项共同目标）" in head.loc["targets_met_share", "meaning"]


def test_target_groups_count_every_row(comparison, scenario_sweep):  # noqa: F811
    groups = read_csv(comparison / "target_groups.csv")
    for scenario in SCENARIOS:
        t = read_csv(job_dir(scenario_sweep, scenario) / "targets.csv")
        t = t[t["mode"] != "off"]
        sub = groups[groups["run"] == scenario]
        assert sub["n"].sum() == len(t)  # every target row in exactly one group
        assert sub["met"].sum() == t["met"].astype(str).str.lower().eq("true").sum()
        rule = sub[sub["target_id"] == "land_rule"].iloc[0]
        assert rule["n"] == (t["target_id"] == "land_rule").sum()
    paw = groups[(groups["run"] == "plan_as_written") & (groups["target_id"] == "land_rule")]
    assert int(paw["n"].iloc[0] - paw["met"].iloc[0]) == 33  # region-years breaking §2.2.3
    n_groups = len(groups[["target_id", "scope_class"]].drop_duplicates())
    n_targets = max(len(read_csv(job_dir(scenario_sweep, s) / "targets.csv")) for s in SCENARIOS)
    assert n_groups < n_targets / 3


def test_target_heatmap_fits_a_page(comparison):
    from PIL import Image

    width, height = Image.open(comparison / "charts" / "target_heatmap.png").size
    assert width <= 1400 and height <= 1300, (width, height)  # a page; was 4867 × 616 px
    for name in ("cycle_by_region", "land_supply_by_year", "replay_fan"):
        assert Image.open(comparison / "charts" / f"{name}.png").size[0] <= 1400, name


def test_cycle_tables_mark_stock_outs_and_band_breaches(scenario_sweep):  # noqa: F811
    """Every region-year cell of the report's cycle tables is the plan's cycle to one decimal,
    in red exactly when it is below the 12–18-month band, above it, or demand went unmet."""
    run_dirs, _ = tables.find_run_dirs([scenario_sweep])
    cmp = tables.compare(run_dirs)
    assert cmp.band_months == (12.0, 18.0)
    by_run = {label: (frame, classes) for label, frame, classes in report.cycle_tables(cmp)}
    alerts = 0
    for scenario in SCENARIOS:
        frame, classes = by_run[scenario]
        plan = read_csv(job_dir(scenario_sweep, scenario) / "plan.csv")
        for row in plan.itertuples(index=False):
            i = frame.index[frame["区域"] == row.name_zh][0]
            col = f"{row.year}年末"
            assert frame.loc[i, col] == f"{row.cycle_end_months:.1f}", (scenario, row.region)
            red = (row.cycle_end_months < 12 - 1e-6 or row.cycle_end_months > 18 + 1e-6
                   or row.unmet_demand_10k_m2 > 1e-6)
            assert classes.loc[i, col] == ("alert" if red else ""), (scenario, row.region, col)
            alerts += red
    assert 0 < alerts < sum(len(read_csv(job_dir(scenario_sweep, s) / "plan.csv"))
                            for s in SCENARIOS)
    frame, classes = by_run["plan_as_written"]
    main = frame.index[frame["区域"] == "主城区"][0]
    assert float(frame.loc[main, "2028年末"]) > 36 and classes.loc[main, "2028年末"] == "alert"


def test_identical_plans_are_named(scenario_sweep, tmp_path):  # noqa: F811
    # the same plan under two cycle targets that do not bind, and a third run with another plan
    source = job_dir(scenario_sweep, "weak_demand")
    dirs = []
    for target in (21, 24):
        d = tmp_path / f"cycle_{target}"
        shutil.copytree(source, d)
        summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
        summary["overrides"] = ["+scenario=weak_demand", f"targets.cycle_months_end={target}"]
        summary = rundir.seal(summary)  # a run of its own, not an edited one (verify_run)
        (d / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        dirs.append(d)
    dirs.append(job_dir(scenario_sweep, "tight_land"))
    proc = run_compare(*dirs, "--out", tmp_path / "cmp", "--no-charts")
    assert proc.returncode == 0, proc.stderr
    expected = ("weak_demand cycle_months_end=21、weak_demand cycle_months_end=24 的规划方案完全"
                "相同：所改目标未起约束作用")
    assert expected in proc.stdout
    assert "tight_land" not in proc.stdout.split("的规划方案完全相同")[0].splitlines()[-1]
    proc = run_compare(*dirs, "--out", tmp_path / "cmp_en", "--no-charts", "--lang", "en")
    assert ("identical plans for weak_demand cycle_months_end=21, weak_demand "
            "cycle_months_end=24: the target does not bind") in proc.stdout


def test_english_comparison(scenario_sweep, tmp_path):  # noqa: F811
    proc = run_compare(scenario_sweep, "--out", tmp_path / "en", "--no-charts", "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "en" / "headline.md").read_text(encoding="utf-8")
    assert "# Headline indicators" in md
    assert "| Residential land 2026–2030 | ha |  | 607.57 | 400.00 |" in md
    plan_md = (tmp_path / "en" / "plan_tables.md").read_text(encoding="utf-8")
    assert "### Supply — 表45 plan guidance (10k m²)" in plan_md
    assert "| Main city | 119.70 |" in plan_md


# ---------------------------------------------------------------------------------------------
# Files and structure
# ---------------------------------------------------------------------------------------------
DECIMAL = re.compile(r"(?<![\w.])-?(\d+)\.(\d+)(?:e[-+]?\d+)?(?![\w.])")


def noise(text: str) -> str | None:
    """The first number written with more than 10 significant digits (400.00000000000006,
    1231.2999999999997), or None."""
    for m in DECIMAL.finditer(text):
        digits = (m.group(1) + m.group(2)).lstrip("0")
        if len(digits) > 10:
            return m.group(0)
    return None


def test_every_csv_has_a_bom_and_no_float_noise(comparison, scenario_sweep):  # noqa: F811
    assert noise("a,400.00000000000006") == "400.00000000000006"
    assert noise("1231.31,0.9999991,1.23456789e-07,12") is None
    files = list(comparison.glob("*.csv")) + list(scenario_sweep.glob("*.csv"))
    for scenario in SCENARIOS:
        files += list(job_dir(scenario_sweep, scenario).glob("*.csv"))
    assert len(files) >= 20
    for path in files:
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), path  # UTF-8 BOM: Excel reads the Chinese
        text = raw.decode("utf-8-sig")
        assert noise(text) is None, (path, noise(text))
        assert "\ufeff" not in read_csv(path).columns[0]
    head = read_csv(comparison / "headline.csv").set_index("indicator")
    assert head.loc["land_total_ha", "plan_as_written"] == "607.57"  # not 607.5699999999998


def test_imports_go_one_way():
    """tables ← charts ← report ← compare: no module imports one to its right."""
    order = ["tables", "charts", "report", "compare"]
    for i, name in enumerate(order):
        tree = ast.parse((REPO / "analysis" / f"{name}.py").read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
                imported.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
        later = {f"analysis.{m}" for m in order[i + 1:]}
        assert not imported & later, (name, imported & later)
