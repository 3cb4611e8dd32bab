"""Notebook 00 (the map): the exercises' checkers. All three are open questions (facts): the statements
are true or false in our world as measured, and the worked solutions measure them."""
from __future__ import annotations

from minilab.exercises import Say, exercise, facts

MORE_PRETRAINING = {1: True, 2: False, 3: True, 4: True}


@exercise("00.1", "facts",
          asks=Say("after giving pretraining 4 times more steps (then the same SFT), mark each statement True or False",
                   "把预训练的步数增加到 4 倍（之后做同样的 SFT）之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("The SFT model's gold reward rises.", "SFT 模型的黄金奖励上升了。"),
                      Say("The base model now ends its replies: its well-formed share rises by more than 0.05.",
                          "基座模型现在会结束它的回复：它的格式完整比例上升超过 0.05。"),
                      Say("The SFT model's gold reward rises by more than the base model's.",
                          "SFT 模型的黄金奖励比基座模型的上升得更多。"),
                      Say("The base model itself knows more: completing \"NAME lives in\" greedily, it names the right "
                          "town for more people.",
                          "基座模型本身知道得更多：贪心地续写 \"NAME lives in\" 时，它说对城镇的人更多。")),
          hint=Say("compare the two report cards row by row; for the last statement, ask both base models as notebook 03 "
                   "(section 8) does",
                   "逐行比较两张成绩单；最后一条陈述，请像笔记本 03（第 8 节）那样去问两个基座模型"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: False, 2: False, 3: False, 4: False},
                 {1: True, 2: False, 3: False, 4: True}, {1: True}))
def _00_1(answer):
    return facts(answer, MORE_PRETRAINING)


PPO_ON_BASE = {1: True, 2: True, 3: False, 4: True}


@exercise("00.2", "facts",
          asks=Say("after a few iterations of PPO from the base model (and, to compare, from the SFT model), mark each "
                   "statement True or False",
                   "从基座模型出发做几次 PPO 迭代（并从 SFT 模型出发做同样的迭代作对比）之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("In every iteration, fewer than 1 in 20 of the base model's rollouts end with <|end|>.",
                          "每次迭代中，基座模型的回复以 <|end|> 结束的不到二十分之一。"),
                      Say("At the first iteration, the reward model scores the base model's replies more than 1 below "
                          "the SFT model's.",
                          "第一次迭代时，奖励模型给基座模型回复的打分比给 SFT 模型的低 1 以上。"),
                      Say("After these iterations, the policy started from the base model earns a higher gold reward on "
                          "the held-out questions than the SFT model.",
                          "这几次迭代之后，从基座模型出发的策略在留出问题上的黄金奖励比 SFT 模型高。"),
                      Say("From the SFT model, most rollouts end with <|end|> in every iteration.",
                          "从 SFT 模型出发时，每次迭代里大多数回复都以 <|end|> 结束。")),
          hint=Say("history.ended and history.score hold one value per iteration; PPO can only reinforce what the "
                   "policy already samples",
                   "history.ended 和 history.score 每次迭代记一个值；PPO 只能强化策略已经采样出来的东西"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: False, 2: True, 3: False, 4: True},
                 {1: False, 2: False, 3: False, 4: False}, {2: True}))
def _00_2(answer):
    return facts(answer, PPO_ON_BASE)


LONGER_PPO = {1: True, 2: True, 3: False, 4: True, 5: False}


@exercise("00.3", "facts",
          asks=Say("after plotting notebook 08's stored 100-iteration PPO runs (minilab.hacking.load_runs()['sweep']: "
                   "held-out gold reward and reward-model score every 20 iterations in run['eval']), mark each statement "
                   "True or False",
                   "画出笔记本 08 存好的 100 次迭代 PPO 训练（minilab.hacking.load_runs()['sweep']：run['eval'] 里每 20 次"
                   "迭代记录一次留出问题上的黄金奖励和奖励模型打分）之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("Over the first 20 iterations (as long as ppo-nano trained), the score and the gold reward rise "
                          "in every run.",
                          "在前 20 次迭代里（和 ppo-nano 训练得一样久），每次训练的打分和黄金奖励都上升了。"),
                      Say("With β = 0.03, the score is higher at every evaluation than at the one before.",
                          "β = 0.03 时，打分在每次评估时都比上一次高。"),
                      Say("With β = 0.03, the gold reward is higher at every evaluation than at the one before.",
                          "β = 0.03 时，黄金奖励在每次评估时都比上一次高。"),
                      Say("With β = 0.03, the gold reward after 100 iterations is below the SFT model's (iteration 0).",
                          "β = 0.03 时，100 次迭代后的黄金奖励低于 SFT 模型的（第 0 次迭代）。"),
                      Say("With β = 0.1, the gold reward after 100 iterations is below the SFT model's.",
                          "β = 0.1 时，100 次迭代后的黄金奖励低于 SFT 模型的。")),
          hint=Say("for run in runs['sweep']: plot run['eval']['iter'] against run['eval']['score'] and run['eval']['gold']",
                   "for run in runs['sweep']：以 run['eval']['iter'] 为横轴，画出 run['eval']['score'] 和 run['eval']['gold']"),
          wrong=({1: True, 2: True, 3: True, 4: True, 5: True}, {1: False, 2: True, 3: False, 4: True, 5: False},
                 {1: True, 2: True, 3: False, 4: False, 5: True}, {1: True}))
def _00_3(answer):
    return facts(answer, LONGER_PPO)
