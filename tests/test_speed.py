"""The fast evaluation path changes no result: fast overrides equal OmegaConf's, and the lean
evaluation (Sweep.run(..., outputs="outcomes")) gives the same headline and replay summary as the
full run path (the reference kept for this test) on the bundled runs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from model.config import default_settings, fast_overrides, with_overrides
from model.pipeline import Sweep
from model.run import run_model

SAMPLE = {"demand.multiplier": 0.93, "demand.growth": -0.01, "land.plot_ratio": 2.1,
          "timing.lag_months_mean": 14.5, "timing.pipeline_10k_m2": 90.0,
          "sim.price_response": -0.4, "sim.shock_sd": 0.12, "sim.demand_level_sd": 0.05,
          "land.revitalised_share": 0.5, "vacancy.household_formation_10k_per_year": 0.3,
          "targets.purchase_budget_100m_yuan_per_year": 4.0, "targets.cycle.mode": "hard"}


def test_fast_overrides_equal_omegaconfs():
    base = default_settings()
    assert fast_overrides(base, SAMPLE) == with_overrides(base, SAMPLE)
    # a map-valued key is left to OmegaConf and still gives the same settings
    odd = {"timing.pipeline_10k_m2": {"main_city": 40.0}, "sim.seasonality": [1.0] * 12}
    assert fast_overrides(base, odd) == with_overrides(base, odd)


@pytest.mark.parametrize("base", [
    {},
    {"evaluate_only": True, "fixed_plan": "guidance", "demand.source": "plan"},
])
def test_lean_evaluation_equals_the_full_run(base):
    settings = default_settings(**{**base, "sim.replications": 30, "solver.duals": False,
                                   "uncertainty.enabled": False})
    overrides = {"demand.multiplier": 0.95, "sim.price_response": 0.3}
    full = run_model(with_overrides(settings, overrides))
    lean = Sweep(settings).run(overrides, outputs="outcomes")
    assert lean.status == full.status == "optimal"
    for key, value in full.headline.items():
        if key == "targets_missed":
            continue  # the lean path does not build targets.csv
        other = lean.headline[key]
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(other)
        else:
            assert other == pytest.approx(value, rel=1e-9, abs=1e-9), key
    pd.testing.assert_frame_equal(lean.tables["replay_summary"], full.tables["replay_summary"])
    pd.testing.assert_frame_equal(lean.tables["plan"], full.tables["plan"])


def test_replay_only_change_reuses_the_plan_and_changes_nothing_else():
    """A sample that changes only the replay's inputs reads back the plan of equal optimiser
    inputs; its outcome equals a fresh model's, and an optimiser input still re-solves."""
    settings = default_settings(**{"sim.replications": 20, "solver.duals": False,
                                   "uncertainty.enabled": False})
    a = {"demand.multiplier": 0.95, "sim.price_response": 0.0}
    replay_only = {"demand.multiplier": 0.95, "sim.price_response": -0.6, "sim.shock_sd": 0.2}
    sweep = Sweep(settings)
    first = sweep.run(a, outputs="outcomes")
    reused = sweep.run(replay_only, outputs="outcomes")
    assert sweep.reused == 1
    fresh = Sweep(settings).run(replay_only, outputs="outcomes")
    pd.testing.assert_frame_equal(reused.tables["plan"], fresh.tables["plan"])
    pd.testing.assert_frame_equal(reused.tables["replay_summary"], fresh.tables["replay_summary"])
    # the replay did change: another price response, another replay summary
    assert not reused.tables["replay_summary"].equals(first.tables["replay_summary"])
    sweep.run({"demand.multiplier": 0.9}, outputs="outcomes")
    assert sweep.reused == 1
    every = Sweep(settings, reuse_solves=False)
    every.run(a, outputs="outcomes")
    every.run(replay_only, outputs="outcomes")
    assert every.reused == 0
