"""Notebook 07 (PPO with a KL penalty): the exercises' checkers."""
from __future__ import annotations

import functools
from collections import Counter

from minilab.exercises import Say, close_to, exercise, facts, wrong_type


@functools.cache
def _no_penalty_run() -> tuple[float, str]:
    """The stored β = 0 run of notebook 08: (mean KL per reply over its last 10 iterations,
    the reply its final policy gives most often to the probe prompts)."""
    from minilab import hacking
    runs = hacking.load_runs()
    kl = runs["long"]["history"].kl[-10:]
    reply, _ = Counter(text for text, _ in runs["long"]["probe"]).most_common(1)[0]
    return sum(kl) / len(kl), reply


@exercise("07.1", "number",
          asks=Say('a tuple (kl, reply) from the stored β = 0 run, runs = hacking.load_runs(), run = runs["long"]: kl, '
                   'the mean of run["history"].kl over its last 10 iterations; reply, the text the final policy '
                   'gives most often among its replies to the probe prompts, run["probe"] (pairs of text and ended)',
                   '一个元组 (kl, reply)，取自存储的 β = 0 运行：runs = hacking.load_runs()，run = runs["long"]。'
                   'kl 是 run["history"].kl 最后 10 次迭代的平均值；reply 是最终策略对探针提示的回答'
                   '（run["probe"]，由文本和是否结束组成的对）中出现最多的那条文本'),
          hint=Say('average the last ten entries of the history\'s kl; count the texts of run["probe"] with '
                   "collections.Counter and read most_common(3): does each answer the question it was asked?",
                   '对 history 的 kl 最后十项取平均；用 collections.Counter 数一数 run["probe"] 里的文本，'
                   "看看 most_common(3)：每条回答的是它被问到的问题吗？"),
          wrong=((0.75, "Yabe Quill has a cat."), (1.15, "I don't know."), "7.4", (7.45, "Ota Tal lives in Falford.")))
def _07_1(answer):
    if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], str)):
        return wrong_type("a tuple (kl, reply) with reply a str", answer)
    kl, reply = answer
    truth_kl, truth_reply = _no_penalty_run()
    problem = close_to(kl, truth_kl, 0.02, Say("the mean KL per reply over the last 10 iterations",
                                              "最后 10 次迭代每条回答的平均 KL"))
    if problem:
        return problem
    if reply.strip() != truth_reply:
        return Say("that reply is not the one the final policy gives most often to the probe prompts",
                   "这条回答不是最终策略对探针提示给出最多的那一条")
    return None


CLIP_RANGE = {1: True, 2: True, 3: False, 4: True}


@exercise("07.2", "facts",
          asks=Say("after one PPO update with clip ε = 0.05 and one with ε = 0.5, from the same policy and the same "
                   "rollout, mark each statement True or False",
                   "从同一个策略、同一批采样出发，分别用裁剪 ε = 0.05 和 ε = 0.5 做一次 PPO 更新之后，"
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("With ε = 0.5 the update moves the policy further from where it started than with ε = 0.05.",
                          "ε = 0.5 的这次更新让策略离起点更远，比 ε = 0.05 的远。"),
                      Say("With ε = 0.05 the clip fraction of the update is higher.",
                          "ε = 0.05 时，这次更新的裁剪比例更高。"),
                      Say("The higher clip fraction shows that the policy with ε = 0.05 moved more.",
                          "更高的裁剪比例说明 ε = 0.05 的策略移动得更多。"),
                      Say("A token whose ratio has left [1 − ε, 1 + ε] in the direction its advantage pushes gets no "
                          "gradient from the policy loss, so a narrow band silences more tokens, sooner.",
                          "一个 token 的概率比一旦沿着它的优势推动的方向离开 [1 − ε, 1 + ε]，就从策略损失中得不到梯度；"
                          "所以窄的区间会更早地让更多 token 停止出力。")),
          hint=Say("run_ppo(..., clip_eps=eps, iters=1) with the same seed starts from the same policy and samples the "
                   "same rollout; read history.clipfrac[0], and measure how far the returned policy moved: the KL "
                   "between its next-token distributions and the SFT model's, summed over the tokens of SFT replies. "
                   "For statement 4, take the gradient of losses.ppo_policy_loss with respect to logprobs",
                   "用同一个 seed 调用 run_ppo(..., clip_eps=eps, iters=1)，起点是同一个策略、采样的是同一批回答；"
                   "读 history.clipfrac[0]，再量一量返回的策略移动了多远：在 SFT 的回答上，把它和 SFT 模型的"
                   "下一个 token 分布之间的 KL 按 token 加起来。第 4 条：对 losses.ppo_policy_loss 关于 logprobs 求梯度"),
          wrong=({1: False, 2: True, 3: True, 4: True}, {1: True, 2: True, 3: True, 4: True},
                 {1: False, 2: False, 3: False, 4: False}, [True, True, False, True]))
def _07_2(answer):
    return facts(answer, CLIP_RANGE)


K3 = {1: True, 2: False, 3: True, 4: False}


@exercise("07.3", "facts",
          asks=Say("with ℓ = logprobs − ref_logprobs of each sampled token, k1 = ℓ and k3 = (e^−ℓ − 1) + ℓ: "
                   "mark each statement True or False",
                   "设每个采样 token 的 ℓ = logprobs − ref_logprobs，k1 = ℓ，k3 = (e^−ℓ − 1) + ℓ："
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("k3 charges more than k1 exactly on the tokens whose k1 is negative: the tokens the policy "
                          "now makes less likely than the reference does.",
                          "k3 恰好在 k1 为负的那些 token 上比 k1 收得多：也就是策略现在比参考模型更不看好的 token。"),
                      Say("On a token the policy makes far more likely than the reference (ℓ above 1), k3 charges "
                          "more than k1.",
                          "在策略比参考模型看好得多的 token 上（ℓ 大于 1），k3 比 k1 收得多。"),
                      Say("k3 is never negative, because e^x ≥ 1 + x for every x.",
                          "k3 永远不会为负，因为对任何 x 都有 e^x ≥ 1 + x。"),
                      Say("Averaged over tokens sampled from the policy, k3 estimates a larger KL than k1 does.",
                          "对从策略采样的 token 取平均，k3 估计出的 KL 比 k1 的大。")),
          hint=Say('compute kl_penalty(logprobs, ref_logprobs, "k1") and "k3" on the same tokens and compare them '
                   "token by token; for the average, sum p·(e^−ℓ − 1) over the whole vocabulary: what is Σ p·q/p?",
                   '在同样的 token 上算 kl_penalty(logprobs, ref_logprobs, "k1") 和 "k3"，逐个 token 比较；'
                   "至于平均值，在整个词表上对 p·(e^−ℓ − 1) 求和：Σ p·q/p 等于多少？"),
          wrong=({1: True, 2: True, 3: True, 4: False}, {1: True, 2: False, 3: True, 4: True},
                 {1: False, 2: False, 3: False, 4: False}, {1: True, 3: True}))
def _07_3(answer):
    return facts(answer, K3)
