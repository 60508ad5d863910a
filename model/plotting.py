"""matplotlib for the tool's charts: the Agg backend and a CJK font, so Chinese region names and
headings render instead of boxes (one warning, once, when no CJK font is installed).

Every chart of the tool (the run's uncertainty heat table, the mid-term review's charts, the
comparison charts of ``analysis/``) gets its pyplot from :func:`pyplot`.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "AR PL UMing CN",
)
CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "wqy", "sourcehansans", "simhei", "msyh")

_state: dict[str, object] = {}


def pyplot():
    """matplotlib.pyplot on the Agg backend with a CJK font first in the sans-serif list."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_cjk_font()
    return plt


def use_cjk_font() -> str | None:
    """Put an installed CJK font first in matplotlib's sans-serif list; returns its family name,
    or None (after one warning) if none is installed. Fonts installed after matplotlib built its
    font cache are found by file name and added. Idempotent."""
    if "family" in _state:
        return _state["family"]  # type: ignore[return-value]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((f for f in CJK_FAMILIES if f in installed), None)
    if family is None:
        for path in font_manager.findSystemFonts():
            if any(h in Path(path).name.lower() for h in CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        installed = {f.name for f in font_manager.fontManager.ttflist}
        family = next((f for f in CJK_FAMILIES if f in installed), None)
    if family is None:
        log.warning(
            "no CJK font found: Chinese text will show as boxes in the charts "
            "(install one, e.g. apt-get install fonts-noto-cjk)"
        )
        quiet_missing_glyphs()
    else:
        plt.rcParams["font.sans-serif"] = [family, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    _state["family"] = family
    return family


def quiet_missing_glyphs() -> None:
    """After the one warning above, matplotlib's own per-glyph warnings ("Glyph 20027 missing
    from font(s) DejaVu Sans", dozens per chart) say nothing more: silence them."""
    import warnings

    warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
