"""Scenario discovery: PRIM (ema_workbench) recovers a planted box; the harness writes every
file; a failed (infeasible) run counts as a failure; the default configs reuse the sensitivity
inputs; bad config is one line naming the key."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis import discovery as sd
from analysis import sensitivity as sa
from model.csvio import read_csv
from model.data import REPO_ROOT

FILES = ("samples.csv", "scenario_discovery.csv", "peeling_trajectory.png", "box_limits.png",
         "box_scatter.png", "report.md", "summary.json", "config.yaml")
UNIT = {f"x{i}": sa.InputBound(0.0, 1.0, f"x{i}", "u") for i in range(1, 5)}


def planted_sample(n: int = 1000, flip: float = 0.01, seed: int = 3):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, 4)), columns=[f"x{i}" for i in range(1, 5)])
    inside = x["x1"].between(0.2, 0.5) & x["x2"].between(0.6, 0.9)
    y = inside.to_numpy() ^ (rng.random(n) < flip)  # a little label noise, both ways
    return x, y, inside.to_numpy()


def chosen_limits(res: sd.PrimResult) -> pd.DataFrame:
    return res.limits[res.limits["box"] == res.chosen].set_index("input")


def test_prim_recovers_a_planted_box():
    """y = 1 inside x1 ∈ [0.2, 0.5] × x2 ∈ [0.6, 0.9] of a 4-D uniform sample (9% of it), 1% of
    labels flipped: the chosen box restricts exactly x1 and x2, to the planted limits within
    0.05, and holds most of the cases at high density."""
    x, y, _ = planted_sample()
    res = sd.run_prim(x, y, sd.PrimConfig(min_density=0.8), {c: (0.0, 1.0) for c in x.columns})
    assert res.chosen is not None and res.note == ""
    # PRIM's own box also cut x3 (an early peel of noise, quasi-p ≈ 0.66): dropped, as the
    # method prescribes, the chosen box is a box appended to the trajectory
    assert "without x3" in res.trajectory.set_index("box").loc[res.chosen, "how"]
    lim = chosen_limits(res)
    assert set(lim.index[lim["restricted"]]) == {"x1", "x2"}
    assert lim.loc["x1", "low"] == pytest.approx(0.2, abs=0.05)
    assert lim.loc["x1", "high"] == pytest.approx(0.5, abs=0.05)
    assert lim.loc["x2", "low"] == pytest.approx(0.6, abs=0.05)
    assert lim.loc["x2", "high"] == pytest.approx(0.9, abs=0.05)
    # an unrestricted input keeps its whole sampled range, not the nearest samples
    assert (lim.loc["x3", "low"], lim.loc["x3", "high"]) == (0.0, 1.0)
    row = res.trajectory.set_index("box").loc[res.chosen]
    assert row["coverage"] > 0.8 and row["density"] > 0.85
    assert row["res_dim"] == 2
    assert res.base_rate == pytest.approx(y.mean())
    # the significant restrictions have small quasi-p-values
    assert lim.loc["x1", ["qp_low", "qp_high"]].max() < 1e-3
    # the trajectory starts at the whole box and only gets denser-or-equal in mass order
    t = res.trajectory
    assert t.loc[0, "coverage"] == 1.0 and t.loc[0, "mass"] == 1.0
    assert t.loc[0, "density"] == pytest.approx(y.mean())


def test_choose_box_rule():
    """Highest coverage among dense boxes with at most max_restricted significant restrictions
    (a weak restriction does not count against a box: it will be dropped)."""
    t = pd.DataFrame({"box": [0, 1, 2, 3, 4], "coverage": [1, .9, .8, .7, .5],
                      "density": [.3, .6, .85, .9, .95], "mass": [1, .6, .3, .25, .1],
                      "res_dim": [0, 1, 4, 2, 3], "strong_dim": [0, 1, 4, 2, 2], "n": 0, "k": 0})
    assert sd.choose_box(t, sd.PrimConfig(min_density=0.8, max_restricted=3)) == (3, "")
    assert sd.choose_box(t, sd.PrimConfig(min_density=0.8, max_restricted=4)) == (2, "")
    # no box simple enough: the simplest dense one, with a note
    box, note = sd.choose_box(t, sd.PrimConfig(min_density=0.8, max_restricted=1))
    assert box == 3 and "at most 1 significant" in note
    box, note = sd.choose_box(t, sd.PrimConfig(min_density=0.99))
    assert box is None and "0.99" in note


def test_failed_runs_and_conditions_classify():
    table = pd.DataFrame({
        "status": ["optimal", "optimal", "optimal", "infeasible", "error", "optimal"],
        "c": [17.0, 19.0, 11.0, math.nan, math.nan, math.nan],
    })
    band = {"c": sd.Condition(above=18.0, below=12.0)}
    failed, why = sd.classify(table, band)
    assert failed.tolist() == [False, True, True, True, True, True]
    assert why[1] == "c > 18" and why[2] == "c < 12"
    assert why[3] == "no plan (infeasible)" and why[4] == "no plan (error)"
    assert why[5] == "c missing"
    failed, _ = sd.classify(table, {"c": sd.Condition(above=18.0)})
    assert failed.tolist() == [False, True, False, True, True, True]


def test_harness_on_the_planted_box_writes_every_file(tmp_path):
    """The whole pipeline (Latin hypercube → evaluate → classify → PRIM → files) on the
    known function: the report's sentence names the planted limits."""
    cfg = sd.DiscoveryConfig(n=600, workers=1, progress=False, prim=sd.PrimConfig(min_density=0.8),
                             failure={"y": sd.Condition(above=0.5)})
    res = sd.run_discovery(cfg, evaluate=sd.planted_box, inputs=UNIT, out_dir=tmp_path)
    for name in FILES:
        assert (tmp_path / name).is_file(), name
    samples = read_csv(tmp_path / "samples.csv")
    assert len(samples) == 600
    # a Latin hypercube: one sample in each of the 600 strata of every input
    for c in UNIT:
        assert sorted(np.floor(res.samples[c] * 600).astype(int)) == list(range(600))
    inside = samples["x1"].between(0.2, 0.5) & samples["x2"].between(0.6, 0.9)
    assert (samples["failed"] == inside).all()
    box = res.summary["chosen_box"]
    assert set(box["limits"]) == {"x1", "x2"}
    assert box["limits"]["x1"]["low"] == pytest.approx(0.2, abs=0.03)
    assert box["limits"]["x2"]["high"] == pytest.approx(0.9, abs=0.03)
    assert box["coverage"] > 0.9 and box["density"] > 0.9
    # samples.csv's in_box is the chosen box's membership
    assert samples["in_box"].sum() == box["samples_in_box"]
    assert (samples.loc[samples["in_box"], "failed"]).sum() == box["cases_in_box"]
    table = read_csv(tmp_path / "scenario_discovery.csv")
    chosen = table[table["chosen"]]
    assert len(chosen) == 4 and set(chosen.loc[chosen["restricted"], "input"]) == {"x1", "x2"}
    assert {"coverage", "density", "mass", "restricted_inputs", "label", "unit", "low", "high",
            "sampled_low", "sampled_high"} <= set(table.columns)
    assert table["box"].nunique() == res.summary["prim"]["trajectory_boxes"]
    report = (tmp_path / "report.md").read_text()
    assert ("mainly when the x1 is between 0.2" in report
            or "mainly when the x2 is between" in report)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failures"] == int(inside.sum())

    # PRIM again on the saved evaluations (no model runs): the same box; with another failure
    # definition, other cases
    again = sd.reanalyse(cfg, tmp_path, inputs=UNIT, out_dir=tmp_path / "again")
    b2 = again.summary["chosen_box"]
    assert (b2["coverage"], b2["density"]) == pytest.approx((box["coverage"], box["density"]))
    assert b2["limits"]["x1"]["low"] == pytest.approx(box["limits"]["x1"]["low"], abs=1e-5)
    assert (tmp_path / "again" / "summary.json").is_file()
    never = sd.DiscoveryConfig(failure={"y": sd.Condition(above=2.0)})
    none = sd.reanalyse(never, tmp_path / "samples.csv", inputs=UNIT, out_dir=tmp_path / "none")
    assert none.summary["failures"] == 0 and none.summary["chosen_box"] is None
    assert "holds in every one of the 600 samples" in sd.box_sentence(none.summary)
    assert (tmp_path / "none" / "box_limits.png").is_file()


def test_success_mode_looks_for_where_it_holds():
    x, y, _ = planted_sample(n=600, flip=0.0)
    # cases = outside the planted box (91%): already denser than 0.8 everywhere, so the chosen
    # box is the whole range (nothing to restrict to reach the density)
    res = sd.run_prim(x, ~y, sd.PrimConfig(min_density=0.8), {c: (0.0, 1.0) for c in x.columns})
    assert res.chosen == 0


def test_small_real_model_run_counts_infeasible_as_failure(tmp_path):
    """The optimiser's plan (18 months hard): demand down to a quarter of the 2025 sales rate with
    at most 1 亿元 a year of purchases cannot reach the goal: those samples are infeasible and
    count as failures; every file is written."""
    keep = ("demand.multiplier", "targets.purchase_budget_100m_yuan_per_year",
            "sim.price_response")
    drop = [k for k in sa.load_config().inputs if k not in keep]
    cfg = sd.load_config(REPO_ROOT / "conf" / "discovery" / "optimised.yaml", [
        "discovery.n=12", "discovery.replications=5", "discovery.workers=1",
        "discovery.progress=false", "discovery.inputs.demand.multiplier.low=0.25",
        "discovery.inputs.targets.purchase_budget_100m_yuan_per_year.high=1",
        f"discovery.drop_inputs=[{','.join(drop)}]"])
    res = sd.run_discovery(cfg, out_dir=tmp_path)
    for name in FILES:
        assert (tmp_path / name).is_file(), name
    s = res.samples
    infeasible = s["status"] == "infeasible"
    assert infeasible.sum() >= 2 and (s["status"] == "optimal").sum() >= 2
    assert s.loc[infeasible, "failed"].all()
    assert (s.loc[infeasible, "failure_reason"] == "no plan (infeasible)").all()
    assert s.loc[infeasible, "cycle_months_city_end"].isna().all()
    ok = s["status"] == "optimal"
    assert (s.loc[ok, "failed"] == (s.loc[ok, "cycle_months_city_end"] > 18)).all()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["failures_without_plan"] == int(infeasible.sum())
    assert summary["failures"] == int(s["failed"].sum())
    assert summary["model"]["targets.cycle.mode"] == "hard"
    assert summary["model"]["uncertainty.enabled"] is False
    # the infeasible samples sit at low demand: the box, if any, restricts demand from above
    box = summary["chosen_box"]
    if box and "demand.multiplier" in box["limits"]:
        assert box["limits"]["demand.multiplier"]["high"] < 1.25


def test_default_configs_reuse_the_sensitivity_inputs():
    sens = sa.load_config()
    for name, dropped in (("default", {"targets.purchase_budget_100m_yuan_per_year"}),
                          ("optimised", set())):
        cfg = sd.load_config(REPO_ROOT / "conf" / "discovery" / f"{name}.yaml")
        ev = sd.evaluation_config(cfg)
        assert set(ev.inputs) == set(sens.inputs) - dropped
        for k, b in ev.inputs.items():  # same bounds, labels and units: one source of truth
            assert (b.low, b.high, b.label, b.unit) == (sens.inputs[k].low, sens.inputs[k].high,
                                                        sens.inputs[k].label, sens.inputs[k].unit)
            assert b.unit, k
        need = {"demand.multiplier", "sim.price_response", "timing.pipeline_10k_m2"}
        assert need <= set(ev.inputs)
        assert ev.model["uncertainty.enabled"] is False
        assert "cycle_months_city_end" in ev.outcomes
    # the older outcome name (with Chifeng's last plan year) still works
    old = sd.load_config(None, ["discovery.failure={cycle_months_city_2030: {above: 18}}"])  # ALIAS-KEEP
    assert list(old.failure) == ["cycle_months_city_end"]
    default = sd.evaluation_config(sd.load_config())
    assert default.model["fixed_plan"] == "guidance" and default.model["evaluate_only"] is True
    # a partial input override keeps the rest of the bound
    cfg = sd.load_config(None, ["discovery.inputs.sim.price_response.low=-0.5"])
    b = sd.evaluation_config(cfg).inputs["sim.price_response"]
    assert (b.low, b.high, b.label) == (-0.5, 1.0, "price response")


@pytest.mark.parametrize("overrides, key", [
    (["discovery.inputs.demand.multiplyer.low=0.5"], "discovery.inputs.demand.multiplyer"),
    (["discovery.inputs.demand.multiplyer.low=0.5", "discovery.inputs.demand.multiplyer.high=1"],
     "discovery.inputs.demand.multiplyer"),
    (["discovery.failure.cycle_months_city_2031.above=18"], "discovery.failure"),
    (["discovery.failure.cycle_months_city_end.below=20"],
     "discovery.failure.cycle_months_city_end"),
    (["discovery.failure={}"], "discovery.failure"),
    (["discovery.drop_inputs=[demand.level]"], "discovery.drop_inputs"),
    (["discovery.find=both"], "discovery.find"),
    (["discovery.prim.min_density=1.5"], "discovery.prim.min_density"),
    (["discovery.bakend=dask"], "discovery.bakend"),
    (["discovery.inputs.sim.price_response.low=5"], "discovery.inputs.sim.price_response"),
    (["discovery.model.sim.shock_correlation=2"], "discovery.model"),
    (["discovery.model.sim.replications=10"], "discovery.model.sim.replications"),
])
def test_bad_config_is_one_line_naming_the_key(overrides, key, capsys, monkeypatch):
    def no_run(cfg):
        raise AssertionError("a bad config must stop before any evaluation")

    monkeypatch.setattr(sd, "run_discovery", no_run)
    assert sd.main(overrides) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("analysis.discovery: input error: ") and key in err[0], err[0]


def test_failure_text_and_limit_phrases():
    text = sd.failure_text({"cycle_months_city_end": sd.Condition(above=18.0, below=12.0)})
    assert "outside 12–18 months" in text and "no plan" in text
    assert sd.limit_phrase("demand level", "×", 0.75, 0.93, 0.75, 1.25) == \
        "demand level is below 0.93 ×"
    assert sd.limit_phrase("pipeline", "万m²", 120, 200, 50, 200) == \
        "pipeline is above 120 万m²"
    assert sd.limit_phrase("lag", "months", 10, 12, 9, 18) == "lag is between 10 and 12 months"
    assert sd.limit_phrase("growth", "share a year", -0.05, 0.012, -0.05, 0.03) == \
        "growth is below +1.2% a year"
    assert sd.limit_phrase("price response", "coefficient", -1, 0.5, -1, 1) == \
        "price response is below 0.5"


def test_trajectory_kept_when_no_box_is_dense_enough():
    """ema_workbench returns no trajectory if its last box misses its threshold; run_prim keeps
    the trajectory and says how dense the densest box got."""
    x, y, _ = planted_sample(flip=0.05)
    res = sd.run_prim(x, y, sd.PrimConfig(min_density=0.999), {c: (0.0, 1.0) for c in x.columns})
    assert res.chosen is None
    assert len(res.trajectory) > 10
    assert "no box on the trajectory reaches density" in res.note
    assert 0.5 < res.trajectory["density"].max() < 0.999
