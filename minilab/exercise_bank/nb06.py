"""Notebook 06 (the reward model): the exercises' checkers. All three are open questions, answered by
marking statements True or False; the statements hold for the notebook's full training and for the
cheaper head-only training of notebooks/solutions/06_solutions.ipynb alike."""
from __future__ import annotations

from minilab.exercises import Say, exercise, facts

NO_LENGTH_LOVERS = {1: True, 2: True, 3: False, 4: False}


@exercise("06.1", "facts",
          asks=Say("after training one reward model on 4,000 pairs labelled by the panel without the length lovers "
                   "and one the same way on 4,000 pairs of the whole panel, both evaluated on val_pairs, mark each "
                   "statement about the first one True or False",
                   "用去掉“长度爱好者”的小组标注的 4,000 个偏好对训练一个奖励模型，再用整个小组标注的 4,000 个偏好对"
                   "以同样的方式训练一个，都在 val_pairs 上评估；判断每条关于前者的陈述是对（True）还是错（False）"),
          statements=(Say("On clear pairs of the same correctness (style pairs) it agrees with gold more often than "
                          "the whole panel's reward model.",
                          "在正确性相同的明确偏好对（风格对）上，它与黄金奖励一致的次数比整个小组的奖励模型多。"),
                      Say("It prefers a correct answer padded with one filler sentence over the concise one less often "
                          "than the whole panel's reward model.",
                          "它比整个小组的奖励模型更少地偏好“正确答案加一句客套话”胜过简洁的答案。"),
                      Say("It prefers a flattering opener over the concise answer less than half the time.",
                          "它偏好“奉承开场白”胜过简洁答案的比例不到一半。"),
                      Say("Its reward correlates with reply length no more than the gold reward does on the same replies.",
                          "在同样的回复上，它的奖励与回复长度的相关性不超过黄金奖励与长度的相关性。")),
          hint=Say("evaluate_reward_model gives acc_gold_style and corr_length; the gold reward's own correlation with "
                   "length is np.corrcoef of the replies' gold rewards and word counts; for the padding table, who is "
                   "still on the panel, and what does charmed like?",
                   "evaluate_reward_model 给出 acc_gold_style 和 corr_length；黄金奖励自己与长度的相关性，是回复的黄金奖励"
                   "和词数的 np.corrcoef；至于注水表格：小组里还剩谁？charmed 喜欢什么？"),
          wrong=({1: True, 2: True, 3: True, 4: False}, {1: True, 2: True, 3: False, 4: True},
                 {1: False, 2: False, 3: False, 4: False}, {1: True, 2: True}))
def _06_1(answer):
    return facts(answer, NO_LENGTH_LOVERS)


FEWER_LABELS = {1: True, 2: True, 3: True, 4: False}


@exercise("06.2", "facts",
          asks=Say("after training reward models on the first 500 and the first 2,000 training pairs and on 500 pairs "
                   "labelled by careful alone, mark each statement True or False (accuracy: against gold, on clear "
                   "held-out pairs)",
                   "分别用前 500 个、前 2,000 个训练偏好对，以及只由 careful 标注的 500 个偏好对训练奖励模型之后，"
                   "判断每条陈述是对（True）还是错（False）（准确率：在明确的留出偏好对上相对黄金奖励）"),
          statements=(Say("2,000 pairs give a higher accuracy than 500.",
                          "2,000 个偏好对的准确率高于 500 个的。"),
                      Say("500 pairs labelled by careful give a higher accuracy than the first 500, labelled by the panel.",
                          "由 careful 标注的 500 个偏好对，准确率高于由小组标注的前 500 个。"),
                      Say("What careful's 500 pairs gain over the panel's 500 comes more from style pairs (both replies "
                          "equally correct) than from fact pairs.",
                          "careful 的 500 个偏好对比小组的 500 个多出来的准确率，更多来自风格对（两个回复同样正确），"
                          "而不是事实对。"),
                      Say("With 2,000 pairs of the panel, the reward model prefers a correct answer padded with one filler "
                          "sentence over the concise one less often than with 500.",
                          "用小组的 2,000 个偏好对训练时，奖励模型偏好“正确答案加一句客套话”胜过简洁答案的次数，"
                          "比用 500 个时少。")),
          hint=Say("compare acc_gold, acc_gold_facts and acc_gold_style of evaluate_reward_model for the three models, "
                   "and run the padding table of section 7 on each: what does a panel with a taste teach better when "
                   "it labels more?",
                   "比较三个模型在 evaluate_reward_model 里的 acc_gold、acc_gold_facts 和 acc_gold_style，"
                   "并对每个模型跑一遍第 7 节的注水表格：一个有偏好的小组标得越多，教得更好的是什么？"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: True, 2: False, 3: True, 4: False},
                 {1: False, 2: False, 3: False, 4: False}, {1: True, 2: True, 3: True}))
def _06_2(answer):
    return facts(answer, FEWER_LABELS)


NEAR_TIES = {1: True, 2: True, 3: False, 4: False}


@exercise("06.3", "facts",
          asks=Say("about the held-out pairs with abs(gold_margin) < 0.25 (near ties) and rm-nano's rewards of their "
                   "two replies, mark each statement True or False",
                   "关于 abs(gold_margin) < 0.25 的留出偏好对（几乎打平的对）以及 rm-nano 给它们两个回复的奖励，"
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("In every near tie both replies are equally correct: both state the right value, or neither does.",
                          "在每一个几乎打平的对里，两个回复都同样正确：要么都说出了正确的值，要么都没有。"),
                      Say("Most near ties are exact ties: the gold reward gives both replies the same number.",
                          "大多数几乎打平的对其实完全打平：黄金奖励给两个回复的分数相同。"),
                      Say("rm-nano gives the two replies of a near tie almost the same reward: typically (the median) "
                          "less than 0.1 apart, on a scale whose standard deviation is 1.",
                          "rm-nano 给一个几乎打平的对的两个回复的奖励几乎相同：通常（中位数）相差不到 0.1，"
                          "而奖励的标准差是 1。"),
                      Say("On the near ties that gold does decide (margin not 0), rm-nano sides with gold more often than not.",
                          "在黄金奖励确实分出高下的那些几乎打平的对上（差值不为 0），rm-nano 多数时候和黄金奖励站在同一边。")),
          hint=Say("world.judge(prompt, reply).correct says whether a reply states the right value; the rewards come "
                   "from score(rm, tok, prompts, texts, ended); compare np.median of |r_chosen − r_rejected| on near "
                   "ties and on clear pairs",
                   "world.judge(prompt, reply).correct 说明一个回复是否说出了正确的值；奖励来自 "
                   "score(rm, tok, prompts, texts, ended)；比较几乎打平的对和明确的对上 |r_chosen − r_rejected| 的 np.median"),
          wrong=({1: True, 2: True, 3: True, 4: False}, {1: False, 2: True, 3: False, 4: False},
                 {1: True, 2: True, 3: False, 4: True}, "True"))
def _06_3(answer):
    return facts(answer, NEAR_TIES)
