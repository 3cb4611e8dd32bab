"""Notebook 09 (don't teach, incentivize): the exercises' checkers."""
from __future__ import annotations

from minilab.exercises import Say, exercise, facts

MILD = {1: True, 2: False, 3: True, 4: True, 5: False}


@exercise("09.1", "facts",
          asks=Say("with rewards[\"mild\"] = {**TABLE_REWARD, \"confident-wrong\": -1.0}: answer_threshold for a confident "
                   "and a hedged answer, nano's SFT accuracy on eval_sets[\"known\"], then run(\"nano\", \"mild\") and "
                   "evaluate; mark each statement True or False",
                   "设 rewards[\"mild\"] = {**TABLE_REWARD, \"confident-wrong\": -1.0}：求自信作答和含糊作答的 "
                   "answer_threshold、nano 的 SFT 模型在 eval_sets[\"known\"] 上的正确率，再运行 run(\"nano\", \"mild\") "
                   "并用 evaluate 评估；判断每条陈述是对（True）还是错（False）"),
          statements=(Say("Under the mild table, a confident answer beats \"I don't know\" once P(right) is above 0.5.",
                          "在温和的奖励表下，只要 P(答对) 高于 0.5，自信作答就比“我不知道”划算。"),
                      Say("Under the mild table, a hedged answer breaks even at the same P(right) as a confident one.",
                          "在温和的奖励表下，含糊作答的盈亏平衡点和自信作答的一样。"),
                      Say("nano's SFT model is right on more of the held-out known facts than the mild table's break-even "
                          "for a confident answer, so on average it should now answer them.",
                          "nano 的 SFT 模型在留出的已知事实上的正确率高于温和奖励表下自信作答的盈亏平衡点，"
                          "所以平均来看它现在应该回答这些问题。"),
                      Say("Trained with the mild table, nano keeps answering its known facts: it says \"I don't know\" "
                          "on fewer than 5% of the held-out known facts.",
                          "用温和的奖励表训练后，nano 仍然回答它的已知事实：在留出的已知事实上说“我不知道”的不到 5%。"),
                      Say("Trained with the mild table, nano says \"I don't know\" about more than a third of the "
                          "held-out unknown people.",
                          "用温和的奖励表训练后，nano 对超过三分之一的留出未知人物说“我不知道”。")),
          hint=Say("answer_threshold(rewards[\"mild\"]) and answer_threshold(rewards[\"mild\"], hedged=True); "
                   "sft_rates[\"nano\"][\"known\"][\"correct\"]; then evaluate(policy, tok, world, eval_sets, "
                   "rewards[\"mild\"]) with the policy of run(\"nano\", \"mild\")",
                   "answer_threshold(rewards[\"mild\"]) 和 answer_threshold(rewards[\"mild\"], hedged=True)；"
                   "sft_rates[\"nano\"][\"known\"][\"correct\"]；再用 run(\"nano\", \"mild\") 得到的策略调用 "
                   "evaluate(policy, tok, world, eval_sets, rewards[\"mild\"])"),
          wrong=({1: True, 2: True, 3: True, 4: True, 5: True}, {1: True, 2: False, 3: False, 4: True, 5: False},
                 {1: False, 2: False, 3: False, 4: False, 5: False}, [True, False, True, True, False]))
def _09_1(answer):
    return facts(answer, MILD)


PROMPT_MIX = {1: True, 2: True, 3: False, 4: True}


@exercise("09.2", "facts",
          asks=Say("train run(\"nano\", \"table\") twice, with prompts = prompt_mix(known_ppo, unknown_ppo, share, n=600, "
                   "seed=seed) for share 0.2 and 0.8, evaluate both on eval_sets, and mark each statement True or False",
                   "用 prompts = prompt_mix(known_ppo, unknown_ppo, share, n=600, seed=seed)（share 取 0.2 和 0.8）"
                   "各训练一次 run(\"nano\", \"table\")，都在 eval_sets 上评估，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("With share 0.8 the policy drifts further from the SFT model than with 0.2: its KL per reply, "
                          "averaged over the last 5 iterations, is larger.",
                          "share 为 0.8 时，策略比 0.2 时离 SFT 模型更远：最后 5 轮迭代平均的每条回复 KL 更大。"),
                      Say("With share 0.8 it gets fewer of the held-out known facts right than with 0.2.",
                          "share 为 0.8 时，它在留出的已知事实上答对的比 0.2 时少。"),
                      Say("With share 0.8 it still gets the held-out known facts right as often as the SFT model did.",
                          "share 为 0.8 时，它在留出的已知事实上答对的比例仍和 SFT 模型一样高。"),
                      Say("Under the table, saying \"I don't know\" to every question would beat the SFT model's own replies "
                          "by more at share 0.8 than at share 0.2 (mean reward of a batch, from the SFT model's rates on "
                          "the held-out sets).",
                          "在奖励表下，对每个问题都说“我不知道”比 SFT 模型自己的回答强出的幅度，share 为 0.8 时比 0.2 时更大"
                          "（一批的平均奖励，用 SFT 模型在留出集合上的各项比例计算）。")),
          hint=Say("np.mean(history[\"kl\"][-5:]) of each run; evaluate(policy, ...)[\"known\"][\"correct\"]; the mean table reward of "
                   "a batch is share · reward(unknown) + (1 − share) · reward(known), and \"I don't know\" earns 0",
                   "每次运行的 np.mean(history[\"kl\"][-5:])；evaluate(policy, ...)[\"known\"][\"correct\"]；一批的平均奖励是 "
                   "share · reward(unknown) + (1 − share) · reward(known)，而“我不知道”得 0"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: False, 2: False, 3: False, 4: False},
                 {1: True, 2: True, 3: False, 4: False}, {1: True, 2: True, 3: False}))
def _09_2(answer):
    return facts(answer, PROMPT_MIX)


TOO_FAST = {1: True, 2: True, 3: True, 4: True, 5: False}


@exercise("09.3", "facts",
          asks=Say("set lr = 3e-4, train run(\"nano\", \"table\"), read its curves (reward.curve(...)) and the last "
                   "iteration's replies (history[\"samples\"][-1]), evaluate it on eval_sets, and mark each statement "
                   "True or False",
                   "设 lr = 3e-4，训练 run(\"nano\", \"table\")，看它的曲线（reward.curve(...)）和最后一轮迭代的回答"
                   "（history[\"samples\"][-1]），在 eval_sets 上评估，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("In its last 5 PPO batches, more than half of the replies (known and unknown people alike) "
                          "say \"I don't know\".",
                          "在最后 5 个 PPO 批次里，超过一半的回答（已知和未知的人都算）说的是“我不知道”。"),
                      Say("It gets fewer than 10% of the held-out known facts right.",
                          "它在留出的已知事实上答对的不到 10%。"),
                      Say("It no longer tells unknown people from known facts: abstain(unknown) − abstain(known) on the "
                          "held-out sets is below 0.15.",
                          "它不再区分未知的人和已知的事实：留出集合上的 abstain(unknown) − abstain(known) 低于 0.15。"),
                      Say("Saying \"I don't know\" to every question earns more under the table than the SFT model's own "
                          "replies do (mean of the held-out unknown and known sets).",
                          "在奖励表下，对每个问题都说“我不知道”比 SFT 模型自己的回答得分更高（留出的未知集合和已知集合取平均）。"),
                      Say("It avoids −4 mostly by hedging (\"I think …\"): in its last 5 batches, hedged replies outnumber "
                          "\"I don't know\".",
                          "它主要靠含糊其辞（“我觉得……”）来避开 −4：在最后 5 个批次里，含糊的回答比“我不知道”多。")),
          hint=Say("reward.history[i][\"unknown\"] and [\"known\"] hold the outcome shares of batch i; "
                   "knows_what_it_knows(rates) is the gap; \"I don't know\" earns TABLE_REWARD[\"abstain\"] = 0",
                   "reward.history[i][\"unknown\"] 和 [\"known\"] 是第 i 批的各结果比例；knows_what_it_knows(rates) 就是"
                   "这个差；“我不知道”得 TABLE_REWARD[\"abstain\"] = 0"),
          wrong=({1: True, 2: True, 3: True, 4: True, 5: True}, {1: False, 2: False, 3: False, 4: False, 5: False},
                 {1: True, 2: False, 3: False, 4: True, 5: False}, {5: False}))
def _09_3(answer):
    return facts(answer, TOO_FAST)
