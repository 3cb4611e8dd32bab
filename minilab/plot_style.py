"""The course's figure style, shared by plots.py and rlhf_plots.py: one palette, the CJK font, small helpers.

Choices:
- One palette for the course (`PALETTE`): base grey, SFT blue, PPO orange, proxy
  (reward-model) score purple, gold reward gold. A run labelled "base", "SFT" or "PPO"
  gets its stage colour; other runs take `RUN_COLORS` in order.
- Chinese: the first installed CJK font (`cjk_font()`, found at the first figure) is a per-glyph fallback after
  DejaVu. With none, CJK glyphs draw as boxes and the "Glyph missing" warnings are
  silenced (`apt-get install fonts-noto-cjk` or `fonts-wqy-zenhei` fixes the boxes).
- The style is set only while a figure is built (`figure`), and only the keys it sets are restored
  afterwards (`plt.rc_context` would also undo the inline backend's own setup).
"""
from __future__ import annotations

import functools
import logging
import os
import re
import unicodedata
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

PALETTE = {"base": "#8c8c8c", "sft": "#3b75af", "ppo": "#e1812c", "proxy": "#7b4fa6", "gold": "#c08a00",
           "train": "#9bbbd9", "val": "#1f4e79", "chance": "#999999", "known": "#5b8db8", "unknown": "#c9793a"}
RUN_COLORS = ["#e1812c", "#3b75af", "#3a923a", "#c03d3e", "#9372b2", "#845b53", "#d684bd", "#8c8c8c"]
_CJK_NAMES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Droid Sans Fallback", "PingFang SC", "Hiragino Sans GB",
              "Heiti SC", "Microsoft YaHei", "SimHei", "Arial Unicode MS")
_CJK_FILES = ("notosanscjk", "sourcehansans", "wqy", "droidsansfallback", "msyh", "simhei", "pingfang")


def find_cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or None."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in _CJK_NAMES:
        if name in names:
            return name
    for path in font_manager.findSystemFonts():      # installed after matplotlib built its font cache
        if any(key in re.sub(r"[-_ ]", "", os.path.basename(path).lower()) for key in _CJK_FILES):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    return None


@functools.cache
def cjk_font() -> str | None:
    """`find_cjk_font()`, looked up once, at the first figure: importing plots searches no font folder."""
    # some CJK fonts have a single weight (WenQuanYi: 500); matplotlib would log every substitution
    logging.getLogger("matplotlib.font_manager").addFilter(lambda r: "Failed to find font weight" not in r.getMessage())
    return find_cjk_font()


_GLYPH_MISSING = r"Glyph \d+ .*missing from"                  # without a CJK font: boxes, quietly


def figure(fn):
    """Build the figure in the course style: small fonts, a light grid behind the data, CJK fallback."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # set at each figure, not at import (pytest and catch_warnings reset the filters)
        warnings.filterwarnings("ignore", message=_GLYPH_MISSING, category=UserWarning)
        style = {"font.family": ["DejaVu Sans", *([cjk_font()] if cjk_font() else [])], "axes.grid": True,
                 "grid.alpha": 0.3, "axes.axisbelow": True, "axes.spines.top": False, "axes.spines.right": False,
                 "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
                 "legend.fontsize": 8, "legend.frameon": False, "figure.titlesize": 11}
        saved = {key: plt.rcParams[key] for key in style}
        plt.rcParams.update(style)
        try:
            return fn(*args, **kwargs)
        finally:
            plt.rcParams.update(saved)
    return wrapper


def _subplots(nrows=1, ncols=1, figsize=(9, 3.5), title=None, **kwargs):
    """plt.subplots with constrained layout and an optional figure title."""
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", **kwargs)
    if title:
        fig.suptitle(title)
    return fig, axes


def _np(x) -> np.ndarray:
    """A float numpy array from a list, a numpy array or a torch tensor."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=float)


def _runs(history) -> dict:
    """{label: history}; a single history becomes {None: history}."""
    return dict(history) if isinstance(history, dict) else {None: history}


def _color(label, i: int) -> str:
    """The stage colour for 'base' / 'SFT' / 'PPO', else the i-th run colour."""
    return PALETTE.get(str(label).lower(), RUN_COLORS[i % len(RUN_COLORS)])


def _human(v: float, _=None) -> str:
    """1234567 -> '1.23M' (also a tick formatter)."""
    scale, unit = next(((s, u) for s, u in ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1, "")) if abs(v) >= s), (1, ""))
    return f"{v / scale:.3g}{unit}"


def _twin(ax):
    """A right-hand y axis sharing x, with its spine shown and no second grid."""
    other = ax.twinx()
    other.spines["right"].set_visible(True)
    other.grid(False)
    return other


def shown(piece: str) -> str:
    """How a token is drawn: spaces as '·', newlines as '⏎', tabs as '→', empty as '∅'."""
    return piece.replace(" ", "·").replace("\n", "⏎").replace("\t", "→") or "∅"


def _cells(text: str) -> int:
    """Width in monospace cells: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

