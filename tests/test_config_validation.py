"""Every config field is checked when the config is made: a bad value fails at once, in one line
that names the config, the field, the value and what is allowed (optim.check_*), not later in torch."""
import math

import numpy as np
import pytest

from minilab.optim import SEED_MAX
from minilab.ppo import PPOConfig
from minilab.pretrain import PretrainConfig
from minilab.reward import RewardConfig
from minilab.sft import SFTConfig

NAN, INF = math.nan, math.inf

# (config, bad field values, the whole error message)
BAD = [
    (PPOConfig, dict(lr=INF), "PPOConfig.lr must be a finite number > 0, got inf"),
    (PPOConfig, dict(lr=0), "PPOConfig.lr must be a finite number > 0, got 0"),
    (PPOConfig, dict(grad_clip=NAN), "PPOConfig.grad_clip must be a finite number >= 0, got nan"),
    (PPOConfig, dict(vf_coef=NAN), "PPOConfig.vf_coef must be a finite number >= 0, got nan"),
    (PPOConfig, dict(iters=True), "PPOConfig.iters must be an integer >= 1, got True (bool)"),
    (PPOConfig, dict(iters=2.0), "PPOConfig.iters must be an integer >= 1, got 2.0"),
    (PPOConfig, dict(beta=True), "PPOConfig.beta must be a finite number >= 0, got True (bool)"),
    (PPOConfig, dict(beta=-0.1), "PPOConfig.beta must be a finite number >= 0, got -0.1"),
    (PPOConfig, dict(entropy_coef=-5), "PPOConfig.entropy_coef must be a finite number >= 0, got -5"),
    (PPOConfig, dict(clip_eps=1.5), "PPOConfig.clip_eps must be in the open interval (0, 1), got 1.5"),
    (PPOConfig, dict(clip_value=0), "PPOConfig.clip_value must be a finite number > 0, got 0"),
    (PPOConfig, dict(gamma=1.5), "PPOConfig.gamma must be in [0, 1], got 1.5"),
    (PPOConfig, dict(lam=NAN), "PPOConfig.lam must be in [0, 1], got nan"),
    (PPOConfig, dict(temperature=-1.0), "PPOConfig.temperature must be a finite number > 0, got -1.0"),
    (PPOConfig, dict(target_kl="4"), "PPOConfig.target_kl must be a finite number > 0, got '4'"),
    (PPOConfig, dict(kl_horizon=0), "PPOConfig.kl_horizon must be an integer >= 1, got 0"),
    (PPOConfig, dict(adaptive_kl="no"), "PPOConfig.adaptive_kl must be True or False, got 'no'"),
    (PPOConfig, dict(whiten_advantages=1), "PPOConfig.whiten_advantages must be True or False, got 1"),
    (PPOConfig, dict(missing_end_penalty=INF), "PPOConfig.missing_end_penalty must be a finite number >= 0, got inf"),
    (PPOConfig, dict(samples_kept=-1), "PPOConfig.samples_kept must be an integer >= 0, got -1"),
    (PPOConfig, dict(seed=-1), f"PPOConfig.seed must be an integer in [0, {SEED_MAX}], got -1"),
    (PPOConfig, dict(kl_estimator=None), "PPOConfig.kl_estimator=None is unknown; allowed: k1, k2, k3"),
    (SFTConfig, dict(max_iters=2.5), "SFTConfig.max_iters must be an integer >= 1, got 2.5"),
    (SFTConfig, dict(beta2=1.5), "SFTConfig.beta2 must be in [0, 1), got 1.5"),
    (SFTConfig, dict(grad_clip=NAN), "SFTConfig.grad_clip must be a finite number >= 0, got nan"),
    (SFTConfig, dict(lr=1e-3, min_lr=1e-2), "SFTConfig.min_lr must be <= lr = 0.001, got 0.01"),
    (SFTConfig, dict(warmup_iters=-1), "SFTConfig.warmup_iters must be an integer >= 0, got -1"),
    (SFTConfig, dict(eval_interval=-10), "SFTConfig.eval_interval must be an integer >= 0, got -10"),
    (SFTConfig, dict(eval_prompts=0), "SFTConfig.eval_prompts must be an integer >= 1, got 0"),
    (SFTConfig, dict(batch_size=None), "SFTConfig.batch_size must be an integer >= 1, got None"),
    (SFTConfig, dict(loss_on="user"), "SFTConfig.loss_on='user' is unknown; allowed: assistant, all"),
    (RewardConfig, dict(weight_decay=-1), "RewardConfig.weight_decay must be a finite number >= 0, got -1"),
    (RewardConfig, dict(beta1=2), "RewardConfig.beta1 must be in [0, 1), got 2"),
    (RewardConfig, dict(min_lr=NAN), "RewardConfig.min_lr must be a finite number >= 0, got nan"),
    (RewardConfig, dict(clear_margin=-0.5), "RewardConfig.clear_margin must be a finite number >= 0, got -0.5"),
    (RewardConfig, dict(max_iters=[300]), "RewardConfig.max_iters must be an integer >= 1, got [300] (list)"),
    (PretrainConfig, dict(lr=-1e-3), "PretrainConfig.lr must be a finite number > 0, got -0.001"),
    (PretrainConfig, dict(eval_interval=-1), "PretrainConfig.eval_interval must be an integer >= 1, got -1"),
    (PretrainConfig, dict(warmup_iters=-5), "PretrainConfig.warmup_iters must be an integer >= 0, got -5"),
    (PretrainConfig, dict(dropout=1.0), "PretrainConfig.dropout must be in [0, 1), got 1.0"),
    (PretrainConfig, dict(n_layer=0), "PretrainConfig.n_layer must be an integer >= 1 or None, got 0"),
    (PretrainConfig, dict(target_val_loss=0), "PretrainConfig.target_val_loss must be a finite number > 0 or None, got 0"),
    (PretrainConfig, dict(size="huge"), "PretrainConfig.size='huge' is unknown; allowed: nano, micro, mini (or None)"),
    (PretrainConfig, dict(device="gpu"), "PretrainConfig.device must be a torch device name such as 'cpu' or 'cuda', got 'gpu'"),
]


@pytest.mark.parametrize("config, kwargs, message", BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_a_bad_value_fails_at_once_in_one_line(config, kwargs, message):
    with pytest.raises(ValueError) as err:
        config(**kwargs)
    assert str(err.value) == message
    assert "\n" not in message


def test_defaults_and_good_edge_values_are_accepted():
    for config in (PPOConfig, SFTConfig, RewardConfig, PretrainConfig):
        config()
    PPOConfig(beta=0.0, clip_eps=0.5, gamma=1, lr=1, grad_clip=0, entropy_coef=0.01, seed=SEED_MAX)
    PPOConfig(iters=np.int64(3), lr=np.float64(1e-4))   # numpy numbers are numbers
    SFTConfig(eval_interval=0, min_lr=1e-3, lr=1e-3, beta1=0)
    RewardConfig(weight_decay=0.1, grad_clip=0)
    PretrainConfig(size=None, n_layer=1, n_head=1, n_embd=8, target_val_loss=2.5, num_threads=1, device="cuda:1")
