"""The printed run summary in the report language (issue 17): Chinese for Chifeng (the manifest's
``lang: zh``), today's English with ``report.lang=en``, and no main city or 2030 for a dataset
without them."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from model.config import default_settings
from model.data import DEFAULT_DATASET
from model.run import run_model

from .conftest import THREE_YEAR_CITY

REPO = Path(__file__).resolve().parents[1]
FAST = {"sim.replications": 20, "uncertainty.replications": 20,
        "uncertainty.breakeven_replications": 10}
# a target key (cycle_months[city,2030]), a config key (timing.pipeline_10k_m2, guidance.split=…)
MACHINE = re.compile(r"[A-Za-z_][\w.]*\[[^\]]*\]|[a-z_]+\.[a-z_0-9.]+(=\S+)?")
CJK = re.compile(r"[\u4e00-\u9fff]")


def region_ids(folder: Path) -> list[str]:
    return pd.read_csv(folder / "regions.csv", encoding="utf-8-sig")["region_id"].tolist()


def prose(line: str) -> str:
    """A line without its machine parts (target and config keys), which stay as they are."""
    return MACHINE.sub(" ", line)


@pytest.fixture(scope="module")
def zh_run(tmp_path_factory):
    """``python -m model.run`` on the bundled data, language left to the manifest (zh)."""
    run_dir = tmp_path_factory.mktemp("zh") / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "model.run", f"hydra.run.dir={run_dir}",
         *(f"{k}={v}" for k, v in FAST.items())],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout.splitlines(), run_dir


def test_chifeng_summary_is_chinese_with_the_run_figures(zh_run):
    lines, run_dir = zh_run
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["report_lang"] == "zh"
    head = summary["headline"]
    year = head["final_year"]
    # the headline cycle line: 2030年末去化周期：全市 15.0个月，主城区 15.0个月
    cycle = [line for line in lines if line.startswith(f"  {year}年末去化周期：")]
    assert len(cycle) == 1, "\n".join(lines)
    found = dict(re.findall(r"(全市|主城区) ([\d.]+)个月", cycle[0]))
    assert float(found["全市"]) == pytest.approx(head["cycle_months_city"], abs=0.05)
    assert float(found["主城区"]) == pytest.approx(head["cycle_months_main_city"], abs=0.05)
    land = next(line for line in lines if "公顷" in line and "万㎡" in line)
    assert f"{head['land_total_ha']:.2f}公顷" in land
    assert f"{head['supply_total_10k_m2']:.2f}万㎡" in land
    text = "\n".join(lines)
    for word in ("去化周期", "批准预售", "空置率", "土地供应", "盘活存量用地", "保障性住房",
                 "收购存量商品房", "主城区", "万㎡", "亿元", "个月", "市场模拟", "运行目录"):
        assert word in text, word
    # the target keys stay searchable after the Chinese names
    assert "住房空置率（全市，2030年）（vacancy_share[city,2030]" in text


def test_chifeng_summary_has_no_english_names_or_sentences(zh_run):
    lines, _ = zh_run
    ids = [r for r in region_ids(DEFAULT_DATASET) if r != "city"]
    summary = [line for line in lines if not line.startswith("built ")]  # a progress log line
    for line in summary:
        words = prose(line)
        for rid in ids:
            assert not re.search(rf"\b{rid}\b", words), (rid, line)
        for english in ("months", "destocking", "replications", "targets missed", "vacancy",
                        "land rule", "run directory", "dataset:", "main city"):
            assert english not in words, (english, line)
        assert CJK.search(line) or not re.search(r"[A-Za-z]{4,}", words), line


def test_run_log_holds_the_printed_lines(zh_run):
    lines, run_dir = zh_run
    logged = (run_dir / "run.log").read_text(encoding="utf-8").splitlines()
    printed = [line for line in lines if CJK.search(line)]
    assert printed and all(line in logged for line in printed)


def test_english_summary_is_today_text():
    out = run_model(default_settings(**FAST, **{"report.lang": "en"}))
    assert out.status == "optimal" and out.summary["report_lang"] == "en"
    text = "\n".join(out.messages)
    h = out.headline
    assert text.startswith("run default: optimal (MILP, objective ")
    assert "The optimised plan on this run's demand (the base-year sales rate (stock ÷ cycle), flat: " in text
    assert (f"  2030 destocking cycle: city {h['cycle_months_city']:.1f} months, main city "
            f"{h['cycle_months_main_city']:.1f} months") in out.messages
    assert "How likely the plan is to hold (replay, 20 replications" in text
    assert "Break-even (the other assumption at its default):" in text
    assert "  targets missed (" in text and "    vacancy_share[city,2030] (soft): required max" in text
    assert "Market replay: 20 replications (seed " in text
    assert "  dataset: targets not modelled: supply_total_dwellings (新建商品住宅总量（套）" in text
    # Chinese only where today's English has it: 表31, 万m², 亿元 and the dataset's target names
    for line in out.messages:
        if not line.startswith("  dataset: "):
            rest = re.sub(r"表\d+", "", line).replace("万m²", "").replace("亿元", "")
            assert not CJK.search(rest), line
    assert "主城区" not in text and "去化周期" not in text


def test_three_year_city_in_chinese_has_no_main_city_and_no_2030():
    out = run_model(default_settings(**FAST, **{"dataset": str(THREE_YEAR_CITY),
                                                "report.lang": "zh"}))
    assert out.status == "optimal", out.messages
    assert out.summary["report_lang"] == "zh"
    text = "\n".join(out.messages)
    assert "  2028年末去化周期：全市 " in text and "去化周期" in text
    assert "2030" not in text
    notes = [line for line in out.messages if line.startswith("  数据集：")]
    assert any("不输出主城区结果" in n for n in notes)  # the note saying why there is none
    for line in out.messages:
        if line not in notes:
            assert "主城区" not in line, line
            words = prose(line)
            for rid in region_ids(THREE_YEAR_CITY):
                if rid != "city":
                    assert not re.search(rf"\b{rid}\b", words), (rid, line)
