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
