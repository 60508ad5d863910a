"""Shared fixtures: the real dataset, the synthetic second city, and broken copies of the data."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model.data import DEFAULT_DATASET, load_dataset

TESTS = Path(__file__).resolve().parent
MINI_CITY = TESTS / "data" / "mini_city"
THREE_YEAR_CITY = TESTS / "data" / "three_year_city"


@pytest.fixture(scope="session")
def chifeng():
    return load_dataset(DEFAULT_DATASET)


@pytest.fixture(scope="session")
def mini_city():
    return load_dataset(MINI_CITY)


@pytest.fixture(scope="session")
def three_year_city():
    """No main city, city-total guidance, a three-year plan, no land history, no demand table."""
    return load_dataset(THREE_YEAR_CITY)


@pytest.fixture
def dataset_copy(tmp_path):
    """A writable copy of the bundled dataset, for breaking on purpose."""
    target = tmp_path / "chifeng"
    shutil.copytree(DEFAULT_DATASET, target)
    return target


def pytest_terminal_summary(terminalreporter):
    """The fuzz figures (tests/test_fuzz.py): cases, failures, wall time, exit codes and the
    slowest cases of each family."""
    import sys

    module = sys.modules.get("tests.test_fuzz")
    stats = getattr(module, "FUZZ_STATS", None)
    if not stats:
        return
    tr = terminalreporter
    tr.section(f"fuzz ({module.PROFILE} profile)")
    total = {"cases": 0, "failures": 0, "wall_s": 0.0}
    for family, s in stats.items():
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(s["codes"].items(), key=str))
        tr.write_line(f"{family:11s} {s['cases']:5d} cases, {len(s['failures'])} failures, "
                      f"{s['wall_s']:7.1f} s; exit codes {{{codes}}}")
        for wall, label in s["slowest"][:3]:
            tr.write_line(f"{'':11s} slow: {wall:6.2f} s  {label[:150]}")
        for line in s["failures"][:5]:
            tr.write_line(f"{'':11s} FAIL: {line[:300]}")
        total["cases"] += s["cases"]
        total["failures"] += len(s["failures"])
        total["wall_s"] += s["wall_s"]
    tr.write_line(f"{'all':11s} {total['cases']:5d} cases, {total['failures']} failures, "
                  f"{total['wall_s']:7.1f} s")
