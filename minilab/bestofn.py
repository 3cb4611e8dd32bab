"""Best-of-n with a reward model, and how often the reward model ranks a policy's own replies as gold does.

Best-of-n is the cheapest use of a reward model (no training): sample n replies, keep the one the
reward model scores highest. Its KL from the policy is known in closed form (Stiennon et al. 2020,
appendix; Gao et al. 2022):  KL(best-of-n || policy) = log n - (n - 1) / n.
So best-of-n draws the first curve of gold against KL, and its rise shows that the reward model
carries signal; its fall at large n (if any) is the first sight of over-optimisation.

    table = sample_table(policy, rm, tok, world, prompts, n=16, seed=0)
    rescore(table, other_rm, tok)           # the same replies, judged by another reward model
    best_of_n(table, [1, 2, 4, 8, 16])      # {n: mean gold of the reward model's pick}
    pair_accuracy(table, world)             # agreement with gold on clear pairs, by kind of pair
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from minilab.chat import sample_responses
from minilab.reward import reward_fn


@dataclass
class SampleTable:
    """n replies to each of P prompts: samples[p * n + j], and their reward-model scores and gold (P, n)."""
    prompts: list[str]
    samples: list
    scores: torch.Tensor
    gold: torch.Tensor

    @property
    def n(self) -> int:
        return self.scores.shape[1]


def bon_kl(n: int) -> float:
    """KL(best-of-n || policy) in nats: log n - (n - 1) / n."""
    if n < 1:
        raise ValueError(f"best-of-n needs n >= 1, got {n}")
    return math.log(n) - (n - 1) / n


def sample_table(policy, rm, tok, world, prompts: list[str], n: int = 16, seed: int = 0,
                 temperature: float = 1.0) -> SampleTable:
    """Sample n replies per prompt; score each with the reward model and with gold."""
    if n < 1:
        raise ValueError(f"n must be >= 1 (replies per prompt), got {n}")
    samples = sample_responses(policy, tok, [p for p in prompts for _ in range(n)], seed=seed, temperature=temperature)
    scores = reward_fn(rm, tok)(samples).view(len(prompts), n)
    gold = torch.tensor([world.gold_reward(x.prompt, x.response, x.ended) for x in samples]).view(len(prompts), n)
    return SampleTable(list(prompts), samples, scores, gold)


def rescore(table: SampleTable, rm, tok) -> SampleTable:
    """The same replies scored by another reward model (sampling them is the costly part)."""
    scores = reward_fn(rm, tok)(table.samples).view(len(table.prompts), table.n)
    return SampleTable(table.prompts, table.samples, scores, table.gold)


def best_of_n(table: SampleTable, ns=(1, 2, 4, 8, 16), repeats: int = 8, seed: int = 0) -> dict[int, float]:
    """Mean gold of the reward model's pick among n of the table's replies, for each n (averaged over
    `repeats` random subsets of the n; n = all replies uses the whole row once)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for n in ns:
        if not 1 <= n <= table.n:
            raise ValueError(f"best-of-{n}: the table holds {table.n} replies per prompt")
        values = []
        for _ in range(repeats if n < table.n else 1):
            cols = torch.randperm(table.n, generator=g)[:n]
            pick = table.scores[:, cols].argmax(1, keepdim=True)
            values.append(table.gold[:, cols].gather(1, pick).mean().item())
        out[n] = sum(values) / len(values)
    return out


def pair_accuracy(table: SampleTable, world, clear_margin: float = 0.5) -> dict:
    """Agreement of the reward model with gold on every clear pair of replies to the same prompt
    (|gold margin| >= clear_margin), overall and by kind: "facts" (one reply states the right
    value, the other does not) and "style" (both right or both not; other differences)."""
    hits = {"all": [], "facts": [], "style": []}
    for i, prompt in enumerate(table.prompts):
        correct = [world.judge(prompt, table.samples[i * table.n + j].response).correct for j in range(table.n)]
        for a, b in itertools.combinations(range(table.n), 2):
            margin = (table.gold[i, a] - table.gold[i, b]).item()
            if abs(margin) < clear_margin:
                continue
            agree = bool((table.scores[i, a] > table.scores[i, b]).item() == (margin > 0))
            hits["all"].append(agree)
            hits["facts" if correct[a] != correct[b] else "style"].append(agree)
    out = {k: (sum(v) / len(v) if v else float("nan")) for k, v in hits.items()}
    out.update({f"n_{k}": len(v) for k, v in hits.items()})
    return out
