"""report.html opens in headless Chromium from disk (no server): the DOM has the tables and the
charts embedded as data: URIs, the screenshot is not blank, and the Chinese report (Chifeng's
manifest says lang: zh) has Chinese headings drawn in a CJK font, not as tofu boxes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from analysis import charts, report
from tests.test_compare import comparison, run_compare  # noqa: F401 (fixture)
from tests.test_sweep import scenario_sweep  # noqa: F401 (fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120,
    )


def screenshot(tmp_path: Path, page: Path, size: str = "1400,3000") -> np.ndarray:
    """The page as Chromium draws it: a greyscale array (rows × columns)."""
    from PIL import Image

    shot = tmp_path / f"{page.stem}.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", f"--window-size={size}", page.as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    return np.asarray(Image.open(shot).convert("L"), dtype=float)


def test_report_dom_has_tables_and_embedded_charts(comparison, tmp_path):  # noqa: F811
    report_html = comparison / "report.html"
    proc = chromium(tmp_path, "--dump-dom", report_html.as_uri())
    dom = proc.stdout
    assert "<table" in dom, proc.stderr[-2000:]
    for table_id in ("headline", "targets", "targets_all", "runs"):
        assert f'id="{table_id}"' in dom
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]{1000,})"', dom)
    assert len(images) == 4
    assert 'src="http' not in dom and 'href="http' not in dom  # self-contained


def test_zh_report_has_chinese_headings_and_figures(comparison, tmp_path):  # noqa: F811
    dom = chromium(tmp_path, "--dump-dom", (comparison / "report.html").as_uri()).stdout
    assert '<html lang="zh-CN">' in dom
    h1 = re.search(r"<h1>(.*?)</h1>", dom).group(1)
    assert h1 == "赤峰市住房发展规划（2026—2030年）征求公众意见稿：3个方案比较"
    headings = re.findall(r"<h2>(.*?)</h2>", dom)
    assert headings[:4] == ["要点", "主要指标", "目标达成情况", "图表"]
    assert "供应与用地（按表45、表48格式）" in headings
    # figures as officials write them, read off the runs
    assert "用地607.57公顷、供应1231.31万㎡（表34合计：574.93公顷、1089.46万㎡）" in dom
    assert "<td>2030年末去化周期（全市）</td><td>个月</td><td>18.0</td><td>23.0</td>" in dom
    assert "表45 规划指引" in dom and "主城区" in dom and "万㎡" in dom
    # band breaches in red: the plan as written's main city is above 36 months in 2028
    # (tests/test_compare.py checks every cell's colour against plan.csv)
    assert re.search(r'<td>主城区</td>(<td[^>]*>[^<]*</td>){3}<td class="alert">4\d\.\d</td>', dom)


def test_zh_report_uses_a_cjk_font_not_tofu(comparison, tmp_path):  # noqa: F811
    """Chromium draws the report's Chinese heading with real glyphs: each character is inked,
    and two different characters look different — a missing font draws every character as the
    same box (tofu) or as nothing. Rendered with the report's own CSS."""
    family = charts.use_cjk_font()
    if family is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    dom = chromium(tmp_path, "--dump-dom", (comparison / "report.html").as_uri()).stdout
    heading = re.search(r"<h2>(.*?)</h2>", dom).group(1)  # 要点
    cjk = [c for c in heading if "\u4e00" <= c <= "\u9fff"]
    assert len(cjk) >= 2, heading

    def draw(text: str, name: str) -> np.ndarray:
        page = tmp_path / f"{name}.html"
        page.write_text(f'<html><head><meta charset="utf-8"><style>{report.CSS}'
                        f"h1{{font-size:64px;margin:0}}</style></head><body><h1>{text}</h1>"
                        "</body></html>", encoding="utf-8")
        return screenshot(tmp_path, page, "600,400")

    glyphs = [draw(c, f"glyph{i}") for i, c in enumerate(cjk[:2])]
    for glyph in glyphs:
        assert (glyph < 128).sum() > 150  # inked: drawn, not left blank
    assert np.abs(glyphs[0] - glyphs[1]).mean() > 1, "two different characters drawn alike: tofu"
    # matplotlib: the charts' CJK font has the glyphs of every Chinese label they draw
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(family))
    charmap = font.get_charmap()
    for text in ("主城区", "去化周期", "个月", "万㎡", "公顷", "住宅用地供应与去化周期挂钩规则"):
        missing = [c for c in text if ord(c) not in charmap]
        assert not missing, (family, text, missing)


def test_report_screenshot_is_not_blank(comparison, tmp_path):  # noqa: F811
    from PIL import Image

    pixels = screenshot(tmp_path, comparison / "report.html")
    assert pixels.shape == (3000, 1400)
    bands = np.array_split(pixels, 10, axis=0)  # 300-pixel bands down the page
    inked = [float((band < 200).mean()) for band in bands]
    assert sum(share > 0.01 for share in inked) >= 8, inked  # text, tables and charts throughout
    colourful = np.asarray(Image.open(tmp_path / "report.png").convert("RGB"), dtype=float)
    spread = colourful.max(axis=2) - colourful.min(axis=2)
    assert (spread > 60).mean() > 0.005  # coloured pixels: the charts and the ✓/✗ cells


def test_en_report(scenario_sweep, tmp_path):  # noqa: F811
    proc = run_compare(scenario_sweep, "--out", tmp_path / "en", "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    dom = chromium(tmp_path, "--dump-dom", (tmp_path / "en" / "report.html").as_uri()).stdout
    headings = re.findall(r"<h2>(.*?)</h2>", dom)
    assert headings[:4] == ["Reading", "Headline indicators", "Target attainment", "Charts"]
    assert "with 607.57 ha of land and 1,231.31 10k m² of supply" in dom


def test_the_land_rule_line_follows_the_runs_rule():
    """The cycle chart's caption names the suspend line the runs share (18 months under §9.3's
    strict rule, 36 under the national one) and none when they differ."""
    from analysis.report import chart_caption
    from model.labels import Labels

    en = Labels("en")
    assert "18-month land-rule line" in chart_caption("cycle_by_region.png", en, (12, 18), 18.0)
    assert "36-month land-rule line" in chart_caption("cycle_by_region.png", en, (12, 18), 36.0)
    assert "land-rule line" not in chart_caption("cycle_by_region.png", en, (12, 18), None)
    assert "18个月暂停供地线" in chart_caption("cycle_by_region.png", Labels("zh"), (12, 18), 18.0)
