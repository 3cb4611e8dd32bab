"""The two knobs that set the scale of PPO's reward: the reward model's normalisation and the adaptive KL controller."""
import pytest
import torch

from minilab.config import GPTConfig
from minilab.model import GPT
from minilab.ppo import PPOConfig, adapt_beta
from minilab.reward import RewardModel, normalize, score
from minilab.tokenizer import CharTokenizer


def test_normalize_sets_mean_0_and_std_1_on_the_given_replies():
    tok = CharTokenizer.train("what is two plus two? four. i do not know, paris")
    torch.manual_seed(0)
    rm = RewardModel(GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=8, dropout=0.0)))
    with torch.no_grad():
        rm.head.weight.normal_()                               # a fresh head scores every reply alike
    prompts = ["what is two plus two?"] * 4 + ["paris?"] * 2
    texts, ended = ["four", "i do not know", "two", "four four", "paris", "no"], [True, True, False, True, True, False]
    raw = score(rm, tok, prompts, texts, ended)                # mean 0, std 1 before: the raw reward
    figures = normalize(rm, tok, prompts, texts, ended)
    rewards = score(rm, tok, prompts, texts, ended)
    assert figures == pytest.approx({"raw_mean": raw.mean().item(), "raw_std": raw.std().item()})
    assert rewards.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert rewards.std().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(rewards, (raw - raw.mean()) / raw.std(), atol=1e-5)   # the order of the replies is kept
    assert normalize(rm, tok, prompts, texts, ended) == pytest.approx(figures)   # again: the same raw scale


def test_adapt_beta_is_ziegler_et_al_proportional_controller_by_hand():
    # Ziegler et al. 2019, §2.2: e_t = clip(KL_t / target - 1, -0.2, 0.2), beta <- beta (1 + K_beta e_t),
    # K_beta = batch_size / horizon = 64 / 2000 = 0.032
    cfg = PPOConfig(target_kl=4.0, batch_size=64, kl_horizon=2000)
    beta = adapt_beta(0.1, kl=4.4, cfg=cfg)                    # e = 4.4/4 - 1 = 0.1, inside the clip
    assert beta == pytest.approx(0.1 * (1 + 0.032 * 0.1))      # 0.10032
    beta = adapt_beta(beta, kl=10.0, cfg=cfg)                  # e = 1.5, clipped to 0.2
    assert beta == pytest.approx(0.10032 * (1 + 0.032 * 0.2))  # 0.100962048
    assert adapt_beta(0.1, kl=0.0, cfg=cfg) == pytest.approx(0.1 * (1 - 0.032 * 0.2))   # e = -1 clipped to -0.2
    assert adapt_beta(0.1, kl=4.0, cfg=cfg) == pytest.approx(0.1)                      # on target: unchanged
