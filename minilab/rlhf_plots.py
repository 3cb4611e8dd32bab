"""The matplotlib figures of RLHF: preferences, PPO training, reward hacking, the β sweep, the report card,
and honesty (09). Each function takes plain data and returns a Figure; notebooks call them as `plots.*`.

    plots.ppo_dashboard({"β=0.02": history_a, "β=0.2": history_b});   # several runs overlaid

Choices:
- The style and palette are plot_style.py's; each outcome of `gold.OUTCOMES` has one colour
  (`OUTCOME_COLORS`), from confident-correct green to confident-wrong red.
- Reward hacking is drawn against √KL (Gao et al. 2022, Fig. 1), smoothed by a centred moving average.
"""
from __future__ import annotations

import numpy as np
from matplotlib.ticker import PercentFormatter

from minilab.gold import OUTCOMES
from minilab.history import DPOHistory, PPOHistory
from minilab.plot_style import PALETTE, _color, _np, _runs, _subplots
from minilab.plot_style import figure as _figure

OUTCOME_COLORS = dict(zip(OUTCOMES, ["#2e7d32", "#8bc98e", "#bdbdbd", "#ffb74d", "#d32f2f"]))   # gold.OUTCOMES


def _smooth(v: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average of the same length (shorter windows at the ends)."""
    if window <= 1 or len(v) < window:
        return v
    kernel = np.ones(window) / window
    return np.convolve(v, kernel, "same") / np.convolve(np.ones_like(v), kernel, "same")


_PPO_PANELS = [("score", "proxy score", "reward model (normalised)"), ("gold", "gold reward", "gold (its own units)"),
               ("kl", "KL(π ‖ π_ref)", "nats per reply"), ("clipfrac", "clip fraction", "share of tokens"),
               ("entropy", "policy entropy", "nats per token"), ("length", "reply length", "tokens"),
               ("value_loss", "value loss", "clipped squared error"),
               ("explained_var", "value function", "explained variance of returns")]


@_figure
def ppo_dashboard(history: PPOHistory | dict, title: str | None = None):
    """2×4 panels against PPO iteration; one history or {label: history} to overlay runs.
    The proxy score and the gold reward get panels of their own: they are in different units."""
    runs = _runs(history)
    solo = len(runs) == 1
    fig, axes = _subplots(2, 4, figsize=(11, 5.2), title=title, sharex=True)
    axes = axes.ravel()
    for i, (label, h) in enumerate(runs.items()):
        color = PALETTE["ppo"] if solo else _color(label, i)
        for ax, (key, _, _) in zip(axes, _PPO_PANELS):
            line_color = PALETTE[{"score": "proxy", "gold": "gold"}[key]] if solo and key in ("score", "gold") else color
            ax.plot(h.iter, getattr(h, key), color=line_color, label=label)
    for ax, (_, name, unit) in zip(axes, _PPO_PANELS):
        ax.set(title=name, ylabel=unit)
    if not solo:
        axes[0].legend()
    for ax in axes[4:]:
        ax.set_xlabel("PPO iteration")
    return fig


@_figure
def hacking_plot(history: PPOHistory, title: str | None = None, smooth: int | None = None):
    """Proxy score (top) and gold reward (bottom) vs √KL (Gao et al. 2022), one axis each: they are in
    different units. The proxy keeps rising while gold peaks; the star marks the gold peak."""
    fig, axes = _subplots(2, 1, figsize=(6, 5), title=title or "proxy vs gold as the policy drifts", sharex=True)
    window = smooth or max(1, len(history.kl) // 10)
    root_kl = _smooth(np.sqrt(np.clip(_np(history.kl), 0, None)), window)   # the k1 estimate can dip below 0
    for ax, key, name in ((axes[0], "score", "proxy score (reward model)"), (axes[1], "gold", "gold reward")):
        color, raw = PALETTE["proxy" if key == "score" else "gold"], _np(getattr(history, key))
        ax.plot(root_kl, raw, ".", color=color, alpha=0.25, ms=4)
        ax.plot(root_kl, _smooth(raw, window), color=color, label=f"{name}, running mean of {window}")
        ax.set(ylabel=name.split(" (")[0])
    gold = _smooth(_np(history.gold), window)
    if np.isfinite(gold).any():
        peak = int(np.nanargmax(gold))
        for ax in axes:
            ax.axvline(root_kl[peak], ls=":", color=PALETTE["gold"])
        axes[1].plot(root_kl[peak], gold[peak], "*", ms=13, color=PALETTE["gold"],
                     label=f"gold peak (iteration {history.iter[peak]}, √KL = {root_kl[peak]:.2f})")
    axes[1].set(xlabel="√KL per reply (√nats)")
    for ax in axes:
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
def dpo_dashboard(history: DPOHistory | dict, title: str | None = None):
    """1×4 panels of a DPO run (one history or {label: history}): the loss and the implied reward's
    accuracy on the training batches, the log-ratios log π/π_ref of chosen and rejected replies, and
    held-out gold and KL at the evaluations."""
    runs = _runs(history)
    fig, axes = _subplots(1, 4, figsize=(12, 3.2), title=title)
    for i, (label, h) in enumerate(runs.items()):
        color = PALETTE["ppo"] if len(runs) == 1 else _color(label, i)
        name = "" if label is None else f"{label}: "
        axes[0].plot(h.iter, _smooth(_np(h.acc), 10), color=color, label=f"{name}implied-reward accuracy")
        axes[0].plot(h.iter, _smooth(_np(h.loss), 10), ":", color=color, label=f"{name}loss")
        axes[1].plot(h.iter, h.chosen_logratio, color=color, label=f"{name}chosen")
        axes[1].plot(h.iter, h.rejected_logratio, "--", color=color, label=f"{name}rejected")
        axes[2].plot(h.eval_iter, h.gold, "o-", color=color if len(runs) > 1 else PALETTE["gold"], label=label)
        axes[3].plot(h.eval_iter, h.kl, "o-", color=color, label=label)
    axes[0].axhline(0.5, color=PALETTE["chance"], lw=0.8)
    axes[1].axhline(0.0, color="black", lw=0.8)
    axes[0].set(title="training batches (running mean of 10)", xlabel="DPO step", ylim=(0, 1.05))
    axes[1].set(title="log π/π_ref of the batch's replies", xlabel="DPO step", ylabel="nats per reply")
    axes[2].set(title="gold reward, held-out prompts", xlabel="DPO step", ylabel="gold (its own units)")
    axes[3].set(title="KL(π ‖ π_ref)", xlabel="DPO step", ylabel="nats per reply")
    for ax in axes[:2]:
        ax.legend(fontsize=7)
    if len(runs) > 1:
        axes[2].legend(fontsize=7)
    return fig


@_figure
def methods_frontier(curves: dict, baseline: float | None = None, title: str | None = None):
    """Held-out gold vs √KL(π ‖ π_ref) for several methods, one curve each:
    curves[name] = {"kl": [...], "gold": [...], "labels": [...] (optional, written beside the points)}.
    baseline: the starting model's gold (a dotted line)."""
    fig, ax = _subplots(1, 1, figsize=(7.5, 4.6), title=title)
    markers = "os^Dvx"
    for i, (name, c) in enumerate(curves.items()):
        d = np.sqrt(np.clip(_np(c["kl"]), 0, None))
        ax.plot(d, c["gold"], marker=markers[i % len(markers)], color=c.get("color", _color(name, i)), label=name,
                ls=c.get("ls", "-"), lw=1.2, ms=5)
        for x, y, text in zip(d, c["gold"], c.get("labels", [])):
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    if baseline is not None:
        ax.axhline(baseline, ls=":", color="black", lw=0.8, label="the SFT model")
    ax.set(xlabel="√KL(π ‖ π_ref) per reply (√nats)", ylabel="held-out gold reward")
    ax.legend(fontsize=8, loc="best")
    return fig
