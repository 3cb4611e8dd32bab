"""The matplotlib figures of pretraining and scaling: each function takes plain data and returns a Figure.

    plots.loss_curves(history);                                # the inline backend shows it
    plots.ppo_dashboard({"β=0.02": history_a, "β=0.2": history_b});   # several runs overlaid

Choices:
- Figures come from pyplot, so the inline backend shows them at the end of the cell and
  `widgets.Panel` finds them. No function calls `plt.show()` or picks a backend. End the
  line with `;` or assign the figure: a Figure as a cell's value is shown twice.
- The style (palette, CJK font, fonts and grid set only while a figure is built) is in
  plot_style.py; the RLHF figures (PPO dashboard, reward hacking, report card) are in
  rlhf_plots.py. Both are re-exported here: notebooks call every figure as `plots.*`.
- Power laws L = a·N^(-b) are fitted by `model.fit_power_law` (with the other scaling
  quantities, `count_params` and `flops_per_token`).
"""
from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FormatStrFormatter, FuncFormatter, PercentFormatter

from minilab.history import PretrainHistory, SFTHistory
from minilab.model import fit_power_law  # noqa: F401  (also plots.fit_power_law, as notebook 04 calls it)
from minilab.plot_style import (PALETTE, RUN_COLORS, _cells, _color, _human, _np, _runs, _subplots,  # noqa: F401
                                _twin, cjk_font, find_cjk_font, shown)
from minilab.plot_style import figure as _figure
from minilab.rlhf_plots import (OUTCOME_COLORS, abstention_plot, annotator_agreement, dpo_dashboard, frontier_plot,  # noqa: F401
                                hacking_plot, methods_frontier, outcome_bars, ppo_dashboard, report_card,
                                reward_vs_length)


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
    # 2. colours: for values, a sequential map from 0 when none is negative (a loss), else a diverging
    #    map centred at 0 (a change); light blue where the mask is 1
    if values is not None:
        v = _np(values)
        limit = float(np.nanmax(np.abs(v))) or 1.0
        signed = bool(np.nanmin(v) < 0)
        norm, cmap = (Normalize(-limit, limit), plt.get_cmap("RdBu_r")) if signed else (Normalize(0, limit), plt.get_cmap("Reds"))
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
        dark = values is not None and (abs(norm(v[i]) - 0.5) > 0.35 if signed else norm(v[i]) > 0.6)
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
    """Accuracy of a skill vs parameters (log x) with the chance level. accuracies may be
    {skill: list}: one panel per skill, so two skills never share (and crowd) one axis."""
    skills = accuracies if isinstance(accuracies, dict) else {"accuracy": accuracies}
    fig, axes = _subplots(1, len(skills), figsize=(4.2 * len(skills) + 1.0, 3.5), title=title if len(skills) > 1 else None,
                          squeeze=False, sharey=True)
    for i, (ax, (skill, acc)) in enumerate(zip(axes[0], skills.items())):
        ax.plot(_np(params), _np(acc), "o-", color=_color(None, i))
        for p, a, name in zip(params, _np(acc), labels or []):
            ax.annotate(name, (p, a), xytext=(0, 6), textcoords="offset points", fontsize=8, ha="center")
        if chance is not None:
            ax.axhline(chance, ls=":", color=PALETTE["chance"], label=f"chance ({chance:.0%})")
            ax.legend()
        ax.set_xscale("log")
        ax.set(xlabel="parameters", ylim=(-0.02, 1.05),
               title=skill if len(skills) > 1 else (title or "a skill vs model size"))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes[0][0].set_ylabel("accuracy")
    return fig


@_figure
def emergence_plot(rungs: dict, skill: str = "add2", skill_name: str = "held-out two-digit sums",
                   title: str | None = None):
    """A ladder of models trained on the same tokens (emergence.load_runs()["rungs"]), four panels:
    by size at the end of training, the validation loss (log, left axis) and the skill (right axis);
    as each rung trains, its loss and its skill against training compute (a colour per rung); and
    the skill against the validation loss at every measurement of every rung."""
    names = list(rungs)
    params = _np([rungs[n]["params"] for n in names])
    fig, axes = _subplots(2, 2, figsize=(11, 7.2), title=title)
    (size_ax, loss_ax), (skill_ax, threshold_ax) = axes
    size_ax.plot(params, [rungs[n]["val_loss"][-1] for n in names], "o-", color=PALETTE["base"], label="validation loss")
    size_ax.set(xscale="log", yscale="log", xlabel="parameters", ylabel="validation loss (nats per token)",
                title="at the end of training, by size")
    right = _twin(size_ax)
    right.plot(params, [rungs[n][skill][-1] for n in names], "s-", color=PALETTE["gold"], label=skill_name)
    right.set(ylim=(-0.02, 1.05), ylabel=skill_name)
    right.yaxis.set_major_formatter(PercentFormatter(1.0))
    for p, n in zip(params, names):
        right.annotate(n, (p, rungs[n][skill][-1]), xytext=(0, 6), textcoords="offset points", fontsize=7, ha="center")
    handles = size_ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    size_ax.legend(handles, [h.get_label() for h in handles], loc="upper center")
    for i, n in enumerate(names):
        r = rungs[n]
        compute = _np(r["tokens"][1:]) * r["flops_per_token"]
        color = RUN_COLORS[i % len(RUN_COLORS)] if len(names) <= len(RUN_COLORS) else plt.get_cmap("viridis")(i / (len(names) - 1))
        loss_ax.plot(compute, r["val_loss"][1:], "-", color=color, label=n)
        skill_ax.plot(compute, r[skill][1:], "o-", ms=3, color=color, label=n)
        threshold_ax.plot(r["val_loss"][1:], r[skill][1:], "o", ms=4, color=color, label=n)
    loss_ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="validation loss",
                title="the loss as each rung trains")
    loss_ax.legend(fontsize=7, ncols=2)
    skill_ax.set(xscale="log", xlabel="training compute C (FLOPs)", ylabel=skill_name, ylim=(-0.02, 1.05),
                 title="the skill as each rung trains")
    threshold_ax.set(xscale="log", xlabel="validation loss (lower is better →)", ylabel=skill_name, ylim=(-0.02, 1.05),
                     title="the skill against the loss, every measurement")
    threshold_ax.invert_xaxis()
    for ax in (skill_ax, threshold_ax):
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    for axis in (size_ax.yaxis, loss_ax.yaxis, threshold_ax.xaxis):     # after the log scales, which reset them
        axis.set_major_formatter(FormatStrFormatter("%.1f"))
        axis.set_minor_formatter(FormatStrFormatter("%.1f"))
    return fig


@_figure
def skill_grid(grid: dict, guess: dict | None = None, title: str | None = None):
    """A heatmap of accuracy, one row per skill and one column per model ({skill: {model: accuracy}}),
    each cell labelled; `guess` ({skill: rate}) adds a first column, what guessing the answer's shape gets."""
    skills = list(grid)
    models = list(dict.fromkeys(m for row in grid.values() for m in row))
    columns = (["guess"] if guess else []) + models
    values = np.array([[(guess or {}).get(s, np.nan) if c == "guess" else grid[s].get(c, np.nan) for c in columns]
                       for s in skills], dtype=float)
    fig, ax = _subplots(figsize=(1.6 + 0.95 * len(columns), 0.8 + 0.42 * len(skills)), title=title)
    image = ax.imshow(values, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    for i in range(len(skills)):
        for j in range(len(columns)):
            v = values[i, j]
            if v == v:
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 else ("#555555" if columns[j] == "guess" else "black"))
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(skills)), skills)
    ax.tick_params(length=0)
    ax.grid(False)
    if guess:
        ax.axvline(0.5, color="white", lw=3)
    fig.colorbar(image, ax=ax, format=PercentFormatter(1.0), shrink=0.8, label="held-out accuracy")
    return fig


@_figure
def share_bars(shares: dict, title: str | None = None, colors: dict | None = None):
    """Grouped bars of shares (0..1): {group: {measure: share}}, one colour per group, each bar
    labelled with its percentage. E.g. {"base": {"knows": 0.76, "answers": 0.0}, "SFT": {...}}."""
    groups = list(shares)
    measures = list(dict.fromkeys(m for g in groups for m in shares[g]))
    fig, ax = _subplots(figsize=(1.1 + 1.6 * len(measures) + 0.3 * len(groups) * len(measures), 3.4))
    width = 0.8 / len(groups)
    x = np.arange(len(measures))
    for i, g in enumerate(groups):
        values = [shares[g].get(m, np.nan) for m in measures]
        color = (colors or {}).get(g, _color(g, i))
        bars = ax.bar(x + (i - (len(groups) - 1) / 2) * width, values, width, label=g, color=color)
        ax.bar_label(bars, labels=[f"{v:.0%}" if v == v else "" for v in values], fontsize=7, padding=2)
    ax.set_xticks(x, measures)
    ax.set(ylim=(0, 1.3), ylabel="share", title=title)       # headroom: the legend sits above 100%
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(loc="upper center", ncols=len(groups))
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
