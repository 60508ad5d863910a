"""Default checks: the audit checks what any dataset's tables allow, without hand-written relations
(issue 15). On the three-year city (no main city, city-total guidance, no demand table, no land
history, no land-rule facts) and on copies of it and of the mini city. Expected values are worked
out by hand from the CSVs in the comments, so a check on the wrong table, base or split fails."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from model.audit import (
    AUDIT_COLUMNS,
    DEFAULT,
    FINDING,
    INFO,
    MANIFEST,
    OK,
    ROUNDING,
    checks_frame,
    default_relations,
    run_audit,
)
from model.data import load_dataset
from model.inputs import NATIONAL_LAND_RULE_SOURCE
from tests.conftest import MINI_CITY, THREE_YEAR_CITY

# three_year_city/base_inventory.csv (stock 万m², monthly sales 万m²/month, cycle months):
#   east 120, 6, —    west 80, —, 16    north —, 2, 24    south 30, 3, 10
# → stock 120 + 80 + 48 + 30 = 278; monthly sales 6 + 5 + 2 + 3 = 16 (192 a year, as facts.csv)
# supply_guidance (city totals): 170, 165, 160 = 495; land_guidance: 70, 68, 65 = 203
# targets: supply 495, land 203, cycle 18 months at the end of 2028
STOCK, MONTHLY, SUPPLY = 278.0, 16.0, (170.0, 165.0, 160.0)


@pytest.fixture(scope="module")
def three(three_year_city):
    return checks_frame(run_audit(three_year_city))


def key(frame, k):
    hit = frame[frame["key"] == k]
    assert len(hit) == 1, (k, frame["key"].tolist())
    return hit.iloc[0]


def copy_of(tmp_path, source, name="copy"):
    folder = tmp_path / name
    shutil.copytree(source, folder)
    return folder


def set_relations(folder, relations):
    path = folder / "manifest.yaml"
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    if relations is None:
        manifest.pop("relations", None)
    else:
        manifest["relations"] = relations
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    return manifest


def audit_of(folder):
    return checks_frame(run_audit(load_dataset(folder)))


# ---------------------------------------------------------------------------------------------
# The three-year city as shipped (its manifest lists two relations)
# ---------------------------------------------------------------------------------------------
def test_runs_every_default_kind(three):
    defaults = three[three["origin"] == DEFAULT]
    kinds = set(defaults["check"].str.replace(r"^land rule .*", "land rule", regex=True))
    assert {"2028 cycle from the plan's tables", "peak cycle on the plan's path",
            "lowest cycle on the plan's path", "land rule", "implied ratio", "stock identity",
            "implied sales"} <= kinds
    # The manifest's two guidance-vs-target relations win: no default repeats them.
    same = three[three["check"] == "same quantity"]
    assert len(same) == 2 and (same["origin"] == MANIFEST).all()
    assert (same["printed"] == same["computed"]).all()   # 495 = 495, 203 = 203
    assert len(three) > 20
    assert (defaults["key"].str.startswith("default:")).all()
    assert (defaults["note"].str.startswith("default check")).all()


def test_end_of_plan_cycle_without_a_demand_table(three):
    # No demand table: demand is the base-year rate 16 × 12 = 192 a year, held flat.
    # Stock at the end of 2028: 278 + 495 − 3 × 192 = 197; cycle 197 ÷ 16 = 12.3125 months < 18.
    end = key(three, "default:cycle:supply_guidance:city")
    assert end.printed == 18 and end.computed == pytest.approx(197 / 16)
    assert end.status == OK and end.scope == "city 合成市, 2028"
    assert "no demand table" in end.note and "192.00" in end.note and "197.00" in end.note
    # No second "at base-year sales" projection: it would be the same path.
    assert not three["key"].str.contains("baserate").any()


def test_peak_and_lowest_cycle_on_the_way(three):
    # Year ends: 278 + 170 − 192 = 256 (16.0 months), 256 + 165 − 192 = 229 (14.3125),
    # 229 + 160 − 192 = 197 (12.3125); the base-year cycle 278 ÷ 16 = 17.375.
    peak = key(three, "default:peak:supply_guidance:city")
    low = key(three, "default:lowest:supply_guidance:city")
    assert peak.printed == pytest.approx(17.375) and peak.computed == pytest.approx(16.0)
    assert peak.status == INFO and peak.scope.endswith("2026")
    assert low.computed == pytest.approx(197 / 16) and low.scope.endswith("2028")
    assert low.status == INFO


def test_region_paths_rest_on_the_split_and_say_so(three):
    # The city's 170 split by base-year sales (east 6/16 = 37.5 %): east gets 63.75 in 2026;
    # east's path 120 + 495 × 0.375 − 3 × 72 = 89.625 万m², ÷ 6 = 14.9375 months.
    east = key(three, "default:cycle:supply_guidance:east")
    assert east.computed == pytest.approx((120 + 495 * 0.375 - 216) / 6)
    assert east.status == INFO and "split" in east.note and "east 37.5%" in east.note


def test_land_rule_on_city_total_land_uses_the_split_and_the_national_default(three):
    # No land-rule facts: the national rule (36 / 18 months). East (20 months) and north (24) are
    # in the revitalise band; their land is the city's 2026 70 ha × 6/16 and × 2/16.
    rules = three[three["check"].str.startswith("land rule")]
    assert set(rules["check"]) == {f"land rule {NATIONAL_LAND_RULE_SOURCE}"}
    east = rules[rules["scope"] == "east 东区, 2026"].iloc[0]
    north = rules[rules["scope"] == "north 北区, 2026"].iloc[0]
    assert east.printed == pytest.approx(70 * 6 / 16)
    assert north.printed == pytest.approx(70 * 2 / 16)
    assert (rules["status"] == INFO).all() and len(rules) == 2   # west 16, south 10: below 18
    assert "split" in east.note and "national default" in east.note


def test_floor_area_per_hectare_against_the_band(three):
    ratios = three[three["check"] == "implied ratio"].sort_values("scope")
    assert list(ratios["computed"].round(4)) == [round(170 / 70, 4), round(165 / 68, 4),
                                                  round(160 / 65, 4)]
    assert (ratios["status"] == OK).all()
    assert ratios["note"].str.contains("judgement").all()


def test_stock_identity_only_where_all_three_are_printed(three):
    # Only south prints all three: 30 ÷ 3 = 10 = its printed cycle.
    identity = three[three["check"] == "stock identity"]
    assert list(identity["scope"]) == ["south 南区, 2025"]
    assert identity.iloc[0].printed == 10 and identity.iloc[0].computed == 10
    assert identity.iloc[0].status == OK


def test_implied_sales_from_the_stock_table(three):
    # 120 ÷ 20 + 80 ÷ 16 + 48 ÷ 24 + 30 ÷ 10 = 16 a month, × 12 = 192 = the reported sales.
    sales = key(three, "default:implied:base_inventory:city")
    assert (sales.printed, sales.computed, sales.status) == (192, pytest.approx(192), OK)


def test_no_chifeng_citations_for_another_city(three):
    text = " ".join(three["note"].fillna("")) + " ".join(three["note_zh"].fillna("")) \
        + " ".join(three["tables"].fillna("")) + " ".join(three["check"])
    assert "§" not in text and "nan" not in text
    assert not re.search(r"表(19|3[1-4]|4[5-9])(?!\d)", text)


def test_cli_marks_the_defaults(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "model.audit", str(THREE_YEAR_CITY), "--out",
                           str(tmp_path)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert "24 checks (22 of them default checks" in first
    frame = pd.read_csv(tmp_path / "audit_checks.csv")
    assert set(frame["origin"]) == {MANIFEST, DEFAULT}
    assert list(pd.read_csv(tmp_path / "audit.csv").columns) == AUDIT_COLUMNS
    report = (tmp_path / "audit_report.md").read_text(encoding="utf-8")
    assert "默认核查" in report and "§" not in report


# ---------------------------------------------------------------------------------------------
# Copies: no relations at all, a wrong total, a region above the suspension threshold
# ---------------------------------------------------------------------------------------------
def test_no_relations_still_checks_the_totals_against_the_targets(tmp_path):
    folder = copy_of(tmp_path, THREE_YEAR_CITY)
    set_relations(folder, None)
    checks = audit_of(folder)
    assert (checks["origin"] == DEFAULT).all()
    same = checks[checks["check"] == "same quantity"].set_index("unit")
    assert (same.loc["10k_m2", "printed"], same.loc["10k_m2", "computed"]) == (495, 495)
    assert (same.loc["ha", "printed"], same.loc["ha", "computed"]) == (203, 203)
    assert (same["status"] == OK).all() and (same["origin"] == DEFAULT).all()


def test_a_wrong_total_and_a_region_above_the_threshold(tmp_path):
    folder = copy_of(tmp_path, THREE_YEAR_CITY)
    set_relations(folder, None)
    sup = (folder / "supply_guidance.csv").read_text(encoding="utf-8")
    (folder / "supply_guidance.csv").write_text(sup.replace("city,2028,160", "city,2028,150"),
                                                encoding="utf-8")
    inv = (folder / "base_inventory.csv").read_text(encoding="utf-8")
    (folder / "base_inventory.csv").write_text(inv.replace("north,,2,24", "north,,2,40"),
                                               encoding="utf-8")
    checks = audit_of(folder)
    same = checks[(checks["check"] == "same quantity") & (checks["unit"] == "10k_m2")].iloc[0]
    assert (same.printed, same.computed, same.status) == (485, 495, FINDING)   # 170 + 165 + 150
    # North now holds 2 × 40 = 80: stock 310; end 310 + 485 − 576 = 219 → 219 ÷ 16 months.
    end = key(checks, "default:cycle:supply_guidance:city")
    assert end.computed == pytest.approx(219 / 16)
    # North's 40 months > 36: no land under the national rule; the split gives it 70 × 2/16.
    north = checks[checks["check"].str.startswith("land rule")
                   & (checks["scope"] == "north 北区, 2026")].iloc[0]
    assert (north.printed, north.computed, north.status) == (8.75, 0, FINDING)
    assert north.severity == "minor" and "city total puts none in north" in north.note


def test_city_total_land_where_every_region_is_above_the_threshold(tmp_path):
    # The mini city's land printed as city totals (7, 5 ha); its stricter rule (18 months, facts
    # "test") suspends both regions (core 24, county 48): the city total itself breaks it.
    folder = copy_of(tmp_path, MINI_CITY)
    set_relations(folder, {})
    (folder / "land_guidance.csv").write_text(
        "region_id,year,land_ha,source\ncity,2026,7,test\ncity,2027,5,test\n", encoding="utf-8")
    (folder / "printed_totals.csv").write_text("table,column,row_id,year,value,source\n",
                                               encoding="utf-8")
    checks = audit_of(folder)
    # Base-year sales shares: core 24 ÷ 24 = 1, county 40 ÷ 48 = 5/6 a month → core 6/11.
    core = key(checks, "default:rule:test:18:land_guidance:core")
    assert core.printed == pytest.approx(7 * 6 / 11) and core.severity == "material"
    assert "city total of 7 ha itself breaks the rule" in core.note
    # Under the 36-month rule core stays open: county's share is the split's, minor.
    county = key(checks, "default:rule:test:36:land_guidance:county")
    assert county.printed == pytest.approx(7 * 5 / 11) and county.severity == "minor"
    # Supply ÷ land on city totals: (10 + 4) ÷ 7 = 2.0 and (8 + 2) ÷ 5 = 2.0.
    ratios = checks[checks["check"] == "implied ratio"]
    assert list(ratios["computed"]) == [2.0, 2.0] and set(ratios["scope"]) == {
        "city 测试市, 2026", "city 测试市, 2027"}


def test_defaults_can_be_turned_off(tmp_path):
    folder = copy_of(tmp_path, THREE_YEAR_CITY)
    path = folder / "manifest.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "audit_defaults: false\n", encoding="utf-8")
    checks = audit_of(folder)
    assert len(checks) == 2 and (checks["origin"] == MANIFEST).all()


# ---------------------------------------------------------------------------------------------
# The mini city: region guidance, a demand table, a main city, land-rule facts
# ---------------------------------------------------------------------------------------------
def test_mini_city_manifest_relations_win(mini_city):
    # Its manifest lists cycle_projections, land_rules, ratios and totals: only the relations it
    # lacks are added (rows vs the supply and land targets; the implied sales).
    added = default_relations(mini_city)
    assert set(added) == {"same_quantity", "implied_sales"}
    checks = checks_frame(run_audit(mini_city))
    assert set(checks.loc[checks["origin"] == DEFAULT, "check"]) == {"same quantity",
                                                                     "implied sales"}


def test_mini_city_defaults_reproduce_its_manifest(tmp_path, mini_city):
    """With its relations removed, the defaults give the figures its manifest's relations give."""
    listed = checks_frame(run_audit(mini_city))
    folder = copy_of(tmp_path, MINI_CITY)
    set_relations(folder, {})
    derived = audit_of(folder)
    for k in ("cycle:supply_guidance:city", "cycle:supply_guidance:core",
              "cycle:supply_guidance:county", "peak:supply_guidance:city",
              "baserate:supply_guidance:city", "rule:test:36:land_guidance:county",
              "rule:test:18:land_guidance:core"):
        a, b = key(listed, k), key(derived, f"default:{k}")
        assert (a.printed, a.computed, a.status) == (b.printed, b.computed, b.status), k
    # City: 64 + 24 − 44 = 44 万m² at the end of 2027, ÷ (22 ÷ 12) = 24 months > 18: missed.
    end = key(derived, "default:cycle:supply_guidance:city")
    assert end.computed == pytest.approx(24.0) and end.status == FINDING
    # County's 48 months > 36 yet 2 ha in 2026 (its own land table: material, not a split).
    county = key(derived, "default:rule:test:36:land_guidance:county")
    assert (county.printed, county.status, county.severity) == (2, FINDING, "material")
    # Every row-year is 2 万m² per ha: inside the band.
    ratios = derived[derived["check"] == "implied ratio"]
    assert len(ratios) == 4 and (ratios["computed"] == 2).all() and (ratios["status"] == OK).all()


def test_mini_city_without_demand_and_with_all_three_stock_columns(tmp_path):
    folder = copy_of(tmp_path, MINI_CITY)
    manifest = set_relations(folder, {})
    manifest["tables"].pop("demand")
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True),
                                          encoding="utf-8")
    (folder / "demand.csv").unlink()
    (folder / "printed_totals.csv").write_text(
        "table,column,row_id,year,value,source\n"
        "supply_guidance,supply_10k_m2,ALL,ALL,24,test\nland_guidance,land_ha,ALL,ALL,12,test\n",
        encoding="utf-8")
    # core 24 ÷ 1 = 24 (ok); county 40.00 ÷ 0.83 = 48.19 against 50: beyond the rounding
    # (0.5 + 0.005 ÷ 0.83 + 40 × 0.005 ÷ 0.83² = 0.80) but within the loader's 5 %: info.
    (folder / "inventory_2025.csv").write_text(
        "region_id,inventory_10k_m2,monthly_sales_10k_m2,cycle_months,source\n"
        "core,24,1,24,test\ncounty,40.00,0.83,50,test\n", encoding="utf-8")
    checks = audit_of(folder)
    core, county = (key(checks, f"default:identity:base_inventory:{r}") for r in ("core", "county"))
    assert (core.computed, core.status) == (24, OK)
    assert county.computed == pytest.approx(40 / 0.83) and county.status == INFO
    # Demand = base-year sales: 12 + 9.96 a year; end 64 + 24 − 2 × 21.96 = 44.08.
    end = key(checks, "default:cycle:supply_guidance:city")
    rate = 12 + 0.83 * 12
    assert end.computed == pytest.approx((64 + 24 - 2 * rate) / (rate / 12))
    assert "no demand table" in end.note
    assert {"printed total"} <= set(checks["check"])   # totals from printed_totals.csv


def test_identity_rounding_status(tmp_path):
    folder = copy_of(tmp_path, MINI_CITY)
    (folder / "inventory_2025.csv").write_text(
        "region_id,inventory_10k_m2,monthly_sales_10k_m2,cycle_months,source\n"
        "core,24.1,1,24,test\ncounty,40,0.83,48,test\n", encoding="utf-8")
    checks = audit_of(folder)
    assert key(checks, "default:identity:base_inventory:core").status == ROUNDING   # 24.1 vs 24
    assert key(checks, "default:identity:base_inventory:county").status == ROUNDING  # 48.19
