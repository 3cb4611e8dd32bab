"""RLHF with PPO and a KL penalty, written as numbered stages.

One iteration (Ziegler et al. 2019; Stiennon et al. 2020; InstructGPT, Ouyang et al. 2022;
the stages follow lm-human-preference-details):

  1. roll out: sample replies from the policy (KV cache) and keep the log-probs of the sampled
     tokens at the sampling temperature,
  2. score each reply with the reward model (a penalty for replies that never end),
  3. per-token KL to the frozen reference (SFT) model, kl = logprobs - ref_logprobs; per-token
     reward = -beta * kl, with the score added at the reply's last token,
  4. values from the value head; GAE(γ, λ) advantages, whitened,
  5. several epochs of minibatch updates of the clipped surrogate min(r·A, clip(r, 1-ε, 1+ε)·A),
     a clipped value loss and an optional entropy bonus, with gradient clipping,
  6. (optional) adapt beta towards a target KL (Ziegler et al. 2019, §2.2).

Choices: the value head is a linear read-out of the policy's hidden states (one forward pass
gives logits and values), and its gradient stops at those hidden states: the value loss trains
the head only, so that fitting the values cannot move the policy (a value gradient through the
shared transformer lets the policy collapse). A whole reply is one episode with γ = 1 by default;
the reward function is pluggable (`reward_fn`), so notebook 09 can use the "don't teach,
incentivize" reward table instead of a learned reward model.
"""
from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from minilab.chat import sample_responses
from minilab.history import PPOHistory
from minilab.losses import (KL_ESTIMATORS, entropy, gae, kl_penalty, masked_mean, ppo_policy_loss,
                            ppo_value_loss, token_logprobs, whiten)
from minilab.model import scalar_head
from minilab.optim import (SEED_MAX, LastGood, check_bool, check_choice, check_float, check_int, epoch_batches,
                           optimizer_step)


ADAM_EPS = 1e-5                  # Adam's epsilon, as in OpenAI baselines' PPO (Huang et al. 2022, detail 3)
ROLLOUT_SEED_STRIDE = 100_003    # a prime: the sampling seed of iteration `it` is seed * stride + it


@dataclass
class PPOConfig:
    beta: float = 0.05              # KL coefficient: reward per token -= beta * kl
    clip_eps: float = 0.2           # PPO clip ε: the ratio π_new/π_old is kept within [1-ε, 1+ε]
    clip_value: float = 0.2         # value-function clip (same idea for the value head)
    gamma: float = 1.0              # discount over the tokens of a reply
    lam: float = 0.95               # GAE λ: bias/variance trade-off of the advantages
    iters: int = 30                 # PPO iterations (rollout + update)
    batch_size: int = 64            # prompts rolled out per iteration
    epochs: int = 4                 # passes over each rollout batch
    minibatches: int = 4            # minibatches per epoch
    lr: float = 1e-4                # Adam learning rate of the policy + value head (a larger one drives the KL up within a few iterations)
    temperature: float = 1.0        # sampling temperature of the rollouts (log-probs use the same)
    max_new_tokens: int = 32        # reply budget
    kl_estimator: str = "k1"        # "k1", "k2" or "k3" (see losses.kl_penalty)
    adaptive_kl: bool = False       # adapt beta towards target_kl (Ziegler et al. 2019)
    target_kl: float = 4.0          # target KL per reply for the adaptive controller
    kl_horizon: int = 2000          # horizon (in replies) of the adaptive controller
    vf_coef: float = 0.5            # weight of the value loss
    entropy_coef: float = 0.0       # weight of the entropy bonus
    grad_clip: float = 1.0          # clip the gradient norm to this
    missing_end_penalty: float = 1.0  # subtracted from the score of a reply that never ends
    whiten_advantages: bool = True  # normalise advantages per batch
    samples_kept: int = 3           # sample replies stored in the history per iteration
    seed: int = 0                   # prompts order and sampling

    def __post_init__(self):
        check_float(self, "beta", ge=0)                 # 0: no KL penalty
        check_float(self, "clip_eps", gt=0, lt=1)
        check_float(self, "clip_value", gt=0)
        check_float(self, "gamma", ge=0, le=1)
        check_float(self, "lam", ge=0, le=1)
        for name in ("iters", "batch_size", "epochs", "minibatches", "max_new_tokens", "kl_horizon"):
            check_int(self, name, 1)
        if self.batch_size % self.minibatches:
            raise ValueError(f"PPOConfig: batch_size ({self.batch_size}) must be divisible by minibatches ({self.minibatches})")
        for name in ("lr", "temperature", "target_kl"):
            check_float(self, name, gt=0)
        check_choice(self, "kl_estimator", KL_ESTIMATORS)
        check_bool(self, "adaptive_kl")
        check_bool(self, "whiten_advantages")
        for name in ("vf_coef", "entropy_coef", "grad_clip", "missing_end_penalty"):
            check_float(self, name, ge=0)
        check_int(self, "samples_kept", 0)
        check_int(self, "seed", 0, SEED_MAX)


class PolicyWithValue(nn.Module):
    """The policy (a GPT) and its value function: one call, logits and values.

    Without a critic, the values are a linear head on the policy's residual stream, read detached
    so the value loss cannot rewrite the policy. With a `critic` (a module idx (B, L) -> values
    (B, L), e.g. `reward.ValueModel`, a copy of the reward model), the values come from that
    separate network, as in InstructGPT, which initialises the value function from the reward model."""

    def __init__(self, gpt, critic: nn.Module | None = None):
        super().__init__()
        self.gpt = gpt
        self.config = gpt.config
        self.critic = critic
        self.value_head = scalar_head(gpt.config.n_embd) if critic is None else None

    def forward(self, idx):
        if self.critic is not None:
            return self.gpt(idx), self.critic(idx)                   # (B, L, V), (B, L)
        logits, hidden = self.gpt(idx, return_hidden=True)        # (B, L, V), (B, L, C)
        return logits, self.value_head(hidden.detach()).squeeze(-1)   # (B, L, V), (B, L)


@dataclass
class Rollout:
    """One batch of replies and everything PPO computes about them (tensors are (B, R) unless noted)."""
    samples: list                 # chat.Sample per prompt
    idx: torch.Tensor             # (B, L) prompt + reply, right-padded
    positions: torch.Tensor       # (B, R) where in idx the logits that predict reply token r sit
    tokens: torch.Tensor          # reply tokens (padded)
    mask: torch.Tensor            # 1 on real reply tokens
    logprobs: torch.Tensor = None
    ref_logprobs: torch.Tensor = None
    values: torch.Tensor = None
    scores: torch.Tensor = None   # (B,)
    kl: torch.Tensor = None
    rewards: torch.Tensor = None
    advantages: torch.Tensor = None
    returns: torch.Tensor = None


def pack(samples, pad_id: int) -> Rollout:
    """Lay prompt+reply sequences side by side; logits at position p predict the token at p + 1."""
    seqs = [s.prompt_ids + s.response_ids for s in samples]
    L = max(len(s) for s in seqs)
    R = max(1, max(len(s.response_ids) for s in samples))
    idx = torch.full((len(samples), L), pad_id, dtype=torch.long)
    tokens = torch.full((len(samples), R), pad_id, dtype=torch.long)
    mask = torch.zeros(len(samples), R)
    positions = torch.zeros(len(samples), R, dtype=torch.long)
    for b, (s, seq) in enumerate(zip(samples, seqs)):
        idx[b, :len(seq)] = torch.tensor(seq)
        n = len(s.response_ids)
        tokens[b, :n] = torch.tensor(s.response_ids, dtype=torch.long)
        mask[b, :n] = 1.0
        start = len(s.prompt_ids) - 1
        positions[b] = torch.clamp(torch.arange(start, start + R), max=L - 1)
    return Rollout(samples, idx, positions, tokens, mask)


def reply_logits(model_out_logits: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Gather the logits that predict each reply token.   (B, L, V), (B, R) -> (B, R, V)"""
    V = model_out_logits.shape[-1]
    return model_out_logits.gather(1, positions.unsqueeze(-1).expand(-1, -1, V))


def adapt_beta(beta: float, kl: float, cfg: PPOConfig) -> float:
    """Adaptive KL controller (Ziegler et al. 2019, §2.2): nudge beta so the KL tracks target_kl."""
    error = max(-0.2, min(0.2, kl / cfg.target_kl - 1.0))
    return beta * (1.0 + error * cfg.batch_size / cfg.kl_horizon)


def train_ppo(cfg: PPOConfig, policy_gpt, tok, prompts: list[str], reward_fn, world=None,
              progress: bool = True, callback=None, critic: nn.Module | None = None):
    """Optimise `policy_gpt` (a copy of the SFT model, changed in place) against `reward_fn`.

    reward_fn(samples) -> tensor (B,) of scores, e.g. a reward model's normalised reward.
    With a `world`, the gold reward of every rollout is recorded too (never used for training).
    `critic`: the value network to train (see PolicyWithValue; default a linear value head).
    Returns (policy_gpt, history), a PPOHistory.
    """
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    pad_id = tok.special_id("<|pad|>")
    reference = copy.deepcopy(policy_gpt).eval().requires_grad_(False)   # the frozen SFT model
    policy = PolicyWithValue(policy_gpt, critic)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr, eps=ADAM_EPS)
    beta = float(cfg.beta)
    history = PPOHistory(config=asdict(cfg))
    last_good = LastGood(policy, "PPO", history)          # saved before each update
    batches = epoch_batches(len(prompts), cfg.batch_size, rng)
    bar = tqdm(range(cfg.iters), desc="PPO", disable=not progress)
    for it in bar:
        t0 = time.perf_counter()
        batch_prompts = [prompts[i] for i in next(batches)]

        # 1. roll out: sample replies, then log-probs and values of the sampled tokens
        policy.eval()
        samples = sample_responses(policy.gpt, tok, batch_prompts, cfg.max_new_tokens,
                                   temperature=cfg.temperature, seed=cfg.seed * ROLLOUT_SEED_STRIDE + it)
        ro = pack(samples, pad_id)
        with torch.no_grad():
            logits, values = policy(ro.idx)                                        # (B, L, V), (B, L)
            ro.logprobs = token_logprobs(reply_logits(logits, ro.positions), ro.tokens, cfg.temperature)
            ro.values = values.gather(1, ro.positions) * ro.mask                   # (B, R)
            del logits, values      # free the batch's (B, L, V) logits first: with the reference's beside them the peak doubled
            ro.ref_logprobs = token_logprobs(reply_logits(reference(ro.idx), ro.positions), ro.tokens, cfg.temperature)
        t1 = time.perf_counter()

        # 2. score the replies; replies that never end are penalised
        ended = torch.tensor([s.ended for s in samples], dtype=torch.float)
        with torch.no_grad():
            scored = reward_fn(samples).float()          # (B,), or (B, R'): a reward per reply token
        token_scores = None
        if scored.dim() == 2:
            token_scores = torch.zeros_like(ro.mask)
            width = min(scored.shape[1], token_scores.shape[1])
            token_scores[:, :width] = scored[:, :width] * ro.mask[:, :width]
            scored = token_scores.sum(1)
        ro.scores = scored - cfg.missing_end_penalty * (1.0 - ended)
        t2 = time.perf_counter()

        # 3. per-token KL penalty, and the score at the last token of each reply
        #    (a per-token reward function's rewards at their own tokens, the end penalty at the last)
        ro.kl = kl_penalty(ro.logprobs, ro.ref_logprobs, cfg.kl_estimator) * ro.mask     # (B, R)
        ro.rewards = -beta * ro.kl
        last = (ro.mask.sum(1).long() - 1).clamp(min=0)                                  # (B,)
        if token_scores is None:
            ro.rewards[torch.arange(len(samples)), last] += ro.scores
        else:
            ro.rewards += token_scores
            ro.rewards[torch.arange(len(samples)), last] -= cfg.missing_end_penalty * (1.0 - ended)

        # 4. advantages with GAE(γ, λ), whitened over the batch
        ro.advantages, ro.returns = gae(ro.rewards, ro.values, ro.mask, cfg.gamma, cfg.lam)
        if cfg.whiten_advantages:
            ro.advantages = whiten(ro.advantages, ro.mask)

        # 5. epochs of minibatch updates of the clipped surrogate + clipped value loss
        last_good.save()                                      # restored if a loss is inf/NaN
        stats = update(policy, optimizer, ro, cfg, rng, last_good, f"at iteration {it}")
        t3 = time.perf_counter()

        # record what a student plots
        kl_per_reply = ro.kl.sum(1).mean().item()
        gold = ([world.gold_reward(s.prompt, s.response, ended=s.ended) for s in samples] if world else [math.nan])
        row = {"iter": it, "score": ro.scores.mean().item(), "gold": sum(gold) / len(gold), "kl": kl_per_reply,
               "length": ro.mask.sum(1).mean().item(), "ended": ended.mean().item(), "beta": beta,
               "t_rollout": t1 - t0, "t_score": t2 - t1, "t_update": t3 - t2, **stats}
        history.record(**row, samples=[(s.prompt, s.response, s.ended) for s in samples[:cfg.samples_kept]])
        bar.set_postfix(score=f"{row['score']:.2f}", gold=f"{row['gold']:.2f}", kl=f"{kl_per_reply:.2f}")
        if callback:
            callback(history)

        # 6. adaptive KL: move beta towards the target KL
        if cfg.adaptive_kl:
            beta = adapt_beta(beta, kl_per_reply, cfg)
    policy.gpt.eval()
    return policy.gpt, history


def update(policy: PolicyWithValue, optimizer, ro: Rollout, cfg: PPOConfig, rng: random.Random,
           last_good: LastGood | None = None, where: str = ""):
    """Stage 5: `epochs` passes of minibatch PPO updates. Returns mean stats; on an inf/NaN loss
    `last_good` restores the policy and raises TrainingDiverged (see optim.py).
    The policy stays in eval mode: with dropout on, π_new/π_old would differ from 1 before the first step."""
    last_good = last_good or LastGood(policy, "PPO", None)   # none given: keep the weights of the last step
    policy.eval()
    B = ro.idx.shape[0]
    mb_size = B // cfg.minibatches
    totals: dict[str, float] = {}
    steps = 0
    for _ in range(cfg.epochs):
        perm = rng.sample(range(B), B)
        for start in range(0, B, mb_size):
            mb = torch.tensor(perm[start:start + mb_size])
            mb_mask = ro.mask[mb]
            logits, values = policy(ro.idx[mb])                                     # (b, L, V), (b, L)
            mb_logits = reply_logits(logits, ro.positions[mb])                      # (b, R, V)
            mb_logprobs = token_logprobs(mb_logits, ro.tokens[mb], cfg.temperature)
            mb_values = values.gather(1, ro.positions[mb])
            pg_loss, pg_stats = ppo_policy_loss(mb_logprobs, ro.logprobs[mb], ro.advantages[mb], mb_mask, cfg.clip_eps)
            vf_loss, _ = ppo_value_loss(mb_values, ro.values[mb], ro.returns[mb], mb_mask, cfg.clip_value)
            # at entropy_coef 0 the entropy is only logged: detached, it builds no graph through a (b, R, V) softmax
            ent = entropy((mb_logits if cfg.entropy_coef else mb_logits.detach()) / cfg.temperature, mb_mask)
            loss = pg_loss + cfg.vf_coef * vf_loss - cfg.entropy_coef * ent
            optimizer_step(policy, optimizer, loss, cfg.grad_clip, last_good, where)
            for k, v in {"policy_loss": pg_loss.item(), "value_loss": vf_loss.item(),
                         "entropy": ent.item(), **pg_stats}.items():
                totals[k] = totals.get(k, 0.0) + v
            steps += 1
    stats = {k: v / steps for k, v in totals.items()}
    residual = masked_mean((ro.returns - ro.values) ** 2, ro.mask) - masked_mean(ro.returns - ro.values, ro.mask) ** 2
    var_returns = masked_mean(ro.returns ** 2, ro.mask) - masked_mean(ro.returns, ro.mask) ** 2
    stats["explained_var"] = (1.0 - residual / var_returns.clamp(min=1e-8)).item()
    return stats
