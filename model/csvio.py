"""Every CSV the tool writes or reads goes through here, so all of them follow one convention.

- **Encoding: UTF-8 with a byte-order mark** (``utf-8-sig``). Excel opens a CSV without a BOM in
  the machine's legacy code page and garbles the Chinese names (主城区 → 涓诲煄鍖); with the BOM it
  reads UTF-8. Python (``pandas.read_csv(..., encoding="utf-8-sig")``), R and LibreOffice read
  the BOM as well; :func:`read_csv` is the project's reader.
- **Numbers: 10 significant digits** (``float_format="%.10g"``). That removes binary
  floating-point noise (``400.00000000000006`` is written ``400``, ``0.30000000000000004`` as
  ``0.3``) and keeps a relative precision of 1e-10, four orders of magnitude below the solver's
  tolerances (1e-6 to 1e-7), so a program reading a CSV back gets the solution to within the
  accuracy it was computed with. The CSVs are the machine-readable record and are *not* rounded
  for reading: the rounded, plan-layout figures are in ``plan.xlsx`` (model/workbook.py) and the
  reports (``analysis/``). Documented in runs/README.md.
- Newlines are ``\\n`` on every platform, so the same run gives byte-identical files everywhere.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

CSV_ENCODING = "utf-8-sig"
FLOAT_FORMAT = "%.10g"


def write_csv(frame: pd.DataFrame, path: str | Path, float_format: str = FLOAT_FORMAT) -> Path:
    """Write ``frame`` (no index) as a UTF-8-with-BOM CSV at ``path``; returns the path. Floats
    in mixed (object) columns, which pandas' ``float_format`` skips, get the same format."""
    path = Path(path)
    mixed = [c for c in frame.columns if frame[c].dtype == object]
    if mixed:
        frame = frame.copy()
        for c in mixed:
            frame[c] = frame[c].map(lambda v: float_format % v
                                    if isinstance(v, float) and math.isfinite(v) else v)
    frame.to_csv(path, index=False, encoding=CSV_ENCODING, float_format=float_format,
                 lineterminator="\n")
    return path


def read_csv(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv`` that reads a BOM (and files without one) alike."""
    kwargs.setdefault("encoding", CSV_ENCODING)
    return pd.read_csv(path, **kwargs)
