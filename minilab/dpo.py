"""Direct Preference Optimization (DPO): the reward model's preferences, learned by the policy itself.

RLHF's objective (seed 003; InstructGPT) is max_π E[r(x, y)] - β · KL(π ‖ π_ref). Its optimum has a
closed form (Rafailov et al. 2023, §4):

    π*(y|x) = π_ref(y|x) · exp(r(x, y) / β) / Z(x)   ⇔   r(x, y) = β · log π*(y|x)/π_ref(y|x) + β · log Z(x)

so every policy *implies* a reward, r̂(x, y) = β · log π(y|x)/π_ref(y|x), up to a constant per prompt
that cancels in a comparison of two replies to the same prompt. DPO trains the policy on the
preference pairs with the reward model's own Bradley–Terry loss applied to r̂
(`losses.dpo_loss`): no reward model, no sampling during training, no value network.

The loop is sft.py's (dropout stays off, as in PPO): batches of pairs, one forward pass of the policy over chosen and rejected
replies, the loss, an AdamW step. The reference is the frozen starting model; its log-probs are
computed once, before training. What it records (DPOHistory): the loss, the implied reward's
accuracy on the batch, and how far the chosen and rejected replies' log-probs have moved from
the reference (both often fall; DPO only needs their gap to grow).
"""
from __future__ import annotations

import copy
import random
import time
from dataclasses import asdict, dataclass

import torch
from tqdm.auto import tqdm

from minilab.chat import evaluate_model, sample_responses
from minilab.gold import gold_agreement
from minilab.history import DPOHistory
from minilab.losses import dpo_loss, sequence_logprobs
from minilab.optim import (SEED_MAX, LastGood, check_bool, check_float, check_int, check_optimizer_knobs, epoch_batches,
                           lr_at, make_optimizer, optimizer_step, set_lr)
from minilab.tokenizer import encode_reply, render_prompt


@dataclass
class DPOConfig:
    beta: float = 0.1             # β of the implied reward β·log π/π_ref (the KL coefficient it stands for)
    max_iters: int = 200          # optimizer steps
    batch_size: int = 32          # preference pairs per step
    lr: float = 1e-4              # peak learning rate (AdamW; at nano 1e-5 moved the KL to 0.03 in 200 steps)
    min_lr: float = 1e-5          # learning rate at the end of the cosine decay
    warmup_iters: int = 10        # linear warm-up steps
    weight_decay: float = 0.0     # AdamW weight decay on matrices
    beta1: float = 0.9            # AdamW β1
    beta2: float = 0.95           # AdamW β2
    grad_clip: float = 1.0        # clip the gradient norm to this
    soft_labels: bool = True      # use the panel's vote share (soft Bradley–Terry), as the reward model does
    nll_weight: float = 0.0       # + this × the chosen replies' next-token loss (Llama 3's DPO; RPO, Pang et al. 2024)
    eval_interval: int = 50       # held-out gold and KL every this many steps (0: only at the start and end)
    eval_prompts: int = 128       # held-out prompts sampled at each evaluation
    max_new_tokens: int = 32      # reply budget when sampling
    seed: int = 0                 # data order and sampling

    def __post_init__(self):
        check_float(self, "beta", gt=0)                 # β = 0 would make every implied reward 0
        check_optimizer_knobs(self)
        check_int(self, "batch_size", 1)
        check_float(self, "nll_weight", ge=0)
        check_bool(self, "soft_labels")
        check_int(self, "eval_interval", 0)
        check_int(self, "eval_prompts", 1)
        check_int(self, "max_new_tokens", 1)
        check_int(self, "seed", 0, SEED_MAX)


def encode_pairs(tok, pairs, block_size: int) -> list[tuple[list[int], int]]:
    """(ids, prompt length) of every chosen reply, then every rejected one; a reply that does not
    fit the context is an error that names the pair."""
    out = []
    for side in ("chosen", "rejected"):
        for i, p in enumerate(pairs):
            r = getattr(p, side)
            ids = encode_reply(tok, p.prompt, r.text, r.ended)
            if len(ids) > block_size:
                raise ValueError(f"pair {i}: the {side} reply is {len(ids)} tokens with its prompt, longer than "
                                 f"the context (block_size={block_size}); drop the pair or use a larger model")
            out.append((ids, len(render_prompt(tok, p.prompt))))
    return out


def batch_tensors(seqs: list[tuple[list[int], int]], pad_id: int):
    """Inputs x, targets y and the reply mask (B, T) of right-padded sequences: mask[b, t] = 1 where
    y[b, t] is a reply token (the reply's text and its <|end|>)."""
    T = max(len(ids) for ids, _ in seqs) - 1
    x = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    y = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), T)
    for b, (ids, n_prompt) in enumerate(seqs):
        n = len(ids) - 1
        x[b, :n] = torch.tensor(ids[:-1])
        y[b, :n] = torch.tensor(ids[1:])
        mask[b, n_prompt - 1:n] = 1.0          # target t is ids[t + 1]: a reply token from t = n_prompt - 1 on
    return x, y, mask


def logprobs_of(model, seqs, pad_id: int, with_tokens: bool = False, temperature: float = 1.0):
    """log π(reply | prompt) of each sequence (π sampling at `temperature`), with gradients.   -> (B,)
    with_tokens: also the number of reply tokens of each.          -> ((B,), (B,))"""
    x, y, mask = batch_tensors(seqs, pad_id)
    logits = model(x)
    logp = sequence_logprobs(logits if temperature == 1.0 else logits / temperature, y, mask)
    return (logp, mask.sum(-1)) if with_tokens else logp


@torch.no_grad()
def batched_logprobs(model, seqs, pad_id: int, batch_size: int = 256, temperature: float = 1.0) -> torch.Tensor:
    """log π(reply | prompt) of every sequence, in batches, without gradients (the reference's once,
    before training; policy and reference side by side when measuring).   -> (N,)"""
    was_training = model.training
    model.eval()
    out = torch.cat([logprobs_of(model, seqs[s:s + batch_size], pad_id, temperature=temperature)
                     for s in range(0, len(seqs), batch_size)])
    model.train(was_training)
    return out


@torch.no_grad()
def implied_rewards(policy, reference, tok, pairs, beta: float, batch_size: int = 256):
    """r̂ = β · log π/π_ref of the chosen and of the rejected reply of every pair.   -> ((N,), (N,))"""
    pad_id = tok.special_id("<|pad|>")
    seqs = encode_pairs(tok, pairs, policy.config.block_size)
    r = beta * (batched_logprobs(policy, seqs, pad_id, batch_size) - batched_logprobs(reference, seqs, pad_id, batch_size))
    return r[:len(pairs)], r[len(pairs):]


@torch.no_grad()
def sampled_kl(policy, reference, tok, samples, temperature: float = 1.0) -> float:
    """KL(π ‖ π_ref) per reply, estimated on replies sampled from π: the mean over replies of
    Σ_t log π(y_t) - log π_ref(y_t) over the sampled tokens (the k1 estimate PPO's history logs).
    temperature: π is `policy` sampled at this temperature (the replies must come from it)."""
    pad_id = tok.special_id("<|pad|>")
    seqs = [(s.prompt_ids + s.response_ids, len(s.prompt_ids)) for s in samples if s.response_ids]
    if not seqs:
        return 0.0
    diff = (batched_logprobs(policy, seqs, pad_id, temperature=temperature)
            - batched_logprobs(reference, seqs, pad_id))
    return diff.sum().item() / len(samples)


def measure(policy, reference, tok, world, eval_prompts: list[str], kl_prompts: list[str], seed: int = 0,
            temperature: float = 1.0, max_new_tokens: int = 32) -> dict:
    """What notebook 11 plots for a policy sampled at `temperature`: gold, share well-formed and length
    of its replies to `eval_prompts` (sampling seed `seed`), and KL(π_T ‖ π_ref) per reply on its replies
    to `kl_prompts` (seed + 1)."""
    figures, _ = evaluate_model(policy, tok, world, eval_prompts, max_new_tokens, temperature=temperature, seed=seed)
    samples = sample_responses(policy, tok, kl_prompts, max_new_tokens, temperature=temperature, seed=seed + 1)
    return {**figures, "kl": sampled_kl(policy, reference, tok, samples, temperature=temperature)}


def implied_agreement(policy, reference, tok, world, pairs, beta: float, clear_margin: float = 0.5) -> dict:
    """How often the policy's implied reward β·log π/π_ref ranks clear pairs as the gold reward does
    (gold.gold_agreement, the figures notebook 06 reports for a reward model)."""
    r_chosen, r_rejected = implied_rewards(policy, reference, tok, pairs, beta)
    return gold_agreement(world, pairs, (r_chosen - r_rejected).tolist(), clear_margin)


def train_dpo(cfg: DPOConfig, policy, tok, pairs, world=None, eval_prompts: list[str] | None = None,
              kl_prompts: list[str] | None = None, progress: bool = True, callback=None, reference=None):
    """Train `policy` in place with DPO on preference pairs (each with .prompt, .chosen, .rejected and,
    optionally, .p_chosen). The reference is a frozen copy of the policy as it starts (or `reference`).
    With a world and held-out prompts, every eval_interval steps: gold of sampled replies to
    `eval_prompts`, and KL(π ‖ π_ref) on replies to `kl_prompts` (default: the same prompts).
    Returns (policy, reference, history)."""
    if not pairs:
        raise ValueError("train_dpo needs at least one preference pair")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    reference = (copy.deepcopy(policy) if reference is None else reference).eval().requires_grad_(False)
    pad_id = tok.special_id("<|pad|>")
    seqs = encode_pairs(tok, pairs, policy.config.block_size)
    n = len(pairs)
    ref = batched_logprobs(reference, seqs, pad_id)                  # (2N,): chosen then rejected
    p_chosen = torch.tensor([float(getattr(p, "p_chosen", 1.0)) for p in pairs])
    optimizer = make_optimizer(policy, cfg)
    history = DPOHistory(config=asdict(cfg))
    last_good = LastGood(policy, "DPO", history)
    eval_prompts = (eval_prompts or [])[:cfg.eval_prompts]
    kl_prompts = (kl_prompts or eval_prompts)[:cfg.eval_prompts]

    def evaluate(it):
        if world is None or not eval_prompts:
            return
        history.record(eval_iter=it, **measure(policy, reference, tok, world, eval_prompts, kl_prompts, cfg.seed,
                                               max_new_tokens=cfg.max_new_tokens))
        if callback:
            callback(history)

    evaluate(0)
    policy.eval()      # dropout off: at step 0 π = π_ref exactly, so every implied reward starts at 0
    batches = epoch_batches(n, cfg.batch_size, rng)
    train_s = 0.0
    for it in tqdm(range(cfg.max_iters), desc="DPO", disable=not progress):
        t = time.perf_counter()
        rows = next(batches)
        logp, n_tokens = logprobs_of(policy, [seqs[i] for i in rows] + [seqs[n + i] for i in rows], pad_id,
                                     with_tokens=True)                    # (2b,): chosen then rejected
        b = len(rows)
        ref_c, ref_r = ref[rows], ref[[n + i for i in rows]]
        set_lr(optimizer, lr_at(it, cfg))
        loss, r_c, r_r = dpo_loss(logp[:b], logp[b:], ref_c, ref_r, cfg.beta,
                                  p_chosen[rows] if cfg.soft_labels else None)
        if cfg.nll_weight:      # keep the chosen replies likely: the SFT loss on them, per token
            loss = loss - cfg.nll_weight * logp[:b].sum() / n_tokens[:b].sum()
        optimizer_step(policy, optimizer, loss, cfg.grad_clip, last_good, f"at step {it}")
        train_s += time.perf_counter() - t
        history.record(iter=it, loss=loss.item(), acc=(r_c > r_r).float().mean().item(),
                       margin=(r_c - r_r).mean().item(), chosen_logratio=(r_c / cfg.beta).mean().item(),
                       rejected_logratio=(r_r / cfg.beta).mean().item(), train_s=train_s)
        if cfg.eval_interval and (it + 1) % cfg.eval_interval == 0 and it + 1 < cfg.max_iters:
            evaluate(it + 1)
    evaluate(cfg.max_iters)
    return policy, reference, history
