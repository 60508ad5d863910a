"""The plan audit on the real dataset: the contradictions the Chifeng plan really has, and only
those. Expected values are recomputed here from the figures the plan prints (quoted in comments),
so a check that used the wrong base, period or table would fail."""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from model.audit import (
    AUDIT_COLUMNS, FINDING, INFO, MERGED, PRINTED_AS, SEVERITIES, VERDICTS, checks_frame,
    findings_frame, run_audit, write_audit,
)
from model.audit.links import one_edit
from model.data import load_dataset


@pytest.fixture(scope="module")
def audit(chifeng):
    return run_audit(chifeng)


@pytest.fixture(scope="module")
def checks(audit):
    return checks_frame(audit)


def one(checks, check, tables, scope):
    hit = checks[(checks["check"] == check) & (checks["tables"] == tables) & (checks["scope"] == scope)]
    assert len(hit) == 1, (check, tables, scope, hit)
    return hit.iloc[0]


def key(checks, k):
    hit = checks[checks["key"] == k]
    assert len(hit) == 1, (k, hit)
    return hit.iloc[0]


def ids_of(checks, *keys):
    return {key(checks, k)["id"] for k in keys}


# ---------------------------------------------------------------------------------------------
# Table arithmetic (found before; kept)
# ---------------------------------------------------------------------------------------------
def test_printed_supply_total_is_not_the_sum_of_table45(checks):
    row = one(checks, "printed total", "表45", "all rows")
    assert row.printed == 1089.46
    assert row.computed == pytest.approx(1231.31, abs=1e-9)
    assert row.difference == pytest.approx(-141.85, abs=1e-9)
    assert (row.status, row.severity) == (FINDING, "material")


def test_main_city_row_of_table45_is_the_land_total_copied(checks):
    row = one(checks, "printed total", "表45", "main_city 主城区")
    assert (row.printed, round(row.computed, 2), row.status) == (574.93, 598.51, FINDING)
    # 574.93 is the land total (表34, 表48, ha) printed as a floor area (万m²).
    assert row.verdict == "copy error" and "表48" in row.note and "(ha)" in row.note
    # 表46's total repeats the same number: it follows from 表45's.
    t46 = one(checks, "printed total", "表46", "all rows")
    assert t46.caused_by == row.id and t46.verdict == "copy error"


def test_land_total_574_93_is_the_original_not_the_copy(checks):
    # 574.93 belongs to hectares: it is 表34's land target, and §7.4's main-city land
    # 278.55 = 574.93 × 48.45 % (表48's printed main-city share) is derived from it. So 表48's
    # printed total is not a copy error; the floor-area printings (表45, 表46) are the copies.
    assert 278.55 == pytest.approx(round(574.93 * 0.4845, 2))
    land = one(checks, "printed total", "表48", "all rows")
    assert (land.printed, round(land.computed, 2), land.verdict) == (574.93, 607.57, "unclear")
    assert "278.55 = 574.93 × 48.45%" in land.note and "copies" in land.note
    # 表34's land target against the rows: the same gap, following from it, not a copy either.
    target = one(checks, "same quantity", "表34; 表48", "city 全市")
    assert target.verdict == "unclear" and target.caused_by == land.id
    # §7.4's 278.55 and 表49's printed total 278.55 are derived from 574.93: they follow from it.
    s74 = one(checks, "same quantity", "§7.4; 表48 (printed)", "main_city 主城区")
    assert s74.caused_by == land.id and "574.93 × 48.45%" in s74.note
    t49 = one(checks, "printed total", "表49", "all rows")
    assert t49.caused_by == land.id
    # The generic rule: no copy-error verdict on a printing in the unit the number belongs to.
    assert not ((checks["status"] == FINDING) & (checks["verdict"] == "copy error")
                & (checks["printed"] == 574.93) & (checks["unit"] == "ha")).any()


def test_a_self_share_is_no_derivation(checks):
    # 50.87 = 598.5 × 8.50 % only because 8.50 % is 高铁's own share: no link, no such note.
    gaotie = one(checks, "printed total", "表32", "gaotie 高铁片区")
    assert gaotie.caused_by == "" or pd.isna(gaotie.caused_by)
    assert "derived from" not in gaotie.note


def test_gaotie_demand_total_is_a_dropped_digit(checks):
    row = one(checks, "printed total", "表32", "gaotie 高铁片区")
    # 10.17 × 4 + 1.19 = 41.87; 10.17 × 4 + 10.19 = 50.87: 1.19 is 10.19 with a digit dropped.
    assert (row.printed, round(row.computed, 2), row.verdict) == (50.87, 41.87, "typo")
    assert "1.19 → 10.19" in row.note and "19.17" not in row.note
    # What follows from it says so.
    assert one(checks, "printed total", "表32", "all rows").caused_by == row.id
    assert one(checks, "printed total", "表46", "gaotie 高铁片区").caused_by == row.id
    five_years = one(checks, "districts vs main city", "表32; 表31", "main_city 主城区")
    assert five_years.caused_by == row.id and five_years.difference == pytest.approx(9.0)


def test_table45_column_totals_follow_from_its_grand_total(checks):
    grand = one(checks, "printed total", "表45", "all rows")
    cols = checks[(checks["check"] == "printed total") & (checks["tables"] == "表45")
                  & checks["scope"].str.match(r"all rows, \d{4}$")]
    # The five column totals are 1089.46 split 20/40/25/10/5 %: one finding over the years,
    # following from the grand total.
    series = one(checks, "printed total", "表45", "all rows, 2026–2030")
    assert len(cols) == 5 and (cols["status"] == MERGED).all() and (cols["caused_by"] == series.id).all()
    assert series.caused_by == grand.id and series.status == FINDING
    target = one(checks, "same quantity", "表34; 表45", "city 全市")
    assert target.caused_by == grand.id
    # 表47's floor area by year repeats those column totals: one finding, following from them.
    t47 = one(checks, "same quantity", "表47; 表45", "commercial, 2026–2030")
    assert t47.caused_by == series.id


def test_table48_column_totals_are_one_figure_split_by_the_profile(checks):
    # 121.05, 242.10, 151.31, 60.53, 30.26 = 605.25 × 20/40/25/10/5 %, while the rows sum to
    # 607.57: one inconsistency (a total neither printed nor the rows'), reported once.
    cols = checks[(checks["check"] == "printed total") & (checks["tables"] == "表48")
                  & checks["scope"].str.match(r"all rows, \d{4}$")]
    assert len(cols) == 5 and (cols["status"] == MERGED).all()
    series = one(checks, "printed total", "表48", "all rows, 2026–2030")
    assert "605.25 split by the rows' yearly profile" in series.note
    assert (series.severity, series.printed, series.computed) == ("minor", 242.10, pytest.approx(243.02))
    # Independent typos in column totals stay separate findings (表32 2026 and 2029).
    t32 = checks[(checks["check"] == "printed total") & (checks["tables"] == "表32")
                 & (checks["status"] == FINDING) & checks["scope"].str.startswith("all rows, ")]
    assert set(t32["scope"]) == {"all rows, 2026", "all rows, 2029"}


def test_table47_dwellings_total_counts_blank_rows(checks):
    row = one(checks, "printed total", "表47", "all rows")
    assert (row.printed, row.computed, row.difference) == (114021, 107420, 6601)
    assert "20 rows of the table are blank" in row.note
    off_by_one = key(checks, "total:supply_by_type:dwellings:commercial:ALL")
    assert (off_by_one.difference, off_by_one.severity, off_by_one.verdict) == (1, "rounding", "typo")


def test_table21_totals_agree_within_rounding(checks):
    rows = checks[(checks["tables"] == "表21") & (checks["check"] == "printed total")]
    assert len(rows) == 5 and (rows["status"] != FINDING).all()


def test_table31_column_totals_use_the_rows_precision(checks):
    # Rows have one decimal: 11 rows carry ±0.55 of rounding, so 251.85 vs 252.2 is rounding,
    # 247 vs 247.8 and 256.8 vs 251.9 are not.
    col = lambda y: one(checks, "printed total", "表31", f"all rows, {y}")
    assert col(2029).status == "rounding"
    assert col(2028).status == FINDING and col(2028).difference == pytest.approx(-0.8)
    assert col(2030).status == FINDING and col(2030).severity == "material"
    grand = one(checks, "printed total", "表31", "all rows")
    assert set(grand.caused_by.split("; ")) == {col(2028).id, col(2030).id}


def test_districts_do_not_add_up_to_the_main_city(checks):
    inv = one(checks, "districts vs main city", "§8.2.1; 表19", "main_city 主城区")
    assert (inv.printed, round(inv.computed, 2)) == (271.53, 296.19)
    land27 = one(checks, "districts vs main city", "表49; 表48", "main_city 主城区, 2027")
    assert (land27.printed, round(land27.computed, 2)) == (117.83, 62.67)
    # The yearly gaps follow from 表48 splitting every row 20/40/25/10/5 %, and are one finding.
    assert land27.status == MERGED
    series = one(checks, "districts vs main city", "表49; 表48", "main_city 主城区, 2026–2030")
    assert land27.caused_by == series.id and series.status == FINDING
    assert series.caused_by == key(checks, "profile:land_guidance")["id"]
    assert series.verdict == "method" and series.printed == 117.83


def test_main_city_row_against_its_districts_is_one_finding(checks):
    # 表31's 主城区 row rises 115.3 → 120.9 while 表32's districts fall 132.95 → 97.31: one
    # inconsistency (the two tables spread almost the same five-year total differently), not
    # one finding per year.
    years = checks[(checks["check"] == "districts vs main city") & (checks["tables"] == "表32; 表31")
                   & checks["scope"].str.match(r"main_city 主城区, \d{4}$")]
    series = one(checks, "districts vs main city", "表32; 表31", "main_city 主城区, 2026–2030")
    assert len(years) == 5 and (years["status"] == MERGED).all()
    assert (years["caused_by"] == series.id).all()
    assert (series.printed, round(series.computed, 2), series.severity) == (120.9, 97.31, "material")
    assert series.printed_as == "printed (2030, largest gap)"
    for year, gap in ((2026, "-17.65"), (2027, "-9.23"), (2029, "+11.37"), (2030, "+23.59")):
        assert f"{year}: " in series.note and gap in series.note
    assert "115.30 → 120.90" in series.note and "132.95 → 97.31" in series.note
    assert "differ by only +9.00" in series.note
    # Only one finding of this comparison by year remains in audit.csv.
    assert not ((checks["status"] == FINDING) & (checks["tables"] == "表32; 表31")
                & checks["scope"].str.match(r"main_city 主城区, \d{4}$")).any()


def test_land_totals_against_section_7_4(checks):
    row = one(checks, "same quantity", "§7.4; 表48 (printed)", "main_city 主城区")
    assert (row.printed, row.computed, row.status) == (278.55, 294.57, FINDING)
    ok = one(checks, "same quantity", "§7.4; 表49 (printed)", "main_city 主城区")
    assert ok.status == "ok"


def test_demand_reduction_share_names_its_base(checks):
    row = checks[(checks["check"] == "derived figure") & (checks["scope"] == "city 全市")
                 & checks["note"].str.contains("reduction share")].iloc[0]
    # 199.93 / 447 = 44.7 %; the printed 80 % is 199.93 / 247.07 = 80.9 %, the wrong base.
    assert row.printed == 0.8 and row.computed == pytest.approx(199.93 / 447)
    assert row.verdict == "different quantity" and "0.8092" in row.note


def test_text_reduction_103_is_a_one_digit_slip(checks):
    row = one(checks, "same quantity", "§3.2.1; 表33", "main_city 主城区")
    assert (row.printed, row.computed, row.verdict, row.severity) == (103.0, 103.3, "typo", "rounding")


def test_dwelling_size_swings_with_the_supply_profile(checks):
    # 表47's floor area is 表45's printed column totals (1089.46 split 20/40/25/10/5 %) while its
    # dwellings rise ~2 % a year: the m² per dwelling swings because of the profile (F002's root).
    profile = key(checks, "profile:supply_guidance")
    years = checks[checks["key"].str.startswith("ratio:2:commercial:")
                   & (checks["status"] == MERGED)]
    assert set(years["scope"]) == {f"commercial, {y}" for y in (2027, 2028, 2029, 2030)}
    series = one(checks, "implied ratio", "表47; 表47", "commercial, 2027–2030")
    assert series.status == FINDING and series.caused_by == profile.id
    assert series.verdict == "method" and "fixed yearly profile" in series.note
    assert series.printed_as.startswith("derived")


def test_plot_ratio_is_stable_but_dwelling_size_is_not(checks):
    plot = checks[(checks["check"] == "implied ratio") & (checks["tables"] == "表45; 表48")]
    assert len(plot) == 55 and (plot["status"] == "ok").all()
    assert plot["computed"].between(1.99, 2.06).all()
    size27 = one(checks, "implied ratio", "表47; 表47", "commercial, 2027")
    assert size27.computed == pytest.approx(435.78e4 / 21060) and size27.status == MERGED


# ---------------------------------------------------------------------------------------------
# Not contradictions: not findings
# ---------------------------------------------------------------------------------------------
def test_shares_equal_to_value_over_printed_total_are_not_findings(checks):
    t32 = checks[(checks["check"] == "printed share") & (checks["tables"] == "表32")]
    assert len(t32) == 9 and (t32["status"] != FINDING).all()
    gaotie = one(checks, "printed share", "表32", "gaotie 高铁片区")
    assert gaotie.computed == pytest.approx(50.87 / 598.5)  # the printed row over the printed total
    assert "the printed total 598.5" in gaotie.note
    main = one(checks, "printed share", "表31", "main_city 主城区")
    assert main.status != FINDING and main.computed == pytest.approx(598.5 / 1235.35)


def test_table48_share_column_is_one_copied_error(checks):
    shares = checks[(checks["check"] == "printed share") & (checks["tables"] == "表48")
                    & (checks["scope"] != "all rows")]
    assert len(shares) == 11 and (shares["verdict"] == "copy error").all()
    main = one(checks, "printed share", "表48", "main_city 主城区")
    assert main.computed == pytest.approx(294.57 / 574.93) and main.caused_by == ""
    others = shares[shares["scope"] != "main_city 主城区"]
    assert (others["caused_by"] == main.id).all()


def test_revitalise_band_rows_are_information(checks):
    rows = checks[(checks["check"] == "land rule §2.2.3") & checks["computed"].isna()]
    assert len(rows) == 9 and (rows["status"] == INFO).all()


def test_region_cycles_are_not_held_to_the_city_target(checks):
    rows = checks[(checks["check"] == "2030 cycle from the plan's tables")
                  & ~checks["scope"].str.startswith("city ")]
    assert len(rows) > 10 and (rows["status"] == INFO).all()
    main = one(checks, "2030 cycle from the plan's tables", "表19; 表45; 表31", "main_city 主城区, 2030")
    assert main.computed == pytest.approx(271.54 / (120.9 / 12), abs=1e-6)
    assert "set for city" in main.note


def test_some_plots_plot_ratio_and_met_maintenance_target_are_information(checks):
    assert key(checks, "far:bajia:some_plots")["status"] == INFO
    keep = key(checks, "level:green_building_share:city")
    assert keep.status == INFO and "keeps it" in keep.note
    for target in ("prefab_share", "property_management_share"):
        assert key(checks, f"level:{target}:city")["status"] == "ok"


def test_growth_rates_that_match_are_not_findings(checks):
    for quantity in ("private_wage_yuan", "urban_disposable_income_yuan",
                     "rural_disposable_income_yuan", "consumption_per_capita_yuan",
                     "household_deposits_100m_yuan"):
        row = checks[checks["key"].str.startswith(f"growth:{quantity}:")].iloc[0]
        assert row.status != FINDING, quantity
    # 3.4 ÷ 396.5 = 0.857 %: printed 0.8 % is within the rounding of 3.4 and of 0.8.
    pop = key(checks, "growth:population_resident_10k:city:2023:2024")
    assert pop.status == "rounding" and pop.computed == pytest.approx(-3.4 / 396.5)


def test_every_finding_has_numbers_a_severity_and_a_verdict(audit):
    frame = findings_frame(audit)
    assert list(frame.columns) == AUDIT_COLUMNS
    assert frame["printed_as"].map(lambda x: any(x.startswith(k) for k in PRINTED_AS)).all()
    assert frame["computed"].notna().all() and frame["difference"].notna().all()
    assert set(frame["severity"]) <= set(SEVERITIES) and set(frame["verdict"]) <= set(VERDICTS)
    assert frame["id"].is_unique and frame["id"].str.match(r"^F\d{3}$").all()
    ids = set(frame["id"])
    causes = {c for cell in frame["caused_by"].fillna("") for c in cell.split("; ") if c}
    assert causes <= ids
    order = frame["severity"].map({"material": 0, "minor": 1, "rounding": 2})
    assert order.is_monotonic_increasing  # material first


# ---------------------------------------------------------------------------------------------
# The plan against its own history
# ---------------------------------------------------------------------------------------------
def test_stock_flow_2021_to_2025(checks):
    city = key(checks, "stockflow:city")
    # 962.48 + 1012.50 − 1307.35 = 667.63 against 482.00 at the end of 2025.
    assert (city.printed, round(city.computed, 2), round(city.difference, 2)) == (482.0, 667.63, -185.63)
    # §2.2.3 gives 962.48 as the stock "of 2021" (从2021年的962.48万m²降至2025年的482.00万m²):
    # read like 482.00 (end of 2025) it is the end-2021 stock, 2021's flows drop out, and the
    # figures close if 2021 presale exceeded 2021 sales by 185.63; the plan prints no 2021 flows
    # apart, so the reading is ambiguous: minor, unclear, both readings in the note.
    assert (city.status, city.severity, city.verdict) == (FINDING, "minor", "unclear")
    assert "end of 2021" in city.note and "exceeded its sales by 185.63" in city.note
    main = key(checks, "stockflow:main_city")
    assert (main.printed, round(main.computed, 2), round(main.difference, 2)) == (271.53, 361.58, -90.05)
    assert (main.severity, main.verdict) == ("minor", "unclear") and "by 90.05" in main.note


def test_14th_plan_demand_is_not_what_sold(checks):
    city = one(checks, "same quantity", "表33; §2.2.1.2", "city 全市")
    assert (city.printed, city.computed, city.status) == (2233, 1307.35, FINDING)
    main = one(checks, "same quantity", "表33; §2.2.1.2", "main_city 主城区")
    assert (main.printed, main.computed) == (1116, 666.70)


def test_stated_growth_rates_against_their_values(checks):
    gdp = key(checks, "growth:gdp_per_capita_yuan:city:2020:2024")
    assert gdp.printed == 0.05 and gdp.computed == pytest.approx((58787 / 44020) ** 0.25 - 1)
    assert gdp.status == FINDING and gdp.severity == "minor"
    loans = key(checks, "growth:household_loans_100m_yuan:city:2020:2024")
    assert loans.computed == pytest.approx(1.125 ** 0.25 - 1) and loans.status == FINDING
    deposits = key(checks, "growth:deposits_100m_yuan:city:2020:2024")
    assert deposits.computed == pytest.approx(1.545 ** 0.25 - 1) and deposits.status == FINDING
    assert key(checks, "growth:loans_100m_yuan:city:2020:2024")["computed"] == pytest.approx(1.469 ** 0.25 - 1)


# ---------------------------------------------------------------------------------------------
# The forecast against the recent market
# ---------------------------------------------------------------------------------------------
def test_first_year_demand_against_2025_sales_and_presale(checks):
    rows_2026 = 115.3 + 14.2 + 14.8 + 16.1 + 6.3 + 7.6 + 8.7 + 18.4 + 11.2 + 10.4 + 14.4
    claim = key(checks, "forecast:demand:new_supply_10k_m2:city")
    assert claim.check == "claim: forecast matches market" and claim.status == FINDING
    assert (claim.printed, claim.computed) == (pytest.approx(rows_2026), 146.73)  # +61.8 %
    # Read as 表45's 2026 supply instead (the sentence has no subject), still not a match.
    assert "(217.9) the claim is +48.5% off" in claim.note
    sales = key(checks, "forecast:demand:sales_10k_m2:city")
    assert (sales.printed, sales.computed, sales.status) == (pytest.approx(237.4), 205.42, FINDING)
    main = key(checks, "forecast:demand:sales_10k_m2:main_city")
    assert (main.printed, main.computed) == (115.3, 98.36)


def test_uplift_is_largest_where_stock_is_worst(checks, audit):
    up = checks[checks["key"].str.startswith("uplift:demand:") & (checks["status"] == FINDING)]
    # Forecast > 1.1 × the 2025 rate in regions whose cycle is above the city's 28 months.
    assert set(up["scope"].str.split().str[0]) == {"yuanbaoshan", "linxi", "ongniud", "harqin"}
    harqin = key(checks, "uplift:demand:harqin")
    assert harqin.computed == pytest.approx(27.19 / 49 * 12)
    assert harqin.printed / harqin.computed == pytest.approx(2.763, abs=1e-3)
    rho = key(checks, "uplift:demand:rho")
    assert rho.status == INFO and rho.computed > 0.8
    bairin_left = key(checks, "uplift:demand:bairin_left")  # 0.73×, cycle 14: not a finding
    assert bairin_left.status == INFO and bairin_left.printed / bairin_left.computed == pytest.approx(0.726, abs=1e-3)


def test_district_cycles_imply_more_sales_than_the_main_city(checks):
    row = key(checks, "implied:district_base_inventory:main_city")
    implied = (101.23 / 29 + 89.64 / 14 + 7.51 / 16 + 35.36 / 10 + 8.83 / 22 + 7.87 / 20
               + 21.49 / 6 + 24.26 / 28) * 12
    assert (row.printed, row.computed, row.status) == (98.36, pytest.approx(implied), FINDING)


# ---------------------------------------------------------------------------------------------
# How supply was built, and the destocking path it produces
# ---------------------------------------------------------------------------------------------
def test_supply_method_is_a_method_problem_and_its_figure_a_row_sum(checks, audit, chifeng, tmp_path):
    method = key(checks, "method:supply_guidance")
    # How the plan built supply (demand split by a fixed profile, no stock netted): "method".
    assert (method.verdict, method.severity) == ("method", "material")
    # 1231.31 is the sum of 表45's rows, not a printed figure; the printed total is 1089.46.
    assert method.printed == pytest.approx(1231.31) and method.printed_as == "row sum"
    assert "prints its total as 1089.46" in method.note
    profile = key(checks, "profile:supply_guidance")
    assert (profile.verdict, profile.printed_as) == ("method", "derived")
    assert key(checks, "profile:land_guidance")["verdict"] == "method"
    # Consequences of the method only (the cycle path) are method too.
    assert key(checks, "cycle:supply_guidance:city")["verdict"] == "method"
    assert key(checks, "peak:supply_guidance:city")["verdict"] == "method"
    # The report does not call a row sum "printed", and names the verdict in Chinese.
    write_audit(audit, tmp_path, chifeng)
    md = (tmp_path / "audit_report.md").read_text(encoding="utf-8")
    line = next(x for x in md.splitlines() if x.startswith(f"| {method.id} |"))
    assert "1,231.31 万㎡（各行之和" in line and "方法问题 method" in line


def test_supply_is_demand_split_by_a_fixed_profile(checks):
    method = key(checks, "method:supply_guidance")
    # 1231.30 − (482.00 − 18 × 251.9 / 12) = 1127.15: the stock is never netted.
    assert method.printed == pytest.approx(1231.31)
    assert method.computed == pytest.approx(1231.30 - (482.00 - 18 * 251.9 / 12))
    assert (method.status, method.verdict) == (FINDING, "method")
    profile = key(checks, "profile:supply_guidance")
    assert profile.printed == pytest.approx(0.40, abs=1e-3) and profile.status == FINDING
    assert key(checks, "profile:land_guidance")["caused_by"] == profile.id
    city_2030 = key(checks, "cycle:supply_guidance:city")
    assert city_2030.computed == pytest.approx(482.01 / (251.9 / 12)) and city_2030.caused_by == method.id


def test_peak_cycle_on_the_way_to_2030(checks):
    city = key(checks, "peak:supply_guidance:city")
    # 482 + 246.26 − 237.4 + 492.52 − 242.0 + 307.85 − 247.8 = 801.43 at the end of 2028.
    assert city.scope == "city 全市, 2028" and city.printed == 28
    assert city.computed == pytest.approx(801.43 / (247.8 / 12), abs=1e-6)
    main = key(checks, "peak:supply_guidance:main_city")
    assert main.computed == pytest.approx(426.16 / (121.0 / 12), abs=1e-6) and main.printed == 33
    # 喀喇沁旗's stock rises too, but its forecast sells faster than its 49-month cycle: no finding.
    assert key(checks, "peak:supply_guidance:harqin")["status"] == INFO
    assert key(checks, "peak:district_supply_guidance:hongshan")["status"] == INFO


def test_2030_cycle_if_sales_stay_at_the_2025_rate(checks):
    rows = key(checks, "baserate:supply_guidance:city")
    assert rows.computed == pytest.approx((482 + 1231.31 - 5 * 205.42) / (205.42 / 12), abs=1e-6)
    assert (rows.printed, rows.status) == (18, FINDING)
    printed = key(checks, "baserate:supply_guidance:city:printed")
    assert printed.computed == pytest.approx((482 + 1089.46 - 5 * 205.42) / (205.42 / 12), abs=1e-6)
    assert printed.caused_by == rows.id
    assert key(checks, "baserate:supply_guidance:main_city")["status"] == INFO  # no target there


def test_land_rule_on_the_plans_own_path(checks):
    main = key(checks, "pathrule:§2.2.3:supply_guidance:main_city")
    # End-2027 cycle 397.53 ÷ (117.8/12) = 40.5 and end-2028 42.3 > 36, yet 73.64 + 29.46 ha.
    assert (main.printed, main.computed) == (pytest.approx(73.64 + 29.46), 0)
    assert main.scope == "main_city 主城区, 2028–2029"
    assert main.caused_by == key(checks, "peak:supply_guidance:main_city")["id"]
    city = key(checks, "pathrule:§2.2.3:supply_guidance:city")
    assert city.printed == pytest.approx(151.88 + 60.77)


def test_land_rule_223_against_2026_land(checks):
    breaches = checks[(checks["check"] == "land rule §2.2.3") & checks["computed"].eq(0)]
    assert sorted(breaches["scope"]) == ["harqin 喀喇沁旗, 2026", "yuanbaoshan 元宝山区, 2026"]
    assert sorted(breaches["printed"]) == [4.48, 9.5]
    strict = checks[checks["check"] == "land rule §9.3"]
    region_breaches = strict[strict["tables"] == "表19; 表48"]
    assert len(region_breaches) == 7 and (region_breaches["status"] == FINDING).all()


def test_district_land_directives(checks):
    beiwazi = key(checks, "directive:stop_new_land:beiwazi")
    assert (beiwazi.printed, beiwazi.computed, beiwazi.status) == (pytest.approx(16.56), 0, FINDING)
    hemei = key(checks, "directive:stop_new_land:hemei")
    assert hemei.printed == pytest.approx(4.62 + 4.39 + 4.15 + 3.92 + 3.0)
    gaotie = key(checks, "directive:cap_sales_plus_share:gaotie")
    # Annual sales 7.51 ÷ 16 × 12 = 5.63; + 20 % = 6.76 against 10.17 a year in 2026–2029.
    assert gaotie.computed == pytest.approx(7.51 / 16 * 12 * 1.2) and gaotie.printed == 10.17
    assert gaotie.scope == "gaotie 高铁片区, 2026–2029" and gaotie.status == FINDING
    # The other reading (the plan's own forecast, 10.17 × 1.2 = 12.20) is met only because 表46
    # repeats that forecast; 去化量 is sales, so the finding stands as material, and says why.
    assert gaotie.severity == "material" and "12.20" in gaotie.note and "stands" in gaotie.note
    assert key(checks, "directive:restrict:hongshan")["status"] == INFO
    # "stop land" totals are sums of 表49's rows, labelled so (和美 prints 20.1, the rows 20.08).
    assert (hemei.printed_as, key(checks, "directive:stop_new_land:beiwazi")["printed_as"]) == (
        "row sum", "row sum")


def test_stated_plot_ratios(checks):
    songshan = key(checks, "far:songshan:most_new_plots")
    assert songshan.printed == 1.8 and songshan.computed == pytest.approx(154.41 / 76.20)
    assert (songshan.status, songshan.severity) == (FINDING, "material")
    # 表49 is 表46 ÷ ~2.03 in every row-year: land derived from supply at one plot ratio (method).
    assert songshan.verdict == "method" and "one plot ratio" in songshan.note
    city = key(checks, "far:city:project_type")
    assert city.computed == pytest.approx(1231.31 / 607.57)
    assert (city.severity, city.verdict) == ("minor", "different quantity")


# ---------------------------------------------------------------------------------------------
# Targets against today's level and against the flows that could move them
# ---------------------------------------------------------------------------------------------
def test_targets_already_met(checks):
    renewable = key(checks, "level:renewable_share:city")
    assert (renewable.printed, renewable.computed, renewable.status) == (0.30, 0.9669, FINDING)
    materials = key(checks, "level:green_materials_10k_m2:city")
    # 40 万m² over 2026–2030 against 344.36 over 2021–2025: the same pace would be 344.36.
    assert (materials.printed, materials.computed, materials.status) == (40, 344.36, FINDING)


def test_vacancy_target_against_the_flows(checks):
    city = key(checks, "flows:vacancy:city")
    accounts = 38.6 / 0.2885
    new = 1231.31 / (205.42e4 / 17492)  # 表45 supply ÷ the 2025 dwelling sold, in 万
    assert city.computed == pytest.approx(38.6 / (accounts + new))
    assert (city.printed, city.status) == (0.20, FINDING)
    main = key(checks, "flows:vacancy:main_city")
    assert main.computed == pytest.approx(16.8 / (16.8 / 0.2898 + 598.51 / (98.36e4 / 8367)))


def test_floor_area_per_person_against_the_flows(checks):
    urban = 393.1 * 0.5667
    plan = key(checks, "flows:floor_area:city")
    # 45.53 m² at a constant urban population, 43.11 if it grows by the §9.2 inflow of 2.5 万 a
    # year: within reach of 43 either way, so information, not a contradiction.
    assert plan.computed == pytest.approx((40 * urban + 1231.31) / (urban + 5 * 2.5))
    assert plan.printed == 43 and plan.status == INFO and "45.53" in plan.note
    history = key(checks, "flows:floor_area_history:city")
    assert history.computed == pytest.approx((40 - 31.40) * urban) and history.printed == 1307.35
    assert history.status == FINDING and "242.1 万" in history.note  # (40 × urban − 1307.35) ÷ 31.4
    # 31.4 "of 2021" read as the end of 2021 only widens the gap: the finding holds either way.
    assert "holds under either reading" in history.note


def test_stated_ranges(checks):
    share = lambda y: key(checks, f"range:0:{y}")
    assert share(2021).status == FINDING and share(2021).computed == pytest.approx(43.11 / 77.41)
    assert share(2023).status == FINDING and share(2023).computed == pytest.approx(35.90 / 98.47)
    assert share(2022).status == share(2024).status == "ok"
    hectares = checks[checks["key"].str.startswith("range:1:")]
    assert len(hectares) == 4 and (hectares["status"] == "ok").all()


# ---------------------------------------------------------------------------------------------
# Helpers, genericity, files and the command line
# ---------------------------------------------------------------------------------------------
def test_one_edit():
    assert one_edit("1.19", "10.19") and one_edit("133.95", "132.95") and one_edit("12.3", "21.3")
    assert not one_edit("50.87", "41.87") and not one_edit("5.02", "0.59")


def test_audit_is_generic_on_a_second_city(mini_city):
    checks = checks_frame(run_audit(mini_city))
    rule = checks[checks["check"] == "land rule test (> 36 months)"]
    county = rule[rule["scope"] == "county 外县, 2026"].iloc[0]
    assert county.printed == 2 and county.status == FINDING   # cycle 48 > 36 yet 2 ha planned
    assert (checks[checks["check"] == "printed total"]["status"] == "ok").all()


def _mini_with_stock_flow(tmp_path, facts: str):
    from tests.conftest import MINI_CITY
    folder = tmp_path / "mini"
    shutil.copytree(MINI_CITY, folder)
    with open(folder / "facts.csv", "a", encoding="utf-8") as fh:
        fh.write("inventory_10k_m2,city,2025,64,10k_m2,test\n"
                 "new_supply_10k_m2,city,2024-2025,30,10k_m2,test\n"
                 "sales_10k_m2,city,2024-2025,40,10k_m2,test\n" + facts)
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    manifest["relations"]["stock_flows"] = [{"scope": "city", "inventory_fact": "inventory_10k_m2",
                                             "supply_fact": "new_supply_10k_m2",
                                             "sales_fact": "sales_10k_m2"}]
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    return key(checks_frame(run_audit(load_dataset(folder))), "stockflow:city")


def test_stock_flow_readings_of_the_opening_stock(tmp_path):
    # Only a stock "of 2024" (the first history year), no 2024 flows: ambiguous, minor, unclear.
    flow = _mini_with_stock_flow(tmp_path / "a", "inventory_10k_m2,city,2024,70,10k_m2,test\n")
    assert (flow.computed, flow.status, flow.severity, flow.verdict) == (60, FINDING, "minor", "unclear")
    # The stock at the end of 2023 is known: the start of the period, unambiguous, material.
    flow = _mini_with_stock_flow(tmp_path / "b", "inventory_10k_m2,city,2023,70,10k_m2,test\n")
    assert (flow.computed, flow.status, flow.severity) == (60, FINDING, "material")
    # 2024's flows are printed: the year-end reading 70 + (30 − 10) − (40 − 14) = 64 closes.
    flow = _mini_with_stock_flow(tmp_path / "c", "inventory_10k_m2,city,2024,70,10k_m2,test\n"
                                 "new_supply_10k_m2,city,2024,10,10k_m2,test\n"
                                 "sales_10k_m2,city,2024,14,10k_m2,test\n")
    assert flow.status == "ok" and "closes" in flow.note


def test_copy_side_undecided_is_unclear(dataset_copy):
    # If the plan also showed 574.93 as a floor-area figure (a target in 万m²), it would not show
    # which printing is the copy: no copy-error verdict on either side.
    with open(dataset_copy / "targets.csv", "a", encoding="utf-8") as fh:
        fh.write("test_supply_10k_m2,测试,city,2026-2030,574.93,10k_m2,max,预期性,test\n")
    checks = checks_frame(run_audit(load_dataset(dataset_copy)))
    main = one(checks, "printed total", "表45", "main_city 主城区")
    land = one(checks, "printed total", "表48", "all rows")
    assert main.verdict == land.verdict == "unclear"
    assert "does not show which unit" in main.note


def test_new_families_run_on_another_city_with_its_own_years(tmp_path):
    """The mini city (history 2024–2025, plan 2026–2027) with history, forecast and vacancy
    facts: the checks take their years from its manifest."""
    from tests.conftest import MINI_CITY
    folder = tmp_path / "mini"
    shutil.copytree(MINI_CITY, folder)
    with open(folder / "facts.csv", "a", encoding="utf-8") as fh:
        fh.write("inventory_10k_m2,city,2024,70,10k_m2,test\n"
                 "inventory_10k_m2,city,2025,64,10k_m2,test\n"
                 "new_supply_10k_m2,city,2024-2025,30,10k_m2,test\n"
                 "sales_10k_m2,city,2024-2025,40,10k_m2,test\n"
                 "new_supply_10k_m2,city,2025,15,10k_m2,test\n")
    manifest = yaml.safe_load((folder / "manifest.yaml").read_text(encoding="utf-8"))
    manifest["relations"]["stock_flows"] = [{"scope": "city", "inventory_fact": "inventory_10k_m2",
                                             "supply_fact": "new_supply_10k_m2",
                                             "sales_fact": "sales_10k_m2"}]
    manifest["relations"]["forecast_vs_market"] = [{
        "demand": "demand", "inventory": "inventory_2025", "sales_fact": "sales_10k_m2",
        "presale_fact": "new_supply_10k_m2", "tolerance_share": 0.1,
        "claim": {"name": "matches", "source": "test", "scope": "city"}}]
    manifest["relations"]["target_flows"] = [{
        "kind": "vacancy", "target": "vacancy_share", "scope": "city",
        "low_use": {"fact": "low_use_households_10k", "period": "BASE"},
        "share": {"fact": "vacancy_share", "period": "BASE"}, "supply": "supply_guidance",
        "sales": {"fact": "sales_10k_m2", "period": "BASE"},
        "dwellings_sold": {"fact": "sales_dwellings", "period": "BASE"}}]
    (folder / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    checks = checks_frame(run_audit(load_dataset(folder)))
    flow = key(checks, "stockflow:city")
    assert (flow.printed, flow.computed, flow.scope) == (64, 70 + 30 - 40, "city 测试市, 2024-2025")
    claim = key(checks, "forecast:demand:new_supply_10k_m2:city")
    assert (claim.printed, claim.computed, claim.status) == (22, 15, FINDING)  # 2026 demand 12 + 10
    vacancy = key(checks, "flows:vacancy:city")
    assert vacancy.computed == pytest.approx(5 / (5 / 0.25 + 24 / (22e4 / 2000)))


def test_report_for_officials(audit, chifeng, tmp_path):
    write_audit(audit, tmp_path, chifeng)
    md = (tmp_path / "audit_report.md").read_text(encoding="utf-8")
    page = (tmp_path / "audit_report.html").read_text(encoding="utf-8")
    assert md.startswith("# 赤峰市住房发展规划") and md.index("重大问题") < md.index("一般问题")
    assert "万㎡" in md and "公顷" in md and "个月" in md and "元宝山区" in md
    assert '<meta charset="utf-8">' in page and "<script" not in page and "重大问题" in page
    # Each table row is one independent problem; what follows from it is listed beside it.
    frame = pd.read_csv(tmp_path / "audit.csv", encoding="utf-8-sig")
    roots = frame[frame["caused_by"].isna() & (frame["severity"] == "material")]
    assert all(f"| {i} |" in md for i in roots["id"])
    gaotie = frame[(frame["tables"] == "表46") & (frame["scope"] == "gaotie 高铁片区")]["id"].iloc[0]
    assert f"| {gaotie} |" not in md and gaotie in md


def test_cli_writes_audit_csv_quickly(tmp_path):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "model.audit", "--out", str(tmp_path)],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert "Plan audit of chifeng" in proc.stdout and "Traceback" not in proc.stderr
    frame = pd.read_csv(tmp_path / "audit.csv", encoding="utf-8-sig")
    assert list(frame.columns) == AUDIT_COLUMNS
    for name in ("audit_checks.csv", "audit_report.md", "audit_report.html"):
        assert (tmp_path / name).exists()
    assert elapsed < 30  # generous: a few seconds on a quiet machine


@pytest.mark.parametrize("folder", ["mini_city", "hand_2x2"])
def test_cli_on_the_synthetic_datasets(tmp_path, folder):
    from tests.conftest import TESTS
    proc = subprocess.run([sys.executable, "-m", "model.audit", f"dataset={TESTS / 'data' / folder}",
                           f"out={tmp_path}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert folder in proc.stdout and (tmp_path / "audit.csv").exists()


def test_cli_rejects_unknown_override(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "model.audit", "datset=foo"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "unknown override 'datset'" in proc.stderr  # docs/errors.md
    assert "Traceback" not in proc.stderr


def test_unknown_relation_kind_is_a_dataset_error(tmp_path):
    from tests.conftest import MINI_CITY
    folder = tmp_path / "mini"
    shutil.copytree(MINI_CITY, folder)
    text = (folder / "manifest.yaml").read_text(encoding="utf-8")
    (folder / "manifest.yaml").write_text(text + "  no_such_check: []\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "model.audit", str(folder), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 1 and "no_such_check is not a known check" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_chifeng_manifest_lists_every_default_check(audit, chifeng):
    # The default relations (model/audit/defaults.py) all dedupe against Chifeng's manifest: the
    # audit is the manifest's, 486 checks and 136 findings.
    from model.audit import DEFAULT, default_relations
    assert default_relations(chifeng) == {}
    assert not any(c.origin == DEFAULT for c in audit)
    assert sum(not c.extra.get("members") for c in audit) == 486
    assert sum(c.status == FINDING for c in audit) == 136


def test_no_nan_in_zh_notes(checks):
    assert not checks["note_zh"].fillna("").str.contains("nan").any()
    assert math.isfinite(len(checks))
