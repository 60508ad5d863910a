"""Observed values for the mid-term review: a CSV of what happened, checked against the dataset.

The format is documented under ``actuals`` in ``scenarios/SCHEMA.yaml``; a template and a worked
example live in ``scenarios/actuals/``. ``load_actuals`` reports every problem at once, one line
each, as the dataset loader does — including an inventory that does not follow from the other
columns, with the size of the gap.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import pandas as pd

from model.data import SCENARIOS_DIR, Dataset, DatasetError, check_rows, load_schema, read_csv_checked

ACTUALS_DIR = SCENARIOS_DIR / "actuals"
EXAMPLE_ACTUALS = ACTUALS_DIR / "chifeng_2026_2027_example.csv"
INVENTORY_GAP_TOLERANCE_10K_M2 = 0.05  # rounding in four published columns


@dataclass(frozen=True)
class Actuals:
    """Observed region-year values; ``years`` are the observed plan years, in order."""

    path: Path
    years: tuple[int, ...]
    _frame: pd.DataFrame

    def table(self) -> pd.DataFrame:
        return self._frame.copy()

    def value(self, column: str) -> Mapping[tuple[str, int], float]:
        frame = self._frame
        return MappingProxyType(dict(zip(zip(frame["region_id"], frame["year"]),
                                         frame[column].astype(float))))

    def inventory_end_10k_m2(self) -> Mapping[str, float]:
        """Inventory at the end of the last observed year, by region (the re-plan's start)."""
        last = self._frame[self._frame["year"] == self.years[-1]]
        return MappingProxyType(dict(zip(last["region_id"], last["inventory_end_10k_m2"])))

    def cycle_end_months(self) -> Mapping[str, float]:
        """Observed cycle at the end of the last observed year: inventory ÷ (that year's sales ÷ 12)."""
        last = self._frame[self._frame["year"] == self.years[-1]]
        return MappingProxyType({
            rid: (inv / (sales / 12) if sales > 0 else float("inf"))
            for rid, inv, sales in zip(last["region_id"], last["inventory_end_10k_m2"], last["sales_10k_m2"])
        })


def load_actuals(path: str | Path, dataset: Dataset) -> Actuals:
    """Read and check an actuals CSV against ``dataset``; raise DatasetError listing every problem."""
    path = Path(path)
    spec = load_schema()["actuals"]
    problems: list[str] = []
    label = path.name
    frame = read_csv_checked(path, spec, problems, label)
    if frame is None or problems:
        raise DatasetError(problems or [f"{label}: cannot be read"])
    levels = {r.region_id: r.level for r in (dataset.city, *dataset.regions, *dataset.districts)}
    years = _observed_years(frame, dataset, label, problems)
    check_rows(label, frame, {**spec, "columns": {**spec["columns"],
                                                  "year": {**spec["columns"]["year"], "series": "observed"}}},
               levels, {"observed": years}, problems)
    if not problems:
        frame["year"] = frame["year"].astype(int)
        frame["purchased_10k_m2"] = frame["purchased_10k_m2"].fillna(0.0)
        _check_inventory_identity(frame, dataset, label, problems)
    if problems:
        raise DatasetError(problems)
    frame = frame.sort_values(["year", "region_id"]).reset_index(drop=True)
    return Actuals(path=path.resolve(), years=years, _frame=frame)


def _observed_years(frame, dataset, label, problems) -> tuple[int, ...]:
    """Observed years must lie in the plan and run without gaps from its first year."""
    plan = dataset.plan_years
    seen = sorted({int(y) for y in frame["year"].dropna()})
    for i, y in enumerate(frame["year"]):
        if y is not pd.NA and int(y) not in plan:
            problems.append(f"{label} line {i + 2}, column year: value {y} — expected a plan year "
                            f"in {plan[0]}–{plan[-1]}")
    inside = [y for y in seen if y in plan]
    if inside:
        expected = tuple(range(plan[0], inside[-1] + 1))
        missing = [y for y in expected if y not in inside]
        if missing:
            problems.append(f"{label}: column year: no rows for {', '.join(map(str, missing))} "
                            f"(observed years must run from {plan[0]} without gaps)")
        if inside[-1] == plan[-1]:
            problems.append(f"{label}: column year: every plan year is observed — nothing is left "
                            f"to re-plan (expected the years {plan[0]}–{plan[-2]} at most)")
        return expected
    return ()


def _check_inventory_identity(frame, dataset, label, problems):
    """inventory_end = previous inventory_end (表19 for the first year) + supply − sales − purchased."""
    start = dict(dataset.inventory_10k_m2())
    ordered = frame.reset_index().sort_values(["region_id", "year"])
    previous: dict[str, float] = {}
    for r in ordered.itertuples(index=False):
        opening = previous.get(r.region_id, start.get(r.region_id, 0.0))
        expected = opening + r.supply_10k_m2 - r.sales_10k_m2 - r.purchased_10k_m2
        gap = r.inventory_end_10k_m2 - expected
        if abs(gap) > INVENTORY_GAP_TOLERANCE_10K_M2:
            problems.append(
                f"{label} line {r.index + 2}, column inventory_end_10k_m2: value "
                f"{r.inventory_end_10k_m2:g} does not follow from the other columns — expected "
                f"{expected:.2f} (= opening {opening:.2f} + supply {r.supply_10k_m2:g} − sales "
                f"{r.sales_10k_m2:g} − purchased {r.purchased_10k_m2:g}); gap {gap:+.2f} 万m²")
        previous[r.region_id] = r.inventory_end_10k_m2
