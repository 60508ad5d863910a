"""The sensitivity harness: known answers (Ishigami), the real model's ranking, infeasible samples
as outcomes, Dask = joblib, and one-line config errors."""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis import sensitivity as sa
from model.config import ConfigError
from model.data import REPO_ROOT

PI = math.pi
ISHIGAMI_S1 = (0.3139, 0.4424, 0.0)
ISHIGAMI_ST = (0.5576, 0.4424, 0.2437)
# A sample the optimiser cannot serve with the default SA base: 25% less demand falling 5% a
# year, no purchase budget, and the 2030 cycle target hard (region-level cycles above 18 months
# cannot be sold down in time).
# a quarter of the 2025 sales rate sells about 230 万m² over 2026–2030 against 482 in stock:
# without a purchase budget no plan brings the city under the hard 18 months
INFEASIBLE = {"demand.multiplier": 0.25, "targets.purchase_budget_100m_yuan_per_year": 0.0}


def ishigami_config(**kw) -> sa.SensitivityConfig:
    bounds = {f"x{i}": sa.InputBound(-PI, PI, f"x{i}") for i in (1, 2, 3)}
    base = dict(method="sobol", n=1024, num_resamples=100, workers=1, progress=False,
                outcomes=["feasible"], inputs=bounds)
    base.update(kw)
    return sa.SensitivityConfig(**base)


def small_model_config(**kw) -> sa.SensitivityConfig:
    cfg = sa.load_config(None, ["sensitivity.progress=false", "sensitivity.replications=20"])
    keep = ("demand.multiplier", "land.plot_ratio", "sim.shock_sd")
    cfg.inputs = {k: v for k, v in cfg.inputs.items() if k in keep}
    for key, value in kw.items():
        setattr(cfg, key, value)
    return cfg


def test_ishigami_sobol_recovers_known_indices():
    res = sa.run_analysis(ishigami_config(), evaluate=sa.ishigami, write=False)
    idx = res.indices[res.indices["outcome"] == "y"].set_index("input")
    assert np.allclose(idx.loc[["x1", "x2", "x3"], "S1"], ISHIGAMI_S1, atol=0.05)
    assert np.allclose(idx.loc[["x1", "x2", "x3"], "ST"], ISHIGAMI_ST, atol=0.05)
    # x3 acts only through its interaction with x1: S1 ≈ 0 but ST ≈ 0.24
    assert idx.loc["x3", "ST"] - idx.loc["x3", "S1"] > 0.15
    assert list(idx.sort_values("ST", ascending=False).index) == ["x1", "x2", "x3"]
    assert (idx["ST_conf"] > 0).all() and (idx["ST_conf"] < 0.1).all()
    assert res.summary["status_counts"]["optimal"] == 1024 * 5


def test_ishigami_morris_ranks_x3_by_interaction():
    res = sa.run_analysis(ishigami_config(method="morris", n=200), evaluate=sa.ishigami,
                          write=False)
    idx = res.indices[res.indices["outcome"] == "y"].set_index("input")
    assert res.summary["evaluations"] == 200 * 4
    # x1 and x2 carry the main effects; x3's effect exists only through x1 (σ ≥ μ*, μ ≈ 0)
    assert idx.loc["x3", "mu_star"] < idx.loc["x1", "mu_star"]
    assert abs(idx.loc["x3", "mu"]) < 0.5 * idx.loc["x3", "mu_star"] + 0.5
    assert idx.loc["x3", "sigma"] > 0.5 * idx.loc["x3", "mu_star"]


def test_nan_blocks_are_dropped_whole_and_counted():
    cfg = ishigami_config(n=256)
    problem = sa.problem_of(cfg.inputs)
    X = sa.make_samples(problem, "sobol", 256, cfg.seed)
    y = np.array([sa.ishigami(dict(zip(problem["names"], r)))["y"] for r in X])
    y[[7, 5 * 10 + 2]] = np.nan  # one NaN in block 1, one in block 10
    table = pd.DataFrame({"y": y})
    indices, usage = sa.analyse(problem, X, table, ["y"], "sobol", num_resamples=50)
    assert usage.loc[0, "blocks_dropped"] == 2 and usage.loc[0, "blocks_used"] == 254
    assert indices["ST"].notna().all()
    st = indices.set_index("input")["ST"]
    assert np.allclose(st.loc[["x1", "x2", "x3"]], ISHIGAMI_ST, atol=0.12)


def test_infeasible_sample_is_an_outcome_not_a_crash():
    cfg = small_model_config()
    ev = sa.ModelEvaluator.from_config(cfg)
    bad = ev(INFEASIBLE)
    good = ev({"demand.multiplier": 1.0})
    assert bad["status"] == "infeasible" and bad["feasible"] == 0.0
    assert math.isnan(bad["land_ha"]) and math.isnan(bad["cycle_months_city_end"])
    assert good["status"] == "optimal" and good["feasible"] == 1.0
    assert good["land_ha"] > 100 and 0 < good["cycle_months_city_end"] < 36


def test_real_model_sobol_demand_dominates_land():
    """Land used is demand ÷ plot ratio, shaped by the land rule: the demand level (±25%) must
    outrank the plot ratio (±10%), and the replay's shock size cannot touch the optimiser's
    land at all (ST = 0). In the replay's cycle the shock size does act."""
    cfg = small_model_config(n=32, num_resamples=100)
    res = sa.run_analysis(cfg, write=False)
    idx = res.indices.set_index(["outcome", "input"])
    land = idx.loc["land_ha"]
    assert land["ST"].idxmax() == "demand.multiplier"
    assert land.loc["demand.multiplier", "ST"] > 0.6
    assert land.loc["demand.multiplier", "ST"] > land.loc["land.plot_ratio", "ST"] > 0.01
    assert abs(land.loc["sim.shock_sd", "ST"]) < 0.01
    assert abs(land.loc["sim.shock_sd", "S1"]) < 0.01
    assert res.summary["evaluations"] == 32 * 5
    assert res.summary["status_counts"]["optimal"] == 32 * 5


def test_dask_cluster_gives_the_joblib_outcomes(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = small_model_config()
    ev = sa.ModelEvaluator.from_config(cfg)
    samples = [{"demand.multiplier": m, "land.plot_ratio": p, "sim.shock_sd": s}
               for m, p, s in [(0.8, 1.9, 0.05), (1.2, 2.1, 0.2), (1.0, 2.0, 0.1)]]
    samples.append(INFEASIBLE)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        on_dask = sa.run_samples(ev, samples, backend="dask", scheduler=cluster.scheduler_address)
        in_blocks = sa.run_samples(ev, samples, backend="dask", block=2,
                                   scheduler=cluster.scheduler_address)
    on_joblib = sa.run_samples(ev, samples, backend="joblib", workers=2)
    in_process = sa.run_samples(ev, samples, backend="joblib", workers=1)
    joblib_blocks = sa.run_samples(ev, samples, backend="joblib", workers=2, block=2)
    drop = ("eval_time_s", "message", "model_build")  # timings, HiGHS time, process ids
    a = pd.DataFrame(on_dask).drop(columns=list(drop))
    b = pd.DataFrame(on_joblib).drop(columns=list(drop))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pd.DataFrame(in_process).drop(columns=list(drop)), b)
    assert list(a["status"]) == ["optimal", "optimal", "optimal", "infeasible"]
    for rows in (in_blocks, joblib_blocks):  # in order; a block's rows on one worker's model
        pd.testing.assert_frame_equal(pd.DataFrame(rows).drop(columns=list(drop)), a)
        assert rows[0]["model_build"] == rows[1]["model_build"]
        assert rows[2]["model_build"] == rows[3]["model_build"]


def test_default_config_composes_and_every_input_is_a_model_key():
    cfg = sa.load_config()
    base = sa.check_against_model(cfg)
    assert base.sim.replications == cfg.replications
    need = {"demand.multiplier", "demand.growth", "vacancy.household_formation_10k_per_year",
            "land.plot_ratio", "timing.lag_months_mean", "timing.pipeline_10k_m2",
            "sim.price_response", "sim.shock_sd",
            "targets.purchase_budget_100m_yuan_per_year"}
    assert need <= set(cfg.inputs)
    text = (REPO_ROOT / "conf" / "sensitivity" / "default.yaml").read_text()
    for name in cfg.inputs:  # every bound says where it comes from
        block = text.split(f"    {name}:\n", 1)[1].split("      low:")[0]
        assert block.strip().startswith("#"), name


@pytest.mark.parametrize("override, key", [
    ("sensitivity.method=sobolx", "sensitivity.method"),
    ("sensitivity.inputs.demand.multiplier.low=2", "sensitivity.inputs.demand.multiplier"),
    ("sensitivity.inputs.demand.multiplyer.low=0.5", "sensitivity.inputs.demand.multiplyer"),
    ("sensitivity.bakend=dask", "sensitivity.bakend"),
    ("sensitivity.outcomes=[cycle]", "sensitivity.outcomes"),
    ("sensitivity.n=20", "sensitivity.n"),  # Sobol' sampling needs a power of 2
])
def test_bad_config_is_one_line_naming_the_key(override, key, capsys):
    extra = (["sensitivity.inputs.demand.multiplyer.high=0.9"] if "multiplyer" in override
             else [])
    assert sa.main([override, *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0]


def test_a_misspelt_input_with_one_bound_is_named_with_the_nearest(capsys):
    assert sa.main(["sensitivity.inputs.demand.multipler.low=0.8"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sensitivity.inputs.demand.multipler: not a configured input" in err[0]
    assert "did you mean demand.multiplier?" in err[0]


def test_cli_bad_method_exits_1_without_traceback():
    out = subprocess.run([sys.executable, "-m", "analysis.sensitivity", "sensitivity.method=pca"],
                         capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == ("analysis.sensitivity: input error: sensitivity.method = "
                                  "'pca' is not valid; expected one of: sobol, morris")


def test_run_writes_its_files(tmp_path):
    res = sa.run_analysis(ishigami_config(n=64), evaluate=sa.ishigami, out_dir=tmp_path / "run")
    names = {p.name for p in res.out_dir.iterdir()}
    assert {"samples.csv", "indices.csv", "blocks.csv", "ranking.png", "summary.json",
            "report.md", "config.yaml"} <= names
    idx = pd.read_csv(res.out_dir / "indices.csv", encoding="utf-8-sig")
    assert list(idx.columns[:8]) == ["method", "outcome", "input", "label", "S1", "S1_conf", "ST",
                                     "ST_conf"]
    assert len(pd.read_csv(res.out_dir / "samples.csv", encoding="utf-8-sig")) == 64 * 5
    with pytest.raises(ConfigError):
        sa.check_config(ishigami_config(method="fast"))


def test_cli_workers_reuse_their_built_model(tmp_path):
    """Through `python -m analysis.sensitivity` (where the evaluator lives in __main__), each
    worker builds the model once and re-solves it for every sample: at most one build per worker."""
    out = tmp_path / "sa"
    proc = subprocess.run([sys.executable, "-m", "analysis.sensitivity", "sensitivity.n=2",
                           "sensitivity.workers=2", "sensitivity.replications=5",
                           "sensitivity.progress=false", f"sensitivity.out={out}"],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    samples = pd.read_csv(out / "samples.csv", encoding="utf-8-sig")
    assert len(samples) == 2 * (11 + 2)  # 11 inputs (docs/sensitivity.md)
    assert samples["model_build"].nunique() <= 2


def test_an_experiments_processes_run_highs_on_one_thread(tmp_path):
    """A process that evaluates samples starts HiGHS's pool with one thread before its model is
    built (model.solve.single_thread_highs): the workers share the cores, and on several threads
    HiGHS may return another of two tied plans, so outcomes would depend on the worker count. A
    process that solved first keeps its pool (single_thread_highs says so)."""
    script = (
        "import sys, highspy\n"
        "from analysis import sensitivity as sa\n"
        "def mip(log):\n"
        "    h = highspy.Highs(); h.setOptionValue('log_to_console', False)\n"
        "    h.setOptionValue('log_file', log); h.setOptionValue('presolve', 'off')\n"
        "    h.addVar(0, 1); h.changeColIntegrality(0, highspy.HighsVarType.kInteger)\n"
        "    h.changeColCost(0, -1.0); h.run(); return h.modelStatusToString(h.getModelStatus())\n"
        "if sys.argv[1] == 'solved_first': mip(sys.argv[2] + '.first')\n"
        "cfg = sa.load_config(None, ['sensitivity.progress=false'])\n"
        "sa._sweep_for(sa.ModelEvaluator.from_config(cfg).base)\n"
        "from model import solve\n"
        "print(solve._single_thread, mip(sys.argv[2]))\n"
    )
    out, logs = {}, {}
    for mode in ("experiment", "solved_first"):
        log = tmp_path / f"{mode}.log"
        res = subprocess.run([sys.executable, "-c", script, mode, str(log)], check=True,
                             cwd=REPO_ROOT, capture_output=True, text=True)
        out[mode], logs[mode] = res.stdout.split()[-2:], log.read_text()
    assert out["experiment"] == ["True", "Optimal"]
    assert "across 1 threads" in logs["experiment"]
    if (os.cpu_count() or 1) > 1:  # HiGHS's default on one core is one thread anyway
        assert out["solved_first"] == ["False", "Optimal"]
        assert "across 1 threads" not in logs["solved_first"]


def _which_process(sample):
    return {"i": sample["i"], "pid": os.getpid()}


def test_a_block_goes_to_one_worker_in_order():
    """run_samples(block=k) sends each run of k samples to one worker (a Saltelli block reuses
    its A row's plan there) and returns the rows in sample order."""
    samples = [{"i": float(i)} for i in range(78)]
    rows = sa.run_samples(_which_process, samples, backend="joblib", workers=2, block=13)
    assert [r["i"] for r in rows] == [s["i"] for s in samples]
    for b in range(0, 78, 13):
        assert len({r["pid"] for r in rows[b:b + 13]}) == 1


def test_report_cautions_when_confidence_is_as_wide_as_the_index():
    wide = pd.DataFrame({"outcome": ["y"] * 3, "input": ["a", "b", "c"],
                         "ST": [0.6, 0.3, 0.01], "ST_conf": [0.1, 0.4, 0.5]})
    lines = sa.precision_lines(wide, 32)
    assert lines and "1 of the 2 indices of 0.05 or more" in lines[1]
    assert sa.precision_lines(wide.assign(ST_conf=[0.1, 0.1, 0.5]), 1024) == []


def test_solver_floor_benchmark_tries_settings_on_the_same_models():
    """benchmarks/bench_solver_floor.py --try: each model solved with the run's options and
    each setting, compared model by model. Two hand-solved MILPs, x binary, 2·x1 + 2·x2 ≤ 3:
    min −x1 − x2 (optimum −1, LP relaxation −1.5) and min −x1 − 4·x2 (−4; LP −4.5): the LP's
    largest relative difference is 0.5 (first model; 0.125 on the second); it would be 3.5 if
    the relaxations were compared with the other model's optimum."""
    import runpy

    import highspy

    from model.config import SolverConfig

    bench = runpy.run_path(str(REPO_ROOT / "benchmarks" / "bench_solver_floor.py"),
                           run_name="bench")

    def milp(costs):
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = 2, 1
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = costs, [0.0, 0.0], [1.0, 1.0]
        lp.row_lower_, lp.row_upper_ = [-highspy.kHighsInf], [3.0]
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_ = [0, 1, 2], [0, 0]
        lp.a_matrix_.value_ = [2.0, 2.0]
        lp.integrality_ = [highspy.HighsVarType.kInteger] * 2
        return lp

    tried = bench["try_settings"]([milp([-1.0, -1.0]), milp([-1.0, -4.0])], SolverConfig(),
                                  ["lp", "mip_rel_gap=1e-4,presolve=off"])
    assert list(tried) == ["base", "lp", "mip_rel_gap=1e-4,presolve=off"]
    assert tried["base"]["max_rel_objective_diff"] == 0.0
    assert tried["lp"]["max_rel_objective_diff"] == pytest.approx(0.5)
    assert tried["mip_rel_gap=1e-4,presolve=off"]["max_rel_objective_diff"] == 0.0
    assert all(t["not_optimal"] == 0 for t in tried.values())
    assert bench["parse_setting"]("mip_allow_restart=false,threads=1") == {
        "mip_allow_restart": False, "threads": 1}
    with pytest.raises(SystemExit, match="expected option=value"):
        bench["parse_setting"]("presolve")
