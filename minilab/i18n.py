"""The language of the figures and the widgets: English by default, Chinese in notebooks/zh/.

The Chinese notebooks run the English notebooks' code cells unchanged, plus one cell:

    from minilab.i18n import use_language
    use_language("zh")

From then on every matplotlib figure the process makes (those of `minilab.plots` and those a
notebook draws itself) has its text translated just before it is drawn, and the widgets' panels
label their buttons and status in Chinese. Nothing else changes: the numbers, the printed
tables and the models' replies are the same in both languages.

How a text is translated (`translate`):
1. a whole label found in `i18n_zh.LABELS` is replaced by its Chinese;
2. otherwise each phrase of `i18n_zh.PHRASES` found in it (as whole words, longest first) is
   replaced, so labels built with numbers inside ("PPO after 100 iterations") are translated
   around their numbers;
3. anything else (numbers, names, symbols such as β or KL) stays as it is.

Chinese labels need a font with Chinese glyphs. `use_language("zh")` looks for one
(`plot_style.cjk_font`); with none installed it warns and keeps the figures in English rather
than drawing boxes (`apt-get install fonts-noto-cjk` or `fonts-wqy-zenhei` adds one).
"""
from __future__ import annotations

import functools
import re
import warnings

import matplotlib.pyplot as plt
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter, FuncFormatter

from minilab import i18n_zh

LANGUAGES = ("en", "zh")
_HOOK = "minilab.i18n:_on_new_figure"
_state = {"language": "en", "figures": "en"}


def use_language(language: str) -> str:
    """Switch figures and widgets to `language` ("en" or "zh"); returns the language the figures use."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    from minilab.plot_style import cjk_font          # looked up at call time, where tests replace it
    hooks = [h for h in plt.rcParams["figure.hooks"] if h != _HOOK]
    figures = language
    if language == "zh":
        font = cjk_font()
        if font is None:
            warnings.warn("use_language('zh'): no font with Chinese glyphs is installed, so the figures stay in "
                          "English (install fonts-noto-cjk or fonts-wqy-zenhei); the widgets switch to Chinese",
                          stacklevel=2)
            figures = "en"
        else:
            plt.rcParams["font.family"] = ["DejaVu Sans", font]
            hooks.append(_HOOK)
    plt.rcParams["figure.hooks"] = hooks
    _state.update(language=language, figures=figures)
    return figures


def language() -> str:
    """The language chosen with `use_language` ("en" unless changed)."""
    return _state["language"]


@functools.cache
def _phrase_pattern() -> re.Pattern | None:
    phrases = sorted(i18n_zh.PHRASES, key=len, reverse=True)
    if not phrases:
        return None
    return re.compile(r"(?<![A-Za-z])(" + "|".join(re.escape(p) for p in phrases) + r")(?![A-Za-z])")


def translate(text: str, language: str | None = None) -> str:
    """`text` in `language` (default: the one in use); English text comes back unchanged."""
    if (language or _state["language"]) != "zh" or not text or not re.search("[A-Za-z]", text):
        return text
    if text.strip() in i18n_zh.LABELS:
        return text.replace(text.strip(), i18n_zh.LABELS[text.strip()])
    pattern = _phrase_pattern()
    return pattern.sub(lambda m: i18n_zh.PHRASES[m.group(1)], text) if pattern else text


STATUS_EN = {"running": "running (run {run})...", "done": "done (run {run})", "error": "error (run {run})"}


def status(kind: str, run: int) -> str:
    """A widget panel's status line ("running", "done" or "error") for its `run`-th run, in the language in use."""
    table = i18n_zh.STATUS if _state["language"] == "zh" else STATUS_EN
    return table[kind].format(run=run)


def _translated(func):
    def wrapper(*args):
        return translate(str(func(*args)))
    wrapper.translated = True
    return wrapper


def _is_token_box(artist) -> bool:
    """Texts drawn in a monospace font are tokens or code (plots.tokens_strip): data, never translated."""
    return any("mono" in family.lower() for family in artist.get_fontfamily())


def translate_figure(fig) -> None:
    """Translate every text of `fig` in place: titles, axis labels, legends, annotations, and category tick
    labels (a fixed list of names, which matplotlib writes again at each draw, so it is translated at its source)."""
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, FixedFormatter):
                formatter.seq = [translate(str(label)) for label in formatter.seq]
            elif isinstance(formatter, FuncFormatter) and not getattr(formatter.func, "translated", False):
                formatter.func = _translated(formatter.func)                # set_xticks(x, names) makes one
            elif type(formatter).__name__ == "StrCategoryFormatter":      # ax.bar(["a", "b"], ...)
                formatter._units = {translate(name): value for name, value in formatter._units.items()}
    for artist in fig.findobj(Text):
        if _is_token_box(artist):
            continue
        before = artist.get_text()
        after = translate(before)
        if after != before:
            artist.set_text(after)


def _on_new_figure(fig) -> None:
    """rcParams["figure.hooks"] entry: translate this figure's texts each time it is drawn."""
    draw = fig.draw

    def draw_translated(renderer):
        if _state["figures"] == "zh":
            translate_figure(fig)
        return draw(renderer)

    fig.draw = draw_translated
