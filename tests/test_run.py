"""The entry point: configs compose, runs write self-describing directories, exit codes, and bad
input gives a clear one-line error and no traceback. CLI tests run ``python -m model.run`` in a
subprocess with ``hydra.run.dir`` in a temporary folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from model import results
from model.config import SimConfig, to_settings
from model.run import run_model

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"
HAND = REPO / "tests" / "data" / "hand_2x2"
MINI = REPO / "tests" / "data" / "mini_city"
SCENARIOS = sorted(p.stem for p in (CONF / "scenario").glob("*.yaml"))


def compose_cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def cli(tmp_path: Path, *overrides: str) -> tuple[int, str, Path]:
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "model.run",
            f"hydra.run.dir={run_dir}",
            "sim.enabled=false",
            *overrides,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr, run_dir


# ---------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------
def test_required_scenarios_ship():
    assert {"plan_as_written", "tight_land", "weak_demand", "purchase_push", "district"} <= set(
        SCENARIOS
    )


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_composes_and_says_what_it_answers(name):
    text = (CONF / "scenario" / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# @package _global_")
    assert "Question:" in text
    settings = to_settings(compose_cfg(f"+scenario={name}"))
    assert settings.scenario == name


def test_override_keys_from_the_issue():
    s = to_settings(
        compose_cfg("targets.cycle_months_end=21", "targets.cycle.mode=hard", "land.rule=9.3")
    )
    assert (
        s.targets.cycle_months_end == 21
        and s.targets.cycle.mode == "hard"
        and s.land.rule == "strict"  # 9.3 is the older name of the strict rule
    )


def test_sim_group_contract():
    names = {f.name for f in fields(SimConfig)}
    assert {
        "enabled",
        "replications",
        "seed",
        "deterministic",
        "seasonality",
        "price_response",
        "demand_level_sd",
        "shock_sd",
        "shock_correlation",
        "shock_persistence",
        "enforce_presale_timing",
        "land_rule",
        "mid_year_review",
    } <= names
    sim = to_settings(compose_cfg()).sim
    # land_rule null: the replay applies the optimiser's land.rule
    assert (sim.enabled, sim.replications, sim.seed, sim.land_rule) == (True, 200, 20260101, None)
    assert len(sim.seasonality) == 12 and sum(sim.seasonality) / 12 == pytest.approx(1.0)
    assert max(sim.seasonality) in sim.seasonality[8:10]  # 金九银十


# ---------------------------------------------------------------------------------------------
# run_model (in process)
# ---------------------------------------------------------------------------------------------
def test_run_model_plan_as_written_headline():
    out = run_model(compose_cfg("+scenario=plan_as_written"))
    assert out.status == "optimal" and out.exit_code == 0 and out.problem_type == "LP"
    h = out.headline
    assert h["supply_total_10k_m2"] == pytest.approx(1231.31) and h[
        "land_total_ha"
    ] == pytest.approx(607.57)
    assert h["inventory_end_city_10k_m2"] == pytest.approx(482.01, abs=1e-6)
    assert h["cycle_months_city"] > 18 and h["targets_missed"] > 0
    assert "land_rule[yuanbaoshan,2026]" in out.summary["rules_broken"]


@pytest.mark.parametrize("scenario", ["weak_demand", "purchase_push"])
def test_run_model_scenarios_optimal(scenario):
    out = run_model(compose_cfg(f"+scenario={scenario}"))
    assert out.status == "optimal" and out.problem_type == "MILP"
    plan = out.tables["plan"]
    if scenario == "purchase_push":
        money = out.tables["money"]
        city = money[money.region == "city"]
        assert (city.purchase_spending_100m_yuan <= 10 + 1e-6).all()  # the hard budget
        assert plan.subsidised_new_10k_m2.sum() == pytest.approx(0, abs=1e-9)  # purchases only
        assert plan.groupby("year").purchased_10k_m2.sum().min() >= 20 - 1e-6
    else:
        assert plan.supply_10k_m2.sum() < run_model(compose_cfg()).headline["supply_total_10k_m2"]


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------
def test_cli_default_run_directory(tmp_path):
    code, out, run_dir = cli(tmp_path, "report.lang=en")  # Chinese: tests/test_summary_lang.py
    assert code == 0, out
    for name in (
        "plan.csv",
        "targets.csv",
        "duals.csv",
        "money.csv",
        "summary.json",
        ".hydra/config.yaml",
    ):
        assert (run_dir / name).exists(), name
    plan = pd.read_csv(run_dir / "plan.csv", encoding="utf-8-sig")
    assert list(plan.columns[:10]) == results.PLAN_COLUMNS
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "optimal" and summary["problem_type"] == "MILP"
    assert summary["solver"]["solver"] == "HiGHS" and summary["solver"]["highspy"]
    assert summary["data_hash"] and summary["config"]["targets"]["cycle"]["mode"] == "soft"
    assert {
        "cycle_months_city",
        "cycle_months_main_city",
        "vacancy_share_city",
        "vacancy_share_main_city",
        "land_total_ha",
        "supply_total_10k_m2",
        "unmet_demand_10k_m2",
    } <= set(summary["headline"])
    assert summary["solve_time_s"] > 0 and summary["objective"] is not None
    duals = pd.read_csv(run_dir / "duals.csv", encoding="utf-8-sig")
    assert {"dual_points_per_unit", "rhs_unit", "rhs_lower", "rhs_upper", "reading"} <= set(
        duals.columns
    )
    assert len(duals) > 0 and duals.reading.str.contains("objective by").all()
    targets = pd.read_csv(run_dir / "targets.csv", encoding="utf-8-sig")
    assert {"required", "achieved", "slack", "met", "shortfall", "mode"} <= set(targets.columns)
    assert "destocking cycle" in out and "targets missed" in out and "Traceback" not in out


def test_cli_infeasible_hard_targets_exit_2(tmp_path):
    code, out, run_dir = cli(
        tmp_path,
        f"dataset={HAND}",
        "demand.source=plan",
        "demand.multiplier=0.2",
        "land.rule=none",
        "targets.cycle_scope=city",
        "targets.cycle_months_end=1",
        "targets.cycle.mode=hard",
        "targets.purchase_budget_100m_yuan_per_year=0",
        "targets.purchase_budget.mode=hard",
    )
    assert code == 2, out
    assert "conflict" in out and "cycle_months[city]" in out and "Traceback" not in out
    relax = pd.read_csv(run_dir / "relaxation.csv", encoding="utf-8-sig")
    cycle = relax[relax.target_id == "cycle_months"].iloc[0]
    assert (
        cycle.in_conflict
        and cycle.relaxation_alone == pytest.approx(31.4, abs=1e-4)
        and cycle.unit == "months"
    )
    assert not (run_dir / "plan.csv").exists()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "infeasible"


def _broken_dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(MINI, folder)
    demand = (folder / "demand.csv").read_text().replace("core,2026,12,", "core,2026,twelve,")
    (folder / "demand.csv").write_text(demand)
    (folder / "inventory_2025.csv").write_text(
        "region_id,inventory_10k_m2,cycle_months,source\ncore,24,24,test\n"
    )
    return folder


BAD_INPUTS = [
    (["targets.cycle_monts_2030=3"], ["cycle_monts_2030"]),
    (["demand.multiplier=abc"], ["demand.multiplier"]),
    (["demand.multiplier=-1"], ["demand.multiplier = -1.0 is not valid"]),
    (["land.rule=x"], ["land.rule = 'x' is not valid; expected one of: national, strict, none"]),
    (["+targets.foo=1"], ["unknown config key 'targets.foo'"]),
    (["targets.cycle.mode=hardd"], ["targets.cycle.mode = 'hardd' is not valid"]),
    (["dataset=/nonexistent/folder"], ["dataset folder not found"]),
    (
        ["demand.source=csv", "demand.csv=/nonexistent.csv"],
        ["demand.csv = '/nonexistent.csv': file not found"],
    ),
    (
        [f"dataset={MINI}", "level=district"],
        ["level = 'district' but dataset 'mini_city' has no district tables"],
    ),
    (
        ["BROKEN"],
        [
            "demand.csv line 2, column demand_10k_m2: value 'twelve'",
            "inventory_2025.csv: no row for region 'county'",
        ],
    ),
]


@pytest.mark.parametrize(
    "overrides, expected", BAD_INPUTS, ids=[" ".join(o) for o, _ in BAD_INPUTS]
)
def test_cli_bad_input_one_line_no_traceback(tmp_path, overrides, expected):
    if overrides == ["BROKEN"]:
        overrides = [f"dataset={_broken_dataset(tmp_path)}"]
    code, out, run_dir = cli(tmp_path, *overrides)
    assert code == 1, out
    assert "Traceback" not in out
    for text in expected:
        lines = [line for line in out.splitlines() if text in line]
        assert lines, f"{text!r} not in:\n{out}"
    assert not (run_dir / "plan.csv").exists()
    if (run_dir / "summary.json").exists():
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "input_error"


def test_sweep_resolves_without_rebuilding():
    from model.run import Sweep

    sweep = Sweep(compose_cfg("solver.duals=false"))
    built = sweep.model
    a = sweep.run({"demand.multiplier": 0.9, "targets.cycle_months_end": 21})
    b = run_model(
        compose_cfg("solver.duals=false", "demand.multiplier=0.9", "targets.cycle_months_end=21")
    )
    assert a.status == b.status == "optimal" and sweep.model is built and sweep.rebuilds == 0
    assert a.summary["objective"] == pytest.approx(b.summary["objective"], rel=1e-7)
    assert a.headline["supply_total_10k_m2"] == pytest.approx(b.headline["supply_total_10k_m2"])
    c = sweep.run({"land.rule": "9.3"})  # a new shape: rebuilt, transparently
    assert c.status == "optimal" and sweep.rebuilds == 1
    bad = sweep.run({"demand.multiplier": -1})
    assert bad.status == "input_error" and "demand.multiplier" in bad.messages[0]
