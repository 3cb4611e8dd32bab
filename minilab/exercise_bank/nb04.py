"""Notebook 04 (scaling and emergence): the exercises' checkers."""
from __future__ import annotations

import functools

from minilab.exercises import Say, exercise, facts, in_range, wrong_type

# as measured in solutions/04_solutions.ipynb (300 steps per rung; 50 in fast mode)
NEW_RUNG = {1: False, 2: True, 3: True, 4: False}


@exercise("04.1", "facts",
          asks=Say("after training the rung (2, 4, 128) like the others and fitting the power law to the five rungs "
                   "of LADDER, mark each statement True or False",
                   "把 (2, 4, 128) 这一级像其他几级一样训练好，并用 LADDER 的五级拟合幂律之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("The new rung has more parameters than micro.",
                          "新的这一级比 micro 的参数更多。"),
                      Say("It lands below the fitted line: its loss is lower than the power law predicts for its "
                          "parameter count.",
                          "它落在拟合直线的下方：它的损失低于幂律按它的参数量所预测的值。"),
                      Say("Its validation loss is lower than micro's.",
                          "它的验证集损失比 micro 的低。"),
                      Say("At this training length, two more layers (new rung -> micro) lower the loss more than "
                          "doubling the width (w64 -> new rung) does.",
                          "在这个训练长度下，多加两层（新的一级 -> micro）比把宽度加倍（w64 -> 新的一级）更能降低损失。")),
          hint=Say("count_params gives the parameters; the line predicts a * N ** -b; compare the losses of w64, "
                   "the new rung and micro, which differ by width and then by depth",
                   "count_params 给出参数量；直线的预测是 a * N ** -b；比较 w64、新的一级和 micro 的损失，"
                   "它们先是宽度不同，然后是深度不同"),
          wrong=({1: True, 2: True, 3: True, 4: False}, {1: False, 2: False, 3: False, 4: True},
                 {1: False, 2: True, 3: False, 4: False}, {2: True}))
def _04_1(answer):
    return facts(answer, NEW_RUNG)


@functools.cache
def _compute_ratios() -> tuple[float, float]:
    """Training compute of w32 for 3x the steps over w64's for the normal steps (the notebook's LADDER, context
    64): counted with flops_per_token (6N plus attention, as the compute panel does), and with 6N alone."""
    from minilab.config import GPTConfig
    from minilab.model import GPT, count_params, flops_per_token
    shape = {w: GPTConfig(vocab_size=512, block_size=64, n_layer=2, n_head=2, n_embd=w) for w in (32, 64)}
    return (3 * flops_per_token(shape[32]) / flops_per_token(shape[64]),
            3 * count_params(GPT(shape[32])) / count_params(GPT(shape[64])))


# the smaller model trained three times longer reaches the lower loss (as measured in 04_solutions)
SMALL_LONGER_WINS = "w32"


@exercise("04.2", "number",
          asks=Say("a tuple (ratio, better): the training compute of w32 run for 3x the steps divided by that of w64 "
                   "run for the normal steps (flops_per_token x tokens, as on the compute panel), and which of the two "
                   "reaches the lower validation loss, \"w32\" or \"w64\"",
                   "一个元组 (ratio, better)：w32 训练 3 倍步数的训练算力除以 w64 按正常步数训练的算力"
                   "（flops_per_token × token 数，与算力那幅图一样），以及两者中哪一个的验证集损失更低，\"w32\" 或 \"w64\""),
          hint=Say("both runs use the same batches, so tokens = steps x batch_size x block_size; flops_per_token(model.config) "
                   "counts 6N plus attention. Train both with config(LADDER[name], steps) and compare val_loss[-1]",
                   "两次训练的批次一样大，所以 token 数 = 步数 × batch_size × block_size；flops_per_token(model.config) "
                   "计入了 6N 和注意力。用 config(LADDER[name], steps) 训练两者，比较 val_loss[-1]"),
          wrong=((3.0, "w32"), (1.0, "w64"), (4 / 3, "w32"), "w32", (1.0, "both")))
def _04_2(answer):
    if not (isinstance(answer, tuple) and len(answer) == 2):
        return wrong_type('a tuple (ratio, "w32" or "w64")', answer)
    ratio, better = answer
    if better not in ("w32", "w64"):
        return Say(f'name the run with the lower loss, "w32" or "w64", not {better!r}',
                   f'请写出损失更低的那次训练，"w32" 或 "w64"，而不是 {better!r}')
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
        return wrong_type("a number for the ratio", ratio)
    with_attention, six_n = _compute_ratios()
    if not any(abs(ratio - r) <= 0.01 for r in (with_attention, six_n)):
        return in_range(ratio, with_attention - 0.01, with_attention + 0.01,
                        Say("the ratio of the two runs' training compute", "两次训练的训练算力之比"))
    if better != SMALL_LONGER_WINS:
        return Say("that is not the run with the lower validation loss in our world",
                   "在我们的世界里，验证集损失更低的不是这次训练")
    return None


@functools.cache
def _carry_figures() -> dict[str, float]:
    """base-micro on the held-out two-digit sums: greedy accuracy with and without a carry in the units,
    and the share of its wrong answers that miss the sum by exactly ten."""
    from minilab.checkpoint import load_checkpoint
    from minilab.emergence import addition_answers
    from minilab.world import make_world
    model, tok, _ = load_checkpoint("base-micro")
    pairs = make_world(0).addition_pairs("test")
    right, misses = {"carry": [], "no carry": []}, []
    for (x, y), got in zip(pairs, addition_answers(model, tok, pairs)):
        right["carry" if x % 10 + y % 10 >= 10 else "no carry"].append(got == x + y)
        if got != x + y:
            misses.append(got is not None and abs(got - (x + y)) == 10)
    return {**{half: sum(r) / len(r) for half, r in right.items()}, "off by ten": sum(misses) / len(misses)}


WHAT = {"carry": Say("base-micro's accuracy on the sums with a carry", "base-micro 在进位的加法上的正确率"),
        "no carry": Say("base-micro's accuracy on the sums without a carry", "base-micro 在不进位的加法上的正确率"),
        "off by ten": Say("the share of its wrong answers that are off by exactly ten", "它的错误答案中恰好差 10 的比例")}


@exercise("04.3", "number",
          asks=Say('a dict {"carry": accuracy, "no carry": accuracy, "off by ten": share}: base-micro\'s greedy accuracy '
                   'on the held-out two-digit sums (world.addition_pairs("test")) in each half, and the share of its '
                   "wrong answers (both halves) that miss the sum by exactly 10, too high or too low",
                   '一个字典 {"carry": 正确率, "no carry": 正确率, "off by ten": 比例}：base-micro 在留出的两位数加法'
                   '（world.addition_pairs("test")）每一半上的贪心正确率，以及它的错误答案（两半合起来）中'
                   "恰好比正确的和多 10 或少 10 的比例"),
          hint=Say("split test_pairs with x % 10 + y % 10 >= 10; addition_answers(model, tok, pairs) gives each answer "
                   "(None when no number), so you can compare it with x + y yourself",
                   "用 x % 10 + y % 10 >= 10 把 test_pairs 分成两半；addition_answers(model, tok, pairs) 给出每个答案"
                   "（没有数字时为 None），你可以自己把它和 x + y 比较"),
          wrong=((0.8, 0.8, 0.5), {"carry": 0.795, "no carry": 0.795, "off by ten": 0.5},
                 {"carry": 1.0, "no carry": 0.0, "off by ten": 0.0}, {"carry": 0.0, "no carry": 1.0, "off by ten": 1.0},
                 {"carry": 0.5, "no carry": 0.5}))
def _04_3(answer):
    if not isinstance(answer, dict) or set(answer) != set(WHAT):
        return wrong_type('a dict {"carry": accuracy, "no carry": accuracy, "off by ten": share}', answer)
    truth = _carry_figures()
    for key, what in WHAT.items():
        problem = in_range(answer[key], truth[key] - 0.01, truth[key] + 0.01, what)
        if problem:
            return problem
    return None
