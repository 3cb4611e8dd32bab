"""The notebook layer: the two calls every notebook makes, in its set-up cell and its last cell.

    from minilab.notebook import publish, validate_parameters
    validate_parameters(dict(beta=beta, clip_eps=clip_eps, size=size, seed=seed, fast=fast))
    ...
    publish({"gold_reward": 0.71, "kl": 2.3})

`validate_parameters` checks the parameter names the whole course shares (`RULES`), so that
Restart & Run All, plain papermill, nbval and `minilab report` refuse a bad value in the same
words, before any training starts.

Choices:
- A rule that a stage's config already states is asked of that config, not restated: `beta`
  must build `PPOConfig(beta=beta)`, `max_iters` must build `PretrainConfig(max_iters=...)`,
  `size` is a key of `config.SIZES`. Only the type (a number, an integer, not a bool) is checked
  here first, so that `True` is not taken for 1. Names whose meaning differs between notebooks
  (`iters`: pretraining steps in 04, PPO iterations in 07) keep a plain rule stated here.
- The configs live with their torch training loops, so a rule that asks one imports torch, and
  only when that parameter is checked: importing this module (and `minilab report --help`)
  stays free of torch.
- `publish` displays the metrics twice in one output: as JSON under the mimetype
  `METRICS_MIME` (what `minilab report` reads back, no text scraping) and as a markdown table
  (what a reader sees).
"""
from __future__ import annotations

import math
from typing import Any, Callable

from minilab.config import MIN_VOCAB_SIZE, SIZES

METRICS_MIME = "application/vnd.minilab.metrics+json"


# ----------------------------------------------------------------------------- publish

def publish(metrics: dict[str, Any]) -> None:
    """Display `metrics` for readers and for `minilab report`. A metric is a number, a string, a bool,
    None, or a list or dict of those (nested too), e.g. a curve or a grid of accuracies."""
    from IPython.display import display
    clean = {str(name): _metric(name, value) for name, value in metrics.items()}
    rows = "\n".join(f"| {name} | {fmt(value)} |" for name, value in clean.items())
    display({METRICS_MIME: clean,
             "text/markdown": f"| metric | value |\n|---|---|\n{rows}",
             "text/plain": "\n".join(f"{name}: {fmt(value)}" for name, value in clean.items())}, raw=True)


def _metric(name, value):
    """A metric as plain JSON: numpy/torch scalars become numbers; lists and dicts are checked inside."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:      # numpy / torch scalars
        value = value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_metric(name, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _metric(name, v) for k, v in value.items()}
    raise TypeError(f"publish: metric {name!r} must be a number, a string, or a list or dict of them, "
                    f"got {type(value).__name__}")


def fmt(value: Any) -> str:
    """A metric as a reader sees it: floats to 4 significant digits, inside lists and dicts too."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


# ----------------------------------------------------------------------------- parameters

def is_number(v) -> bool:
    """A finite int or float (a bool is not a number here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# A rule takes a value and returns None when it is allowed, else what is allowed.
Rule = Callable[[Any], "str | None"]


def stated(test: Callable[[Any], bool], allowed: str) -> Rule:
    """A rule stated here."""
    return lambda value: None if test(value) else allowed


def asked(config: Callable[[], type], name: str, kind: Callable[[Any], bool], kind_name: str) -> Rule:
    """A rule the stage's config states: `config()(**{name: value})` must build."""
    def rule(value):
        if not kind(value):
            return f"must be {kind_name}"
        try:
            config()(**{name: value})
        except ValueError as error:
            return str(error)
        return None
    return rule


def _ppo_config():
    from minilab.ppo import PPOConfig                  # imports torch
    return PPOConfig


def _pretrain_config():
    from minilab.pretrain import PretrainConfig        # imports torch
    return PretrainConfig


def _positive_int(what: str) -> Rule:
    return stated(lambda v: is_integer(v) and v >= 1, f"{what}: an integer >= 1")


# The parameter names shared across the course.
RULES: dict[str, Rule] = {
    "beta":        asked(_ppo_config, "beta", is_number, "a finite number"),
    "clip_eps":    asked(_ppo_config, "clip_eps", is_number, "a finite number"),
    "ppo_iters":   asked(_ppo_config, "iters", is_integer, "an integer"),
    "max_iters":   asked(_pretrain_config, "max_iters", is_integer, "an integer"),
    "size":        stated(lambda v: v in SIZES, f"model size preset: one of {', '.join(map(repr, SIZES))} (config.SIZES)"),
    "vocab_size":  stated(lambda v: is_integer(v) and v > MIN_VOCAB_SIZE,
                          f"BPE vocabulary size: an integer >= {MIN_VOCAB_SIZE + 1} (256 bytes + "
                          f"{MIN_VOCAB_SIZE - 256} special tokens + at least 1 merge)"),
    "seed":        stated(lambda v: is_integer(v) and v >= 0, "random seed: an integer >= 0"),
    "fast":        stated(lambda v: isinstance(v, bool), "fast mode for tests and CI: True or False"),
    "recompute":   stated(lambda v: isinstance(v, bool), "run stored experiments again: True or False"),
    "iters":       _positive_int("iterations"),
    "epochs":      _positive_int("epochs"),
    "batch_size":  _positive_int("batch size"),
    "temperature": stated(lambda v: is_number(v) and v > 0, "sampling temperature: a number > 0"),
    "top_k":       stated(lambda v: is_integer(v) and v >= 0, "top-k sampling: an integer >= 0 (0: all tokens)"),
}


def validate_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """Check values of the course's shared parameter names (RULES); return params unchanged.

    Raises ValueError naming every bad parameter and what is allowed. Names without a rule pass."""
    bad = []
    for name, value in params.items():
        complaint = RULES[name](value) if name in RULES else None
        if complaint:
            bad.append(f"{name}={value!r}: {complaint}")
    if bad:
        raise ValueError("bad parameter" + ("s" if len(bad) > 1 else "") + ":\n  " + "\n  ".join(bad))
    return params
