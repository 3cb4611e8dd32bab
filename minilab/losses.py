"""The losses of every stage, as small pure functions of tensors.

Each function cites the formula it implements and is tested against a hand
computation or a slow reference loop (tests/test_losses.py). Naming follows the
whole course: `logits`, `logprobs`, `ref_logprobs`, `values`, `advantages`,
`returns`, `scores`, `kl`, `beta`, `clip_eps`. A `mask` is a float/bool tensor
with 1 where a position counts (an assistant token, a response token) and 0
where it does not (prompt, padding, tokens after the end).

Stages:
- pretraining and SFT: `lm_loss` (next-token cross-entropy, optionally masked),
- reward model: `bradley_terry_loss`, `soft_bradley_terry_loss` (labels that are vote shares),
- PPO: `kl_penalty`, `gae`, `whiten`, `ppo_policy_loss`, `ppo_value_loss`, `entropy`,
- DPO: `sequence_logprobs`, `dpo_loss`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

KL_ESTIMATORS = ("k1", "k2", "k3")


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of x over the positions where mask is 1 (all positions when mask is None)."""
    if mask is None:
        return x.mean()
    mask = mask.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def whiten(x: torch.Tensor, mask: torch.Tensor | None = None, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Normalize x to mean 0 and std 1 over the masked positions (PPO's advantage whitening)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    out = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        out = out + mean
    return out if mask is None else out * mask.to(x.dtype)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(tokens[b, t] | ...) under logits[b, t] / temperature.    (B, T, V), (B, T) -> (B, T)"""
    logp = F.log_softmax(logits.float() / temperature, dim=-1)        # (B, T, V)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)          # (B, T)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token cross-entropy: mean over positions of -log p(target).

    logits (B, T, V) predict targets (B, T) (already shifted by one). With a mask,
    only masked positions count: SFT's assistant-only loss (mask = assistant tokens).
    """
    nll = -token_logprobs(logits, targets)                            # (B, T)
    return masked_mean(nll, mask)


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Reward-model loss: -log σ(r_chosen - r_rejected), averaged over pairs.

    Bradley & Terry (1952); InstructGPT (Ouyang et al. 2022), Eq. 1.
    logsigmoid is the numerically stable form of log(σ(x)).
    """
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def soft_bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor, p_chosen: torch.Tensor) -> torch.Tensor:
    """Bradley–Terry with soft labels: the cross-entropy between the panel's vote share p_chosen
    and the model's P(chosen preferred) = σ(r_chosen - r_rejected), averaged over pairs:

        -[p · log σ(d) + (1 - p) · log σ(-d)],   d = r_chosen - r_rejected.

    With p = 1 it is `bradley_terry_loss`. A pair that four of five annotators preferred one
    way pulls the margin towards log(4) instead of towards infinity.
    """
    d = r_chosen - r_rejected
    return -(p_chosen * F.logsigmoid(d) + (1.0 - p_chosen) * F.logsigmoid(-d)).mean()


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k1") -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from log-probs of tokens *sampled from the policy*.

    With log-ratio ℓ = logprobs - ref_logprobs (J. Schulman, "Approximating KL divergence",
    http://joschu.net/blog/kl-approx.html):
      k1 = ℓ                  unbiased, can be negative on a single token
      k2 = ℓ² / 2             biased, always >= 0
      k3 = (e^-ℓ - 1) + ℓ     unbiased and always >= 0
    """
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio ** 2
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"unknown KL estimator {estimator!r}; allowed: {', '.join(KL_ESTIMATORS)}")


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """Generalized Advantage Estimation (Schulman et al. 2016, Eq. 16), vectorized over time.

    rewards, values, mask: (B, T) over response tokens; mask is 1 on real tokens
    (a response is a prefix of its row). With δ_t = r_t + γ V_{t+1} - V_t (V = 0 after
    the last real token), A_t = Σ_l (γλ)^l δ_{t+l}, and returns = A + V.
    The sum is a matrix product with the upper-triangular discount matrix D[t, s] = (γλ)^(s-t).
    """
    mask = mask.to(values.dtype)
    values = values * mask
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)   # (B, T)
    deltas = (rewards + gamma * next_values - values) * mask                            # (B, T)
    T = rewards.shape[1]
    steps = torch.arange(T, dtype=values.dtype)
    exponent = steps[None, :] - steps[:, None]                                          # (T, T): s - t
    discount = torch.where(exponent >= 0, (gamma * lam) ** exponent.clamp(min=0), torch.zeros(()))
    advantages = deltas @ discount.T                                                    # (B, T)
    advantages = advantages * mask
    returns = (advantages + values) * mask
    return advantages, returns


def ppo_policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                    mask: torch.Tensor, clip_eps: float):
    """PPO's clipped surrogate (Schulman et al. 2017, Eq. 7), as a loss to minimize.

    ratio r = π_new / π_old; objective min(r·A, clip(r, 1-ε, 1+ε)·A); loss = -objective.
    Returns (loss, stats) with the clip fraction (share of tokens where the clip bites)
    and approx_kl, the k3 estimate of KL(π_old || π_new) from tokens sampled by π_old:
    (r - 1) - log r with r = π_new / π_old.
    Positions outside the mask get log r = 0, so a stray log-prob at a padded position can
    never turn the masked mean into NaN (inf · 0).
    """
    log_ratio = torch.where(mask.bool(), logprobs - old_logprobs, torch.zeros(()))
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    loss = -masked_mean(torch.minimum(unclipped, clipped), mask)
    with torch.no_grad():
        clipfrac = masked_mean((clipped < unclipped).float(), mask)
        approx_kl = masked_mean(torch.expm1(log_ratio) - log_ratio, mask)
    return loss, {"clipfrac": clipfrac.item(), "approx_kl": approx_kl.item()}


def ppo_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                   mask: torch.Tensor, clip_value: float):
    """Clipped value loss (as in OpenAI baselines' PPO2): ½·max((V - R)², (V_clipped - R)²),
    where V_clipped stays within clip_value of the values seen at rollout time."""
    values_clipped = old_values + torch.clamp(values - old_values, -clip_value, clip_value)
    loss = 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (values_clipped - returns) ** 2), mask)
    with torch.no_grad():
        clipfrac = masked_mean(((values_clipped - returns) ** 2 > (values - returns) ** 2).float(), mask)
    return loss, {"vf_clipfrac": clipfrac.item()}


def entropy(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean entropy H = -Σ p log p of the next-token distributions at the masked positions."""
    logp = F.log_softmax(logits.float(), dim=-1)                       # (B, T, V)
    h = -(logp.exp() * logp).sum(-1)                                   # (B, T)
    return masked_mean(h, mask)


def sequence_logprobs(logits: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log π(reply | prompt) = Σ_t log p(tokens[b, t]) over the masked (reply) positions.   -> (B,)

    logits (B, T, V) predict tokens (B, T) (already shifted by one); mask (B, T) is 1 on the
    reply's tokens. Positions outside the mask count 0 whatever their log-prob (a padded
    position's -inf never reaches the sum)."""
    logp = token_logprobs(logits, tokens)
    return torch.where(mask.bool(), logp, torch.zeros(())).sum(-1)


def dpo_loss(logp_chosen: torch.Tensor, logp_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float, p_chosen: torch.Tensor | None = None):
    """Direct Preference Optimization (Rafailov et al. 2023, Eq. 7), as a loss to minimize.

    The policy's implied reward of a reply is r̂ = β · (log π(y|x) - log π_ref(y|x)) (sequence
    log-probs); the loss is Bradley–Terry on it, exactly the reward model's loss:
        -log σ(r̂_chosen - r̂_rejected)
    With the panel's vote share p_chosen it is the soft form (`soft_bradley_terry_loss`), which
    stops pushing a pair once the margin matches the panel's confidence.
    Returns (loss, r̂_chosen, r̂_rejected); the rewards are detached, for logging."""
    if not beta > 0:
        raise ValueError(f"DPO's beta must be > 0 (it scales the implied reward), got {beta!r}")
    r_chosen = beta * (logp_chosen - ref_chosen)
    r_rejected = beta * (logp_rejected - ref_rejected)
    if p_chosen is None:
        loss = bradley_terry_loss(r_chosen, r_rejected)
    else:
        loss = soft_bradley_terry_loss(r_chosen, r_rejected, p_chosen)
    return loss, r_chosen.detach(), r_rejected.detach()
