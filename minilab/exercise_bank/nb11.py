"""Notebook 11 (DPO): the exercises' checkers."""
from __future__ import annotations

import functools
import math

from minilab.exercises import Say, exercise, facts, in_range

BOTH_FALL = {1: True, 2: True, 3: True, 4: False}


@exercise("11.1", "facts",
          asks=Say("after DPO at β = 0.1 from sft-nano, mark each statement True or False "
                   "(log-ratios are log π/π_ref, averaged over training pairs)",
                   "从 sft-nano 出发、以 β = 0.1 训练 DPO 之后，判断每条陈述是对（True）还是错（False）"
                   "（对数比是 log π/π_ref，在训练偏好对上取平均）"),
          statements=(Say("The implied reward ranks more than half of the training pairs as the panel did.",
                          "隐含奖励对一半以上训练偏好对的排序与标注小组一致。"),
                      Say("The chosen replies are less likely than under the SFT model.",
                          "被选回复的概率比在 SFT 模型下更低。"),
                      Say("The rejected replies fell further than the chosen ones.",
                          "被拒回复下降得比被选回复更多。"),
                      Say("The chosen and rejected replies together hold at least as much probability as under the "
                          "SFT model: what the rejected replies lost went to the chosen ones.",
                          "被选和被拒回复加在一起的概率不低于在 SFT 模型下的：被拒回复失去的概率都给了被选回复。")),
          hint=Say("implied_rewards(policy, sft, tok, pairs, beta) gives β·log π/π_ref of both sides; for the last "
                   "statement add up exp(log π) of every distinct labelled reply of a prompt, before and after "
                   "(dpo.batched_logprobs)",
                   "implied_rewards(policy, sft, tok, pairs, beta) 给出两边的 β·log π/π_ref；最后一条，"
                   "把一个提示下每个不同的已标注回复的 exp(log π) 加起来，训练前后各算一次（dpo.batched_logprobs）"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: True, 2: False, 3: True, 4: True},
                 {1: False, 2: True, 3: True, 4: False}, {2: True}))
def _11_1(answer):
    return facts(answer, BOTH_FALL)


NLL = {1: True, 2: True, 3: False, 4: True}


@exercise("11.2", "facts",
          asks=Say("after DPO at β = 0.1 with nll_weight 0, 0.2 and 1.0 (same steps, same pairs), mark each statement "
                   "True or False",
                   "以 β = 0.1、nll_weight 分别为 0、0.2 和 1.0（相同步数、相同偏好对）训练 DPO 之后，"
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("The chosen replies' log π/π_ref ends higher with nll_weight = 1.0 than with nll_weight = 0.",
                          "训练结束时，nll_weight = 1.0 的被选回复 log π/π_ref 比 nll_weight = 0 时更高。"),
                      Say("With nll_weight = 1.0 the implied reward still ranks more than half of the training pairs "
                          "as the panel did.",
                          "nll_weight = 1.0 时，隐含奖励对一半以上训练偏好对的排序仍与标注小组一致。"),
                      Say("With nll_weight = 1.0 the rejected replies fall at least as far as with nll_weight = 0.",
                          "nll_weight = 1.0 时，被拒回复下降得至少和 nll_weight = 0 时一样多。"),
                      Say("With nll_weight = 1.0 the policy ends closer to the SFT model (a smaller KL per reply) than "
                          "with nll_weight = 0.",
                          "nll_weight = 1.0 时，策略最终离 SFT 模型更近（每个回复的 KL 更小），比 nll_weight = 0 时。")),
          hint=Say("train three times with DPOConfig(beta=0.1, nll_weight=w); implied_rewards gives the log-ratios "
                   "over the pairs, dpo.measure the KL",
                   "用 DPOConfig(beta=0.1, nll_weight=w) 训练三次；implied_rewards 给出偏好对上的对数比，"
                   "dpo.measure 给出 KL"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: True, 2: False, 3: False, 4: False},
                 {1: False, 2: True, 3: False, 4: True}))
def _11_2(answer):
    return facts(answer, NLL)


HARD = {1: True, 2: True, 3: False}


@exercise("11.3", "facts",
          asks=Say("after DPO at β = 0.1 with soft labels and with hard labels (soft_labels=False), mark each "
                   "statement True or False",
                   "以 β = 0.1 分别用软标签和硬标签（soft_labels=False）训练 DPO 之后，"
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("Hard labels change the target most for the pairs the panel split 3 to 2 (60% of the votes).",
                          "硬标签对小组以 3 比 2 分歧的偏好对（60% 的票）改变目标最多。"),
                      Say("With hard labels the implied reward's margin r̂_chosen − r̂_rejected grows the most on "
                          "those 3-to-2 pairs.",
                          "用硬标签时，隐含奖励的差 r̂_chosen − r̂_rejected 在这些 3 比 2 的偏好对上增长最多。"),
                      Say("Hard labels raise the implied reward's agreement with gold on the clear held-out pairs by "
                          "more than 5 points.",
                          "硬标签让隐含奖励在明确的留出偏好对上与黄金奖励的一致率提高了 5 个百分点以上。")),
          hint=Say("group the training pairs by p_chosen (0.6, 0.8, 1.0) and compare the mean margin of the two runs "
                   "per group; implied_agreement(policy, sft, tok, world, clear_heldout, beta) gives the agreement",
                   "按 p_chosen（0.6、0.8、1.0）把训练偏好对分组，比较两次训练在每组上的平均差；"
                   "implied_agreement(policy, sft, tok, world, clear_heldout, beta) 给出一致率"),
          wrong=({1: True, 2: True, 3: True}, {1: False, 2: True, 3: False}, {1: True, 2: False, 3: False}))
def _11_3(answer):
    return facts(answer, HARD)


@functools.cache
def _sft_heldout_golds() -> tuple[float, ...]:
    """Gold reward of sft-nano's reply to each of the 398 held-out prompts (temperature 1, seed 0)."""
    from minilab.chat import sample_responses
    from minilab.checkpoint import load_checkpoint
    from minilab.world import make_world
    model, tok, meta = load_checkpoint("sft-nano")
    world = make_world(meta.get("seed", 0))
    heldout = [q.prompt for q in world.questions("heldout")]
    return tuple(world.gold_reward(s.prompt, s.response, s.ended)
                 for s in sample_responses(model, tok, heldout, temperature=1.0, seed=0))


@exercise("11.4", "number",
          asks=Say("the standard error of the SFT model's mean held-out gold (398 prompts, temperature 1, seed 0): "
                   "the standard deviation of the replies' gold divided by sqrt(n)",
                   "SFT 模型在留出提示上平均黄金奖励的标准误（398 个提示、温度 1、种子 0）："
                   "各回复黄金奖励的标准差除以 sqrt(n)"),
          hint=Say("evaluate_model(sft, tok, world, heldout, seed=0) returns the replies too; score each with "
                   "world.gold_reward, then np.std(golds) / sqrt(len(golds)); compare 2·sqrt(2)·SE with +0.04",
                   "evaluate_model(sft, tok, world, heldout, seed=0) 也会返回回复；用 world.gold_reward 给每个回复打分，"
                   "再算 np.std(golds) / sqrt(len(golds))；把 2·sqrt(2)·SE 和 +0.04 比一比"),
          wrong=(0.04, 1.7, 0.007, "0.08"))
def _11_4(answer):
    golds = _sft_heldout_golds()
    n = len(golds)
    mean = sum(golds) / n
    truth = math.sqrt(sum((g - mean) ** 2 for g in golds) / n) / math.sqrt(n)
    return in_range(answer, truth * 0.97, truth * 1.03, Say("the standard error of the mean gold",
                                                            "平均黄金奖励的标准误"))
