"""The loader on the real Chifeng dataset, on the synthetic second city, and on broken copies."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pandas as pd
import pytest

from model.data import DatasetError, load_dataset

# -- the real dataset: values transcribed exactly as printed ---------------------------------


def test_geography(chifeng):
    assert len(chifeng.regions) == 11 and len(chifeng.districts) == 8
    assert chifeng.name_zh("harqin") == "喀喇沁旗"
    assert chifeng.name_zh("hemei") == "和美片区"
    assert chifeng.city.name_zh == "全市"
    assert chifeng.plan_years == (2026, 2027, 2028, 2029, 2030)
    assert chifeng.history_years == (2021, 2022, 2023, 2024, 2025)


@pytest.mark.parametrize("getter, key, value", [
    ("inventory_10k_m2", "harqin", 27.19),          # 表19
    ("cycle_months", "yuanbaoshan", 58.0),          # 表19
    ("cycle_months", "main_city", 33.0),            # 表19
])
def test_table19_spot_values(chifeng, getter, key, value):
    assert getattr(chifeng, getter)()[key] == value


def test_spot_values_across_tables(chifeng):
    assert chifeng.land_sold_ha()[("ar_horqin", 2024)] == 8.8            # 表21
    assert chifeng.land_sold_ha()[("main_city", 2025)] == 7.10           # 表21
    assert chifeng.demand_10k_m2()[("main_city", 2030)] == 120.9         # 表31
    assert chifeng.demand_10k_m2("district")[("gaotie", 2030)] == 1.19   # 表32
    assert chifeng.supply_guidance_10k_m2()[("main_city", 2027)] == 239.4        # 表45
    assert chifeng.supply_guidance_10k_m2("district")[("songshan", 2029)] == 28.12  # 表46
    assert chifeng.land_guidance_ha()[("ningcheng", 2028)] == 10.34      # 表48
    assert chifeng.land_guidance_ha("district")[("hongshan", 2026)] == 11.67     # 表49
    assert chifeng.inventory_10k_m2("district")["songshan"] == 89.64     # §8.2.1.4
    assert chifeng.cycle_months("district")["xiaoxindi"] == 6.0          # §8.2.1.2
    by_type = chifeng.table("supply_by_type").set_index(["housing_type", "year"])
    assert by_type.loc[("commercial", 2027), "dwellings"] == 21060       # 表47
    assert pd.isna(by_type.loc[("subsidised_rental", 2027), "dwellings"])  # 表47 leaves it blank


def test_facts_and_targets(chifeng):
    assert chifeng.fact("sales_10k_m2") == 205.42
    assert chifeng.fact("sales_dwellings", "main_city") == 8367
    assert chifeng.fact("vacancy_share", "main_city") == 0.2898
    assert chifeng.fact("land_rule_suspend_above_months", period="2026-2030") == 36
    assert chifeng.fact("strict_rule_suspend_above_months", period="2026-2030") == 18
    assert chifeng.fact("subsidised_loan_term_years", period="2026-2030") == 25
    assert chifeng.target("land_total_ha").value == 574.93
    assert chifeng.target("supply_total_10k_m2").value == 1089.46
    assert chifeng.target("vacancy_share", "main_city").value == 0.18
    assert chifeng.target("cycle_months").value == 18


def test_printed_totals_are_kept_apart_from_rows(chifeng):
    totals = chifeng.table("printed_totals").set_index(["table", "column", "row_id", "year"])["value"]
    assert totals[("supply_guidance", "supply_10k_m2", "ALL", "ALL")] == 1089.46
    assert totals[("supply_guidance", "supply_10k_m2", "main_city", "ALL")] == 574.93
    assert totals[("district_demand", "demand_10k_m2", "gaotie", "ALL")] == 50.87
    assert totals[("supply_by_type", "dwellings", "ALL", "ALL")] == 114021
    # The rows themselves carry no total rows.
    assert "ALL" not in set(chifeng.table("supply_guidance")["region_id"])


def test_every_row_has_provenance(chifeng):
    for name in ("inventory_2025", "district_inventory_2025", "land_sold", "demand",
                 "district_demand", "supply_guidance", "district_supply_guidance",
                 "supply_by_type", "land_guidance", "district_land_guidance", "targets",
                 "facts", "printed_totals", "printed_shares"):
        sources = chifeng.table(name)["source"]
        assert sources.str.match(r"^(表\d+|§[\d.]+|第五章)").all(), name


def test_inputs_are_immutable(chifeng):
    with pytest.raises(dataclasses.FrozenInstanceError):
        chifeng.name = "other"
    frame = chifeng.table("demand")
    frame.loc[:, "demand_10k_m2"] = 0.0
    assert chifeng.demand_10k_m2()[("main_city", 2026)] == 115.3
    with pytest.raises(TypeError):
        chifeng.demand_10k_m2()[("main_city", 2026)] = 1.0


def test_second_city_loads_without_code_changes(mini_city):
    assert mini_city.region_ids == ("core", "county")
    assert mini_city.plan_years == (2026, 2027)
    assert not mini_city.has_districts
    assert mini_city.demand_10k_m2()[("county", 2027)] == 10


# -- validation: every failure named by file, line, column, value and what is expected --------


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _problems(folder) -> list[str]:
    with pytest.raises(DatasetError) as err:
        load_dataset(folder)
    return err.value.problems


BREAKAGES = {
    "missing file": (lambda d: (d / "demand.csv").unlink(),
                     ["demand.csv: missing file"]),
    "missing column": (lambda d: _edit(d / "inventory_2025.csv", ",cycle_months,", ",cycle,"),
                       ["inventory_2025.csv: missing column 'cycle_months'",
                        "inventory_2025.csv: unexpected column 'cycle'"]),
    "non-numeric": (lambda d: _edit(d / "demand.csv", "main_city,2027,117.8,", "main_city,2027,abc,"),
                    ["demand.csv line 3, column demand_10k_m2: value 'abc' — expected a number in 10k_m2"]),
    "negative": (lambda d: _edit(d / "land_sold.csv", "main_city,2022,39.51,", "main_city,2022,-39.51,"),
                 ["land_sold.csv line 3, column land_ha: value '-39.51' — expected a non-negative number in ha"]),
    "unknown region": (lambda d: _edit(d / "demand.csv", "aohan,2026,", "atlantis,2026,"),
                       ["value 'atlantis' — expected a region id from regions.csv"]),
    "district in a region table": (
        lambda d: _edit(d / "supply_guidance.csv", "aohan,2026,", "hemei,2026,"),
        ["supply_guidance.csv line", "column region_id: value 'hemei' is a district — expected a city or region"]),
    "missing year": (lambda d: _edit(d / "supply_guidance.csv", "aohan,2028,18.33,表45\n", ""),
                     ["supply_guidance.csv: column year, aohan: no row for year 2028 (expected every year 2026–2030)"]),
    "duplicate row": (lambda d: _edit(d / "land_guidance.csv", "aohan,2026,7.25,表48\n",
                                      "aohan,2026,7.25,表48\naohan,2026,7.25,表48\n"),
                      ["land_guidance.csv line", "duplicate row for region_id, year = aohan, 2026 (first at line"]),
    "share outside [0, 1]": (lambda d: _edit(d / "printed_shares.csv", ",0.4845,", ",48.45,"),
                             ["printed_shares.csv line 3, column share: value '48.45' — expected a share in [0, 1]"]),
    "share fact outside [0, 1]": (lambda d: _edit(d / "facts.csv", "vacancy_share,city,2025,0.2885,", "vacancy_share,city,2025,28.85,"),
                                  ["facts.csv line", "column value: value 28.85 — expected a share in [0, 1]"]),
    "year outside the plan": (lambda d: _edit(d / "demand.csv", "main_city,2030,", "main_city,2031,"),
                              ["demand.csv: column year, main_city: no row for year 2030",
                               "demand.csv line 6, column year: value 2031 — expected a year in 2026–2030"]),
    "unreadable csv": (lambda d: (d / "facts.csv").write_bytes(b"\xff\xfe\x00bad\x00\"\n\x00"),
                       ["facts.csv: cannot be read as a UTF-8 CSV"]),
    "missing manifest": (lambda d: (d / "manifest.yaml").unlink(),
                         ["manifest.yaml: missing file"]),
    "broken manifest": (lambda d: (d / "manifest.yaml").write_text("name: [unclosed\n", encoding="utf-8"),
                        ["manifest.yaml line", "not valid YAML"]),
    "missing required fact": (lambda d: _edit(d / "facts.csv", "sales_10k_m2,city,2025,205.42,10k_m2,§2.2.1.2\n", ""),
                              ["facts.csv: no row for fact 'sales_10k_m2', scope 'city', period 2025"]),
    "empty value": (lambda d: _edit(d / "inventory_2025.csv", "harqin,27.19,", "harqin,,"),
                    ["inventory_2025.csv line 11: region 'harqin' gives 1 of inventory_10k_m2, "
                     "monthly_sales_10k_m2, cycle_months; expected any two"]),
    "bad parent": (lambda d: _edit(d / "regions.csv", "hemei,和美片区,district,main_city", "hemei,和美片区,district,city"),
                   ["regions.csv line 21, column parent_id: value 'city' — expected 'main_city' for a district"]),
    "unknown table in printed totals": (
        lambda d: _edit(d / "printed_totals.csv", "base_inventory,inventory_10k_m2,ALL", "inventory_2024,inventory_10k_m2,ALL"),
        ["printed_totals.csv line 2, column table: value 'inventory_2024' — expected a table of this dataset"]),
}


@pytest.mark.parametrize("kind", list(BREAKAGES))
def test_each_broken_dataset_names_file_row_column(dataset_copy, kind):
    breaker, expected = BREAKAGES[kind]
    breaker(dataset_copy)
    text = "\n".join(_problems(dataset_copy))
    for fragment in expected:
        assert fragment in text, f"{kind}: {fragment!r} not in\n{text}"


def test_all_failures_reported_at_once(dataset_copy):
    for kind in ("non-numeric", "negative", "unknown region", "duplicate row"):
        BREAKAGES[kind][0](dataset_copy)
    problems = _problems(dataset_copy)
    assert len(problems) >= 4
    assert all("\n" not in p for p in problems)


def test_missing_folder():
    assert "dataset folder not found" in _problems("/nonexistent/dataset")[0]


@pytest.mark.parametrize("kind", ["missing file", "non-numeric", "unreadable csv", "broken manifest",
                                  "duplicate row", "share outside [0, 1]"])
def test_cli_on_broken_dataset_exits_1_without_traceback(dataset_copy, kind, tmp_path):
    BREAKAGES[kind][0](dataset_copy)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "model.audit", str(dataset_copy), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert lines and all(line.startswith("model.audit: input error: ") for line in lines), lines
    assert not out.exists()  # nothing half-written
