"""The validation layer (docs/errors.md): every family of bad input gives one line naming the key
(or file, line, column), the value and what is valid, and a documented exit code; a run owns its
folder; nothing already written is lost.

Most tests call the functions the command line calls (in process, fast); a few run the commands
in a subprocess to check the whole path (one line on stderr, the exit code, the folder)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import fields, is_dataclass
from pathlib import Path

import pandas as pd
import pytest

from model import errors, rundir, sweep
from model.config import ConfigError, RunConfig, default_settings, with_overrides
from model.data import DatasetError, load_dataset, read_demand_csv, read_fixed_plan
from model.errors import EXIT_CODES, UserError
from model.run import config_hash, preflight, run_model
from model.validate import (
    check_override_syntax,
    replay_memory_bytes,
    replay_memory_problems,
    unknown_key_line,
)

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "data" / "mini_city"
HAND = REPO / "tests" / "data" / "hand_2x2"
DOCS = REPO / "docs" / "errors.md"


def one_line(exc: UserError) -> str:
    assert len(exc.problems) == 1, exc.problems
    assert "\n" not in exc.problems[0]
    return exc.problems[0]


def cli(*args: str, cwd: Path = REPO, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# Exit codes: one table, in the code and in the docs
# ---------------------------------------------------------------------------------------------
def test_exit_code_table_in_docs_matches_the_code():
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", DOCS.read_text(encoding="utf-8"), re.M)
    assert {int(code): text.strip() for code, text in rows} == EXIT_CODES
    assert "docs/errors.md" in (REPO / "README.md").read_text(encoding="utf-8")


def test_internal_error_is_one_line_with_the_traceback_in_a_file(capsys):
    def broken() -> int:
        raise RuntimeError("boom")

    with pytest.raises(SystemExit) as exit_:
        errors.cli("demo", broken)
    assert exit_.value.code == errors.EXIT_INTERNAL
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error" in err[0] and "RuntimeError: boom" in err[0]
    path = Path(err[0].rsplit("the traceback is in ", 1)[1])
    assert "Traceback" in path.read_text() and "boom" in path.read_text()
    path.unlink()


def test_ctrl_c_and_user_errors_in_the_wrapper(capsys):
    def interrupted() -> int:
        raise KeyboardInterrupt

    def bad() -> int:
        raise UserError(["a = 1 is not valid; expected 2", "b: missing"])

    for fn, code, lines in ((interrupted, 130, 1), (bad, 1, 2)):
        with pytest.raises(SystemExit) as exit_:
            errors.cli("demo", fn)
        assert exit_.value.code == code
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == lines and all(line.startswith("demo: ") for line in err)


# ---------------------------------------------------------------------------------------------
# Config: every number finite and sane, whatever the key
# ---------------------------------------------------------------------------------------------
def _float_keys(obj=None, prefix="") -> list[str]:
    obj = RunConfig() if obj is None else obj
    out = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            out += _float_keys(value, f"{prefix}{f.name}.")
        elif "float" in str(f.type) and not str(f.type).startswith(("Dict", "List")):
            out.append(f"{prefix}{f.name}")
    return out


FLOAT_KEYS = _float_keys()


def test_every_float_key_refuses_non_finite_and_absurd_values():
    assert len(FLOAT_KEYS) > 40
    for i, key in enumerate(FLOAT_KEYS):
        for value in (math.nan, (math.inf, -math.inf, 1e300)[i % 3]):
            with pytest.raises(ConfigError) as exc:
                default_settings(**{key: value})
            line = one_line(exc.value)
            # an old name kept as an alias (…_2030 → …_end) is reported under its new name;
            # the line holds the key, the value and what is valid
            name = key if key in line else key.replace("_2030", "_end")
            shown = {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), "1e+300")
            assert f"{name} = {shown} is not valid" in line and "expected" in line, (
                key, value, line)


@pytest.mark.parametrize("override, key", [
    ({"targets.cycle_months_by_year": {2028: math.nan}}, "targets.cycle_months_by_year.2028"),
    ({"money.price_by_region_yuan_m2": {"ningcheng": math.inf}},
     "money.price_by_region_yuan_m2.ningcheng"),
    ({"land.revitalised_by_region_ha": {"ningcheng": 1e300}},
     "land.revitalised_by_region_ha.ningcheng"),
    ({"sim.seasonality": [math.nan] * 12}, "sim.seasonality[0]"),
    ({"solver.options": {"mip_feasibility_tolerance": math.nan}}, "solver.options"),
    ({"land.plot_ratio": 1e-12}, "land.plot_ratio"),
])
def test_maps_lists_and_implausible_values_are_refused(override, key):
    with pytest.raises(ConfigError) as exc:
        default_settings(**override)
    assert key in one_line(exc.value)


@pytest.mark.parametrize("options, fragment", [
    ({"bogus": 1}, "HiGHS has no option 'bogus'"),
    ({"mip_rel_gapp": 0.1}, "did you mean mip_rel_gap"),
    ({"presolve": "maybe"}, "solver.options.presolve = 'maybe' is not valid"),
    ({"random_seed": 2.5}, "expected a whole number"),
    ({"time_limit": 5.0}, "set by solver.time_limit_s"),
    ({"threads": 1}, "cannot be set per run"),
])
def test_solver_options_are_checked_against_highs(options, fragment):
    out = run_model(default_settings(**{"solver.options": options, "sim.enabled": False}),
                    load_dataset(HAND))
    assert out.exit_code == 1 and len(out.messages) == 1 and fragment in out.messages[0]


def test_valid_solver_options_run():
    out = run_model(default_settings(**{"solver.options": {"presolve": "off", "random_seed": 3},
                                        "sim.enabled": False}), load_dataset(HAND))
    assert out.exit_code == 0


def test_replay_and_memory_are_checked_before_the_solve(monkeypatch):
    from model.solve import PlanModel

    def no_solve(self):
        raise AssertionError("the solver ran before the input was checked")

    monkeypatch.setattr(PlanModel, "solve", no_solve)
    ds = load_dataset(HAND)
    for overrides, fragment in (({"sim.shock_sd": 5.0}, "sim.shock_sd"),
                                ({"sim.replications": 10**9}, "sim.replications = 1000000000 "
                                                              "needs about")):
        out = run_model(default_settings(**overrides), ds)
        assert out.exit_code == 1 and fragment in out.messages[0]


def test_memory_estimate_covers_the_replay():
    """The estimate is at least the replay's measured peak (tracemalloc) and not wildly above."""
    import tracemalloc

    from model.inputs import build_inputs
    from model.market import replay
    from model.run import replay_params, replay_tables

    ds = load_dataset()
    settings = default_settings(**{"sim.replications": 400, "solver.duals": False})
    plan = run_model(with_overrides(settings, {"sim.enabled": False}), ds).tables["plan"]
    inputs = build_inputs(settings, ds)
    params = replay_params(settings, ds, inputs)
    tracemalloc.start()
    result = replay(plan, ds, params, level=inputs.level, revitalised_ha=inputs.revitalised_ha)
    replay_tables(result)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    estimate = replay_memory_bytes(400, len(inputs.regions), 12 * len(inputs.years))
    assert peak <= estimate <= 4 * peak, (peak, estimate)
    assert replay_memory_problems("sim.replications", 10**6, 11, 60, available=10**9)
    assert not replay_memory_problems("sim.replications", 200, 11, 60, available=10**9)


# ---------------------------------------------------------------------------------------------
# Overrides and compose: one line, with the fix
# ---------------------------------------------------------------------------------------------
def test_chinese_path_needs_quoting_and_says_how():
    with pytest.raises(UserError) as exc:
        check_override_syntax(["dataset=/data/赤峰 2026"])
    line = one_line(exc.value)
    assert "'dataset=\"/data/赤峰 2026\"'" in line and "docs/errors.md" in line
    check_override_syntax(['dataset="/data/赤峰 2026"', "hydra.run.dir=runs/my run", "-m"])


@pytest.mark.parametrize("overrides, fragment", [
    (["targets.cycle_monts_2030=3"], "unknown key 'targets.cycle_monts_2030' (did you mean "
                                     "targets.cycle_months_end"),
    (["+scenario=nosuch"], "scenario 'nosuch' does not exist; expected one of: district"),
    (["demand.multiplier=abc"], "demand.multiplier"),
    (["scenario=tight_land"], "add it with a '+': +scenario=tight_land"),
    (["+scenario=tight_land", "+scenario=district"], "combine them in one list: "
                                                     "'+scenario=[a,b]'"),
    (["demand.multiplier=nan"], "demand.multiplier = nan is not valid (not a finite number)"),
    # objective weights once read as "infeasible" (exit 2), a gap once accepted
    (["objective.unmet_demand_per_10k_m2=nan"], "objective.unmet_demand_per_10k_m2 = nan is "
                                                "not valid"),
    (["solver.mip_rel_gap=nan"], "solver.mip_rel_gap = nan is not valid"),
    ([f"dataset={HAND}", "vacancy.removals_10k_per_year=50"], "removes"),
    (["sim.shock_sd=5"], "sim.shock_sd = 5.0 is not valid"),
])
def test_preflight_gives_one_line(overrides, fragment):
    with pytest.raises(UserError) as exc:
        preflight(overrides)
    assert fragment in one_line(exc.value)


def test_unknown_key_suggestions():
    assert "did you mean sim.replications" in unknown_key_line("sim.replication")


# ---------------------------------------------------------------------------------------------
# Dataset, actuals, fixed plan, demand CSV: one checked reader
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def mini(tmp_path):
    folder = tmp_path / "mini"
    shutil.copytree(MINI, folder)
    return folder


def _set_cell(path: Path, line: int, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value
    frame.to_csv(path, index=False)


CELL_CASES = [
    ("inf", "(a finite number)"),
    ("-inf", "(a finite number)"),
    ("nan", "(a finite number)"),
    ("1e300", "of magnitude at most"),
    ("１２", "in ASCII digits (12, not full-width)"),
    ("1,234", "without thousands separators (1234)"),
    ("abc", "expected a number in 10k_m2"),
    ("20%", "not 20%"),
    ("1e999", "of magnitude at most"),
    ("¹2", "expected a number in 10k_m2"),
]


@pytest.mark.parametrize("value, fragment", CELL_CASES)
def test_dataset_cells(mini, value, fragment):
    _set_cell(mini / "demand.csv", 3, "demand_10k_m2", value)
    with pytest.raises(DatasetError) as exc:
        load_dataset(mini)
    line = one_line(exc.value)
    assert line.startswith("demand.csv line 3, column demand_10k_m2: value ") and fragment in line


@pytest.mark.parametrize("value, fragment", CELL_CASES[:5])
def test_actuals_cells(tmp_path, chifeng, value, fragment):
    from model.actuals import EXAMPLE_ACTUALS, load_actuals

    path = tmp_path / "actuals.csv"
    shutil.copy(EXAMPLE_ACTUALS, path)
    for column in ("inventory_end_10k_m2", "supply_10k_m2"):  # a cell error, not a "gap"
        _set_cell(path, 4, column, value)
        with pytest.raises(DatasetError) as exc:
            load_actuals(path, chifeng)
        assert "line 4, column" in one_line(exc.value) and fragment in exc.value.problems[0]
        shutil.copy(EXAMPLE_ACTUALS, path)


FIXED = "region,year,land_ha,supply_10k_m2\ncore,2026,1,2\ncore,2027,1,2\ncounty,2026,1,2\ncounty,2027,1,2\n"


@pytest.mark.parametrize("edit, fragment", [
    (("core,2026,1,2", "core,2026,abc,2"), "line 2, column land_ha: value 'abc' — expected a number"),
    (("core,2026,1,2", 'core,2026,"1,234",2'), "without thousands separators"),
    (("core,2026,1,2", "core,twenty,1,2"), "line 2, column year: value 'twenty' — expected a year"),
    (("core,2026,1,2", "core,2026,inf,2"), "line 2, column land_ha: value 'inf'"),
    (("core,2026,1,2", "core,2026,1,1e300"), "column supply_10k_m2: value '1e300' — expected a "
                                             "number in 10k_m2 of magnitude at most"),
    (("core,2027,1,2", "core,2027.5,1,2"), "line 3, column year: value '2027.5'"),
    (("core,2026,1,2", "nowhere,2026,1,2"), "column region: value 'nowhere' — expected a region "
                                            "of this run (core, county)"),
    (("core,2026,1,2", "core,2031,1,2"), "value 2031 — expected a plan year in 2026–2027"),
    (("county,2027,1,2\n", "county,2027,1,2\ncore,2026,5,5\n"), "line 6: duplicate row for "
                                                                "region, year = core, 2026"),
    (("county,2027,1,2\n", ""), "no row for region/year county/2027"),
    (("core,2026,1,2", "core,2026,1,2,extra"), "cannot be read as a UTF-8 CSV"),
    ("EMPTY", "the file is empty"),
    ("GBK", "looks like a GBK/GB18030 file"),
])
def test_fixed_plan_family(tmp_path, edit, fragment):
    path = tmp_path / "plan.csv"
    if edit == "EMPTY":
        path.write_text("")
    elif edit == "GBK":
        path.write_bytes("region,year,land_ha,supply_10k_m2\n主城,2026,1,2\n".encode("gbk"))
    else:
        path.write_text(FIXED.replace(*edit))
    with pytest.raises(DatasetError) as exc:
        read_fixed_plan(str(path), ("core", "county"), (2026, 2027))
    assert fragment in one_line(exc.value)


@pytest.mark.parametrize("value", ["inf", "1e300"])
def test_audit_refuses_a_non_finite_cell_in_one_line(mini, tmp_path, value):
    """The audit reads the dataset through the same checks as a run (it used to accept inf and
    1e300 and exit 0)."""
    _set_cell(mini / "demand.csv", 3, "demand_10k_m2", value)
    out = tmp_path / "out"
    proc = cli("model.audit", str(mini), "--out", str(out))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, lines
    assert lines[0].startswith(f"model.audit: input error: demand.csv line 3, column "
                               f"demand_10k_m2: value '{value}'"), lines[0]
    assert not out.exists()


def test_fixed_plan_reads_a_previous_plan_csv_and_skips_blank_rows(tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text("region_id,year,land_ha,supply_10k_m2,name_zh,cycle_end_months\n"
                    "core,2026,1,2,中心区,inf\ncore,2027,1,2,中心区,12\n,,,,,\n"
                    "county,2026,1,2,外县,3\ncounty,2027,1.5,2,外县,4\n,,,,,\n")
    plan = read_fixed_plan(str(path), ("core", "county"), (2026, 2027))
    assert plan["land_ha"][("county", 2027)] == 1.5 and "purchased_10k_m2" not in plan
    path.write_text(path.read_text().replace("county,2027,1.5", "county,2027,x"))
    with pytest.raises(DatasetError) as exc:
        read_fixed_plan(str(path), ("core", "county"), (2026, 2027))
    assert "line 6, column land_ha" in one_line(exc.value)  # the file's own line number


def test_demand_csv_uses_the_same_reader(tmp_path):
    path = tmp_path / "demand.csv"
    path.write_text("region_id,year,demand_10k_m2\ncore,2026,1\ncore,2027,inf\ncounty,2026,1\n"
                    "county,2027,1\ncounty,2040,9\n")
    with pytest.raises(DatasetError) as exc:
        read_demand_csv(path, ("core", "county"), (2026, 2027))
    assert "line 3, column demand_10k_m2: value 'inf'" in one_line(exc.value)
    path.write_text(path.read_text().replace("core,2027,inf", "core,2027,3") + ",,\n")
    assert read_demand_csv(path, ("core", "county"), (2026, 2027))[("core", 2027)] == 3.0


def test_blank_spreadsheet_rows_are_skipped_everywhere(mini, tmp_path, chifeng):
    from model.actuals import EXAMPLE_ACTUALS, load_actuals

    with open(mini / "demand.csv", "a") as fh:
        fh.write(",,,\n,,,\n")
    assert load_dataset(mini).demand_10k_m2()[("core", 2026)] > 0
    path = tmp_path / "actuals.csv"
    path.write_text(EXAMPLE_ACTUALS.read_text(encoding="utf-8") + ",,,,,,,,\n")
    assert load_actuals(path, chifeng).years == (2026, 2027)


@pytest.mark.parametrize("edit, fragment", [
    (("plan_years: [2026, 2027]", "plan_years: [2027, 2026]"),
     "plan_years = [2027, 2026] is not valid (first year after last year)"),
    (("base_year: 2025", "base_year: twenty"), "base_year = 'twenty' is not valid"),
    (("base_year: 2025", "base_year: true"), "base_year = True is not valid"),
    (("base_year: 2025", "base_year: 2026"), "plan_years start in 2026, not after base_year 2026"),
])
def test_manifest_years(mini, edit, fragment):
    path = mini / "manifest.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    with pytest.raises(DatasetError) as exc:
        load_dataset(mini)
    assert any(fragment in p for p in exc.value.problems), exc.value.problems


def test_schema_is_parsed_once_per_file_version(tmp_path, monkeypatch):
    """Where a slow configuration's time went: SCHEMA.yaml parsed for every CSV read (~50 ms
    each, a minute over a mid-term review's solves). Parsed once per file version now; each
    caller still gets its own copy."""
    import model.data as data

    path = tmp_path / "SCHEMA.yaml"
    path.write_text("t: {x: 1}\n", encoding="utf-8")
    calls = []
    real = data.yaml.safe_load
    monkeypatch.setattr(data.yaml, "safe_load", lambda fh: calls.append(1) or real(fh))
    first = data.load_schema(path)
    first["t"]["x"] = 99
    assert data.load_schema(path) == {"t": {"x": 1}} and len(calls) == 1
    path.write_text("t: {x: 22}\n", encoding="utf-8")
    assert data.load_schema(path) == {"t": {"x": 22}} and len(calls) == 2


def test_zero_cycle_with_stock_is_refused(mini):
    path = mini / "inventory_2025.csv"
    path.write_text(path.read_text().replace("core,24,24,", "core,24,0,"))
    with pytest.raises(DatasetError) as exc:
        load_dataset(mini)
    assert "line 2, column cycle_months: value 0 — expected a cycle > 0 months" in one_line(
        exc.value)


def test_no_fixed_plan_no_talk_of_fixed_decisions():
    from types import SimpleNamespace

    from model.run import _conflict_note

    relax = SimpleNamespace(joint=None)
    free = SimpleNamespace(fixed_land_ha=None, observed_years=(), land_rule="2.2.3")
    fixed = SimpleNamespace(fixed_land_ha={}, observed_years=(), land_rule="none")
    assert "no decision fixed" in _conflict_note(free, relax)
    assert "fixed decisions" in _conflict_note(fixed, relax)


# ---------------------------------------------------------------------------------------------
# Run folders: named by what ran, owned by their run
# ---------------------------------------------------------------------------------------------
def test_run_folder_names():
    assert rundir.scenario_names(["+scenario=[district,tight_land]", "sim.seed=1"], "tight_land") \
        == ["district", "tight_land"]
    assert rundir.scenario_names([], "default") == ["default"]
    assert rundir.dataset_label(None) == "" and rundir.dataset_label(str(MINI)) == "@mini_city"
    tag = rundir.override_tag(["+scenario=x", f"dataset={MINI}", "targets.cycle_months_end=21",
                               "fixed_plan=/a b/方案.csv"])
    assert tag == "targets.cycle_months_end=21,fixed_plan=方案.csv"
    long_tag = rundir.override_tag([f"targets.cycle_months_by_year.{y}={y}" for y in range(9)])
    assert len(long_tag) <= rundir.TAG_MAX_CHARS and "~" in long_tag


def test_run_dir_resolves_from_the_overrides():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True, overrides=[
            "+scenario=[district,tight_land]", f"dataset={MINI}", "demand.multiplier=0.9"])
    run_dir = OmegaConf.select(cfg, "hydra.run.dir")
    assert re.fullmatch(r"runs/district\+tight_land@mini_city/\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d"
                        r"_demand\.multiplier=0\.9", run_dir), run_dir


def test_claim_refuses_what_it_does_not_own(tmp_path):
    run = tmp_path / "run"
    rundir.claim(run)
    with pytest.raises(errors.RunDirError) as exc:  # our own live lock: in use
        rundir.claim(run)
    assert "is in use by another run" in one_line(exc.value) and exc.value.exit_code == 4
    (run / "plan.csv").write_text("x")
    rundir.release(run)
    with pytest.raises(errors.RunDirError) as exc:
        rundir.claim(run)
    assert "already holds other files" in one_line(exc.value)
    assert (run / "plan.csv").read_text() == "x" and not (run / rundir.LOCK).exists()
    (tmp_path / "afile").write_text("")
    with pytest.raises(errors.RunDirError) as exc:
        rundir.claim(tmp_path / "afile" / "run")
    assert "cannot be created" in one_line(exc.value) or "in the way" in exc.value.problems[0]


def test_a_stale_lock_is_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    (run / rundir.LOCK).write_text(json.dumps({"pid": proc.pid, "host": os.uname().nodename}))
    rundir.claim(run)
    rundir.release(run)


def test_supersede_keeps_the_previous_outputs(tmp_path):
    run = tmp_path / "job"
    (run / ".hydra").mkdir(parents=True)
    for name in ("plan.csv", "summary.json", "run.log"):
        (run / name).write_text(name if name != "summary.json" else
                                json.dumps({"created": "2026-03-01T10:00:00"}))
    moved = rundir.supersede(run)
    assert moved == run / "superseded" / "2026-03-01T10-00-00"
    assert (moved / "plan.csv").read_text() == "plan.csv" and not (run / "plan.csv").exists()
    assert (run / "run.log").exists() and (run / ".hydra").is_dir()
    assert rundir.supersede(run) is None


def test_mark_failed_renames(tmp_path):
    run = tmp_path / "2026-03-01_10-00-00"
    run.mkdir()
    assert rundir.mark_failed(run, "infeasible").name == "2026-03-01_10-00-00_INFEASIBLE"


def test_sweep_completeness_covers_the_composed_config(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(
        {"overrides": ["a=1"], "data_hash": "d", "config_hash": "c1", "status": "optimal"}))
    assert sweep.completeness(tmp_path, ["a=1"], "d", "c1")[0]
    done, why = sweep.completeness(tmp_path, ["a=1"], "d", "c2")
    assert not done and "composed config changed" in why
    from omegaconf import OmegaConf

    assert config_hash(OmegaConf.create({"a": 1})) != config_hash(OmegaConf.create({"a": 2}))


def test_sweep_reruns_what_changed_and_skips_the_rest(tmp_path):
    """The whole path: a sweep run again skips its complete jobs; after the scenario file is
    edited every job runs again (the old outputs kept in superseded/); a job whose plan.csv was
    truncated runs again while the intact one is skipped."""
    conf = tmp_path / "conf" / "scenario"
    conf.mkdir(parents=True)
    scenario = conf / "probe.yaml"
    scenario.write_text("# @package _global_\ndemand:\n  multiplier: 1.0\n", encoding="utf-8")
    sweep_dir = tmp_path / "sweep"
    args = ("model.run", "-m", "+scenario=probe", f"dataset={HAND}", "sim.enabled=false",
            "targets.cycle_months_end=20,30", f"hydra.sweep.dir={sweep_dir}",
            "hydra.launcher.n_jobs=1", f"hydra.searchpath=[file://{tmp_path / 'conf'}]")

    def run_sweep() -> pd.DataFrame:
        proc = cli(*args, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return pd.read_csv(sweep_dir / "sweep_status.csv", encoding="utf-8-sig")

    assert not run_sweep()["skipped"].any()
    assert run_sweep()["skipped"].all()
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("1.0", "0.8"),
                        encoding="utf-8")
    status = run_sweep()
    assert not status["skipped"].any() and (status["status"] == "optimal").all()
    for run_dir in status["run_dir"]:
        summary = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
        assert summary["config"]["demand"]["multiplier"] == 0.8
        assert len(list((Path(run_dir) / "superseded").glob("*/summary.json"))) == 1
    damaged = Path(status["run_dir"].iloc[0])
    (damaged / "plan.csv").write_bytes((damaged / "plan.csv").read_bytes()[:50])
    status = run_sweep().set_index("run_dir")
    assert not status.loc[str(damaged), "skipped"]
    assert status.drop(index=str(damaged))["skipped"].all()
    assert rundir.verify_run(damaged) == []


def test_run_cli_owns_its_folder(tmp_path):
    """A finished run's folder is refused with one line and nothing in it changes (a folder held
    by a live run takes the same path: test_claim_refuses_what_it_does_not_own); a bad input
    leaves no folder at all."""
    run = tmp_path / "run"
    args = ("model.run", f"dataset={HAND}", "sim.enabled=false", f"hydra.run.dir={run}")
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    again = cli(*args, "demand.multiplier=0.5")
    lines = again.stderr.strip().splitlines()
    assert again.returncode == 4 and len(lines) == 1 and "already holds a finished run" in lines[0]
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    bad = cli("model.run", "demand.multiplier=nan", f"hydra.run.dir={tmp_path / 'never'}")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never").exists() and "Traceback" not in bad.stderr


def test_run_with_a_chinese_path_quoted_as_the_docs_say(tmp_path):
    data = tmp_path / "赤峰 数据"
    shutil.copytree(HAND, data)
    run = tmp_path / "运行 1"
    proc = cli("model.run", f'dataset="{data}"', f'hydra.run.dir="{run}"', "sim.enabled=false")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run / "summary.json").read_text())["dataset"]["name"] == "hand_2x2"


def signal_state(pid: int) -> str:
    """SIGINT's disposition in process ``pid`` (Linux /proc): blocked, ignored or caught."""
    try:
        status = dict(line.split(":\t", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line)
    except OSError:
        return "unknown"
    bit = 1 << (signal.SIGINT - 1)
    return ", ".join(f"{name} {bool(int(status.get(key, '0'), 16) & bit)}"
                     for key, name in (("SigBlk", "blocked"), ("SigIgn", "ignored"),
                                       ("SigCgt", "caught")))


def _ctrl_c_as_in_a_terminal() -> None:
    """In the child before exec: SIGINT's default disposition, unblocked. A test suite started
    in the background (``pytest &`` in a script) ignores SIGINT, as POSIX has asynchronous
    commands do; a child inherits that, Python then installs no KeyboardInterrupt handler, and
    the run never sees the Ctrl-C (the cause of this test's time-outs in background runs)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


def _interrupted_run(tmp_path, after_lock: bool, delay_s: float) -> tuple[int, str]:
    """Start ``model.run`` (50,000 replications: minutes of replay) with a terminal's Ctrl-C,
    send SIGINT ``delay_s`` after its start (or after it claimed its folder, ``after_lock``),
    and return its exit code and stderr. If it has not ended 60 s later, the test fails with
    SIGINT's disposition in the child and where it was (PYTHONFAULTHANDLER + SIGABRT); the
    run is never left behind."""
    proc = subprocess.Popen([sys.executable, "-m", "model.run", "sim.replications=50000",
                             "solver.duals=false", f"hydra.run.dir={tmp_path / 'run'}"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
                            preexec_fn=_ctrl_c_as_in_a_terminal)
    lock = tmp_path / "run" / rundir.LOCK
    try:
        deadline = time.time() + 60
        while after_lock and not lock.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(delay_s)
        state = signal_state(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # say where it was, and leave no runaway replay
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"no exit 60 s after Ctrl-C; SIGINT in the child: {state}; "
                        f"stderr ends: {err[-3000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    code, err = _interrupted_run(tmp_path, after_lock=True, delay_s=0.5)
    assert code == 130, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and "no summary.json" in lines[0]
    lock = tmp_path / "run" / rundir.LOCK
    assert not (tmp_path / "run" / "summary.json").exists() and not lock.exists()


def test_ctrl_c_while_starting_is_one_line_and_exit_130(tmp_path):
    """A Ctrl-C 0.3 s after the command starts lands in its imports on this machine (they take
    1–2 s): one line, exit 130, no traceback, nothing written. (Where the imports are faster it
    lands in the run, with the same promise.)"""
    code, err = _interrupted_run(tmp_path, after_lock=False, delay_s=0.3)
    assert code == 130, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and lines[0].startswith("model.run: interrupted (Ctrl-C)"), err
    assert not (tmp_path / "run" / "summary.json").exists()


def test_highspy_is_loaded_before_the_run_starts():
    """Pyomo imports highspy lazily inside its availability check, where a Ctrl-C turned into
    "HiGHS is not available" (exit 5, not 130); model.solve imports it up front, so importing
    the command loads it before the run claims its folder."""
    code = "import sys, model.run; print('highspy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.stdout.strip() == "True", proc.stderr


# ---------------------------------------------------------------------------------------------
# The other entry points
# ---------------------------------------------------------------------------------------------
def test_compare_on_failed_runs_only(tmp_path):
    from analysis.compare import CompareError, compare

    for name, status in (("a", "input_error"), ("b", "infeasible")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"status": status}))
    with pytest.raises(CompareError) as exc:
        compare([tmp_path / "a", tmp_path / "b"])
    assert "none of the 2 runs has a plan (1 input_error, 1 infeasible)" in one_line(exc.value)
    proc = cli("analysis.compare", str(tmp_path), "--out", str(tmp_path / "cmp"), "--no-charts")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("analysis.compare: input error: none of the 2 runs has a plan")


# ---------------------------------------------------------------------------------------------
# A finished run's files, checked against what the run recorded (model/rundir.py verify_run)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A run of the hand-solvable dataset, written by the command line; copy it before editing."""
    run = tmp_path_factory.mktemp("finished") / "run"
    proc = cli("model.run", f"dataset={HAND}", "sim.enabled=false", f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr
    return run


def _copy(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def test_a_finished_run_records_every_file_it_wrote(finished_run):
    import hashlib

    summary = json.loads((finished_run / "summary.json").read_text(encoding="utf-8"))
    written = {p.name for p in finished_run.iterdir() if p.suffix in (".csv", ".xlsx")}
    assert "plan.csv" in written and "plan.xlsx" in written
    assert set(summary["files"]) == written
    for name, rec in summary["files"].items():
        data = (finished_run / name).read_bytes()
        assert rec == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}, name
    assert summary["summary_sha256"] == rundir.summary_digest(summary)
    assert rundir.verify_run(finished_run) == []


def _truncate(run: Path) -> str:
    path = run / "plan.csv"
    path.write_bytes(path.read_bytes()[:-40])
    return "plan.csv: {n} bytes, not the {m} the run wrote (truncated"


def _append(run: Path) -> str:
    with open(run / "targets.csv", "ab") as fh:
        fh.write(b"x,1,2\n")
    return "targets.csv: {n} bytes, not the {m} the run wrote (grown"


def _same_size_edit(run: Path) -> str:
    path = run / "plan.csv"
    data = bytearray(path.read_bytes())
    i = data.rindex(b"1") if b"1" in data[-20:] else data.rindex(b"0")
    data[i:i + 1] = b"2" if data[i:i + 1] != b"2" else b"3"
    path.write_bytes(bytes(data))
    return "plan.csv: sha256 differs from the one the run recorded (same size"


def _delete(run: Path) -> str:
    (run / "plan.xlsx").unlink()
    return "plan.xlsx: missing (the run wrote it"


def _edit_summary(run: Path) -> str:
    path = run / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["headline"]["land_total_ha"] = 1.0
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return "summary.json: its content differs from the sha256 the run recorded"


def _no_summary(run: Path) -> str:
    (run / "summary.json").unlink()
    return "summary.json: missing — an unfinished run"


def _summary_cut(run: Path) -> str:
    path = run / "summary.json"
    path.write_bytes(path.read_bytes()[:200])
    return "summary.json: cannot be read"


DAMAGE = [_truncate, _append, _same_size_edit, _delete, _edit_summary, _no_summary, _summary_cut]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d.__name__.strip("_") for d in DAMAGE])
def test_verify_run_names_the_file_and_what_differs(finished_run, tmp_path, damage):
    run = _copy(finished_run, tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    expected = damage(run)
    name = expected.split(":")[0]
    if "{n}" in expected:
        expected = expected.format(n=(run / name).stat().st_size,
                                   m=summary["files"][name]["bytes"])
    problems = rundir.verify_run(run)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{run / name}: ") and expected in problems[0], problems
    assert "\n" not in problems[0]


def test_compare_passes_a_clean_run_and_refuses_a_damaged_one(finished_run, tmp_path):
    clean = _copy(finished_run, tmp_path / "clean")
    ok = cli("analysis.compare", str(clean), "--out", str(tmp_path / "cmp_ok"), "--no-charts")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "cmp_ok" / "headline.csv").is_file()
    damaged = _copy(finished_run, tmp_path / "damaged")
    _same_size_edit(damaged)
    out = tmp_path / "cmp_bad"
    proc = cli("analysis.compare", str(damaged), "--out", str(out), "--no-charts")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"analysis.compare: input error: {damaged / 'plan.csv'}: sha256 "
                               f"differs"), lines[0]
    assert "--skip-damaged" in lines[0] and not out.exists()
    # one clean and one damaged: still refused, naming only the damaged file
    both = cli("analysis.compare", str(clean), str(damaged), "--out", str(out), "--no-charts")
    lines = both.stderr.strip().splitlines()
    assert both.returncode == 1 and len(lines) == 1 and str(damaged / "plan.csv") in lines[0]


def test_compare_skip_damaged_leaves_it_out_and_lists_it(finished_run, tmp_path):
    from model.csvio import read_csv

    clean = _copy(finished_run, tmp_path / "clean")
    damaged = _copy(finished_run, tmp_path / "damaged")
    _delete(damaged)
    out = tmp_path / "cmp"
    proc = cli("analysis.compare", str(clean), str(damaged), "--out", str(out), "--no-charts",
               "--skip-damaged")
    assert proc.returncode == 0, proc.stderr
    assert f"damaged run left out: {damaged / 'plan.xlsx'}: missing" in proc.stderr
    runs = read_csv(out / "runs.csv").set_index("run_dir")
    assert runs.loc[str(damaged), "status"] == "damaged"
    assert str(damaged / "plan.xlsx") in runs.loc[str(damaged), "reason"]
    assert runs.loc[str(clean), "status"] == "optimal"
    only = cli("analysis.compare", str(damaged), "--out", str(out), "--no-charts",
               "--skip-damaged")
    lines = only.stderr.strip().splitlines()
    assert only.returncode == 1 and "every run found (1) is damaged" in lines[-1]
    assert lines[-1].startswith("analysis.compare: input error: ")


def test_an_unfinished_run_named_on_its_own_is_one_line(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path / "run")
    _no_summary(run)
    proc = cli("analysis.compare", str(run), "--no-charts")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1
    assert f"{run / 'summary.json'}: missing — an unfinished run" in lines[0]


def test_review_and_sweep_do_not_trust_a_damaged_run(finished_run, tmp_path):
    from model import review_note

    run = _copy(finished_run, tmp_path / "run")
    overrides = json.loads((run / "summary.json").read_text(encoding="utf-8"))["overrides"]
    assert sweep.completeness(run, overrides)[0]
    _truncate(run)
    done, why = sweep.completeness(run, overrides)
    assert not done and why.startswith(f"damaged: {run / 'plan.csv'}: ")
    with pytest.raises(UserError) as exc:
        review_note.main([str(run)])
    assert one_line(exc.value).startswith(f"{run / 'plan.csv'}: ")
    assert one_line(exc.value).endswith("run the review again")


BAD_YAML = "x: [unclosed\n  y: 1\n"


@pytest.mark.parametrize("args, fragment", [
    (("analysis.compare", "--bogus", "x"), "unrecognized arguments: --bogus"),
    (("analysis.sensitivity", "--bogus"), "unrecognized arguments: --bogus"),
    (("analysis.discovery", "--bogus"), "unrecognized arguments: --bogus"),
    (("analysis.sensitivity", "--config", "{bad}"), "line 2: not a YAML config"),
    (("analysis.discovery", "--config", "{bad}"), "line 2: not a YAML config"),
    (("analysis.discovery", "discovery.prim.min_density=nan"),
     "discovery.prim.min_density = nan is not valid; expected a share in (0, 1]"),
    (("analysis.discovery", "discovery.failure.cycle_months_city_end.above=inf"),
     "discovery.failure.cycle_months_city_end: limits must be finite numbers"),
    (("analysis.sensitivity", "sensitivity.inputs.demand.multiplier.low=nan"),
     "sensitivity.inputs.demand.multiplier: low = nan"),
], ids=lambda a: a[0] if isinstance(a, tuple) else None)
def test_analysis_commands_one_line_exit_1(tmp_path, args, fragment):
    """Every analysis command takes its arguments through the validation layer: a bad flag, a
    broken YAML file, a non-finite value — one line, exit 1 (argparse's own code is 2, which
    the documented table gives to infeasible targets), no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_YAML, encoding="utf-8")
    proc = cli(*(a.format(bad=bad) for a in args), timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, lines
    assert f"{args[0]}: input error: " in lines[0] and fragment in lines[0], lines[0]


def test_sensitivity_scheduler_unreachable_is_one_line_and_quick(monkeypatch):
    from analysis import sensitivity as sa

    monkeypatch.setattr(sa, "SCHEDULER_TIMEOUT_S", 1)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as exc:
        sa.connect_scheduler("tcp://127.0.0.1:9")
    assert time.perf_counter() - t0 < 15
    assert one_line(exc.value).startswith("sensitivity.scheduler = 'tcp://127.0.0.1:9': no Dask")


def test_sensitivity_refuses_the_model_replications():
    from analysis import sensitivity as sa

    with pytest.raises(ConfigError) as exc:
        sa.load_config(overrides=["sensitivity.model.sim.replications=-1"])
    assert "sensitivity.replications" in one_line(exc.value)


def test_review_on_a_folder_that_is_not_a_review_run(tmp_path):
    from model import review_note

    with pytest.raises(UserError) as exc:
        review_note.main([str(tmp_path)])
    assert "is not a finished mid-term review run (no review_comparison.csv)" in one_line(
        exc.value)


def test_one_warning_without_a_cjk_font(monkeypatch, caplog):
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    from analysis import charts
    from model import plotting

    monkeypatch.setattr(plotting, "CJK_FAMILIES", ())
    monkeypatch.setattr(plotting, "_state", {})
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    monkeypatch.setattr(plt, "rcParams", plt.rcParams.copy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert charts.use_cjk_font() is None
        fig, ax = plt.subplots()
        ax.set_title("主城区 宁城县 红山片区 元宝山区")
        fig.canvas.draw()
        plt.close(fig)
    assert not [w for w in caught if "missing from" in str(w.message)]
    assert len([r for r in caplog.records if "no CJK font" in r.message]) == 1
