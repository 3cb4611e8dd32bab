"""The matplotlib figures of the course: each function takes plain data and returns a Figure.

    plots.loss_curves(history);                                # the inline backend shows it
    plots.ppo_dashboard({"β=0.02": history_a, "β=0.2": history_b});   # several runs overlaid

Choices:
- Figures come from pyplot, so the inline backend shows them at the end of the cell and
  `widgets.Panel` finds them. No function calls `plt.show()` or picks a backend. End the
  line with `;` or assign the figure: a Figure as a cell's value is shown twice.
- One palette for the course (`PALETTE`): base grey, SFT blue, PPO orange, proxy
  (reward-model) score purple, gold reward gold. A run labelled "base", "SFT" or "PPO"
  gets its stage colour; other runs take `RUN_COLORS` in order.
- Chinese: the first installed CJK font (`cjk_font()`, found at the first figure) is a per-glyph fallback after
  DejaVu. With none, CJK glyphs draw as boxes and the "Glyph missing" warnings are
  silenced (`apt-get install fonts-noto-cjk` or `fonts-wqy-zenhei` fixes the boxes).
- The style is set only while a figure is built, and only the keys it sets are restored
  afterwards (`plt.rc_context` would also undo the inline backend's own setup).
- Power laws L = a·N^(-b) are fitted by `model.fit_power_law` (with the other scaling
  quantities, `count_params` and `flops_per_token`); reward hacking is drawn against √KL
  (Gao et al. 2022, Fig. 1).
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
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, PercentFormatter

from minilab.gold import OUTCOMES
from minilab.history import PPOHistory, PretrainHistory, SFTHistory
from minilab.model import fit_power_law  # noqa: F401  (also plots.fit_power_law, as notebook 04 calls it)

PALETTE = {"base": "#8c8c8c", "sft": "#3b75af", "ppo": "#e1812c", "proxy": "#7b4fa6", "gold": "#c08a00",
           "train": "#9bbbd9", "val": "#1f4e79", "chance": "#999999", "known": "#5b8db8", "unknown": "#c9793a"}
RUN_COLORS = ["#e1812c", "#3b75af", "#3a923a", "#c03d3e", "#9372b2", "#845b53", "#d684bd", "#8c8c8c"]
OUTCOME_COLORS = dict(zip(OUTCOMES, ["#2e7d32", "#8bc98e", "#bdbdbd", "#ffb74d", "#d32f2f"]))   # gold.OUTCOMES
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


def _figure(fn):
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


def _smooth(v: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of the same length (shorter windows at the ends)."""
    if window <= 1 or len(v) < window:
        return v
    kernel = np.ones(window) / window
    return np.convolve(v, kernel, "same") / np.convolve(np.ones_like(v), kernel, "same")


def shown(piece: str) -> str:
    """How a token is drawn: spaces as '·', newlines as '⏎', tabs as '→', empty as '∅'."""
    return piece.replace(" ", "·").replace("\n", "⏎").replace("\t", "→") or "∅"


def _cells(text: str) -> int:
    """Width in monospace cells: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@_figure
def loss_curves(history: PretrainHistory | SFTHistory | dict, title: str | None = None, show_lr: bool = False):
    """Train loss per iteration and validation loss at eval points; one history or {label: history}."""
    fig, ax = _subplots()
    runs = _runs(history)
    solo = len(runs) == 1
    for i, (label, h) in enumerate(runs.items()):
        pretraining = isinstance(h, PretrainHistory)
        ax.plot(h.iter, h.train_loss if pretraining else h.loss, lw=1, color=PALETTE["train"] if solo else _color(label, i),
                alpha=1 if solo else 0.5, label="train (one batch)" if solo else f"{label} train")
        if pretraining and h.val_loss:
            ax.plot(h.eval_iter, h.val_loss, "o-", ms=3, color=PALETTE["val"] if solo else _color(label, i),
                    label="validation" if solo else f"{label} validation")
    ax.set(xlabel="iteration", ylabel="cross-entropy (nats/token)", title=title or "next-token loss")
    if show_lr and solo and pretraining and h.lr:
        lr_axis = _twin(ax)
        lr_axis.plot(h.iter, h.lr, ":", color="#555555", lw=1)
        lr_axis.set_ylabel("learning rate (dotted)")
    ax.legend()
    return fig


@_figure
def tokens_strip(pieces: list[str], ids: list[int] | None = None, mask: list[int] | None = None,
                 values=None, title: str | None = None, per_row: int = 80, value_label: str = "value"):
    """One box per token, wrapping into rows; shaded by a loss mask or by a per-token value."""
    special = [bool(re.fullmatch(r"<\|\w+\|>", p)) for p in pieces]
    texts = [shown(p) for p in pieces]
    # 1. lay out: each box as wide as its text (or its id), in monospace cells
    spots, x, row = [], 0.0, 0
    for i, text in enumerate(texts):
        width = max(_cells(text), 0.65 * len(str(ids[i])) if ids is not None else 0) + 0.8
        if x > 0 and x + width > per_row:
            x, row = 0.0, row + 1
        spots.append((x, row, width))
        x += width + 0.3
    height, rows = (1.7 if ids is not None else 1.0), row + 1
    inches = 0.35 * rows * (height + 0.3) + 0.3 + 0.25 * bool(title) + 0.6 * (values is not None)
    fig, ax = _subplots(figsize=(9, inches), title=title)
    # 2. colours: a diverging map centred at 0 for values, light blue where the mask is 1
    if values is not None:
        v = _np(values)
        limit = float(np.nanmax(np.abs(v))) or 1.0
        norm, cmap = Normalize(-limit, limit), plt.get_cmap("RdBu_r")
        fills = [cmap(norm(a)) for a in v]
        fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=value_label, orientation="horizontal",
                     location="bottom", shrink=0.4, aspect=40, pad=0.02)
    elif mask is not None:
        fills = ["#bcd3ea" if m else "#f0f0f0" for m in mask]
        ax.legend(handles=[Patch(fc="#bcd3ea", label="in the loss (mask = 1)"), Patch(fc="#f0f0f0", label="not")],
                  loc="lower right", bbox_to_anchor=(1, 1), ncol=2)
    else:
        fills = ["#e8eef6"] * len(pieces)
    # 3. draw: the token text, its id below, special tokens in bold with a dark edge
    for i, ((x, row, width), text, fill) in enumerate(zip(spots, texts, fills)):
        top = -row * (height + 0.3)
        ax.add_patch(Rectangle((x, top - height), width, height, fc=fill,
                               ec="#444444" if special[i] else "#b0b0b0", lw=1.0 if special[i] else 0.6))
        dark = values is not None and abs(norm(v[i]) - 0.5) > 0.35
        ax.text(x + width / 2, top - 0.5, text, ha="center", va="center", fontsize=9,
                color="white" if dark else "black", fontweight="bold" if special[i] else "normal",
                family=["DejaVu Sans Mono", *([cjk_font()] if cjk_font() else [])])
        if ids is not None:
            ax.text(x + width / 2, top - 1.3, str(ids[i]), ha="center", va="center", fontsize=6.5, color="#555555")
    ax.set(xlim=(0, per_row), ylim=(-rows * (height + 0.3), 0.05))
    ax.axis("off")
    return fig


@_figure
def attention_map(att, labels: list[str], title: str | None = None):
    """Heatmap of attention weights (T, T), or one panel per head for (H, T, T); tokens on both axes."""
    heads = _np(att)
    heads = heads[None] if heads.ndim == 2 else heads               # (H, T, T)
    n, T = len(heads), len(labels)
    side = min(8 / n, 1.2 + 0.28 * T)
    fig, axes = _subplots(1, n, figsize=(side * n + 1, side + 0.4), title=title, squeeze=False)
    names = [shown(label) for label in labels]
    for h, (ax, a) in enumerate(zip(axes[0], heads)):
        image = ax.imshow(a, cmap="Blues", vmin=0, vmax=max(float(heads.max()), 1e-9))
        ax.set_xticks(range(T), names, rotation=90, fontsize=7)
        ax.set_yticks(range(T), names if h == 0 else [""] * T, fontsize=7)
        ax.grid(False)
        ax.set(xlabel="key (attended to)", title=f"head {h}" if n > 1 else None)
    axes[0][0].set_ylabel("query (attending)")
    fig.colorbar(image, ax=axes[0].tolist(), label="attention weight", fraction=0.04)
    return fig


@_figure
def size_bars(params: dict[str, float], flops: dict[str, float] | None = None, title: str | None = None):
    """Bars of parameter count (and FLOPs per token, if given) per model size."""
    panels = [(params, "parameters")] + ([(flops, "FLOPs per token")] if flops else [])
    fig, axes = _subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), title=title, squeeze=False)
    for ax, (data, what) in zip(axes[0], panels):
        bars = ax.bar(list(data), list(data.values()), color=PALETTE["val"])
        ax.bar_label(bars, labels=[_human(v) for v in data.values()], fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(_human))
        ax.set(xlabel="model size", ylabel=what, title=f"{what} per size")
    return fig


@_figure
def scaling_plot(params, losses, fit: tuple[float, float] | None = None, compute=None,
                 labels: list[str] | None = None, title: str | None = None):
    """Loss vs parameters (and vs compute, if given) on log-log axes, with a fitted power law."""
    panels = [("parameters", "N", params, fit)] + ([("compute", "C", compute, None)] if compute is not None else [])
    fig, axes = _subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), title=title, squeeze=False)
    y = _np(losses)
    for ax, (what, symbol, x, ab) in zip(axes[0], panels):
        x = _np(x)
        a, b = ab or fit_power_law(x, y)
        grid = np.geomspace(x.min() / 1.5, x.max() * 1.5, 50)
        ax.loglog(x, y, "o", color=PALETTE["val"], label="runs")
        ax.loglog(grid, a * grid ** -b, "--", color=PALETTE["ppo"], label=rf"$L = {a:.3g}\,{symbol}^{{-{b:.3f}}}$")
        for xi, yi, name in zip(x, y, labels or []):
            ax.annotate(name, (xi, yi), xytext=(4, 4), textcoords="offset points", fontsize=8)
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.1f"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.1f"))
        ax.set(xlabel=f"{what} {symbol}" + (" (FLOPs)" if symbol == "C" else ""),
               ylabel="validation loss (nats/token)", title=f"loss vs {what}")
        ax.legend()
    return fig


@_figure
def skill_vs_size(params, accuracies, chance: float | None = None, labels: list[str] | None = None,
                  title: str | None = None):
    """Accuracy of a skill vs parameters (log x) with the chance level; accuracies may be {skill: list}."""
    fig, ax = _subplots(figsize=(5.5, 3.5))
    skills = accuracies if isinstance(accuracies, dict) else {"accuracy": accuracies}
    for i, (skill, acc) in enumerate(skills.items()):
        ax.plot(_np(params), _np(acc), "o-", color=_color(None, i), label=skill)
    for p, acc, name in zip(params, _np(next(iter(skills.values()))), labels or []):
        ax.annotate(name, (p, acc), xytext=(0, 6), textcoords="offset points", fontsize=8, ha="center")
    if chance is not None:
        ax.axhline(chance, ls=":", color=PALETTE["chance"], label=f"chance ({chance:.0%})")
    ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="accuracy", ylim=(-0.02, 1.05), title=title or "a skill vs model size")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend()
    return fig


_PPO_PANELS = [("kl", "KL(π ‖ π_ref)", "nats per reply"), ("clipfrac", "clip fraction", "share of tokens"),
               ("entropy", "policy entropy", "nats per token"), ("length", "reply length", "tokens"),
               ("value_loss", "value function", "value loss (solid)")]


@_figure
def ppo_dashboard(history: PPOHistory | dict, title: str | None = None):
    """2×3 panels against PPO iteration; one history or {label: history} to overlay runs."""
    runs = _runs(history)
    solo = len(runs) == 1
    fig, axes = _subplots(2, 3, figsize=(9, 5.5), title=title, sharex=True)
    axes = axes.ravel()
    explained = _twin(axes[5])
    for i, (label, h) in enumerate(runs.items()):
        color = PALETTE["ppo"] if solo else _color(label, i)
        axes[0].plot(h.iter, h.score, color=PALETTE["proxy"] if solo else color,
                     label="proxy score (reward model)" if solo else label)
        axes[0].plot(h.iter, h.gold, "--", color=PALETTE["gold"] if solo else color,
                     label="gold reward" if solo else None)
        for ax, (key, _, _) in zip(axes[1:], _PPO_PANELS):
            ax.plot(h.iter, getattr(h, key), color=color, label=label)
        explained.plot(h.iter, h.explained_var, ":", color=color)
    axes[0].set(title="reward", ylabel="reward" if solo else "proxy (solid), gold (dashed)")
    axes[0].legend()
    for ax, (_, name, unit) in zip(axes[1:], _PPO_PANELS):
        ax.set(title=name, ylabel=unit)
    explained.set_ylabel("explained variance (dotted)")
    for ax in axes[3:]:
        ax.set_xlabel("PPO iteration")
    return fig


@_figure
def hacking_plot(history: PPOHistory, title: str | None = None, smooth: int | None = None):
    """Proxy score and gold reward vs √KL (Gao et al. 2022): the proxy keeps rising while gold peaks."""
    fig, ax = _subplots(figsize=(6, 3.5))
    window = smooth or max(1, len(history.kl) // 10)
    root_kl = _smooth(np.sqrt(np.clip(_np(history.kl), 0, None)), window)   # the k1 estimate can dip below 0
    for key, name in (("score", "proxy score (reward model)"), ("gold", "gold reward")):
        color, raw = PALETTE["proxy" if key == "score" else "gold"], _np(getattr(history, key))
        ax.plot(root_kl, raw, ".", color=color, alpha=0.25, ms=4)
        ax.plot(root_kl, _smooth(raw, window), color=color, label=name)
    gold = _smooth(_np(history.gold), window)
    if np.isfinite(gold).any():
        peak = int(np.nanargmax(gold))
        ax.axvline(root_kl[peak], ls=":", color=PALETTE["gold"])
        ax.plot(root_kl[peak], gold[peak], "*", ms=13, color=PALETTE["gold"],
                label=f"gold peak (iteration {history.iter[peak]}, √KL = {root_kl[peak]:.2f})")
    ax.set(xlabel="√KL per reply (√nats)", ylabel="reward", title=title or "proxy vs gold as the policy drifts")
    ax.legend()
    return fig


@_figure
def frontier_plot(points: list[dict], title: str | None = None, start: dict | None = None):
    """Gold reward (and proxy score) vs final KL for a β sweep, each point labelled by its β;
    `start` ({"gold", "score"}) marks where every run began, the SFT model at KL 0."""
    points = sorted(points, key=lambda p: p["kl"])
    fig, ax = _subplots(figsize=(6, 3.5))
    if start:
        ax.plot([0], [start["gold"]], "*", ms=12, color=PALETTE["sft"], label="SFT model (start, KL 0)")
        if "score" in start:
            ax.plot([0], [start["score"]], "*", ms=9, mfc="none", color=PALETTE["sft"])
    kl = [p["kl"] for p in points]
    ax.plot(kl, [p["gold"] for p in points], "o-", color=PALETTE["gold"], label="gold reward")
    if all("score" in p for p in points):
        ax.plot(kl, [p["score"] for p in points], "s:", mfc="none", color=PALETTE["proxy"], label="proxy score")
    for p in points:
        ax.annotate(f"β={p['beta']:g}", (p["kl"], p["gold"]), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set(xlabel="KL per reply at the end of training (nats)", ylabel="reward",
           title=title or "β sweep: reward vs KL")
    ax.legend()
    return fig


@_figure
def reward_vs_length(lengths, rewards, gold=None, title: str | None = None):
    """Reward-model score (and gold reward, if given) vs reply length in words, with a trend line."""
    panels = [("reward-model score", rewards, "proxy")] + ([("gold reward", gold, "gold")] if gold is not None else [])
    fig, axes = _subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), title=title, squeeze=False)
    x = _np(lengths)
    for ax, (name, y, color) in zip(axes[0], panels):
        y, r = _np(y), float("nan")
        ax.scatter(x, y, s=10, alpha=0.5, color=PALETTE[color])
        if len(x) > 1 and x.std() > 0 and y.std() > 0:               # a constant has no correlation
            r = float(np.corrcoef(x, y)[0, 1])
            slope, intercept = np.polyfit(x, y, 1)
            ax.plot(np.sort(x), slope * np.sort(x) + intercept, color="black", lw=1)
        ax.set(xlabel="reply length (words)", ylabel=name, title=f"{name} vs length (r = {r:.2f})")
    return fig


@_figure
def annotator_agreement(matrix: dict, vs_gold: dict | None = None, title: str | None = None):
    """Heatmap of how often two annotators choose alike; bars of agreement with gold, if given."""
    names = list(matrix)
    grid = np.array([[matrix[a][b] for b in names] for a in names])     # (n, n)
    fig, axes = _subplots(1, 2 if vs_gold else 1, figsize=(9 if vs_gold else 5, 3.5), title=title,
                          squeeze=False, width_ratios=[1.3, 1] if vs_gold else None)
    ax = axes[0][0]
    image = ax.imshow(grid, cmap="YlGn", vmin=0.5, vmax=1.0)
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.grid(False)
    ax.set_title("same choice (share of pairs)")
    fig.colorbar(image, ax=ax, fraction=0.05)
    if vs_gold:
        bars = axes[0][1].barh(list(vs_gold), list(vs_gold.values()), height=0.6, color=PALETTE["gold"])
        axes[0][1].bar_label(bars, fmt="%.2f", fontsize=8)
        axes[0][1].axvline(0.5, ls=":", color=PALETTE["chance"])
        axes[0][1].invert_yaxis()
        axes[0][1].set(xlim=(0, 1.1), xlabel="agrees with gold (share of pairs)", title="vs the gold reward")
    return fig


@_figure
def report_card(figures: dict, title: str | None = "report card"):
    """Bars of gold reward and of the share of well-formed replies per stage (base, SFT, PPO)."""
    stages = list(figures)
    colors = [_color(s, i) for i, s in enumerate(stages)]
    fig, axes = _subplots(1, 2, figsize=(9, 3.2), title=title)
    for ax, key, name, unit in zip(axes, ("gold", "well_formed"), ("gold reward", "well-formed replies"),
                                   ("mean per reply", "share of replies")):
        values = [figures[s][key] for s in stages]
        bars = ax.bar(stages, values, color=colors)
        ax.bar_label(bars, labels=[f"{v:.0%}" if key == "well_formed" else f"{v:.2f}" for v in values], fontsize=8)
        ax.axhline(0, color="black", lw=0.6)
        ax.set(title=name, ylabel=unit)
    axes[1].set_ylim(0, 1.1)
    axes[1].yaxis.set_major_formatter(PercentFormatter(1.0))
    return fig


@_figure
def abstention_plot(rates: dict, title: str | None = None):
    """Grouped bars: how often each reward's policy says "I don't know", on known vs unknown entities."""
    names, x = list(rates), np.arange(len(rates))
    fig, ax = _subplots(figsize=(6, 3.5))
    for which, dx in (("known", -0.2), ("unknown", 0.2)):
        share = [rates[n][which] for n in names]
        bars = ax.bar(x + dx, share, width=0.4, color=PALETTE[which], label=f"{which} entities")
        ax.bar_label(bars, labels=[f"{s:.0%}" for s in share], fontsize=8)
    ax.set_xticks(x, names)
    ax.set(xlabel="reward", ylabel="answers “I don't know”", ylim=(0, 1.1), title=title or "abstention by reward")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend()
    return fig


@_figure
def outcome_bars(outcomes: dict, title: str | None = None):
    """Stacked bars per reward: the share of each outcome, from confident-correct to confident-wrong."""
    names = list(outcomes)
    fig, ax = _subplots(figsize=(9, 0.6 * len(names) + 1.4))
    left = np.zeros(len(names))
    for outcome, color in OUTCOME_COLORS.items():
        share = np.array([outcomes[n].get(outcome, 0) / max(sum(outcomes[n].values()), 1) for n in names])
        bars = ax.barh(names, share, left=left, color=color, label=outcome)
        ax.bar_label(bars, labels=[f"{v:.0%}" if v >= 0.06 else "" for v in share], label_type="center", fontsize=8)
        left += share
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="share of answers", title=title or "what the policy answers")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.3 if len(names) < 3 else -0.15))
    return fig


@_figure
def bpe_merges_plot(vocab_sizes, tokens_per_byte, counts=None, title: str | None = None):
    """Tokens per byte as merges grow the vocabulary; and how often each merged pair occurred, if given."""
    fig, axes = _subplots(1, 1 + (counts is not None), figsize=(9 if counts is not None else 5, 3.5),
                          title=title, squeeze=False)
    axes[0][0].plot(vocab_sizes, tokens_per_byte, "o-", ms=3, color=PALETTE["sft"])
    axes[0][0].set(xlabel="vocabulary size (tokens)", ylabel="tokens per byte", title="compression")
    if counts is not None:                                  # [m.count for m in tok.history]
        axes[0][1].semilogy(range(1, len(counts) + 1), counts, color=PALETTE["ppo"])
        axes[0][1].set(xlabel="merge number", ylabel="pair count in the training text", title="each merge's count")
    return fig
