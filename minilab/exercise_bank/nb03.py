"""Notebook 03 (pretraining): the exercises' checkers."""
from __future__ import annotations

import functools
import json

from minilab.exercises import Say, exercise, facts, in_range, wrong_type

LONG_RUN = 1000          # 03.1: the run must be at least this many iterations long


@functools.cache
def _bundled_val_loss() -> float:
    """The validation loss of the bundled base-nano, from its config.json (no weights loaded)."""
    from minilab.checkpoint import CONFIG, resolve
    return json.loads((resolve("base-nano") / CONFIG).read_text(encoding="utf-8"))["meta"]["figures"]["val_loss"]


def _loss_curve(run):
    """(iterations, validation losses) of a PretrainHistory, or of a stored run {"iter": [...], "val_loss": [...]}."""
    if hasattr(run, "eval_iter") and hasattr(run, "val_loss"):
        return list(run.eval_iter), list(run.val_loss)
    if isinstance(run, dict) and "iter" in run and "val_loss" in run:
        return list(run["iter"]), list(run["val_loss"])
    return None


@exercise("03.1", "number",
          asks=Say(f"a tuple (history, lowest, first_below): a run of at least {LONG_RUN} iterations (your history, or the "
                   "stored nano run), its lowest validation loss, and the first iteration at which the validation loss is "
                   "below the bundled base-nano's (None if it never is)",
                   f"一个元组 (history, lowest, first_below)：一次至少 {LONG_RUN} 步的训练（你的 history，或者存好的 nano 训练），"
                   "它最低的验证集损失，以及验证集损失第一次低于自带 base-nano 的那一步（从未低于则为 None）"),
          hint=Say("history.eval_iter and history.val_loss hold the evaluations (a stored run: run['iter'] and "
                   "run['val_loss']); the bundled loss is base_meta['figures']['val_loss']",
                   "history.eval_iter 和 history.val_loss 记录了每次评估（存好的训练：run['iter'] 和 run['val_loss']）；"
                   "自带模型的损失是 base_meta['figures']['val_loss']"),
          wrong=(({"iter": [0, 500, 1000], "val_loss": [6.2, 0.9, 0.7]}, 0.9, None),
                 ({"iter": [0, 500, 1000], "val_loss": [6.2, 0.9, 0.6]}, 0.6, None),
                 ({"iter": [0, 150, 300], "val_loss": [6.2, 2.0, 1.33]}, 1.33, None),
                 (None, 0.8, None), 0.63))
def _03_1(answer):
    if not (isinstance(answer, tuple) and len(answer) == 3):
        return wrong_type("a tuple (history, lowest, first_below)", answer)
    run, lowest, first_below = answer
    curve = _loss_curve(run)
    if curve is None:
        return wrong_type("a PretrainHistory or a stored run with 'iter' and 'val_loss'", run)
    iters, losses = curve
    if len(iters) != len(losses) or len(losses) < 2:
        return Say("the run needs at least two evaluations of the validation loss",
                   "这次训练至少要有两次验证集损失的评估")
    if max(iters) < LONG_RUN:
        return Say(f"this run stops at iteration {max(iters)}; train for at least {LONG_RUN} iterations "
                   "(or use the stored run)", f"这次训练停在第 {max(iters)} 步；请至少训练 {LONG_RUN} 步（或用存好的训练）")
    problem = in_range(lowest, min(losses) - 0.002, min(losses) + 0.002,
                       Say("the lowest validation loss of this run", "这次训练最低的验证集损失"))
    if problem:
        return problem
    below = [i for i, loss in zip(iters, losses) if loss < _bundled_val_loss()]
    truth = below[0] if below else None
    if first_below != truth:
        return Say(f"{first_below!r} is not the first evaluated iteration whose validation loss is below the bundled "
                   "model's (None when there is none)",
                   f"{first_below!r} 不是验证集损失第一次低于自带模型的那一步（从未低于则为 None）")
    return None


ASKING = {1: True, 2: False, 3: False, 4: True}


@exercise("03.2", "facts",
          asks=Say("after sampling the bundled base model (the panel's temperature 0.8 and top_k 40) for every person of "
                   "world.people with the three prompts, mark each statement True or False",
                   "用三种提示、对 world.people 里的每个人从自带的基座模型采样（控制面板的温度 0.8、top_k 40）之后，"
                   "判断每条陈述是对（True）还是错（False）"),
          statements=(Say("Of the three prompts, the bare name (\"Ada Lin\") leads to the person's right town most often.",
                          "三种提示里，只给名字（\"Ada Lin\"）最常引出这个人正确的城镇。"),
                      Say("After \"Where does Ada Lin live?\", more than a quarter of the samples name the right town.",
                          "在 \"Where does Ada Lin live?\" 之后，超过四分之一的样本说出了正确的城镇。"),
                      Say("After \"Q: Where does Ada Lin live?\\nA:\", most samples name the right town in their first "
                          "sentence.",
                          "在 \"Q: Where does Ada Lin live?\\nA:\" 之后，大多数样本在第一句话里就说出了正确的城镇。"),
                      Say("A forum post (a line like \"zed12: ...\") follows each question prompt at least five times as "
                          "often as it follows the bare name.",
                          "两种问句提示之后出现论坛帖子（形如 \"zed12: ...\" 的一行）的频率，都至少是只给名字时的五倍。")),
          hint=Say("sample a few continuations per person for each prompt; count those that contain p.town, and those "
                   "that match USER_POST (section 7)",
                   "对每种提示、每个人采样几个续写；数一数含有 p.town 的，以及匹配 USER_POST（第 7 节）的"),
          wrong=({1: True, 2: True, 3: True, 4: True}, {1: False, 2: False, 3: False, 4: True},
                 {1: True, 2: False, 3: False, 4: False}, {1: True}))
def _03_2(answer):
    return facts(answer, ASKING)


TOP_K = {1: True, 2: False, 3: True, 4: True, 5: True}


@exercise("03.3", "facts",
          asks=Say("after repeating the temperature sweep at temperature 1.5 with top_k = 1, 5, 40 and 0 (off), "
                   "mark each statement True or False",
                   "在温度 1.5 下用 top_k = 1、5、40 和 0（关闭）重复温度扫描之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("With top_k = 1 every sample is the same, and the town accuracy equals greedy decoding's.",
                          "top_k = 1 时所有样本都一样，城镇正确率等于贪心解码的。"),
                      Say("With top_k = 5 the town accuracy is back at greedy decoding's.",
                          "top_k = 5 时城镇正确率回到了贪心解码的水平。"),
                      Say("With top_k = 5 the town accuracy is higher than with top_k = 40.",
                          "top_k = 5 时的城镇正确率高于 top_k = 40 时的。"),
                      Say("With top_k = 40 the town accuracy is within 10 points of top-k off.",
                          "top_k = 40 时的城镇正确率与关闭 top-k 时相差不到 10 个百分点。"),
                      Say("With top_k = 5 at least three samples in four are still distinct.",
                          "top_k = 5 时仍有至少四分之三的样本互不相同。")),
          hint=Say("give temperature_sweep a top_k argument and pass it to both base.generate calls; compare with the "
                   "row of temperature 0",
                   "给 temperature_sweep 加一个 top_k 参数，并把它传给两处 base.generate；再与温度 0 那一行比较"),
          wrong=({1: True, 2: True, 3: True, 4: True, 5: True}, {1: True, 2: False, 3: False, 4: True, 5: True},
                 {1: False, 2: False, 3: True, 4: True, 5: False}, {1: True}))
def _03_3(answer):
    return facts(answer, TOP_K)
