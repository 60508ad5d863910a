"""The actuals format for the mid-term review: the shipped example loads; bad actuals get one line each."""
from __future__ import annotations

import pytest

from model.actuals import ACTUALS_DIR, EXAMPLE_ACTUALS, load_actuals
from model.data import DatasetError


def test_example_loads_and_departs_from_the_plan(chifeng):
    actuals = load_actuals(EXAMPLE_ACTUALS, chifeng)
    assert actuals.years == (2026, 2027)
    land = actuals.value("land_ha")
    # Less land sold in the main city than 表48 plans; none where the 2025 cycle exceeds 36 months.
    assert land[("main_city", 2026)] < chifeng.land_guidance_ha()[("main_city", 2026)] / 2
    assert land[("yuanbaoshan", 2026)] == 0 and land[("harqin", 2027)] == 0
    # The end-2027 inventory follows from 表19 and the two observed years.
    t = actuals.table().set_index(["region_id", "year"])
    expected = (271.53 + t.loc[("main_city", 2026), "supply_10k_m2"] - t.loc[("main_city", 2026), "sales_10k_m2"]
                + t.loc[("main_city", 2027), "supply_10k_m2"] - t.loc[("main_city", 2027), "sales_10k_m2"] - 5.0)
    assert actuals.inventory_end_10k_m2()["main_city"] == pytest.approx(expected, abs=0.02)
    cycle = actuals.cycle_end_months()["main_city"]
    assert cycle == pytest.approx(204.74 / (100.71 / 12))


def test_template_has_every_region_and_year(chifeng):
    text = (ACTUALS_DIR / "template.csv").read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("region_id,year,land_ha,supply_10k_m2,sales_10k_m2")
    assert len(text) == 1 + 2 * len(chifeng.region_ids)


def _broken(tmp_path, old, new):
    text = EXAMPLE_ACTUALS.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "actuals.csv"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, fragment", [
    ("main_city,2026,", "atlantis,2026,", "actuals.csv line 2, column region_id: value 'atlantis' — expected a region id"),
    ("ningcheng,2027,", "ningcheng,2031,", "actuals.csv line 7, column year: value 2031 — expected a plan year in 2026–2030"),
    ("main_city,2026,17.67,", "main_city,2026,-17.67,", "actuals.csv line 2, column land_ha: value '-17.67' — expected a non-negative number in ha"),
    ("main_city,2026,17.67,65.84,98.74,,238.63", "main_city,2026,17.67,65.84,98.74,,248.63",
     "actuals.csv line 2, column inventory_end_10k_m2: value 248.63 does not follow from the other columns — expected 238.63"),
    ("region_id,year,land_ha,", "region_id,year,land,", "actuals.csv: missing column 'land_ha'"),
    ("main_city,2026,17.67,65.84,98.74,,238.63,0.2861", "main_city,2026,17.67,65.84,98.74,,238.63,28.61",
     "actuals.csv line 2, column vacancy_share: value '28.61' — expected a share in [0, 1]"),
    ("aohan,2027,", "aohan,2026,", "duplicate row for region_id, year = aohan, 2026"),
])
def test_bad_actuals_one_clear_line(chifeng, tmp_path, old, new, fragment):
    with pytest.raises(DatasetError) as err:
        load_actuals(_broken(tmp_path, old, new), chifeng)
    text = "\n".join(err.value.problems)
    assert fragment in text, text
    assert all("\n" not in p for p in err.value.problems)


def test_inventory_gap_reports_its_size(chifeng, tmp_path):
    path = _broken(tmp_path, "main_city,2026,17.67,65.84,98.74,,238.63", "main_city,2026,17.67,65.84,98.74,,248.63")
    with pytest.raises(DatasetError) as err:
        load_actuals(path, chifeng)
    assert "gap +10.00 万m²" in err.value.problems[0]


def test_missing_file(chifeng, tmp_path):
    with pytest.raises(DatasetError) as err:
        load_actuals(tmp_path / "nope.csv", chifeng)
    assert err.value.problems == ["nope.csv: missing file"]
