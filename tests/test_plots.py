"""Each figure builds from small synthetic data, has the axes and artists it promises, and draws."""
import subprocess
import sys
import warnings
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minilab import plot_style, plots
from minilab.history import PPOHistory, PretrainHistory, SFTHistory


@pytest.fixture(autouse=True)
def close_figures():
    """Every test leaves no open figure behind."""
    yield
    plt.close("all")


def drawn(fig, n_axes):
    """Draw the figure (catches layout and font errors) and check its type and axes count."""
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    fig.canvas.draw()
    return fig


def ppo_history(n=12, shift=0.0):
    """A PPO history with the keys train_ppo records."""
    it = list(range(n))
    curve = lambda f: [f(i) + shift for i in it]
    return PPOHistory(iter=it, score=curve(lambda i: 0.1 * i), gold=curve(lambda i: 1 - (i - 6) ** 2 / 36),
                      kl=curve(lambda i: 0.05 * i * i), entropy=curve(lambda i: 2 - 0.05 * i),
                      clipfrac=curve(lambda i: 0.01 * i), approx_kl=curve(lambda i: 0.001 * i),
                      value_loss=curve(lambda i: 1 / (i + 1)), policy_loss=curve(lambda i: -0.01),
                      explained_var=curve(lambda i: i / n), length=curve(lambda i: 10 + i), ended=curve(lambda i: 1.0),
                      beta=curve(lambda i: 0.1), samples=[[] for _ in it])


def test_importing_plots_changes_no_warning_filter_and_searches_no_font():
    code = ("import warnings, matplotlib.font_manager as fm; "
            "fm.findSystemFonts = lambda *a, **k: 1 / 0; import minilab.plots; "
            "print(any('Glyph' in getattr(f[1], 'pattern', '') for f in warnings.filters), "
            "minilab.plots.cjk_font.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "0"]


def test_fit_power_law_recovers_exact_parameters():
    n = np.geomspace(1e4, 1e7, 6)
    a, b = plots.fit_power_law(n, 12.5 * n ** -0.076)
    assert a == pytest.approx(12.5, abs=1e-6) and b == pytest.approx(0.076, abs=1e-6)


def test_loss_curves_pretrain_sft_and_overlay():
    pre = PretrainHistory(iter=[1, 2, 3, 4], train_loss=[4, 3, 2.5, 2.2], lr=[1e-3] * 4, eval_iter=[2, 4],
                          val_loss=[3.1, 2.4])
    fig = drawn(plots.loss_curves(pre, title="pretraining", show_lr=True), 2)   # + the lr twin axis
    assert len(fig.axes[0].lines) == 2
    sft = SFTHistory(iter=[1, 2, 3], loss=[2, 1.5, 1.2])
    assert len(drawn(plots.loss_curves(sft), 1).axes[0].lines) == 1
    assert len(drawn(plots.loss_curves({"nano": pre, "micro": pre}), 1).axes[0].lines) == 4


def test_tokens_strip_one_box_per_token_special_spaces_newlines_chinese():
    pieces = ["<|user|>", "Hello", " world", "\n", " ", "中文", "<|end|>"]
    fig = drawn(plots.tokens_strip(pieces, ids=list(range(len(pieces))), title="tokens"), 1)
    ax = fig.axes[0]
    assert sum(isinstance(p, Rectangle) for p in ax.patches) == len(pieces)
    texts = [t.get_text() for t in ax.texts]
    assert {"·world", "⏎", "·", "中文", "<|user|>"} <= set(texts)
    assert [str(i) for i in range(len(pieces))] == [t for t in texts if t.isdigit()]
    bold = {t.get_text() for t in ax.texts if t.get_fontweight() == "bold"}
    assert bold == {"<|user|>", "<|end|>"}


def test_tokens_strip_mask_values_and_wrapping():
    pieces = ["word"] * 60
    fig = drawn(plots.tokens_strip(pieces, mask=[i % 2 for i in range(60)]), 1)
    ys = {p.get_y() for p in fig.axes[0].patches}
    assert len(fig.axes[0].patches) == 60 and len(ys) > 1                 # wrapped onto several rows
    fig = drawn(plots.tokens_strip(pieces[:5], values=torch.tensor([-1.0, 0, 0.5, 2, 0]), value_label="KL"), 2)
    assert fig.axes[1].get_xlabel() == "KL"                               # the colorbar
    assert fig.axes[1].get_xlim()[0] == pytest.approx(-2.0)             # a signed value: diverging, centred at 0
    fig = drawn(plots.tokens_strip(pieces[:3], values=[0.0, 1.0, 4.0], value_label="loss (nats)"), 2)
    assert fig.axes[1].get_xlim() == pytest.approx((0.0, 4.0))           # a loss is never negative: from 0 up
    fills = [p.get_facecolor() for p in fig.axes[0].patches]
    assert min(fills[0][:3]) > 0.9 and fills[2][1] < 0.3                  # zero loss white, the largest dark red


def test_style_is_restored_after_each_figure():
    before = dict(plt.rcParams)
    plots.report_card({"base": {"gold": 0.0, "well_formed": 0.5}})
    assert dict(plt.rcParams) == before


def test_no_cjk_font_falls_back_without_glyph_warnings(monkeypatch):
    monkeypatch.setattr(plot_style, "cjk_font", lambda: None)      # the style's font list
    monkeypatch.setattr(plots, "cjk_font", lambda: None)           # tokens_strip's monospace list
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        fig = plots.tokens_strip(["中", "文"], title="中文")
        fig.canvas.draw()
    assert not [w for w in caught if "Glyph" in str(w.message)]


def test_attention_map_one_and_several_heads():
    att = torch.tril(torch.ones(4, 4)) / torch.arange(1, 5)[:, None]
    fig = drawn(plots.attention_map(att, ["a", " b", "\n", "中"], title="layer 0"), 2)
    assert len(fig.axes[0].images) == 1
    assert drawn(plots.attention_map(att.expand(3, 4, 4), list("abcd")), 4)


def test_size_bars_and_scaling_and_skill():
    sizes = {"nano": 1.2e5, "micro": 8e5, "mini": 3.4e6}
    fig = drawn(plots.size_bars(sizes, {k: 6 * v for k, v in sizes.items()}), 2)
    assert len(fig.axes[0].patches) == 3
    n = np.array([1e5, 1e6, 1e7])
    fig = drawn(plots.scaling_plot(n, 8 * n ** -0.1, compute=6 * n * 1e6, labels=list(sizes)), 2)
    assert "0.100" in fig.axes[0].get_legend().get_texts()[1].get_text()
    fig = drawn(plots.skill_vs_size(n, [0.0, 0.05, 0.9], chance=0.01, labels=list(sizes)), 1)
    assert len(fig.axes[0].lines) == 2                                   # the skill and the chance line


def test_ppo_dashboard_one_line_per_run_per_panel():
    fig = drawn(plots.ppo_dashboard(ppo_history()), 8)                    # 2×4: proxy and gold apart
    assert all(len(ax.lines) == 1 for ax in fig.axes)
    assert "proxy" in fig.axes[0].get_title() and "gold" in fig.axes[1].get_title()
    runs = {"β=0.02": ppo_history(), "β=0.2": ppo_history(shift=0.5), "PPO": ppo_history(8)}
    fig = drawn(plots.ppo_dashboard(runs, title="β sweep"), 8)
    assert all(len(ax.lines) == 3 for ax in fig.axes)
    assert fig.axes[1].lines[2].get_color() == plots.PALETTE["ppo"]     # stage names keep their colour


def test_hacking_and_frontier():
    fig = drawn(plots.hacking_plot(ppo_history(30)), 2)                  # proxy and gold on axes of their own
    assert any("gold peak" in t.get_text() for t in fig.axes[1].get_legend().get_texts())
    points = [{"beta": b, "kl": 1 / b, "gold": 1 - b, "score": 2 / b} for b in (0.02, 0.1, 0.5)]
    fig = drawn(plots.frontier_plot(points), 1)
    assert {t.get_text() for t in fig.axes[0].texts} == {"β=0.02", "β=0.1", "β=0.5"}


def test_reward_vs_length_reports_correlation():
    lengths = np.arange(1, 30)
    fig = drawn(plots.reward_vs_length(lengths, 0.1 * lengths, gold=-0.1 * lengths), 2)
    assert "r = 1.00" in fig.axes[0].get_title() and "r = -1.00" in fig.axes[1].get_title()
    assert drawn(plots.reward_vs_length([3, 3], [1, 2]), 1)              # constant length: no trend, no crash


def test_annotator_agreement_report_card_and_nb09():
    names = ["careful", "verbose", "noisy"]
    matrix = {a: {b: 1.0 if a == b else 0.7 for b in names} for a in names}
    fig = drawn(plots.annotator_agreement(matrix, {n: 0.8 for n in names}), 3)
    assert len(fig.axes[0].texts) == 9 and len(fig.axes[1].patches) == 3
    card = {"base": {"gold": -1.5, "well_formed": 0.1}, "SFT": {"gold": 0.5, "well_formed": 0.9},
            "PPO": {"gold": 0.9, "well_formed": 0.95}}
    fig = drawn(plots.report_card(card), 2)
    assert [p.get_facecolor() for p in fig.axes[0].patches] == [
        plt.matplotlib.colors.to_rgba(plots.PALETTE[s]) for s in ("base", "sft", "ppo")]
    rates = {"plain": {"known": 0.02, "unknown": 0.1}, "table": {"known": 0.05, "unknown": 0.7}}
    assert len(drawn(plots.abstention_plot(rates), 1).axes[0].patches) == 4
    outcomes = {"plain": Counter({"confident-correct": 6, "confident-wrong": 4}),
                "table": Counter({"confident-correct": 5, "abstain": 4, "hedged-wrong": 1})}
    fig = drawn(plots.outcome_bars(outcomes), 1)
    assert len(fig.axes[0].patches) == 2 * len(plots.OUTCOME_COLORS)


def test_bpe_merges_plot():
    fig = drawn(plots.bpe_merges_plot([256, 300, 400], [1.0, 0.8, 0.6], counts=[90, 50, 20]), 2)
    assert len(fig.axes[1].lines) == 1


def test_share_bars_one_bar_per_group_and_measure_labelled():
    fig = drawn(plots.share_bars({"base": {"knows": 0.76, "answers": 0.0}, "SFT": {"knows": 0.26, "answers": 0.94}}), 1)
    ax = fig.axes[0]
    assert len(ax.patches) == 4 and [t.get_text() for t in ax.get_xticklabels()] == ["knows", "answers"]
    assert sorted(round(p.get_height(), 2) for p in ax.patches) == [0.0, 0.26, 0.76, 0.94]
    assert {"76%", "94%"} <= {t.get_text() for t in ax.texts}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["base", "SFT"]


def test_emergence_plot_loss_and_skill_by_size_and_by_compute():
    rung = lambda p, final: {"params": p, "flops_per_token": 6 * p, "tokens": [0, 100, 200],
                             "val_loss": [6.0, 2.0, 1.0 / np.log10(p)], "add2": [0.0, 0.0, final]}
    rungs = {"a": rung(1e4, 0.0), "b": rung(1e5, 0.05), "c": rung(1e6, 0.8)}
    fig = drawn(plots.emergence_plot(rungs), 5)                            # four panels and the twin axis
    assert all(len(fig.axes[i].lines) == 3 for i in (1, 2, 3))             # a line per rung
    assert list(fig.axes[4].lines[0].get_ydata()) == [0.0, 0.05, 0.8]      # the skill by size, on the twin
    assert fig.axes[3].xaxis_inverted()                                    # skill vs loss: better to the right


def test_skill_grid_one_cell_per_skill_and_model_plus_the_guess_column():
    grid = {"facts": {"w32": 0.14, "micro": 0.9}, "reverse/written": {"w32": 0.0, "micro": 0.22}}
    fig = drawn(plots.skill_grid(grid, guess={"facts": 0.1, "reverse/written": 0.0}), 2)   # the map and its colorbar
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["guess", "w32", "micro"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["facts", "reverse/written"]
    assert [t.get_text() for t in ax.texts] == ["10%", "14%", "90%", "0%", "0%", "22%"]
