"""The robust plan (model/robust/): a hand-solved instance, the extensive form's construction,
the scenarios' one source of truth, the Chifeng out-of-sample check, mpi-sppy.

The hand instance (tests/data/hand_robust: one region, plan years 2026–2027; stock 12 万m² at a
12-month cycle; plot ratio 2 万m²/ha; land → presale in the same year) with land at 6 points per
ha, unmet demand 10 per 万m², no band, holding, aim, pace or terminal terms, vacancy off:

    2026 sells the opening stock (demand 12). 2027 decides. R = floor area made ready = 2 × land.
    Deterministic (2027 demand 12, floor 12 months soft at 5 per 万m²): sell 12 and hold 12 (the
      floor: 12 months × 1 a month) costs 3 per 万m² of land < 5 → R = 24, land 12 ha,
      objective 6 × 12 = 72.
    Two scenarios, probability ½ each: 2027 demand 6 (low) or 18 (high). Presale is recourse
      (held back when not needed), so the low scenario is in the band for any R ≥ 12. The high
      scenario needs 18 sold + 18 held (12 months) = 36; with R in [18, 36] it is short of the
      floor by 36 − R 万m² = (2/3)(36 − R) months; below R = 18 buyers are turned away too.
      Per 万m² of R: land 3; the band's price ½ × 5 = 2.5 (both sides 5 per 万m²,
      robust.band_penalty_per_10k_m2); CVaR_½ of the months outside = the high scenario's.
    Risk-neutral (risk=expected): 3 > 2.5 above R = 18, 3 < ½ (10 + 5 + 5) below → R = 18,
      land 9 ha, objective 6 × 9 + ½ × 5 × 18 = 99.
    CVaR (α = ½, w = 3 points per month): + 3 × (2/3) = 2 per 万m² → 3 < 4.5 → R = 36, land
      18 ha, every scenario in the band, CVaR 0, objective 6 × 18 = 108.
    Chance (P(in band) ≥ 0.6 > ½: neither scenario may miss) → R = 36, objective 108; with
      P ≥ 0.5 the high scenario may miss → the risk-neutral 99.
    So the robust land (18 ha) differs from the deterministic (12) and the risk-neutral (9).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
import yaml

from model import market, uncertainty
from model.config import ConfigError, RobustConfig, default_settings
from model.data import REPO_ROOT, load_dataset
from model.inputs import build_inputs
from model.robust import extensive as ex
from model.robust import scenarios as sc
from model.robust.run import cvar
from model.solve import PlanModel

HERE = Path(__file__).parent
HAND = HERE / "data" / "hand_robust"
HAND_SETTINGS = {
    "objective.inventory_above_band_per_10k_m2": 0.0,
    "objective.inventory_below_band_per_10k_m2": 0.0,
    "objective.inventory_holding_per_10k_m2": 0.0,
    "objective.land_per_ha": 6.0,
    "objective.unmet_demand_per_10k_m2": 10.0,
    "objective.aim_below_per_10k_m2": 0.0,
    "objective.aim_above_per_10k_m2": 0.0,
    "targets.vacancy.mode": "off",
    "targets.cycle.mode": "soft",
    "targets.cycle_floor.penalty": 5.0,
    "timing.lag_months_mean": 0.0,
    "timing.completed_share": 0.0,
    "ramp.mode": "off",
    "terminal.mode": "off",
    "land.rule_margin_months": 0.0,
}
TOL = 1e-6


def hand_scenarios(settings=None, **robust):
    """The two hand scenarios (2027 demand 6 and 18) and the robust config."""
    ds = load_dataset(HAND)
    settings = default_settings(**{**HAND_SETTINGS, **(settings or {})})
    inputs = build_inputs(settings, ds)
    nominal = sc.band_rows_replaced(inputs)
    out = []
    for name, d27 in (("low", 6.0), ("high", 18.0)):
        demand = {("core", 2026): 12.0, ("core", 2027): d27}
        out.append(sc.Scenario(name, 0.5, "hand", "none", 0.0, 0.0,
                               MappingProxyType({"core": d27 / 12.0}),
                               sc.scenario_inputs(nominal, nominal, demand)))
    rob = RobustConfig(**{"band_penalty_per_10k_m2": 5.0, "cvar_alpha": 0.5, "cvar_weight": 3.0,
                          "presale": "recourse", **robust})
    return settings, inputs, out, rob


def land_total(values) -> float:
    return sum(values["land_ha"].values())


# ---------------------------------------------------------------------------------------------
# The hand-solved instance
# ---------------------------------------------------------------------------------------------
def test_hand_deterministic_plan_holds_the_floor_at_the_forecast():
    settings, inputs, _scen, _rob = hand_scenarios()
    sol = PlanModel(inputs, settings.solver).solve()
    assert sol.ok
    assert sol.objective == pytest.approx(72.0, abs=TOL)
    assert land_total(sol.values) == pytest.approx(12.0, abs=TOL)


def test_hand_robust_plan_cvar_buys_the_buffer():
    _settings, _inputs, scen, rob = hand_scenarios()
    ef = ex.ExtensiveForm(scen, rob)
    sol = ef.solve()
    assert sol.ok and sol.problem_type == "MILP"  # the land rule's 2 binaries, shared
    assert ef.size["binaries"] == 2
    assert sol.objective == pytest.approx(108.0, abs=1e-5)
    assert land_total(sol.first_stage) == pytest.approx(18.0, abs=1e-5)
    # every scenario in the band: nothing outside, CVaR 0, the high scenario holds 18 万m²
    low, high = sol.scenarios
    assert high["inventory_end_10k_m2"][("core", 2027)] == pytest.approx(18.0, abs=1e-5)
    assert high["sales_10k_m2"][("core", 2027)] == pytest.approx(18.0, abs=1e-5)
    assert low["inventory_end_10k_m2"][("core", 2027)] == pytest.approx(6.0, abs=1e-5)
    for v in (low, high):
        assert v["band_below_10k_m2"]["city"] == pytest.approx(0.0, abs=1e-5)
    # the low scenario holds back what it does not need (presale is recourse)
    assert sum(low["supply_10k_m2"].values()) == pytest.approx(12.0, abs=1e-5)
    assert sum(high["supply_10k_m2"].values()) == pytest.approx(36.0, abs=1e-5)


def test_hand_risk_neutral_plan_stops_at_the_kink():
    _settings, _inputs, scen, rob = hand_scenarios(risk="expected")
    sol = ex.ExtensiveForm(scen, rob).solve()
    assert sol.objective == pytest.approx(99.0, abs=1e-5)
    assert land_total(sol.first_stage) == pytest.approx(9.0, abs=1e-5)
    high = sol.scenarios[1]
    assert high["band_below_10k_m2"]["city"] == pytest.approx(18.0, abs=1e-5)
    assert high["unmet_demand_10k_m2"][("core", 2027)] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("alpha, objective, land", [(0.6, 108.0, 18.0), (0.5, 99.0, 9.0)])
def test_hand_chance_constraint(alpha, objective, land):
    _settings, _inputs, scen, rob = hand_scenarios(risk="chance", chance_alpha=alpha)
    ef = ex.ExtensiveForm(scen, rob)
    assert ef.size["binaries"] == 2 + 2  # the rule's (shared) and one per scenario
    sol = ef.solve()
    assert sol.objective == pytest.approx(objective, abs=1e-5)
    assert land_total(sol.first_stage) == pytest.approx(land, abs=1e-5)


def test_hand_no_rationing_buyers_to_stay_in_the_band():
    """Below R = 18 the high scenario turns buyers away; keeping homes on the shelf while doing so
    must not count as stock in the band: with land capped at 6 ha (R = 12) the high scenario
    sells all 12 and the band loss counts the 6 turned away: below = 18 − (0 − 6) = 24."""
    settings, inputs, scen, rob = hand_scenarios(cvar_weight=100.0)
    capped = [dataclasses.replace(s, inputs=dataclasses.replace(
        s.inputs, land_max_ha=MappingProxyType({k: 3.0 for k in s.inputs.land_max_ha})))
        for s in scen]
    sol = ex.ExtensiveForm(capped, rob).solve()
    high = sol.scenarios[1]
    assert land_total(sol.first_stage) == pytest.approx(6.0, abs=1e-5)
    assert high["sales_10k_m2"][("core", 2027)] == pytest.approx(12.0, abs=1e-5)
    assert high["inventory_end_10k_m2"][("core", 2027)] == pytest.approx(0.0, abs=1e-5)
    assert high["band_below_10k_m2"]["city"] == pytest.approx(24.0, abs=1e-5)


def test_extensive_form_of_one_scenario_is_the_scenario_model():
    """Stacking one scenario reproduces the scenario model solved alone (probability 1)."""
    _settings, _inputs, scen, rob = hand_scenarios()
    one = [dataclasses.replace(scen[1], probability=1.0)]
    alone = PlanModel(one[0].inputs, build=lambda i: ex.build_scenario(i, rob)).solve()
    assert ex.ExtensiveForm(one, rob).solve().objective == pytest.approx(alone.objective, abs=1e-6)


def test_first_stage_is_shared_and_rows_deduplicated():
    _settings, _inputs, scen, rob = hand_scenarios()
    ef = ex.ExtensiveForm(scen, rob)
    n_first, n_second = ef.size["first_stage_columns"], ef.size["scenario_columns"]
    assert ef.size["columns"] == n_first + 2 * n_second
    first = {ef.names[c][0] for c in ef.first_cols}
    assert {"land_ha", "purchased_10k_m2", "suspend", "cvar_threshold_months"} <= first
    assert not first & {"sales_10k_m2", "supply_10k_m2", "inventory_end_10k_m2",
                        "cvar_excess_months"}
    # rows on first-stage columns only (land rule's land side, land total…) are kept once
    assert ef.size["rows"] < 2 * ef.size["scenario_model_rows"]


def test_cvar_of_a_discrete_loss():
    losses, p = np.array([0.0, 1.0, 4.0, 10.0]), np.full(4, 0.25)
    assert cvar(losses, p, 0.5) == pytest.approx(7.0)
    assert cvar(losses, p, 0.75) == pytest.approx(10.0)
    assert cvar(losses, p, 0.6) == pytest.approx((0.15 * 4 + 0.25 * 10) / 0.4)


def test_robust_config_is_checked():
    for key, value, word in (("robust.risk", "var", "risk"),
                             ("robust.cvar_alpha", 1.0, "cvar_alpha"),
                             ("robust.presale", "free", "presale"),
                             ("robust.check_seed", 20260418, "check_seed")):
        with pytest.raises(ConfigError, match=word):
            default_settings(**{key: value})


# ---------------------------------------------------------------------------------------------
# One source of truth for the scenarios
# ---------------------------------------------------------------------------------------------
def test_lag_range_is_the_sensitivity_analysis_range():
    conf = yaml.safe_load((REPO_ROOT / "conf" / "sensitivity" / "default.yaml").read_text())
    lag = conf["sensitivity"]["inputs"]["timing.lag_months_mean"]
    assert RobustConfig().lag_months_mean_range == [lag["low"], lag["high"]]


def test_scenarios_come_from_the_replay_and_uncertainty_definitions(chifeng):
    settings = default_settings(**{"robust.scenarios": 18, "sim.demand_level_sd": 0.1})
    inputs = build_inputs(settings, chifeng)
    price = {k: 1.0 for k in inputs.demand_10k_m2}
    scen = sc.sample_scenarios(settings, chifeng, inputs, price)
    again = sc.sample_scenarios(settings, chifeng, inputs, price)
    assert [s.inputs.demand_10k_m2 for s in scen] == [s.inputs.demand_10k_m2 for s in again]
    cases = uncertainty.demand_cases(settings, chifeng, inputs)
    # balanced: each demand case × price behaviour twice in 18 scenarios
    pairs = pd.Series([(s.demand_case, s.price_behaviour) for s in scen]).value_counts()
    assert len(pairs) == 9 and set(pairs) == {2}
    lo, hi = RobustConfig().lag_months_mean_range
    for s in scen:
        assert lo <= s.lag_months_mean <= hi and s.lag_months_mean == round(s.lag_months_mean)
        r = inputs.regions[0]
        # demand = the case × the persistent level (price index 1 here)
        assert s.inputs.demand_10k_m2[(r, 2027)] == pytest.approx(
            cases[s.demand_case][0][(r, 2027)] * s.level[r])
        assert s.inputs.land_max_ha == inputs.land_max_ha
    # the level is the replay's own draw (model.market.demand_level) from the sample's stream
    seeds = np.random.SeedSequence(settings.robust.seed).spawn(3)
    level = market.demand_level(np.random.default_rng(seeds[2]), 18, len(inputs.regions), 0.1,
                                settings.sim.shock_correlation)
    assert [s.level[inputs.regions[0]] for s in scen] == pytest.approx(level[:, 0].tolist())
    # a longer lag leaves more of the history land in the opening pipeline
    by_lag = {s.lag_months_mean: s.inputs for s in scen}
    short, long_ = by_lag[min(by_lag)], by_lag[max(by_lag)]
    assert sum(long_.pipeline_10k_m2.values()) > sum(short.pipeline_10k_m2.values())


# ---------------------------------------------------------------------------------------------
# Chifeng: the out-of-sample check
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chifeng_robust():
    from model.run import run_model

    settings = default_settings(**{
        "robust.enabled": True, "scenario": "robust", "uncertainty.enabled": False,
        "robust.scenarios": 12, "robust.binary_scenarios": 4, "robust.check_replications": 40,
        "robust.check_lag_points": 1, "sim.replications": 20, "solver.mip_rel_gap": 1e-3})
    return run_model(settings)


def test_chifeng_robust_plan_holds_at_least_as_often_out_of_sample(chifeng_robust):
    out = chifeng_robust
    assert out.status == "optimal", out.messages
    table = out.tables["robust_vs_deterministic"]
    city = table[(table.scope == "city") & (table.demand_case == "all")].iloc[0]
    assert city.p_cycle_in_band_robust >= city.p_cycle_in_band_deterministic
    main = table[(table.scope == "main_city") & (table.demand_case == "all")].iloc[0]
    assert main.p_cycle_in_band_robust >= main.p_cycle_in_band_deterministic
    # the check used its own seed, every case and behaviour, the same draws for every plan
    cells = out.tables["robust_check_cells"]
    assert set(cells.plan) == {"robust", "deterministic", "mean_value"}
    assert len(cells) == 3 * 3 * 3 * 2
    assert out.summary["check"]["seed"] != out.summary["robust"]["seed"]


def test_chifeng_robust_plan_is_adoptable(chifeng_robust):
    out = chifeng_robust
    plan = out.tables["plan"]
    assert set(plan.columns) >= {"region", "year", "land_ha", "supply_10k_m2",
                                 "purchased_10k_m2", "land_rule_state"}
    assert (plan["land_ha"] >= -1e-9).all()
    # land only where the rule allows it at the plan's own demand (it holds in every scenario)
    assert (plan.loc[plan.land_rule_state == "suspend", "land_ha"] <= 1e-6).all()
    scen = out.tables["robust_scenarios"]
    assert len(scen) == 12 and scen["probability"].sum() == pytest.approx(1.0)
    assert out.summary["model_size"]["binaries"] == 88  # shared, whatever the scenario count
    # the same context keys as a plain run's summary (compare and rundir read "created")
    assert {"created", "report_lang", "dataset_notes", "land_rule_source",
            "evaluate_only"} <= set(out.summary)


# ---------------------------------------------------------------------------------------------
# mpi-sppy: progressive hedging over 2 MPI ranks
# ---------------------------------------------------------------------------------------------
def _mpi_ready() -> str | None:
    try:
        import mpi4py  # noqa: F401
        import mpisppy  # noqa: F401
    except ImportError as exc:
        return f"mpi-sppy/mpi4py not installed ({exc.name}); pip install '.[mpi]'"
    if shutil.which("mpiexec", path=str(Path(sys.executable).parent) + os.pathsep
                    + os.environ.get("PATH", "")) is None:
        return "no mpiexec (the mpich package provides one)"
    return None


@pytest.mark.skipif(_mpi_ready() is not None, reason=str(_mpi_ready()))
def test_progressive_hedging_on_two_ranks_matches_the_extensive_form(tmp_path):
    """The hand instance, its land rule off (an LP: PH converges), decomposed over 2 MPI ranks
    (one scenario each): PH's land and objective equal the extensive form's (18 ha, 108)."""
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent) + os.pathsep
                           + os.environ.get("PATH", ""))
    out = tmp_path / "ph.json"
    driver = tmp_path / "ph_hand.py"
    driver.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO_ROOT)!r})\n"
        "from mpisppy import MPI\n"
        "from model.robust.ph import run_ph\n"
        "from tests.test_robust import hand_scenarios\n"
        "_s, _i, scenarios, robust = hand_scenarios(settings={'land.rule': 'none'})\n"
        "result = run_ph(scenarios, robust, iterations=300, rho=2.0, convthresh=1e-7)\n"
        "if MPI.COMM_WORLD.Get_rank() == 0:\n"
        f"    open({str(out)!r}, 'w').write(json.dumps(result))\n")
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, str(driver)], capture_output=True,
                          text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    result = json.loads(out.read_text())
    assert result["ranks"] == 2
    assert result["land_ha_total"] == pytest.approx(18.0, rel=1e-2)
    assert result["objective"] == pytest.approx(108.0, rel=1e-2)
