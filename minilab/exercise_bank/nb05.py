"""Notebook 05 (supervised fine-tuning): the exercises' checkers."""
from __future__ import annotations

import math

from minilab.exercises import Say, exercise, facts, in_range, wrong_type
from minilab.history import SFTHistory


def _history(eval_iter, well_formed, gold) -> SFTHistory:
    """An SFT history with only its evaluations filled in (the wrong answers below are built with it)."""
    h = SFTHistory()
    for it, wf, g in zip(eval_iter, well_formed, gold):
        h.record(eval_iter=it, well_formed=wf, gold=g, length=0.0)
    return h


_MADE_UP = _history(range(0, 101, 10), [0, 0, 0, .1, .3, .6, .7, .8, .9, .9, .9],
                    [-3, -3, -3, -2.8, -2.5, -1.8, -1.5, -1.4, -1.3, -1.3, -1.2])


@exercise("05.1", "number",
          asks=Say("a tuple (history, step, gain): the history of one SFT run of 100 steps from the base model, "
                   "evaluated every 10 steps (SFTConfig(max_iters=100, eval_interval=10)); the first evaluation step at "
                   "which more than half of the replies close their turn; and the gold reward gained from that step "
                   "to the end (history.gold)",
                   "一个元组 (history, step, gain)：从基座模型出发、训练 100 步并每 10 步评估一次的 SFT 运行的 history"
                   "（SFTConfig(max_iters=100, eval_interval=10)）；第一个有超过一半回复结束回合的评估步；"
                   "以及从那一步到最后黄金奖励增加了多少（history.gold）"),
          hint=Say("walk along zip(history.eval_iter, history.well_formed) and stop at the first share above 0.5; "
                   "the gain is history.gold[-1] minus the gold at that evaluation",
                   "沿着 zip(history.eval_iter, history.well_formed) 往下走，停在第一个超过 0.5 的比例上；"
                   "gain 是 history.gold[-1] 减去那次评估时的黄金奖励"),
          wrong=((_MADE_UP, 40, 0.3), (_MADE_UP, 50, 1.2), (_MADE_UP, 50, 0.3), (_MADE_UP, 50),
                 (None, 50, 0.6), ("history", 40, 1.0)))
def _05_1(answer):
    if not (isinstance(answer, tuple) and len(answer) == 3):
        return wrong_type("a tuple (history, step, gain)", answer)
    history, step, gain = answer
    if not all(hasattr(history, name) for name in ("eval_iter", "well_formed", "gold")):
        return wrong_type("the history returned by sft(...) as the first item", history)
    its, shares, gold = list(history.eval_iter), list(history.well_formed), list(history.gold)
    if len(its) < 2 or its[0] != 0 or its[-1] < 100 or max(b - a for a, b in zip(its, its[1:])) > 10:
        return Say("pass the history of a run of at least 100 steps, evaluated at step 0 and every 10 steps "
                   "(SFTConfig(max_iters=100, eval_interval=10), with world= and eval_prompts= given to sft)",
                   "请传入一次至少 100 步、在第 0 步并每 10 步评估一次的运行的 history"
                   "（SFTConfig(max_iters=100, eval_interval=10)，调用 sft 时给出 world= 和 eval_prompts=）")
    if shares[0] > 0.1:
        return Say("the run should start from the base model, which closes almost none of its replies",
                   "这次运行应当从基座模型出发，而基座模型几乎不结束回合")
    first = next((i for i, share in enumerate(shares) if share > 0.5), None)
    if first is None:
        return Say("in this run most replies never close their turn; train the base model for 100 steps with the "
                   "notebook's settings", "这次运行中大多数回复始终没有结束回合；请用笔记本的设置把基座模型训练 100 步")
    if step != its[first]:
        return Say(f"step {step!r} is not the first evaluation of your history at which more than half the replies "
                   "close their turn", f"第 {step!r} 步不是你的 history 里第一个有超过一半回复结束回合的评估步")
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not math.isfinite(gain):
        return wrong_type("a number for the gain", gain)
    truth = gold[-1] - gold[first]
    return in_range(gain, truth - 0.01, truth + 0.01,
                    Say("the gold reward gained after that step in your history", "你的 history 里那一步之后黄金奖励的增量"))


MORE_IDK = {1: True, 2: False, 3: True, 4: False}     # as measured in solutions/05_solutions.ipynb


@exercise("05.2", "facts",
          asks=Say("after fine-tuning the base model on the conversations plus 20 copies of the 40 \"I don't know\" ones "
                   "(the notebook's settings), compared with sft-nano, mark each statement True or False",
                   "把那 40 段“我不知道”对话复制 20 份加进对话，用笔记本的设置从基座模型重新微调，"
                   "与 sft-nano 比较之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("It says it does not know to more of the unknown people than sft-nano does.",
                          "对陌生人物，它说“不知道”的比例比 sft-nano 高。"),
                      Say("It now says it does not know to most of the unknown people.",
                          "现在对大多数陌生人物，它都说“不知道”。"),
                      Say("It also says it does not know to some people it does know (the test questions), more often "
                          "than sft-nano does.",
                          "对一些它确实知道的人（测试问题），它也说“不知道”，而且比 sft-nano 更常这样。"),
                      Say("It answers more of the known test questions correctly than sft-nano does.",
                          "在已知人物的测试问题上，它答对的比 sft-nano 多。")),
          hint=Say("judge the replies with world.judge(prompt, reply).outcome and compare the share of \"abstain\" on "
                   "world.unknown_questions(\"test\") and on world.questions(\"test\") for both models",
                   "用 world.judge(prompt, reply).outcome 给回复归类，比较两个模型在 world.unknown_questions(\"test\") "
                   "和 world.questions(\"test\") 上 \"abstain\" 的比例"),
          wrong=({1: True, 2: True, 3: True, 4: False}, {1: True, 2: False, 3: False, 4: False},
                 {1: False, 2: False, 3: False, 4: False}, {1: True, 2: False}))
def _05_2(answer):
    return facts(answer, MORE_IDK)


FLIPPED_MASK = {1: True, 2: True, 3: False, 4: True}     # as measured in solutions/05_solutions.ipynb


@exercise("05.3", "facts",
          asks=Say("after fine-tuning the base model with the mask flipped (1 on everything but the assistant's tokens), "
                   "sampling replies to the test questions, mark each statement True or False",
                   "把掩码翻转（除助手的 token 之外都为 1）从基座模型微调，对测试问题采样回复之后，"
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("Most replies are questions (they hold a question mark), the way a user writes.",
                          "大多数回复是问题（带有问号），就像用户写的那样。"),
                      Say("Most replies close their turn with <|end|>.",
                          "大多数回复以 <|end|> 结束回合。"),
                      Say("Its replies are right about as often as sft-nano's.",
                          "它的回复答对的频率和 sft-nano 差不多。"),
                      Say("Some replies hold a role token such as <|assistant|> or <|user|>, written by the model itself.",
                          "有些回复里含有 <|assistant|> 或 <|user|> 这样的角色 token，是模型自己写出来的。")),
          hint=Say("with the flipped mask the model learns to write what follows <|user|>, and what follows the user's "
                   "<|end|>; look at s.response and s.ended of a few dozen samples",
                   "掩码翻转之后，模型学的是写出 <|user|> 后面的内容，以及用户的 <|end|> 后面的内容；"
                   "看看几十个样本的 s.response 和 s.ended"),
          wrong=({1: False, 2: False, 3: False, 4: False}, {1: True, 2: False, 3: False, 4: True},
                 {1: True, 2: True, 3: True, 4: True}, {3: False}))
def _05_3(answer):
    return facts(answer, FLIPPED_MASK)


SMALL_LR = {1: True, 2: True, 3: False, 4: False}     # as measured in solutions/05_solutions.ipynb


@exercise("05.4", "facts",
          asks=Say("after fine-tuning the base model with SFTConfig(max_iters=sft_iters, lr=1e-4, min_lr=1e-5) and "
                   "running capability_and_intent on it, mark each statement True or False",
                   "用 SFTConfig(max_iters=sft_iters, lr=1e-4, min_lr=1e-5) 从基座模型微调，并对结果运行 "
                   "capability_and_intent 之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("It still completes about as many held-out facts as the base model (within 10 points).",
                          "它能补全的留出事实仍然和基座模型差不多（相差不到 10 个百分点）。"),
                      Say("It answers (one value, turn closed) fewer of the questions than sft-nano does.",
                          "它回答（只给一个值并结束回合）的问题比 sft-nano 少。"),
                      Say("It answers more of the questions correctly than sft-nano does.",
                          "它答对的问题比 sft-nano 多。"),
                      Say("It answers correctly most of the facts it still completes.",
                          "它仍能补全的事实里，大多数它也能答对。")),
          hint=Say("compare the three bars (knows the fact, answers the question, answers correctly) with those of base "
                   "and sft-nano; for the last statement, index 'answers correctly' with 'knows the fact'",
                   "把三根柱子（knows the fact、answers the question、answers correctly）与基座模型和 sft-nano 的比较；"
                   "最后一条陈述：用 'knows the fact' 去索引 'answers correctly'"),
          wrong=({1: False, 2: True, 3: False, 4: False}, {1: True, 2: False, 3: True, 4: False},
                 {1: True, 2: True, 3: True, 4: True}, {1: True, 2: True, 3: False}))
def _05_4(answer):
    return facts(answer, SMALL_LR)


A_LITTLE_CHINESE = {1: True, 2: False, 3: False, 4: True}     # as measured in solutions/05_solutions.ipynb


@exercise("05.5", "facts",
          asks=Say("after fine-tuning the base model on english_only plus 5% of the Chinese conversations (the notebook's "
                   "settings) and asking it section 8's Chinese questions greedily, mark each statement True or False",
                   "用笔记本的设置在 english_only 加上 5% 的中文对话上从基座模型微调，并用贪心解码问它第 8 节的中文问题之后，"
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("The share of its replies that are in Chinese is more than ten times the share of Chinese "
                          "conversations in its training data.",
                          "它的回复中用中文写的比例，是它训练数据中中文对话所占比例的十倍以上。"),
                      Say("It answers in Chinese as often as sft-nano, which saw all the Chinese conversations.",
                          "它用中文作答的频率和见过全部中文对话的 sft-nano 一样高。"),
                      Say("It answers the Chinese questions correctly as often as sft-nano does.",
                          "它答对中文问题的频率和 sft-nano 一样高。"),
                      Say("The Chinese conversations it trained on are under 2% of all its training conversations.",
                          "它训练用的中文对话不到全部训练对话的 2%。")),
          hint=Say("use section 8's in_chinese and world.judge on the greedy replies of your model and of sft-nano; "
                   "count the conversations you added against len(english_only) plus them",
                   "对你的模型和 sft-nano 的贪心回复使用第 8 节的 in_chinese 和 world.judge；"
                   "把你加进去的对话数和 len(english_only) 加上它们的总数比较"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: False, 2: False, 3: False, 4: True},
                 {1: True, 2: False, 3: False, 4: False}, {4: True}))
def _05_5(answer):
    return facts(answer, A_LITTLE_CHINESE)
