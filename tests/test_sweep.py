"""Sweeps (``python -m model.run -m``): jobs in parallel, one complete run directory each, failures
recorded with their reason while the others complete, reruns skip complete jobs. Real sweeps run
in a subprocess with small settings (20 replications, no duals) in a temporary sweep folder.

The ``scenario_sweep`` fixture (session scope) is shared with test_compare.py and test_report.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from model import sweep
from model.config import register_configs

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"
SMALL = ["sim.replications=20", "solver.duals=false"]
SCENARIOS = ("plan_as_written", "tight_land", "weak_demand")


def run_sweep(sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    """``python -m model.run -m <overrides> hydra.sweep.dir=<sweep_dir>`` from the repository."""
    return subprocess.run(
        [sys.executable, "-m", "model.run", "-m", *overrides, *SMALL,
         f"hydra.sweep.dir={sweep_dir}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )


def job_dir(sweep_dir: Path, scenario: str) -> Path:
    (found,) = [p for p in sweep_dir.iterdir() if p.name.startswith(f"+scenario={scenario},")]
    return found


@pytest.fixture(scope="session")
def scenario_sweep(tmp_path_factory) -> Path:
    """A finished sweep of three scenarios; returns the sweep folder."""
    sweep_dir = tmp_path_factory.mktemp("sweep") / "scenarios"
    proc = run_sweep(sweep_dir, "+scenario=" + ",".join(SCENARIOS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (sweep_dir / "first_run.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return sweep_dir


# ---------------------------------------------------------------------------------------------
# A sweep of three scenarios
# ---------------------------------------------------------------------------------------------
def test_three_scenarios_three_complete_run_dirs(scenario_sweep):
    for name in SCENARIOS:
        run_dir = job_dir(scenario_sweep, name)
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        assert summary["status"] == "optimal" and summary["scenario"] == name
        assert f"+scenario={name}" in summary["overrides"]
        for table in ("plan", "targets", "money", "monthly", "replay_summary"):
            assert (run_dir / f"{table}.csv").is_file(), (name, table)
        assert (run_dir / ".hydra" / "config.yaml").is_file()
        job = json.loads((run_dir / sweep.JOB_RECORD).read_text(encoding="utf-8"))
        assert job["status"] == "optimal" and job["exit_code"] == 0 and not job["skipped"]
    status = pd.read_csv(scenario_sweep / sweep.STATUS_FILE, encoding="utf-8-sig")
    assert len(status) == 3 and (status["status"] == "optimal").all()
    log = (scenario_sweep / "first_run.log").read_text(encoding="utf-8")
    assert "3 jobs, 3 with a plan" in log


def test_plan_as_written_land_is_table_48(scenario_sweep, chifeng):
    summary = json.loads((job_dir(scenario_sweep, "plan_as_written") / "summary.json").read_text())
    table_48 = sum(chifeng.land_guidance_ha().values())
    assert table_48 == pytest.approx(607.57, abs=1e-9)
    assert summary["headline"]["land_total_ha"] == pytest.approx(table_48, abs=1e-6)


def test_rerun_skips_complete_jobs(scenario_sweep):
    watched = [job_dir(scenario_sweep, s) / f for s in SCENARIOS
               for f in ("summary.json", "plan.csv", "monthly.csv")]
    before = {p: p.stat().st_mtime_ns for p in watched}
    proc = run_sweep(scenario_sweep, "+scenario=" + ",".join(SCENARIOS))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert {p: p.stat().st_mtime_ns for p in watched} == before
    assert out.count("skipped: ") == 3 and "3 skipped (already complete)" in out
    status = pd.read_csv(scenario_sweep / sweep.STATUS_FILE, encoding="utf-8-sig")
    assert len(status) == 3 and status["skipped"].all() and (status["status"] == "optimal").all()


# ---------------------------------------------------------------------------------------------
# Failing jobs
# ---------------------------------------------------------------------------------------------
def test_failing_jobs_are_reported_and_the_others_complete(tmp_path):
    # 4 jobs: land -5 is an input error (twice); 5% city vacancy as a hard target is infeasible;
    # the soft version of it, with 500 ha of land, is an ordinary run.
    sweep_dir = tmp_path / "failing"
    proc = run_sweep(
        sweep_dir, "targets.vacancy.mode=soft,hard", "targets.vacancy_share_city_end=0.05",
        "targets.land_total_ha=500,-5",
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out  # the largest exit code among the jobs: infeasible
    assert "Traceback" not in out
    status = pd.read_csv(sweep_dir / sweep.STATUS_FILE, encoding="utf-8-sig").fillna("")
    assert len(status) == 4
    by = {(("hard" if "mode=hard" in j else "soft"), ("-5" if "ha=-5" in j else "500")): row
          for j, row in zip(status["job"], status.to_dict("records"))}
    ok = by[("soft", "500")]
    assert ok["status"] == "optimal" and ok["exit_code"] == 0 and ok["reason"] == ""
    assert (Path(ok["run_dir"]) / "plan.csv").is_file()
    infeasible = by[("hard", "500")]
    assert infeasible["status"] == "infeasible" and infeasible["exit_code"] == 2
    assert "vacancy_share[city,2030]" in infeasible["reason"]
    assert (Path(infeasible["run_dir"]) / "relaxation.csv").is_file()
    for key in (("soft", "-5"), ("hard", "-5")):
        row = by[key]
        assert row["status"] == "input_error" and row["exit_code"] == 1
        assert "targets.land_total_ha = -5.0 is not valid" in row["reason"]
    assert "4 jobs, 1 with a plan, 3 without" in out


def test_run_job_records_an_unexpected_error(tmp_path):
    def boom() -> int:
        raise RuntimeError("kaput")

    code = sweep.run_job(tmp_path / "job", ["a=1"], boom)
    record = json.loads((tmp_path / "job" / sweep.JOB_RECORD).read_text())
    assert code == sweep.EXIT_ERROR and record["status"] == "error"
    assert "kaput" in record["reason"] and not record["skipped"]


def test_completeness_needs_same_overrides_and_data(tmp_path):
    (tmp_path / "summary.json").write_text(
        json.dumps({"status": "optimal", "overrides": ["b=2", "a=1"], "data_hash": "abc"}))
    assert sweep.completeness(tmp_path, ["a=1", "b=2"], "abc")[0]
    assert not sweep.completeness(tmp_path, ["a=1"], "abc")[0]
    assert not sweep.completeness(tmp_path, ["a=1", "b=2"], "xyz")[0]
    assert not sweep.completeness(tmp_path / "missing", ["a=1"])[0]


# ---------------------------------------------------------------------------------------------
# Committed sweep configs
# ---------------------------------------------------------------------------------------------
SWEEPS = sorted(p.stem for p in (CONF / "sweep").glob("*.yaml"))


def test_committed_sweeps_ship():
    assert {"scenarios", "cycle_target"} <= set(SWEEPS)


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_config_composes(name):
    """Each committed sweep names a fixed folder (so a rerun resumes) and every value of every
    swept key composes as an ordinary run."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"+sweep={name}"],
                      return_hydra_config=True)
        assert cfg.hydra.sweep.dir == f"runs/sweeps/{name}"
        params = dict(cfg.hydra.sweeper.params)
        assert params
        for key, values in params.items():
            for value in str(values).split(","):
                compose(config_name="config", overrides=[f"{key}={value}"])
    text = (CONF / "sweep" / f"{name}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# @package _global_") and f"+sweep={name}" in text
