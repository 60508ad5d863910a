"""The mid-term review (issue 6): re-planning from actuals, target adjustments, the note, and
bad actuals through the command line. Real HiGHS solves; the replay runs with few replications."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from model.actuals import EXAMPLE_ACTUALS, load_actuals
from model.config import default_settings
from model.review import adjustment_needed, candidate_list, evaluate_adjustments
from model.run import run_model

REPO = Path(__file__).resolve().parent.parent
QUIET = {"sim.enabled": False, "solver.duals": False}


def review_settings(**extra):
    return default_settings(**{**QUIET, "review.enabled": True, "review.adjust": False,
                               "review.current_course": False, **extra})


def test_replan_reproduces_the_original_when_actuals_are_its_own_plan(tmp_path, chifeng):
    original = run_model(default_settings(**QUIET))
    plan = original.tables["plan"]
    observed = plan[plan["year"] <= 2027].rename(columns={"region": "region_id"})
    actuals = observed[["region_id", "year", "land_ha", "supply_10k_m2", "sales_10k_m2",
                        "purchased_10k_m2", "inventory_end_10k_m2"]].assign(
        vacancy_share="", source="the optimiser's own plan")
    path = tmp_path / "own_plan.csv"
    actuals.to_csv(path, index=False, float_format="%.12g")
    replan = run_model(review_settings(**{"review.actuals": str(path)}))
    assert replan.status == "optimal"
    new = replan.tables["plan"].set_index(["region", "year"])
    old = plan.set_index(["region", "year"])
    later = [k for k in old.index if k[1] >= 2028]
    assert new.loc[later, "observed"].eq(False).all()
    for col in ("land_ha", "supply_10k_m2", "inventory_end_10k_m2", "sales_10k_m2",
                "purchased_10k_m2"):
        diff = (new.loc[later, col] - old.loc[later, col]).abs().max()
        assert diff == pytest.approx(0.0, abs=1e-6), col


def test_example_replan_starts_from_observed_stock_and_obeys_the_land_rule(chifeng):
    actuals = load_actuals(EXAMPLE_ACTUALS, chifeng)
    out = run_model(review_settings())
    assert out.status == "optimal"
    plan = out.tables["plan"].set_index(["region", "year"])
    stock = actuals.inventory_end_10k_m2()
    cycle = actuals.cycle_end_months()
    for r in chifeng.region_ids:
        # the observed years are the actuals, and 2028 starts from the observed end-2027 stock
        assert plan.loc[(r, 2027), "inventory_end_10k_m2"] == pytest.approx(stock[r], abs=1e-6)
        assert plan.loc[(r, 2028), "inventory_start_10k_m2"] == pytest.approx(stock[r], abs=1e-6)
        assert plan.loc[(r, 2027), "observed"] and not plan.loc[(r, 2028), "observed"]
        land_2028 = plan.loc[(r, 2028), "land_ha"]
        if cycle[r] > 36:  # §2.2.3: no new land above 36 months
            assert plan.loc[(r, 2028), "land_rule_state"] == "suspend"
            assert land_2028 == pytest.approx(0.0, abs=1e-9), r
        elif cycle[r] > 18:  # only the revitalised land between 18 and 36 months
            assert land_2028 <= plan.loc[(r, 2028), "land_allowed_ha"] + 1e-6, r
    suspended = {r for r in chifeng.region_ids if cycle[r] > 36}
    assert suspended == {"yuanbaoshan", "linxi", "ongniud", "harqin"}
    # land actually sold counts towards the five-year land total
    land = actuals.value("land_ha")
    observed_land = sum(land.values())
    assert out.tables["plan"].query("year <= 2027")["land_ha"].sum() == pytest.approx(observed_land)
    # breaches in observed years are reported, not prevented
    rule = out.tables["targets"].query("target_id == 'land_rule' and mode == 'observed'")
    assert "land_rule[main_city,2027]" in set(rule.loc[~rule["met"], "target_key"])


def test_candidates_in_policy_units_and_those_that_change_nothing(chifeng):
    settings = review_settings(**{
        "review.candidates": {
            "cycle_24": ["targets.cycle_months_end=24"],
            "vacancy_20": ["targets.vacancy.mode=hard"],
            "land_minus_80": ["targets.land_total_ha=100"],  # below the land already sold
        },
        "review.combinations": ["cycle_24+land_minus_80"],
        "review.workers": 1,
        "review.replications": 10,
        "review.future_demand": "observed_ratio",
    })
    assert [c.name for c in candidate_list(settings)] == [
        "keep_targets", "cycle_24", "vacancy_20", "land_minus_80", "cycle_24+land_minus_80"]
    adj = evaluate_adjustments(settings, chifeng).set_index("candidate")
    assert "objective_points" not in adj.columns and "cost_vs_keep_points" not in adj.columns
    # the targets can be kept: no adjustment is needed, and none is ranked
    assert adj.loc["keep_targets", "feasible"] and not adjustment_needed(adj.reset_index())
    assert adj["rank"].isna().all() and not adj["smallest_change"].any()
    # a laxer cycle target that does not bind is the same plan, and says so
    c = adj.loc["cycle_24"]
    assert c["feasible"] and c["changes_nothing"]
    assert c["target_change"].startswith("cycle_months[city] 18 → 24 months (+6)")
    assert c["delta_unmet_demand_10k_m2"] == pytest.approx(0.0, abs=1e-6)
    assert c["delta_land_ha"] == pytest.approx(0.0, abs=1e-6)
    assert 0 <= c["p_cycle_in_band"] <= 1 and c["cycle_target_months"] == 24
    # vacancy 20% is out of reach whatever the plan: infeasible, with its relaxation
    v = adj.loc["vacancy_20"]
    assert not v["feasible"] and v["status"] == "infeasible"
    assert "vacancy_share[city] 0.2 → 0.2" in v["relaxation"]
    relaxed_to = float(v["relaxation"].split("vacancy_share[city] 0.2 → ")[1].split()[0])
    assert 0.25 < relaxed_to < 0.35
    # 100 ha is less than the 116.22 ha already sold in 2026–2027
    land = adj.loc["land_minus_80"]
    assert not land["feasible"] and "land_total_ha[city] 100 → 116.2" in land["relaxation"]
    assert not adj.loc["cycle_24+land_minus_80", "feasible"]


def test_when_targets_cannot_all_be_kept_the_smallest_change_comes_first(chifeng):
    """Subsidised housing in the main city may only be bought (no new building, at 0.7 × 7006
    元/m²) within a hard budget of 2 亿元 a year: 5.99 万m² costs 2.94 亿元 and cannot be kept.
    Lowering the volume to 4 万m² (1.96 亿元, a 33% change) restores feasibility, to 2 万m² too
    (67%), to 5.5 万m² not (2.70 亿元): the smallest change that restores it is ranked first."""
    settings = review_settings(**{
        "subsidised.allow_new_build": False,
        "targets.purchase_budget_100m_yuan_per_year": 2.0,
        "targets.purchase_budget.mode": "hard",
        "review.hard": ["subsidised"],
        "review.candidates": {
            "volume_5_5": ["targets.subsidised_volume_10k_m2_per_year=5.5"],
            "volume_2": ["targets.subsidised_volume_10k_m2_per_year=2"],
            "volume_4": ["targets.subsidised_volume_10k_m2_per_year=4"],
        },
        "review.workers": 1,
        "review.replications": 10,
    })
    adj = evaluate_adjustments(settings, chifeng)
    assert adjustment_needed(adj)
    a = adj.set_index("candidate")
    assert not a.loc["keep_targets", "feasible"] and not a.loc["volume_5_5", "feasible"]
    assert a.loc["volume_4", "feasible"] and a.loc["volume_2", "feasible"]
    assert a.loc["volume_4", "rank"] == 1 and a.loc["volume_2", "rank"] == 2
    assert a.loc["volume_4", "smallest_change"] and not a.loc["volume_2", "smallest_change"]
    assert a.loc["volume_4", "target_change_share"] == pytest.approx(1 - 4 / 5.994, abs=1e-3)
    assert "subsidised_volume_10k_m2[main_city] 5.994 → 4 10k_m2" in a.loc["volume_4",
                                                                          "target_change"]


def test_actuals_on_the_adopted_plans_path_need_no_adjustment(tmp_path, chifeng):
    """Actuals equal to the plan as written's own 2026–2027 (表48 land, 表45 presale, its
    arithmetic's sales and stock): the current course is the adopted plan itself, so nothing is
    at risk that the plan does not miss by itself, and no adjustment is needed."""
    from model.market import plan_as_written

    plan = plan_as_written(chifeng)
    observed = plan[plan["year"] <= 2027].rename(columns={"region": "region_id"})
    actuals = observed[["region_id", "year", "land_ha", "supply_10k_m2", "sales_10k_m2",
                        "purchased_10k_m2", "inventory_end_10k_m2"]].assign(
        vacancy_share="", source="the plan as written's own path")
    path = tmp_path / "adopted.csv"
    actuals.to_csv(path, index=False, float_format="%.12g")
    settings = review_settings(**{"review.actuals": str(path), "review.current_course": True,
                                  "review.adjust": True, "review.workers": 1,
                                  "review.replications": 10, "review.candidates": {},
                                  "review.combinations": []})
    out = run_model(settings)
    assert out.status == "optimal"
    t = out.tables["review_targets"]
    own_misses = set(t.loc[t["met_original"].eq(False), "target_key"])
    assert set(t.loc[t["at_risk"], "target_key"]) <= own_misses
    assert out.summary["review"]["adjustment_needed"] is False
    assert not out.tables["review_headline"]["adjustment_needed"].any()


def test_replan_keeps_the_presale_that_observed_land_makes_ready(chifeng):
    """The shipped example sold main-city land in 2026–27; under the timing model that land makes
    ρ · (a_1 · land₂₀₂₇ + a_2 · land₂₀₂₆) of floor area ready in 2028, on top of the opening
    pipeline's part: the re-plan's 2028 main-city presale_ready counts all of it."""
    from model import timing as tm
    from model.inputs import build_inputs

    settings = review_settings()
    out = run_model(settings)
    plan = out.tables["plan"].set_index(["region", "year"])
    inputs = build_inputs(settings, chifeng)
    land = load_actuals(EXAMPLE_ACTUALS, chifeng).value("land_ha")
    rho = inputs.plot_ratio_10k_m2_per_ha["main_city"]
    a = inputs.ready_shares
    from_observed = rho * (tm.share_at(a, 1) * land[("main_city", 2027)]
                           + tm.share_at(a, 2) * land[("main_city", 2026)])
    assert from_observed > 20  # 35.35 ha in 2027 alone
    expected = inputs.pipeline_ready_10k_m2[("main_city", 2028)] + from_observed + rho * tm.share_at(
        a, 0) * plan.loc[("main_city", 2028), "land_ha"]
    assert plan.loc[("main_city", 2028), "presale_ready_10k_m2"] == pytest.approx(expected,
                                                                                  rel=1e-6)
    assert plan.loc[("main_city", 2028), "supply_10k_m2"] > 10


def test_the_review_replay_starts_from_the_observed_end_of_2027(chifeng):
    """The replay of the re-plan simulates 2028–2030 only, from the observed stock: its opening
    city stock is the observed 365.5 万m² in every replication."""
    from model.inputs import build_inputs
    from model.pipeline import replay_plan

    settings = review_settings(**{"sim.enabled": True, "sim.replications": 25})
    out = run_model(settings)
    inputs = build_inputs(settings, chifeng)
    result = replay_plan(settings, chifeng, inputs, out.tables["plan"])
    assert result.months[0] == "2028-01" and len(result.months) == 36
    opening = result.monthly["inventory_open_10k_m2"][0].sum(axis=1)     # per replication
    observed = sum(load_actuals(EXAMPLE_ACTUALS, chifeng).inventory_end_10k_m2().values())
    assert observed == pytest.approx(365.5, abs=0.05)
    assert opening == pytest.approx([observed] * 25, abs=1e-9)


def cli(tmp_path: Path, *overrides: str, timeout: int = 180):
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "model.run", f"hydra.run.dir={run_dir}", *overrides],
        cwd=REPO, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr, run_dir


def test_cli_midterm_review_end_to_end(tmp_path):
    code, out, run_dir = cli(tmp_path, "+scenario=midterm_2028", "review.replications=10",
                             "sim.replications=10")
    assert code == 0, out
    for name in ("plan.csv", "summary.json", "review_comparison.csv", "review_changes.csv",
                 "review_targets.csv", "review_headline.csv", "review_paths.png",
                 "adjustments.csv", "adjustments.png", "review_note.md", "review_note.html",
                 "original/plan.csv", "course/targets.csv"):
        assert (run_dir / name).is_file(), name
    comp = pd.read_csv(run_dir / "review_comparison.csv", encoding="utf-8-sig")
    for q in ("land_ha", "inventory_end_10k_m2"):
        assert {f"{q}_original", f"{q}_actual", f"{q}_course", f"{q}_replan"} <= set(comp.columns)
    city27 = comp.query("region == 'city' and year == 2027").iloc[0]
    assert city27["inventory_end_10k_m2_actual"] == pytest.approx(
        city27["inventory_end_10k_m2_replan"], abs=1e-6)
    adj = pd.read_csv(run_dir / "adjustments.csv", encoding="utf-8-sig")
    assert len(adj) == 1 + 11 + 3 and adj["feasible"].any() and (~adj["feasible"]).any()
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["review"]["observed_years"] == [2026, 2027]
    assert summary["review"]["adjustment_needed"] is False
    head = pd.read_csv(run_dir / "review_headline.csv", encoding="utf-8-sig").set_index("indicator")
    assert not head["adjustment_needed"].any()
    note = (run_dir / "review_note.md").read_text(encoding="utf-8")
    key = note.split("\n## ")[0]           # the key message: before the first section
    assert "目标不需调整" in key and "存在风险" in key and "重新规划" in key
    assert "公共收购" in key and "公共支出" in key  # what keeping the targets takes
    assert "points" not in note and "目标函数" not in note  # no objective points
    # the note's numbers are the files' numbers, and its count is the table's
    targets = pd.read_csv(run_dir / "review_targets.csv", encoding="utf-8-sig")
    groups = {f"{r.target_id}[{r.scope}]" for r in targets[targets["at_risk"]].itertuples()}
    assert f"{len(groups)}项规划目标存在风险" in key
    # the verdict lists what the re-plan meets, each with its value (全市15.8、主城区13.9)
    assert f"全市{head.loc['cycle_months_city', 'replan']:.1f}" in key
    verdict = next(line for line in key.splitlines() if "目标不需调整" in line)
    status = targets[~targets["observed_year"] & targets["kind"].isin(["target", "check"])]
    if not status["met_replan"].astype(bool).all():     # never "all kept" when a row is missed
        assert "未满足：" in verdict and "均已满足" not in verdict
    # the headline's land-rule lines come from the tables: regions above 36 months at the end
    # of the final year, and the observed years' breaches
    plan = pd.read_csv(run_dir / "plan.csv", encoding="utf-8-sig")
    above = plan[(plan["year"] == 2030) & (plan["cycle_end_months"] > 36)]
    for r in above.itertuples():
        assert f"{r.name_zh} {r.cycle_end_months:.1f}" in key
    broke = targets[(targets["target_id"] == "land_rule") & targets["observed_year"]
                    & targets["met_replan"].eq(False)]
    assert f"{len(broke)}个区域·年份超出土地规则" in key
    english = (run_dir / "review_note_en.md").read_text(encoding="utf-8")
    assert "No target needs adjusting" in english
    assert f"{len(groups)} of the plan's target(s)" in english
    page = (run_dir / "review_note.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2 and "src='review_" not in page
    assert "lang='zh-CN'" in page and "page-break-before:always" in page


@pytest.mark.parametrize("old, new, fragment", [
    (None, None, "review.actuals = '/nonexistent.csv': nonexistent.csv: missing file"),
    ("main_city,2026,", "atlantis,2026,", "column region_id: value 'atlantis'"),
    ("ningcheng,2027,", "ningcheng,2031,", "column year: value 2031 — expected a plan year"),
    ("main_city,2026,17.67,", "main_city,2026,-17.67,", "column land_ha: value '-17.67'"),
    ("main_city,2026,17.67,65.84,98.74,,238.63", "main_city,2026,17.67,65.84,98.74,,248.63",
     "does not follow from the other columns — expected 238.63"),
])
def test_cli_bad_actuals_one_line(tmp_path, old, new, fragment):
    if old is None:
        path = "/nonexistent.csv"
    else:
        text = EXAMPLE_ACTUALS.read_text(encoding="utf-8")
        path = tmp_path / "bad.csv"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, out, run_dir = cli(tmp_path, "+scenario=midterm_2028", f"review.actuals={path}",
                             "sim.enabled=false", timeout=60)
    assert code == 1, out
    assert "Traceback" not in out
    # one line per problem, the problem named first (renaming a region also leaves the real one
    # without rows, a second line)
    errors = [line for line in out.splitlines() if "input error" in line]
    assert 1 <= len(errors) <= 3 and fragment in errors[0], out
    assert all(line.startswith("model.run: input error: review.actuals = ") for line in errors)
    assert not (run_dir / "review_note.md").exists()


def test_a_candidate_whose_inputs_fail_is_not_described_by_the_one_before(chifeng):
    """A candidate that fails its input checks in the worker (input_error) gets blank targets,
    not those of the candidate solved before it (the built model still holds those)."""
    settings = review_settings(**{
        "review.candidates": {"cycle_24": ["targets.cycle_months_end=24"],
                              "bad_region": ["land.revitalised_by_region_ha.nowhere=5"]},
        "review.workers": 1, "review.replications": 5})
    from model.review import _evaluate_batch, adjustment_base

    cands = candidate_list(settings, chifeng)
    rows = {r["candidate"]: r for r in _evaluate_batch(adjustment_base(settings), chifeng, cands)}
    assert rows["cycle_24"]["cycle_target_months"] == 24
    bad = rows["bad_region"]
    assert bad["status"] == "input_error" and "nowhere" in bad["relaxation"]
    assert pd.isna(bad["cycle_target_months"]) and "target_change" not in bad
