"""Notebook 08 (reward hacking): the exercises' checkers."""
from __future__ import annotations

import functools
import json
import re

from minilab.exercises import Say, exercise, facts, first_failure, wrong_type

EARLY_STOPPING = {1: False, 2: True, 3: True, 4: False, 5: True}


@exercise("08.1", "facts",
          asks=Say("read the long run without the gold reward (hard.entropy, hard.kl, ev[\"score\"], hard.samples) and "
                   "mark each statement True or False; \"the gold peak\" is iteration 60",
                   "不看黄金奖励，读长运行的记录（hard.entropy、hard.kl、ev[\"score\"]、hard.samples），"
                   "判断每条陈述是对（True）还是错（False）；“黄金奖励的峰值”指第 60 轮迭代"),
          statements=(Say("The held-out proxy (ev[\"score\"]) is at its highest at the gold peak, so watching it would have "
                          "told you when to stop.",
                          "留出提示上的代理奖励（ev[\"score\"]）在黄金奖励的峰值处最高，所以盯着它就能知道何时该停。"),
                      Say("The held-out proxy climbs more slowly per iteration after the gold peak than before it.",
                          "黄金奖励的峰值之后，留出提示上的代理奖励每轮迭代涨得比峰值之前慢。"),
                      Say("Most of the entropy's fall over the whole run (hard.entropy, start to end) had already "
                          "happened by the gold peak.",
                          "整个运行中熵的下降（hard.entropy，从开始到结束），大部分在黄金奖励的峰值之前就已经发生了。"),
                      Say("The KL per reply (hard.kl) stops growing once gold has peaked.",
                          "黄金奖励达到峰值之后，每条回复的 KL（hard.kl）就不再增长。"),
                      Say("The stored replies (hard.samples, 3 per iteration) are less varied after the gold peak than "
                          "before it: fewer different replies per 10 iterations.",
                          "存下来的回复（hard.samples，每轮 3 条）在黄金奖励的峰值之后比之前更单一："
                          "每 10 轮迭代里不同的回复更少。")),
          hint=Say("compare each signal at iteration 0, at the peak (60) and at the end (160); for the replies, count "
                   "len(set(...)) of the replies in each block of 10 iterations",
                   "比较每个信号在第 0 轮、峰值（第 60 轮）和结束（第 160 轮）时的值；对回复，数一数每 10 轮迭代里"
                   "回复的 len(set(...))"),
          wrong=({1: True, 2: True, 3: True, 4: True, 5: True}, {1: False, 2: False, 3: False, 4: False, 5: False},
                 {1: False, 2: True, 3: False, 4: False, 5: True}, {1: False}))
def _08_1(answer):
    return facts(answer, EARLY_STOPPING)


def names_the_question(world, prompt: str, reply: str) -> bool:
    """True when `reply` names what `prompt` asks about: the entity's full name, or for a sum one of its numbers."""
    qa = world.qa(prompt)
    if qa.relation == "add":
        return bool(set(qa.entity.split(" + ")) & set(re.findall(r"\d+", reply)))
    return qa.entity in reply


@functools.cache
def _probe_cases() -> tuple[tuple, int]:
    """((prompt, reply) pairs of the SFT model and of the long run on the probe prompts, with the reference
    verdict), and how many of the long run's replies dodge. Only pairs that any fair reading of "names the
    person or a number" judges the same way (full name in any case, numbers whole or as substrings)."""
    from minilab.hacking import default_path
    from minilab.world import make_world
    runs = json.loads(default_path("nano").read_text(encoding="utf-8"))
    world = make_world(runs["settings"]["seed"])
    probe = runs["probe_prompts"]
    cases = []
    for replies in (runs["long"]["probe"], runs["bon"]["probe_sft"]):
        for prompt, (reply, _) in zip(probe, replies):
            qa = world.qa(prompt)
            loose = (any(n in reply for n in qa.entity.split(" + ")) if qa.relation == "add"
                     else qa.entity.lower() in reply.lower())
            dodge = not names_the_question(world, prompt, reply)
            if dodge == (not loose):
                cases.append(((prompt, reply), dodge))
    n_long = sum(not names_the_question(world, p, r) for p, (r, _) in zip(probe, runs["long"]["probe"]))
    return tuple(cases), n_long


@exercise("08.2", "code",
          asks=Say("a tuple (dodges, n): dodges(prompt, reply) -> True when the reply contains neither the full name "
                   "of what the question asks about (world.qa(prompt).entity) nor, for a sum, one of its two numbers; "
                   "n: how many of the 256 replies of long[\"probe\"] (to runs[\"probe_prompts\"]) it flags",
                   "一个元组 (dodges, n)：dodges(prompt, reply) 在回复既不含问题所问对象的全名"
                   "（world.qa(prompt).entity），也不含加法题两个数中的任何一个时返回 True；"
                   "n：它在 long[\"probe\"] 的 256 条回复（对应 runs[\"probe_prompts\"]）里标记了多少条"),
          hint=Say("qa = world.qa(prompt); for qa.relation == \"add\", qa.entity is \"23 + 45\": split it and look for "
                   "the numbers in the reply (re.findall(r\"\\d+\", reply)); else look for qa.entity in the reply",
                   "qa = world.qa(prompt)；当 qa.relation == \"add\" 时，qa.entity 形如 \"23 + 45\"：拆开后在回复里找这两个数"
                   "（re.findall(r\"\\d+\", reply)）；否则在回复里找 qa.entity"),
          wrong=((lambda p, r: False, 0), (lambda p, r: True, 256), "181", lambda p, r: False))
def _08_2(answer):
    if not (isinstance(answer, tuple) and len(answer) == 2 and callable(answer[0])):
        return wrong_type("a tuple (dodges, n) with a function dodges(prompt, reply)", answer)
    dodges, n = answer
    cases, n_long = _probe_cases()
    problem = first_failure(dodges, cases, compare=lambda got, want: bool(got) == want)
    if problem:
        return problem
    if isinstance(n, bool) or not isinstance(n, int):
        return wrong_type("an integer count n", n)
    if n != n_long:
        return Say("your function is right, but n is not the number of long[\"probe\"] replies it flags",
                   "你的函数是对的，但 n 不是它在 long[\"probe\"] 里标记的回复数")
    return None


LIVE_BETA = {1: True, 2: True, 3: False, 4: False}


@exercise("08.3", "facts",
          asks=Say("run section 3's live PPO against rm-nano at β = 0.1 (run_ppo(beta=0.1, size=\"nano\", iters=60, "
                   "seed=0)) and mark each statement True or False (running means of 5 iterations, as in the notebook)",
                   "用 β = 0.1 运行第 3 节针对 rm-nano 的现场 PPO（run_ppo(beta=0.1, size=\"nano\", iters=60, seed=0)），"
                   "判断每条陈述是对（True）还是错（False）（和笔记本一样，取 5 轮迭代的滑动平均）"),
          statements=(Say("At β = 0.1 the proxy score still rises by more than 0.2 from the start to the end.",
                          "β = 0.1 时，代理奖励从开始到结束仍然上升超过 0.2。"),
                      Say("At β = 0.1 the gold reward still ends below where it started: the weak reward model is still "
                          "hacked.",
                          "β = 0.1 时，黄金奖励结束时仍低于开始时：弱的奖励模型仍然被钻了空子。"),
                      Say("At β = 0.1 the KL per reply at the end is still above 20 nats (at β = 0 it reached 41).",
                          "β = 0.1 时，结束时每条回复的 KL 仍超过 20 nats（β = 0 时达到了 41）。"),
                      Say("At β = 0.1 the gold reward first climbs more than 0.3 above its start before it falls.",
                          "β = 0.1 时，黄金奖励在下降之前先比开始高出 0.3 以上。")),
          hint=Say("policy, tok, weak = run_ppo(beta=0.1, size=\"nano\", iters=60, seed=0); smooth weak[\"gold\"], "
                   "weak[\"score\"] and weak[\"kl\"] as section 3 does and compare start, best and end",
                   "policy, tok, weak = run_ppo(beta=0.1, size=\"nano\", iters=60, seed=0)；像第 3 节那样对 weak[\"gold\"]、"
                   "weak[\"score\"] 和 weak[\"kl\"] 取滑动平均，比较开始、最好和结束"),
          wrong=({1: True, 2: False, 3: False, 4: False}, {1: True, 2: True, 3: True, 4: True},
                 {1: False, 2: False, 3: False, 4: False}, {1: True, 2: True}))
def _08_3(answer):
    return facts(answer, LIVE_BETA)
