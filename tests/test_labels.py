"""The report language and its labels (model/labels.py, report.lang, the manifest's lang) and the
CSV convention (model/csvio.py): UTF-8 with BOM, 10 significant digits."""

from __future__ import annotations

import pytest

from model.config import ConfigError, default_settings
from model.csvio import read_csv, write_csv
from model.data import DatasetError, load_dataset
from model.labels import LabelError, Labels, resolve_lang
from model.same_plan import identical_plan_groups, plan_fingerprint, varied_override_keys


def test_lang_comes_from_the_setting_then_the_manifest_then_en(chifeng, mini_city):
    assert chifeng.manifest["lang"] == "zh" and "lang" not in mini_city.manifest
    assert resolve_lang(None, chifeng.manifest) == "zh"
    assert resolve_lang("en", chifeng.manifest) == "en"
    assert resolve_lang(None, mini_city.manifest) == "en"
    assert Labels.for_dataset(chifeng).lang == "zh"
    assert Labels.for_dataset(mini_city).lang == "en"
    assert Labels.for_dataset(chifeng, "en").region("main_city") == "Main city"
    with pytest.raises(LabelError, match="report.lang = 'fr' is not valid"):
        resolve_lang("fr")


def test_report_lang_is_a_typed_config_key():
    assert default_settings().report.lang is None
    assert default_settings(**{"report.lang": "zh"}).report.lang == "zh"
    with pytest.raises(ConfigError, match=r"report.lang = 'fr' is not valid; expected one of: "
                                          r"zh, en"):
        default_settings(**{"report.lang": "fr"})


def test_a_bad_manifest_lang_is_one_line(dataset_copy):
    manifest = dataset_copy / "manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("lang: zh", "lang: cn"),
                        encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        load_dataset(dataset_copy)
    assert [p for p in err.value.problems if "lang" in p] == [
        f"{manifest}: lang = 'cn' (expected zh or en, or no lang)"]


def test_names_and_units_as_officials_write_them(chifeng):
    L = Labels.for_dataset(chifeng)
    assert [L.region(r) for r in ("main_city", "ar_horqin", "hongshan", "city")] == [
        "主城区", "阿鲁科尔沁旗", "红山片区", "全市"]
    assert [L.unit(u) for u in ("10k_m2", "ha", "months", "100m_yuan", "share")] == [
        "万㎡", "公顷", "个月", "亿元", "%"]
    assert L.header("supply", "10k_m2") == "供应（万㎡）"
    assert L.target_key("cycle_months[city,2030]") == "商品住宅去化周期（全市，2030年）"
    assert L.target_key("land_total_ha[city,2026-2030]") == "新增城镇住宅用地供应量（全市，2026—2030年）"
    assert L.indicator("cycle_months_main_city", year=2030) == "2030年末去化周期（主城区）"
    assert L.rule_state("suspend") == "暂停新增商品住宅用地"
    E = Labels.for_dataset(chifeng, "en")
    assert E.target_key("vacancy_share[main_city,2030]") == "vacancy rate (Main city, 2030)"
    assert E.header("land", "ha") == "Residential land (ha)"


def test_numbers_rounded_as_the_plan_prints():
    zh, en = Labels("zh"), Labels("en")
    assert zh.number(400.00000000000006, "10k_m2") == "400.00"
    assert zh.number(1231.3099999999997, "10k_m2") == "1231.31"
    assert en.number(1231.3099999999997, "10k_m2") == "1,231.31"
    assert zh.number(22.961969, "months") == "23.0"
    assert zh.value(22.961969, "months") == "23.0个月" and en.value(22.96, "months") == "23.0 months"
    assert zh.number(0.2885, "share") == "28.85%" and zh.number(0.64, "probability") == "64%"
    assert zh.number(-0.0001, "ha") == "0.00"  # no "-0.00"
    assert zh.number(float("nan"), "ha") == "–" and zh.number(float("inf"), "months") == "∞"
    assert zh.number(True) == "✓ 达成" and en.number(False) == "✗ missed"


def test_csv_with_bom_and_ten_significant_digits(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"region": ["main_city"], "name_zh": ["主城区"],
                          "land_ha": [400.00000000000006], "mixed": [0.1 + 0.2],
                          "tiny": [1.234567890123e-7]})
    frame["mixed"] = frame["mixed"].astype(object)
    path = write_csv(frame, tmp_path / "t.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfregion,name_zh,")
    assert raw.decode("utf-8-sig").splitlines()[1] == "main_city,主城区,400,0.3,1.23456789e-07"
    back = read_csv(path)
    assert list(back.columns) == ["region", "name_zh", "land_ha", "mixed", "tiny"]
    assert back.loc[0, "tiny"] == pytest.approx(1.234567890123e-7, rel=1e-9)


def test_identical_plans(chifeng):
    from model import market

    plan = market.plan_as_written(chifeng)
    shuffled = plan.sample(frac=1.0, random_state=1).assign(extra_column=1.0)
    other = plan.copy()
    other.loc[0, "land_ha"] += 0.01
    assert plan_fingerprint(plan) == plan_fingerprint(shuffled)  # order, extra columns
    assert plan_fingerprint(plan) != plan_fingerprint(other)
    assert identical_plan_groups({"a": plan, "b": shuffled, "c": other}) == [["a", "b"]]
    assert varied_override_keys([["targets.cycle_months_end=15", "sim.seed=1"],
                                 ["targets.cycle_months_end=18", "sim.seed=1"]]) == [
        "targets.cycle_months_end"]
