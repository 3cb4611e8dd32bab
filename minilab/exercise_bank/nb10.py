"""Notebook 10 (RL with verifiable rewards, GRPO): the exercises' checkers."""
from __future__ import annotations

import functools
import math

from minilab.exercises import Say, exercise, facts, first_failure, in_range, wrong_type


@functools.cache
def _sft_heldout_accuracy(temperature: float) -> float:
    """Share of the 398 held-out prompts whose reply from sft-nano the program accepts (sampling seed 0)."""
    from minilab.chat import sample_responses
    from minilab.checkpoint import load_checkpoint
    from minilab.grpo import accuracy
    from minilab.world import make_world
    model, tok, meta = load_checkpoint("sft-nano")
    world = make_world(meta.get("seed", 0))
    heldout = [q.prompt for q in world.questions("heldout")]
    return accuracy(world, sample_responses(model, tok, heldout, temperature=temperature, seed=0))


def _mixed(p: float, G: int) -> float:
    return 1 - p ** G - (1 - p) ** G


def _close(got, expected) -> bool:
    try:
        return math.isclose(float(got), expected, rel_tol=1e-6, abs_tol=1e-9)
    except (TypeError, ValueError):
        return False


@exercise("10.1", "code",
          asks=Say("a function mixed(p, G): the chance that a group of G replies to a prompt, each right with "
                   "probability p, has mixed rewards (at least one right and one wrong)",
                   "一个函数 mixed(p, G)：对一个提示采样 G 个回复、每个回复答对的概率为 p 时，"
                   "这一组的奖励有对有错（至少一个对、一个错）的概率"),
          hint=Say("a group teaches nothing when all G replies are right (probability p^G) or all are wrong; "
                   "the rest of the time it is mixed",
                   "G 个回复全对（概率 p^G）或全错时，这一组什么也教不了；其余情况下就是有对有错"),
          wrong=(lambda p, G: 1 - p ** G, lambda p, G: 2 * p * (1 - p), lambda p, G: p * (1 - p) ** (G - 1), 0.5))
def _10_1(answer):
    cases = [((p, G), _mixed(p, G)) for p, G in ((0.5, 2), (0.0, 8), (1.0, 16), (0.3, 2), (0.9, 8), (0.1, 16),
                                                   (0.34, 16), (0.75, 4))]
    return first_failure(answer, cases, compare=_close)


LOOSE = {1: True, 2: True, 3: False, 4: False, 5: True}


@exercise("10.2", "facts",
          asks=Say("with loose_reward (1 if the reply ended and qa.answer appears anywhere in it) next to "
                   "verified_reward, mark each statement True or False",
                   "把 loose_reward（回复正常结束且 qa.answer 出现在其中任意位置就给 1）和 verified_reward "
                   "放在一起比较，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("The loose check pays a reply to \"Where does Ota Tal live?\" that lists every town of "
                          "the world.",
                          "对“Where does Ota Tal live?”列出世界上所有小镇的回复，宽松检查会给奖励。"),
                      Say("The loose check pays \"1 + 8 = 19\" as the answer to \"What is 1 + 8?\".",
                          "对“What is 1 + 8?”回答“1 + 8 = 19”，宽松检查会给奖励。"),
                      Say("The strict program refuses a hedged right answer, \"I think Ota Tal lives in Falford.\"",
                          "严格的程序会拒绝一个带保留语气的正确回答：“I think Ota Tal lives in Falford.”"),
                      Say("The strict program pays \"Ota Tal lives in Falford. Una Quill lives in Tamton.\" "
                          "(the right town, then another person's).",
                          "严格的程序会给“Ota Tal lives in Falford. Una Quill lives in Tamton.”"
                          "（先是正确的小镇，再是另一个人的小镇）奖励。"),
                      Say("On 512 replies of the SFT model to training prompts (16 to each of the first 32, sampling "
                          "seed 0), the loose check and the strict program agree more than 95% of the time.",
                          "在 SFT 模型对训练提示的 512 个回复上（前 32 个提示各 16 个，采样种子 0），"
                          "宽松检查和严格程序的判定有超过 95% 是一致的。")),
          hint=Say("build each reply as a Sample(prompt, text, True, [], []) and score it with both functions; "
                   "for the last one, sample the replies and count",
                   "把每个回复做成 Sample(prompt, text, True, [], [])，用两个函数分别打分；"
                   "最后一条需要采样回复再数一数"),
          wrong=({1: True, 2: True, 3: True, 4: False, 5: True}, {1: True, 2: False, 3: False, 4: True, 5: False},
                 {1: True, 2: True}))
def _10_2(answer):
    return facts(answer, LOOSE)


def _pair_of_fractions(answer):
    return (isinstance(answer, tuple) and len(answer) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in answer))


@exercise("10.3", "number",
          asks=Say("a tuple (greedy, sampled): the SFT model's accuracy on the 398 held-out prompts greedy "
                   "(temperature=0) and sampled at temperature 1 with seed 0, as fractions",
                   "一个元组 (greedy, sampled)：SFT 模型在 398 个留出提示上的准确率，分别用贪心解码"
                   "（temperature=0）和温度 1、种子 0 的采样，用小数表示"),
          hint=Say("accuracy(world, sample_responses(sft, tok, heldout, temperature=0)) and the same with "
                   "temperature=1.0, seed=0; the sampled figure is also history.eval_accuracy[0]",
                   "accuracy(world, sample_responses(sft, tok, heldout, temperature=0))，再用 temperature=1.0、"
                   "seed=0 算一遍；采样的那个数也就是 history.eval_accuracy[0]"),
          wrong=((0.339, 0.339), (0.339, 0.513), (51.3, 33.9), 0.513))
def _10_3(answer):
    if not _pair_of_fractions(answer):
        return wrong_type("a tuple (greedy, sampled) of two fractions", answer)
    greedy, sampled = answer
    for value, temperature, what in ((greedy, 0.0, Say("the greedy accuracy", "贪心解码的准确率")),
                                     (sampled, 1.0, Say("the accuracy sampled at temperature 1",
                                                        "温度 1 采样的准确率"))):
        truth = _sft_heldout_accuracy(temperature)
        problem = in_range(value, truth - 0.0051, truth + 0.0051, what)     # within two prompts of 398
        if problem:
            return problem
    return None


@exercise("10.4", "number",
          asks=Say("the standard error of the SFT model's held-out accuracy sampled at temperature 1 (seed 0, 398 "
                   "prompts), sqrt(p(1 - p) / n), as a fraction",
                   "SFT 模型在留出提示上温度 1 采样（种子 0，398 个提示）的准确率的标准误 sqrt(p(1 - p) / n)，"
                   "用小数表示"),
          hint=Say("p is history.eval_accuracy[0] and n the number of held-out prompts; compare twice the standard "
                   "error of a difference, 2·sqrt(2)·SE, with the 3.8-point gain",
                   "p 就是 history.eval_accuracy[0]，n 是留出提示的个数；把两次测量之差的两倍标准误 "
                   "2·sqrt(2)·SE 和 3.8 个百分点的提升比一比"),
          wrong=(0.34, 0.0011, 2.4, "2.4 points"))
def _10_4(answer):
    p = _sft_heldout_accuracy(1.0)
    truth = math.sqrt(p * (1 - p) / 398)
    return in_range(answer, truth * 0.97, truth * 1.03, Say("the standard error of the accuracy",
                                                            "准确率的标准误"))


def _units_first(a: int, b: int) -> str:
    units = a % 10 + b % 10
    carry = f" + {units // 10}" if units >= 10 else ""
    tens = a // 10 + b // 10 + units // 10
    return f"{a % 10} + {b % 10} = {units}, {a // 10} + {b // 10}{carry} = {tens}, so {a} + {b} = {a + b}."


@exercise("10.5", "code",
          asks=Say("a function units_first(a, b): section 8's working without the copied sum, the units column "
                   "first and the sum restated at the end, e.g. units_first(47, 38) == "
                   "\"7 + 8 = 15, 4 + 3 + 1 = 8, so 47 + 38 = 85.\"",
                   "一个函数 units_first(a, b)：第 8 节的演算去掉开头抄写的算式，先算个位，最后再写出整个算式，"
                   "例如 units_first(47, 38) == \"7 + 8 = 15, 4 + 3 + 1 = 8, so 47 + 38 = 85.\""),
          hint=Say("start from grpo.column_working and move the copied sum to the end; the tens column gets "
                   "\" + 1\" only when the units carry",
                   "从 grpo.column_working 出发，把开头抄写的算式挪到结尾；只有个位进位时，十位那一列才加上 \" + 1\""),
          wrong=(lambda a, b: f"{a} + {b}: {a % 10} + {b % 10} = {a % 10 + b % 10}, so {a + b}.",
                 lambda a, b: f"{a % 10} + {b % 10} = {a % 10 + b % 10}, {a // 10} + {b // 10} = {a // 10 + b // 10}, "
                              f"so {a} + {b} = {a + b}.",
                 lambda a, b: f"{a} + {b} = {a + b}.", "7 + 8 = 15, 4 + 3 + 1 = 8, so 47 + 38 = 85."))
def _10_5(answer):
    cases = [((a, b), _units_first(a, b)) for a, b in ((47, 38), (23, 45), (99, 99), (10, 90), (15, 25), (61, 39))]
    return first_failure(answer, cases)
