"""report.html opens in headless Chromium from disk (no server): the DOM has the tables and the
charts embedded as data: URIs, and the screenshot is not blank."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.test_compare import comparison  # noqa: F401 (fixture)
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


def test_report_dom_has_tables_and_embedded_charts(comparison, tmp_path):  # noqa: F811
    report = comparison / "report.html"
    proc = chromium(tmp_path, "--dump-dom", report.as_uri())
    dom = proc.stdout
    assert "<table" in dom, proc.stderr[-2000:]
    for table_id in ("headline", "targets", "runs"):
        assert f'id="{table_id}"' in dom
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]{1000,})"', dom)
    assert len(images) == 4
    assert "主城区" in dom and "表45 plan guidance" in dom and "表48 plan guidance" in dom
    assert "Reading" in dom and "607.57" in dom
    assert 'src="http' not in dom and 'href="http' not in dom  # self-contained


def test_report_screenshot_is_not_blank(comparison, tmp_path):  # noqa: F811
    from PIL import Image

    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,3000",
                    (comparison / "report.html").as_uri())
    assert shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (3000, 1400)
    bands = np.array_split(pixels, 10, axis=0)  # 300-pixel bands down the page
    inked = [float((band < 200).mean()) for band in bands]
    assert sum(share > 0.01 for share in inked) >= 8, inked  # text, tables and charts throughout
    colourful = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    spread = colourful.max(axis=2) - colourful.min(axis=2)
    assert (spread > 60).mean() > 0.005  # coloured pixels: the charts and the ✓/✗ cells
