"""RL with verifiable rewards: GRPO (Shao et al. 2024, DeepSeekMath §4.1), written as numbered stages.

When an answer can be checked by a program, the reward needs no learned model: a reply earns 1 if
it states the right value and ends properly, else 0 (`verified_reward`). There is then no proxy
to hack, unlike notebook 08. One iteration:

  1. roll out: for each of P prompts, sample a **group** of G replies from the policy,
  2. reward every reply with the program,
  3. advantages from the group alone: A = (r - mean of the group) / (std of the group + eps), the
     same for every token of a reply; a group whose replies all earn the same reward teaches nothing,
  4. log-probs of the sampled tokens under the policy (old) and the frozen reference,
  5. minibatch updates of PPO's clipped surrogate (`losses.ppo_policy_loss`) plus
     β · KL(π ‖ π_ref) as a **loss term** (the k3 estimate per token, as GRPO does), where PPO
     subtracts β·kl from the reward of every token instead. No value network. By default only the
     groups with mixed rewards enter the update (`mixed_groups_only`, as DAPO filters them).

The rollout helpers (`pack`, `reply_logits`) are PPO's: the two methods sample and lay out replies
alike and differ in stages 3 and 5.
"""
from __future__ import annotations

import copy
import math
import random
import re
import time
from dataclasses import asdict, dataclass

import torch
from tqdm.auto import tqdm

from minilab.chat import sample_responses
from minilab.history import GRPOHistory
from minilab.losses import entropy, kl_penalty, masked_mean, ppo_policy_loss, token_logprobs
from minilab.optim import SEED_MAX, LastGood, check_bool, check_float, check_int, epoch_batches, optimizer_step
from minilab.ppo import ADAM_EPS, ROLLOUT_SEED_STRIDE, pack, reply_logits


@dataclass
class GRPOConfig:
    beta: float = 0.04            # weight of the KL(π ‖ π_ref) loss term (DeepSeekMath's 0.04)
    group_size: int = 8           # G: replies sampled per prompt
    prompts_per_iter: int = 32    # P: prompts per iteration (P·G replies)
    clip_eps: float = 0.2         # PPO clip ε on the ratio π_new/π_old
    iters: int = 20               # iterations (rollout + update)
    epochs: int = 1               # passes over each rollout batch
    minibatches: int = 2          # minibatches per epoch
    lr: float = 1e-4              # Adam learning rate
    temperature: float = 1.0      # sampling temperature of the rollouts (log-probs use the same)
    max_new_tokens: int = 32      # reply budget
    grad_clip: float = 1.0        # clip the gradient norm to this
    mixed_groups_only: bool = True   # update only on groups whose rewards differ (see train_grpo)
    seed: int = 0                 # prompt order and sampling

    def __post_init__(self):
        check_float(self, "beta", ge=0)               # 0: no KL term
        check_float(self, "clip_eps", gt=0, lt=1)
        check_int(self, "group_size", 2)              # one reply has no group to compare with
        for name in ("prompts_per_iter", "iters", "epochs", "minibatches", "max_new_tokens"):
            check_int(self, name, 1)
        if (self.prompts_per_iter * self.group_size) % self.minibatches:
            raise ValueError(f"GRPOConfig: prompts_per_iter × group_size ({self.prompts_per_iter * self.group_size}) "
                             f"must be divisible by minibatches ({self.minibatches})")
        for name in ("lr", "temperature"):
            check_float(self, name, gt=0)
        check_float(self, "grad_clip", ge=0)
        check_bool(self, "mixed_groups_only")
        check_int(self, "seed", 0, SEED_MAX)


def verified_reward(world, samples) -> torch.Tensor:
    """The program that checks a reply: 1.0 if it states the right value and nothing else, and ended
    with <|end|>; 0.0 otherwise.   -> (B,)"""
    return torch.tensor([float(s.ended and world.judge(s.prompt, s.response).correct) for s in samples])


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """GRPO's advantage: each reward standardised within its group of `group_size` consecutive replies,
    (r - mean) / (std + eps) with the unbiased std, as in DeepSeekMath.   (P·G,) -> (P·G,)"""
    r = rewards.view(-1, group_size)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + eps)).view(-1)


def grpo_loss(logprobs, old_logprobs, ref_logprobs, advantages, mask, clip_eps: float, beta: float):
    """Clipped surrogate with per-reply advantages broadcast over the reply's tokens, plus β times the
    k3 estimate of KL(π ‖ π_ref) per token (DeepSeekMath Eq. 3-4), averaged over reply tokens.
    Returns (loss, stats)."""
    pg_loss, stats = ppo_policy_loss(logprobs, old_logprobs, advantages[:, None].expand_as(logprobs), mask, clip_eps)
    kl = masked_mean(kl_penalty(logprobs, ref_logprobs, "k3"), mask)
    return pg_loss + beta * kl, {**stats, "kl_term": kl.item()}


# Working first (section 8 of notebook 10): a task where the policy may write its working before
# the answer, as thinking models do, or answer at once; SFT shows both, RL chooses.
SUM_PROMPT = "What is the sum of {a} and {b}?"


def column_working(a: int, b: int) -> str:
    """Two-digit addition worked out before the answer: the sum copied, then each column, then the answer.
    column_working(47, 38) == "47 + 38: 7 + 8 = 15, 4 + 3 + 1 = 8, so 85." (units, then tens with the carry).
    Copying the numbers first puts each digit beside the column that needs it: fine-tuned on one form
    alone (3,000 sums, 400 steps), sft-nano got 97% of new sums right greedy with the copy and 31% without
    it, when it garbled the digits it carried into the columns (answering at once: 85%)."""
    if not (10 <= a <= 99 and 10 <= b <= 99):
        raise ValueError(f"column_working: two-digit numbers only (10 to 99), got {a} and {b}")
    units = a % 10 + b % 10
    tens = a // 10 + b // 10 + units // 10
    carry = f" + {units // 10}" if units >= 10 else ""
    return f"{a} + {b}: {a % 10} + {b % 10} = {units}, {a // 10} + {b // 10}{carry} = {tens}, so {a + b}."


def final_answer(response: str) -> int | None:
    """The number a reply gives last, after its last "=" (the answer, whatever working comes before)."""
    numbers = re.findall(r"\d+", response.split("=")[-1])
    return int(numbers[-1]) if numbers else None


def writes_working(response: str) -> bool:
    """Whether a reply to a sum works before it answers: more than one "=" (a direct answer has one)."""
    return response.count("=") > 1


def working_figures(model, tok, prompts: list[str], program, seed: int = 0, max_new_tokens: int = 48):
    """One reply to each prompt at temperature 1, scored by `program`: how often the model writes its
    working first, and how often it is right with working, answering at once and in all (notebook 10,
    section 8, and its exercise 5). Returns (figures, replies)."""
    replies = sample_responses(model, tok, prompts, max_new_tokens, seed=seed)
    right = program(replies).bool()
    works = torch.tensor([writes_working(s.response) for s in replies])
    return {"writes its working first": works.float().mean().item(),
            "right, with working": right[works].float().mean().item(),
            "right, answering at once": right[~works].float().mean().item(),
            "right, all replies": right.float().mean().item()}, replies


def final_answer_reward(truth: dict[str, int]):
    """The program of the working-first task: 1.0 if the reply ended and its last number is the right
    sum (truth maps each prompt to it), else 0.0. Working is neither paid nor charged.   samples -> (B,)"""
    def program(samples) -> torch.Tensor:
        return torch.tensor([float(s.ended and final_answer(s.response) == truth[s.prompt]) for s in samples])
    return program


def accuracy(world, samples) -> float:
    """Share of replies the program accepts."""
    return verified_reward(world, samples).mean().item() if samples else float("nan")


def right_per_prompt(model, tok, world, prompts: list[str], n: int, seed: int = 0) -> list[int]:
    """Sample n replies to each prompt; how many of each prompt's n the program accepts."""
    samples = sample_responses(model, tok, [p for p in prompts for _ in range(n)], seed=seed)
    return verified_reward(world, samples).view(len(prompts), n).sum(1).int().tolist()


def pass_at_k(n_right: list[int], n: int, k: int) -> float:
    """The chance that at least one of k replies is right, averaged over prompts, from n sampled
    replies per prompt of which n_right[i] were right: 1 - C(n - c, k) / C(n, k), the unbiased
    estimator of Chen et al. (2021, Codex), which uses all n replies instead of k of them."""
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: k must be between 1 and n = {n} (the replies sampled per prompt), got {k}")
    if not n_right or any(not 0 <= c <= n for c in n_right):
        raise ValueError(f"pass_at_k: n_right must list, per prompt, between 0 and n = {n} right replies")
    return sum(1 - math.comb(n - c, k) / math.comb(n, k) for c in n_right) / len(n_right)


def train_grpo(cfg: GRPOConfig, policy, tok, prompts: list[str], world, eval_prompts: list[str] | None = None,
               eval_every: int = 5, progress: bool = True, callback=None, reward=None):
    """Optimise `policy` (changed in place) with GRPO against `verified_reward` (or the program `reward`) on `prompts`.
    Every `eval_every` iterations (and at the start and end), accuracy on `eval_prompts` at the
    sampling temperature. reward: another program, samples -> (B,) rewards in [0, 1] (e.g.
    `final_answer_reward`), used for training and for the accuracy. Returns (policy, history), a GRPOHistory."""
    program = reward or (lambda samples: verified_reward(world, samples))
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    pad_id = tok.special_id("<|pad|>")
    reference = copy.deepcopy(policy).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr, eps=ADAM_EPS)
    history = GRPOHistory(config=asdict(cfg))
    last_good = LastGood(policy, "GRPO", history)
    batches = epoch_batches(len(prompts), cfg.prompts_per_iter, rng)
    G = cfg.group_size

    def evaluate(done):
        if eval_prompts:
            samples = sample_responses(policy, tok, eval_prompts, cfg.max_new_tokens, temperature=cfg.temperature,
                                       seed=cfg.seed)
            history.record(eval_iter=done, eval_accuracy=program(samples).mean().item())

    evaluate(0)
    for it in tqdm(range(cfg.iters), desc="GRPO", disable=not progress):
        t0 = time.perf_counter()
        batch_prompts = [prompts[i] for i in next(batches)]

        # 1. roll out: a group of G replies per prompt (consecutive rows)
        policy.eval()                  # dropout off: π_new/π_old starts at exactly 1
        samples = sample_responses(policy, tok, [p for p in batch_prompts for _ in range(G)], cfg.max_new_tokens,
                                   temperature=cfg.temperature, seed=cfg.seed * ROLLOUT_SEED_STRIDE + it)
        ro = pack(samples, pad_id)

        # 2. the program's reward; 3. advantages within each group
        rewards = program(samples)
        advantages = group_advantages(rewards, G)

        # 4. log-probs of the sampled tokens: policy (old) and reference
        with torch.no_grad():
            logits = reply_logits(policy(ro.idx), ro.positions)
            old = token_logprobs(logits, ro.tokens, cfg.temperature)
            rollout_entropy = entropy(logits / cfg.temperature, ro.mask).item()   # over every reply, not only those updated on
            del logits
            ref = token_logprobs(reply_logits(reference(ro.idx), ro.positions), ro.tokens, cfg.temperature)
        t1 = time.perf_counter()

        # 5. minibatch updates: clipped surrogate + β · KL term. A group whose replies all got the same
        #    reward has advantage 0 for every reply: it teaches nothing, and its tokens would only dilute
        #    the token mean. With mixed_groups_only the update sees the other groups alone (DAPO's
        #    dynamic sampling, Yu et al. 2025, without drawing new groups to replace them).
        last_good.save()
        B = ro.idx.shape[0]
        groups = rewards.view(-1, G)
        mixed = ((groups.max(1).values - groups.min(1).values) > 0).repeat_interleave(G)
        rows = [i for i in range(B) if mixed[i]] if cfg.mixed_groups_only and mixed.any() else list(range(B))
        size = -(-len(rows) // cfg.minibatches)
        totals, steps = {}, 0
        for _ in range(cfg.epochs):
            perm = rng.sample(rows, len(rows))
            for start in range(0, len(rows), size):
                mb = torch.tensor(perm[start:start + size])
                logits = reply_logits(policy(ro.idx[mb]), ro.positions[mb])
                logprobs = token_logprobs(logits, ro.tokens[mb], cfg.temperature)
                loss, stats = grpo_loss(logprobs, old[mb], ref[mb], advantages[mb], ro.mask[mb], cfg.clip_eps, cfg.beta)
                optimizer_step(policy, optimizer, loss, cfg.grad_clip, last_good, f"at iteration {it}")
                for k, v in stats.items():
                    totals[k] = totals.get(k, 0.0) + v
                steps += 1
        t2 = time.perf_counter()

        history.record(iter=it, reward=rewards.mean().item(), informative=mixed[::G].float().mean().item(),
                       kl=(kl_penalty(old, ref, "k1") * ro.mask).sum(1).mean().item(),
                       length=ro.mask.sum(1).mean().item(), ended=sum(s.ended for s in samples) / B,
                       entropy=rollout_entropy, clipfrac=totals["clipfrac"] / steps,
                       t_rollout=t1 - t0, t_update=t2 - t1,
                       samples=[(s.prompt, s.response, s.ended) for s in samples[:G:max(1, G // 3)]])
        if eval_every and (it + 1) % eval_every == 0 and it + 1 < cfg.iters:
            evaluate(it + 1)
        if callback:
            callback(history)
    evaluate(cfg.iters)
    policy.eval()
    return policy, history
