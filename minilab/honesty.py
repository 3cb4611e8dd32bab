"""Don't teach, incentivize: a reward table that makes "I don't know" worth saying (notebook 09).

We never show the model *which* questions it cannot answer. We only score its answers with
an outcome table (`gold.TABLE_REWARD`: +1 confident-correct, +0.5 hedged-correct, 0 "I don't
know", -2 hedged-wrong, -4 confident-wrong; John Schulman's example, retold in Hyung Won
Chung's talk "Don't teach, incentivize") and let PPO find out when answering pays. The
comparison is a plain reward (`gold.PLAIN_REWARD`: 1 if correct, else 0), under which a guess
never costs more than silence.

    reward = OutcomeReward(world, TABLE_REWARD)          # reward_fn for ppo.train_ppo
    policy, history = train_ppo(cfg, copy.deepcopy(sft), tok, prompts, reward, world=world)
    reward.history[-1]["unknown"]["abstain"]             # share of "I don't know" in the last rollout
    evaluate(policy, tok, world, {"unknown": [...], "known": [...]})   # outcome shares on held-out prompts

Choices
-------
- The reward is the table's entry for `world.judge(prompt, reply).outcome`, nothing else: no
  reward model, no length or politeness terms (PPO still charges β·kl and penalises replies
  that never end).
- `OutcomeReward` keeps the outcome shares of every rollout batch, split by known and unknown
  entities, so a notebook can draw abstention over PPO iterations without extra sampling.
- Known facts are split by fact (entity and relation), not by prompt: every fact is asked in
  five phrasings (three English, two Chinese), and an evaluation fact must not have been
  rewarded in any of them. Both halves come from `questions("train")`, facts the SFT model saw,
  so the model knows them about equally well.
- `answer_threshold(table)`: answering beats "I don't know" when the chance p of being right
  satisfies p·r_correct + (1 - p)·r_wrong > r_abstain. Under TABLE_REWARD that is p > 0.8 for a
  confident and for a hedged answer alike; under PLAIN_REWARD any p > 0 will do.
"""
from __future__ import annotations

import random
from collections import Counter

import torch

from minilab.chat import sample_responses
from minilab.gold import OUTCOMES


def answer_threshold(table: dict, hedged: bool = False) -> float:
    """The chance of being right above which answering earns more than "I don't know" under `table`."""
    style = "hedged-" if hedged else "confident-"
    right, wrong, abstain = table[style + "correct"], table[style + "wrong"], table["abstain"]
    if right <= wrong:
        raise ValueError(f"a {style}answer must earn more when right ({right}) than when wrong ({wrong})")
    # p·right + (1 - p)·wrong = abstain  <=>  p = (abstain - wrong) / (right - wrong)
    return min(1.0, max(0.0, (abstain - wrong) / (right - wrong)))


def outcome_rates(world, samples, table: dict | None = None) -> dict:
    """Share of each outcome among `samples`, plus "correct", "wrong", "abstain", "n", the mean
    "gold" reward (the world's ruler, see gold.py) and, with a `table`, the mean "reward" under it."""
    outcomes = [world.judge(s.prompt, s.response).outcome for s in samples]
    counts, n = Counter(outcomes), max(len(outcomes), 1)
    rates = {o: counts[o] / n for o in OUTCOMES}
    rates["correct"] = rates["confident-correct"] + rates["hedged-correct"]
    rates["wrong"] = rates["confident-wrong"] + rates["hedged-wrong"]
    rates["n"] = len(outcomes)
    rates["gold"] = sum(world.gold_reward(s.prompt, s.response, getattr(s, "ended", True)) for s in samples) / n
    if table is not None:
        rates["reward"] = sum(table[o] for o in outcomes) / n
    return rates


class OutcomeReward:
    """reward_fn(samples) -> tensor (B,) for `ppo.train_ppo`: the table's reward of each reply's
    outcome. `history` holds, per call (one per PPO iteration), the outcome shares of the batch
    on known and on unknown entities."""

    def __init__(self, world, table: dict):
        missing = set(OUTCOMES) - set(table)
        if missing:
            raise ValueError(f"the reward table lacks outcomes {sorted(missing)}")
        self.world, self.table = world, dict(table)
        self.history: list[dict] = []

    def __call__(self, samples) -> torch.Tensor:
        outcomes = [self.world.judge(s.prompt, s.response).outcome for s in samples]
        known = [self.world.qa(s.prompt).known for s in samples]
        self.history.append({which: outcome_rates(self.world, [s for s, k in zip(samples, known) if k == want], self.table)
                             for which, want in (("known", True), ("unknown", False))})
        return torch.tensor([self.table[o] for o in outcomes], dtype=torch.float)

    def curve(self, which: str, key: str = "abstain") -> list[float]:
        """One figure per PPO iteration, e.g. curve("unknown", "abstain")."""
        return [row[which][key] for row in self.history]


def split_facts(questions, eval_share: float = 0.5, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split known-fact questions by fact (entity, relation): (prompts to train on, prompts to
    evaluate on). All phrasings of one fact land on the same side."""
    facts = sorted({(q.entity, q.relation) for q in questions})
    random.Random(seed).shuffle(facts)
    held_out = set(facts[:round(eval_share * len(facts))])
    train = [q.prompt for q in questions if (q.entity, q.relation) not in held_out]
    evaluate_on = [q.prompt for q in questions if (q.entity, q.relation) in held_out]
    return train, evaluate_on


def prompt_mix(known: list[str], unknown: list[str], unknown_share: float, n: int, seed: int = 0) -> list[str]:
    """n prompts, a share `unknown_share` of them about unknown people, drawn without replacement
    while a list lasts (then it is cycled), shuffled."""
    if not 0.0 <= unknown_share <= 1.0:
        raise ValueError(f"unknown_share must be in [0, 1], got {unknown_share!r}")
    rng = random.Random(seed)
    n_unknown = round(unknown_share * n)

    def draw(pool, k):
        out = []
        while len(out) < k:
            if not pool:
                raise ValueError("prompt_mix: an empty list of prompts cannot fill its share")
            out += rng.sample(pool, min(len(pool), k - len(out)))
        return out

    mix = draw(list(known), n - n_unknown) + draw(list(unknown), n_unknown)
    rng.shuffle(mix)
    return mix


def evaluate(model, tok, world, prompt_sets: dict, table: dict | None = None, max_new_tokens: int = 32,
             temperature: float = 1.0, seed: int = 0) -> dict:
    """{name: outcome_rates} for each list of prompts in `prompt_sets`, replies sampled as in PPO."""
    return {name: outcome_rates(world, sample_responses(model, tok, prompts, max_new_tokens,
                                                        temperature=temperature, seed=seed), table)
            for name, prompts in prompt_sets.items()}


def knows_what_it_knows(rates: dict) -> float:
    """Abstention on unknown minus abstention on known entities: 1 for a model that says
    "I don't know" exactly when it should, 0 for one that cannot tell the two apart."""
    return rates["unknown"]["abstain"] - rates["known"]["abstain"]
