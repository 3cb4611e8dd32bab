"""The notebook layer (minilab.notebook): `validate_parameters` and `publish`."""
from __future__ import annotations

import subprocess
import sys

import pytest

from minilab.config import MIN_VOCAB_SIZE, SIZES
from minilab.notebook import METRICS_MIME, publish, validate_parameters


def test_validate_parameters():
    good = dict(beta=0.0, clip_eps=0.2, size="nano", seed=0, fast=False, max_iters=10, lr=3e-4)
    assert validate_parameters(good) is good                          # names without a rule (lr) pass
    with pytest.raises(ValueError) as error:
        validate_parameters(dict(beta=-1, clip_eps=1.0, size="huge", seed=1.5, fast="yes", iters=0, recompute=1))
    for name in ("beta=-1", "clip_eps=1.0", "size='huge'", "seed=1.5", "fast='yes'", "iters=0", "recompute=1"):
        assert name in str(error.value)
    with pytest.raises(ValueError, match="clip_eps=0"):
        validate_parameters(dict(clip_eps=0))
    with pytest.raises(ValueError, match="seed=True"):
        validate_parameters(dict(seed=True))


@pytest.mark.parametrize("name, value, config_field", [
    ("beta", -0.1, "beta"), ("clip_eps", 0.0, "clip_eps"),
    ("clip_eps", 1.5, "clip_eps"), ("ppo_iters", 0, "iters"),
])
def test_ppo_parameters_are_the_configs_rules(name, value, config_field):
    from minilab.ppo import PPOConfig
    with pytest.raises(ValueError) as config_error:
        PPOConfig(**{config_field: value})
    with pytest.raises(ValueError) as error:
        validate_parameters({name: value})
    assert f"{name}={value!r}: {config_error.value}" in str(error.value)      # the config's own words


def test_bool_is_not_a_number_for_the_parameters_nor_for_the_config():
    from minilab.ppo import PPOConfig
    with pytest.raises(ValueError, match="PPOConfig.beta must be a finite number >= 0, got True"):
        PPOConfig(beta=True)
    with pytest.raises(ValueError, match="beta=True: must be a finite number"):
        validate_parameters(dict(beta=True))


def test_sizes_and_vocabulary_follow_the_config():
    for size in SIZES:
        validate_parameters(dict(size=size))
    validate_parameters(dict(vocab_size=MIN_VOCAB_SIZE + 1))
    with pytest.raises(ValueError, match=f">= {MIN_VOCAB_SIZE + 1}"):
        validate_parameters(dict(vocab_size=MIN_VOCAB_SIZE))


def test_the_report_module_still_exports_the_notebook_calls():
    import minilab.notebook
    import minilab.report
    assert minilab.report.publish is minilab.notebook.publish
    assert minilab.report.validate_parameters is minilab.notebook.validate_parameters


def test_importing_the_layer_and_the_report_cli_loads_no_torch():
    code = "import sys, minilab.notebook, minilab.report; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_publish_displays_json_and_a_table(monkeypatch):
    import IPython.display
    import numpy as np
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    publish({"gold_reward": np.float32(0.5), "kl": 2, "size": "nano"})
    bundle = shown[0]
    assert bundle[METRICS_MIME] == {"gold_reward": 0.5, "kl": 2, "size": "nano"}
    assert "| gold_reward | 0.5 |" in bundle["text/markdown"]
    publish({"curve": [1, np.float64(0.123456)], "grid": {"count": {"nano": 0.5}}})
    assert shown[1][METRICS_MIME] == {"curve": [1, 0.123456], "grid": {"count": {"nano": 0.5}}}
    assert "| curve | [1, 0.1235] |" in shown[1]["text/markdown"] and "grid: {count: {nano: 0.5}}" in shown[1]["text/plain"]
    with pytest.raises(TypeError, match="'model' must be a number, a string, or a list or dict"):
        publish({"model": object()})
    with pytest.raises(TypeError, match="'curve'"):
        publish({"curve": [1, {2}]})                    # a set inside a list
