"""examples/researcher_quickstart.py runs as documented (docs/api.md), so it cannot rot: it loads
the dataset, optimises, re-solves with lower demand, replays, writes two run directories with
plan.xlsx and compares them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from model.csvio import read_csv

REPO = Path(__file__).resolve().parent.parent


def test_researcher_quickstart(tmp_path):
    out = tmp_path / "quickstart"
    proc = subprocess.run([sys.executable, "examples/researcher_quickstart.py", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "表45 main city 2026 = 119.7 万㎡" in log
    assert "rebuilds 0" in log  # re-solved without rebuilding the model
    for run in ("default", "demand_0.9"):
        for name in ("plan.csv", "targets.csv", "plan.xlsx", "summary.json"):
            assert (out / run / name).is_file(), (run, name)
    assert (out / "default" / "monthly.csv").is_file()  # the replay of step 5
    head = read_csv(out / "comparison" / "headline.csv").set_index("indicator")
    default, lower = (float(head.loc["land_total_ha", c])
                      for c in ("default", "demand.multiplier=0.9"))
    assert lower < default  # less demand, less land
    assert f"land {lower:.2f}公顷 (default {default:.2f}公顷)" in log
    assert (out / "comparison" / "report.html").is_file()
