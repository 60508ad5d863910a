"""Fuzz tests (Hypothesis) of the validation layer (docs/errors.md, 'The fuzz test').

Four families of input, each run through the same path as ``python -m model.run`` (override
syntax → compose → checks → dataset and CSVs → build → solve → replay), in process:

- configurations: one to four ``key=value`` overrides drawn over every key of the schema
  (walked from model/config.py, so new keys are fuzzed too), with values of every kind —
  valid, out of range, zero, negative, NaN, ±inf, 1e300, text, wrong types;
- dataset cells: one cell of a number column of the synthetic city rewritten;
- actuals cells: one cell of a mid-term review's actuals rewritten;
- fixed-plan cells: one cell of a plan to evaluate rewritten.

Every case must end without an uncaught exception, with an exit code of the documented table
(model/errors.py), and for exit 0 with a plan whose invariants hold: inventory balance per region
and year, the stock carried from one year to the next, every quantity finite and non-negative,
and the replay's monthly quantities finite and non-negative.

Profiles: the normal test run uses a fast, derandomised profile; the long profile is
``FUZZ_PROFILE=long python -m pytest tests/test_fuzz.py`` (at least 1,000 cases, random),
which prints cases, failures, wall time and the slowest cases per family.
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import tempfile
import time
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from model.config import RunConfig, to_settings
from model.data import load_schema
from model.errors import EXIT_CODES, EXIT_INTERNAL, UserError
from model.run import config_hash, preflight, run_model  # noqa: F401 - config_hash: API check
from model.validate import check_override_syntax

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "data" / "mini_city"
HAND = REPO / "tests" / "data" / "hand_2x2"

PROFILE = os.environ.get("FUZZ_PROFILE", "fast")
#: examples per family: fast (normal test run) and long (≥ 1,000 in all)
EXAMPLES = {"fast": {"config": 10, "dataset": 8, "actuals": 5, "fixed_plan": 8},
            "long": {"config": 450, "dataset": 250, "actuals": 150, "fixed_plan": 200}}[PROFILE]
#: the replay is kept small: the fuzz is about inputs, not replications
BASE = ["sim.replications=10"]
QUANTITIES = ["land_ha", "supply_10k_m2", "sales_10k_m2", "unmet_demand_10k_m2",
              "purchased_10k_m2", "subsidised_new_10k_m2", "inventory_end_10k_m2",
              "inventory_start_10k_m2", "demand_10k_m2"]
MONTHLY_QUANTITIES = ("sales", "inventory", "supply", "demand", "unmet")

#: figures per family for the terminal summary (tests/conftest.py prints them)
FUZZ_STATS: dict[str, dict] = {}


def _hyp(family: str):
    return settings(
        max_examples=EXAMPLES[family],
        deadline=None,
        derandomize=PROFILE == "fast",
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
        print_blob=True,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: cases are slow
    )


# ---------------------------------------------------------------------------------------------
# The path of the command line, in process
# ---------------------------------------------------------------------------------------------
def run_as_cli(overrides: list[str]):
    """(exit code, Outcome or None) for these overrides, through the validation layer and the
    pipeline exactly as ``python -m model.run`` runs them (without Hydra's run folder)."""
    try:
        check_override_syntax(overrides)
        settings_ = preflight(overrides)
    except UserError as exc:
        assert exc.problems and all("\n" not in p for p in exc.problems)
        return exc.exit_code, None
    outcome = run_model(settings_)
    return outcome.exit_code, outcome


def check_invariants(outcome) -> list[str]:
    """The plan's and the replay's invariants; one line per violation."""
    out = []
    plan = outcome.tables["plan"]
    for col in QUANTITIES:
        values = plan[col].astype(float).to_numpy()
        if not np.isfinite(values).all():
            out.append(f"plan.{col} not finite")
        elif (values < -1e-6 * max(1.0, np.abs(values).max())).any():
            out.append(f"plan.{col} negative: {values.min()}")
    for col in ("cycle_end_months", "cycle_start_months"):
        values = plan[col].astype(float).to_numpy()
        if np.isnan(values).any() or (values < 0).any():
            out.append(f"plan.{col} NaN or negative")
    scale = max(1.0, float(plan[["inventory_start_10k_m2", "supply_10k_m2"]].abs().to_numpy().max()))
    balance = (plan["inventory_start_10k_m2"] + plan["supply_10k_m2"] - plan["sales_10k_m2"]
               - plan["purchased_10k_m2"] - plan["inventory_end_10k_m2"])
    if balance.abs().max() > 1e-5 * scale:
        out.append(f"inventory balance off by {balance.abs().max():.3g}")
    for _, rows in plan.sort_values("year").groupby("region"):
        carried = rows["inventory_start_10k_m2"].to_numpy()[1:] - rows[
            "inventory_end_10k_m2"].to_numpy()[:-1]
        if len(carried) and np.abs(carried).max() > 1e-5 * scale:
            out.append("stock not carried from one year to the next")
    monthly = outcome.tables.get("monthly")
    if monthly is not None:
        for col in monthly.columns:
            if any(col.startswith(q) for q in MONTHLY_QUANTITIES) and monthly[col].dtype.kind == "f":
                values = monthly[col].to_numpy()
                if np.isnan(values).any() or np.isinf(values).any() or (values < -1e-6).any():
                    out.append(f"monthly.{col} not finite or negative")
    for key, value in outcome.headline.items():
        if isinstance(value, float) and math.isnan(value):
            out.append(f"headline {key} is NaN")
    return out


class Tally:
    """Cases, failures, wall time and the slowest cases of one family."""

    def __init__(self, family: str):
        self.family = family
        self.stats = FUZZ_STATS.setdefault(family, {"cases": 0, "failures": [], "wall_s": 0.0,
                                                    "codes": {}, "slowest": []})

    def run(self, label: str, overrides: list[str]) -> None:
        t0 = time.perf_counter()
        problems: list[str] = []
        code = None
        try:
            code, outcome = run_as_cli(overrides)
            if code not in EXIT_CODES or code == EXIT_INTERNAL:
                problems.append(f"exit code {code} is not a documented user-facing code")
            elif code == 0:
                problems += check_invariants(outcome)
        except Exception as exc:  # noqa: BLE001 - an uncaught exception is what the fuzz finds
            problems.append(f"uncaught {type(exc).__name__}: {exc}")
        wall = time.perf_counter() - t0
        s = self.stats
        s["cases"] += 1
        s["wall_s"] += wall
        s["codes"][code] = s["codes"].get(code, 0) + 1
        s["slowest"] = sorted([*s["slowest"], (wall, label)], reverse=True)[:5]
        if problems:
            s["failures"].append(f"{label}: {'; '.join(problems)}")
            if PROFILE == "fast":  # fail now, so that Hypothesis shrinks the example
                raise AssertionError(f"{label}: {'; '.join(problems)}")


def _assert_no_failures(family: str) -> None:
    failures = FUZZ_STATS.get(family, {}).get("failures", [])
    assert not failures, f"{len(failures)} failing cases:\n" + "\n".join(failures[:20])


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------
EDGE_NUMBERS = ["0", "-1", "1", "0.5", "2", "18", "100", "1e300", "-1e300", "1e-12", "nan", "inf",
                "-inf", "1e9", "1e10", "-0.0", "3.0e2"]
finite_text = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False).map(lambda x: f"{x:.6g}")
number_text = st.one_of(st.sampled_from(EDGE_NUMBERS), finite_text,
                        st.integers(-10, 10**6).map(str))
junk_text = st.sampled_from(["abc", "''", "null", "true", "[1,2]", "{a:1}", "'赤峰'", "1,2",
                             "'1,234'", "'１２'", "'20%'"])


def _leaves(cls=RunConfig, prefix="") -> list[tuple[str, str, object]]:
    """(dotted key, annotation text, default) of every leaf of the config schema."""
    out = []
    obj = cls()
    for f in fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            out += _leaves(type(value), key + ".")
        else:
            out.append((key, str(f.type), value))
    return out


LEAVES = _leaves()
PATH_KEYS = {"dataset", "demand.csv", "fixed_plan", "review.actuals"}
PATH_VALUES = ["null", str(MINI), str(HAND), "/nonexistent/x", str(REPO / "README.md"),
               str(REPO / "scenarios"), "guidance", "none"]
REGIONS = ["main_city", "ningcheng", "core", "county", "nowhere"]


@st.composite
def override(draw) -> str:
    key, kind, default = draw(st.sampled_from(LEAVES))
    if key in PATH_KEYS:
        return f"{key}={draw(st.sampled_from(PATH_VALUES))}"
    if kind.startswith("Dict"):
        sub = draw(st.sampled_from(REGIONS + ["2027", "2028", "2031"]))
        return f"+{key}.{sub}={draw(number_text)}"
    if kind.startswith("List"):
        if key.endswith("seasonality"):
            n = draw(st.sampled_from([12, 12, 11]))
            items = draw(st.lists(number_text, min_size=n, max_size=n))
            return f"{key}=[{','.join(items)}]"
        return f"{key}=[]"
    if "bool" in kind:
        return f"{key}={draw(st.sampled_from(['true', 'false', 'null', 'maybe']))}"
    if "int" in kind:
        return f"{key}={draw(st.one_of(st.sampled_from(['0', '-1', '1', '2', '1000000000']), junk_text))}"
    if "float" in kind:
        return f"{key}={draw(st.one_of(number_text, number_text, junk_text))}"
    if isinstance(default, str):  # enumerations and names: the valid ones and others
        return f"{key}={draw(st.sampled_from([default, 'x', 'hard', 'soft', 'off', '9.3', 'none', 'district', 'csv', 'sales_base', 'linear', 'city']))}"
    return f"{key}={draw(st.one_of(number_text, junk_text))}"


@given(st.lists(override(), min_size=1, max_size=4))
@_hyp("config")
def _fuzz_config(overrides):
    Tally("config").run(" ".join(overrides), BASE + overrides)


def test_fuzz_configurations():
    _fuzz_config()
    _assert_no_failures("config")


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------
cell_text = st.one_of(
    number_text,
    st.sampled_from(["", " ", "１２", "1,234", "20%", "NaN", "Infinity", "-", "1e999", "0x10",
                     "2027.5", "二十", "12 ", " 3.5", "+7", ".5", "5.", "1_000"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
)


def _rewrite(path: Path, row: int, column: str, value: str) -> None:
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    row = 1 + row % (len(rows) - 1)
    rows[row][header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _number_columns(spec: dict) -> list[str]:
    return [c for c, cs in spec["columns"].items() if cs["type"] in ("number", "share", "year",
                                                                      "count")]


SCHEMA = load_schema()
MINI_TABLES = sorted(p.stem for p in MINI.glob("*.csv") if p.stem in SCHEMA["tables"])
CELLS = [(t, c) for t in MINI_TABLES for c in _number_columns(SCHEMA["tables"][t])]


@given(st.sampled_from(CELLS), st.integers(0, 50), cell_text)
@example(("demand", "year"), 43, "1e999")  # found by the long profile: int(inf)
@example(("targets", "value"), 48, "Ô\x0e\x19¹A\x08")  # a superscript digit: int('¹')
@_hyp("dataset")
def _fuzz_dataset(cell, row, value):
    table, column = cell
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "city"
        shutil.copytree(MINI, folder)
        _rewrite(folder / f"{table}.csv", row, column, value)
        Tally("dataset").run(f"{table}.{column}[{row}]={value!r}",
                             BASE + [f"dataset={folder}"])


def test_fuzz_dataset_cells():
    _fuzz_dataset()
    _assert_no_failures("dataset")


MINI_ACTUALS = ("region_id,year,land_ha,supply_10k_m2,sales_10k_m2,purchased_10k_m2,"
                "inventory_end_10k_m2,vacancy_share,source\n"
                "core,2026,5,20,18,,26,,fuzz\n"
                "county,2026,2,5,4,,41,,fuzz\n")
ACTUAL_COLUMNS = _number_columns(SCHEMA["actuals"])


@given(st.sampled_from(ACTUAL_COLUMNS), st.integers(0, 1), cell_text)
@_hyp("actuals")
def _fuzz_actuals(column, row, value):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "actuals.csv"
        path.write_text(MINI_ACTUALS, encoding="utf-8")
        _rewrite(path, row, column, value)
        Tally("actuals").run(f"actuals.{column}[{row}]={value!r}", BASE + [
            f"dataset={MINI}", "review.enabled=true", f"review.actuals={path}",
            "review.adjust=false"])


def test_fuzz_actuals_cells():
    _fuzz_actuals()
    _assert_no_failures("actuals")


FIXED_PLAN = ("region,year,land_ha,supply_10k_m2,purchased_10k_m2\n"
              "core,2026,6,12,0\ncore,2027,6,12,0\ncounty,2026,2,4,0\ncounty,2027,2,4,0\n")
FIXED_COLUMNS = ["region", "year", "land_ha", "supply_10k_m2", "purchased_10k_m2"]


@given(st.sampled_from(FIXED_COLUMNS), st.integers(0, 3), cell_text)
@example("land_ha", 2, "\r\U00096942")  # found by the long profile: a bare CR in a cell
@_hyp("fixed_plan")
def _fuzz_fixed_plan(column, row, value):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.csv"
        path.write_text(FIXED_PLAN, encoding="utf-8")
        _rewrite(path, row, column, value)
        Tally("fixed_plan").run(f"fixed_plan.{column}[{row}]={value!r}", BASE + [
            f"dataset={MINI}", "evaluate_only=true", f"fixed_plan={path}"])


def test_fuzz_fixed_plan_cells():
    _fuzz_fixed_plan()
    _assert_no_failures("fixed_plan")


def test_invariants_catch_a_broken_plan():
    """The invariant check itself fails a plan whose stock does not balance (a broken
    implementation must not pass the fuzz)."""
    code, outcome = run_as_cli(BASE + [f"dataset={MINI}"])
    assert code == 0 and check_invariants(outcome) == []
    plan = outcome.tables["plan"].copy()
    plan.loc[0, "inventory_end_10k_m2"] += 5.0
    broken = type(outcome)(**{**outcome.__dict__, "tables": {**outcome.tables, "plan": plan}})
    assert any("balance" in p for p in check_invariants(broken))
    plan.loc[0, "land_ha"] = math.nan
    broken = type(outcome)(**{**outcome.__dict__, "tables": {**outcome.tables, "plan": plan}})
    assert any("land_ha" in p for p in check_invariants(broken))


def test_schema_walk_reaches_every_group():
    keys = {k for k, _, _ in LEAVES}
    assert {"demand.multiplier", "targets.cycle.mode", "solver.options", "sim.seasonality",
            "review.workers"} <= keys
    assert to_settings(RunConfig()) is not None
