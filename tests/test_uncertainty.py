"""How likely the plan is to hold: the signed price response, demand cases, the uncertainty table
and the break-even values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model import market as mk
from model import uncertainty as un
from model.config import ConfigError, default_settings
from model.data import load_dataset
from model.inputs import build_inputs
from tests.test_market import chifeng, mini

QUIET = dict(shock_sd=0.0, demand_level_sd=0.0, enforce_land_rule=False,
             enforce_presale_timing=False)


def city_end(result) -> pd.Series:
    return mk.replay_summary(result).set_index("region").loc["city"]


def test_with_no_price_response_and_no_noise_the_centre_is_the_annual_arithmetic():
    """The plan as written (表45/表48 rows, 表31 demand), stochastic mode but no shock, no level
    draw and no price response: every replication ends 2030 at the plan's own arithmetic,
    482.00 万m² ÷ (251.9 ÷ 12) = 22.96 months."""
    ds = chifeng()
    result = mk.replay(mk.plan_as_written(ds), ds, mk.ReplayParams(replications=20, **QUIET))
    row = city_end(result)
    assert row.cycle_end_months_p10 == pytest.approx(12 * 482.00 / 251.9, abs=0.01)
    assert row.cycle_end_months_p90 == pytest.approx(row.cycle_end_months_p10)


def test_the_sign_of_the_price_response_moves_the_cycle_as_stated():
    """The plan as written keeps the city above 18 months, so prices fall: a positive coefficient
    (falling prices draw buyers) lowers the 2030 cycle, a negative one (买涨不买跌) raises it."""
    ds = chifeng()
    plan = mk.plan_as_written(ds)
    ends = {}
    for x in (-0.5, 0.0, 0.5):
        result = mk.replay(plan, ds, mk.ReplayParams(replications=20, price_response=x, **QUIET))
        ends[x] = city_end(result).cycle_end_months_p50
        if x:
            assert city_end(result).price_index_end_p50 < 1.0  # prices fell
    assert ends[0.5] < ends[0.0] < ends[-0.5]


def test_the_old_price_keys_say_what_replaced_them():
    with pytest.raises(ConfigError, match="sim.price_response"):
        default_settings(**{"sim.price_elasticity": -0.5})
    with pytest.raises(ConfigError, match="sim.price_response"):
        default_settings(**{"sim.price_sensitivity": 0.01})


def test_the_persistent_demand_level_moves_whole_paths():
    """One level draw per replication and region holds for the horizon: replications differ in
    their total sales, not only month to month, and the mean level is the plan's."""
    ds = chifeng()
    plan = mk.plan_as_written(ds)
    params = mk.ReplayParams(replications=400, seasonality=(1.0,) * 12,
                             **{**QUIET, "demand_level_sd": 0.1})
    result = mk.replay(plan, ds, params)
    demand = result.monthly["demand_10k_m2"].sum(axis=(0, 2))          # per replication
    planned = (plan.sales_10k_m2 + plan.unmet_demand_10k_m2).sum()
    assert demand.mean() == pytest.approx(planned, rel=0.02)
    assert demand.std() / planned > 0.04                               # a level, not noise
    ratio = result.monthly["demand_10k_m2"][:, :, 0] / result.inputs.demand_10k_m2_per_month[:, [0]]
    assert np.allclose(ratio, ratio[:1])                               # the same all horizon


def test_demand_cases_are_the_plans_forecast_and_the_2025_rate(tmp_path):
    ds = load_dataset()
    settings = default_settings()
    inputs = build_inputs(settings, ds)
    cases = un.demand_cases(settings, ds, inputs)
    assert set(cases) == {"plan", "sales_base", "sales_base_decline"}
    total = {name: sum(d.values()) for name, (d, _how) in cases.items()}
    assert total["plan"] == pytest.approx(1231.3, abs=0.05)             # 表31 rows
    rate = sum(inv / c * 12 for inv, c in zip(*zip(*[
        (inputs.inventory0_10k_m2[r], inputs.cycle0_months[r]) for r in inputs.regions])))
    assert total["sales_base"] == pytest.approx(5 * rate)              # 205.15 a year, flat
    assert total["sales_base_decline"] == pytest.approx(
        rate * sum(0.97 ** k for k in range(1, 6)))


def test_breakeven_demand_multiple_of_a_hand_plan():
    """mini_city's plan as written replayed with no noise: the city's 2027 cycle is
    12 (I₀ + S − m D) ÷ (m D₂₀₂₇) while no region sells out, so the demand multiple at which it
    equals a target T is m* = 12 (I₀ + S) ÷ (T D₂₀₂₇ + 12 D)."""
    ds = mini()
    plan = mk.plan_as_written(ds)
    settings = default_settings(**{"dataset": str(ds.root), "targets.cycle_months_end": 18})
    inputs = build_inputs(settings, ds)

    def replay_fn(demand, **kw):
        params = mk.ReplayParams(deterministic=True, enforce_presale_timing=False,
                                 **{k: v for k, v in kw.items() if k == "replications"})
        return mk.replay(plan, ds, params, demand_10k_m2=demand)

    table = un.breakeven_table(settings, inputs, plan, replay_fn).set_index(
        ["scope", "quantity", "edge"])
    opening = sum(ds.inventory_10k_m2().values())
    supply = plan.supply_10k_m2.sum()
    demand = (plan.sales_10k_m2 + plan.unmet_demand_10k_m2)
    d_last = demand[plan.year == 2027].sum()
    expected = 12 * (opening + supply) / (18 * d_last + 12 * demand.sum())
    assert table.loc[("city", "demand_multiple", "top"), "breakeven"] == pytest.approx(
        expected, rel=2e-3)
    # the floor (12 months) by the same arithmetic: more demand than at the top
    floor = 12 * (opening + supply) / (12 * d_last + 12 * demand.sum())
    found = table.loc[("city", "demand_multiple", "floor"), "breakeven"]
    if found == found:  # within the searched range
        assert found == pytest.approx(floor, rel=2e-3) and found > expected
    # deterministic replays ignore the price response: no coefficient changes the answer
    assert np.isnan(table.loc[("city", "price_response", "top"), "breakeven"])


def test_plan_as_written_prints_the_table_and_the_break_even_lines(tmp_path):
    from model.run import run_model

    settings = default_settings(**{"evaluate_only": True, "fixed_plan": "guidance",
                                   "demand.source": "plan", "sim.replications": 40,
                                   "report.lang": "en"})  # the English printed lines
    outcome = run_model(settings)
    table = outcome.tables["uncertainty"]
    spread = table[table.part == "level_spread"]
    table = table[table.part == "grid"]
    assert len(table) == 3 * 3 * 2                      # cases × behaviours × (city, main city)
    # the run's own cell again at the other spreads of the demand level (0, 0.05, 0.2; 0.1 is
    # the default, in the grid); at spread 0 the persistent level is off: the same replay as
    # sim.demand_level_sd=0
    assert sorted(set(spread.demand_level_sd)) == [0.0, 0.05, 0.2] and len(spread) == 3 * 2
    assert (spread.demand_case == "plan").all() and (spread.price_behaviour == "none").all()
    assert "sim.demand_level_sd" in "\n".join(outcome.messages)
    be = outcome.tables["breakeven"]
    cell = table[(table.demand_case == "plan") & (table.price_behaviour == "none")
                 & (table.scope == "city")].iloc[0]
    # the break-even's figures at the default are the table's own cell (same replications, seed)
    row = be[(be.scope == "city")].iloc[0]
    assert row.at_default_p_in_band == pytest.approx(cell.p_cycle_in_band)
    assert row.at_default_median_months == pytest.approx(cell.cycle_end_months_p50)
    assert "× this run's demand (the plan's forecast: " in be[(be.scope == "city") & (be.quantity == "demand_multiple")].statement.iloc[0]
    assert set(table.demand_label) == {"表31 forecast (run)", "2025 sales rate",
                                       "2025 rate −3%/yr"}
    assert set(table.scope) == {"city", "main_city"}
    text = "\n".join(outcome.messages)
    assert text.index("The plan's own arithmetic") < text.index("How likely the plan is to hold")
    assert "the median cycle is in the band only for" in text      # 23 months at the default
    be = outcome.tables["breakeven"].set_index(["scope", "quantity", "edge"])
    # the plan as written ends 2030 above 18 months at 表31 demand: it needs more buyers, or
    # falling prices that draw them
    assert be.loc[("city", "demand_multiple", "top"), "breakeven"] > 1.0
    assert be.loc[("city", "price_response", "top"), "breakeven"] > 0.0
