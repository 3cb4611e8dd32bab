"""Notebook 02 (a tiny GPT): the exercises' checkers."""
from __future__ import annotations

import functools
import math

import torch

from minilab.exercises import Say, exercise, facts, in_range, wrong_type

SUM_LINE = "23 + 45 = 68"


@functools.cache
def _attention_argmax(line: str) -> tuple[int, ...]:
    """For the token holding '=' in `line`, under base-nano: per layer, the position it attends most (mean over heads)."""
    from minilab.checkpoint import load_checkpoint
    from minilab.model import apply_rotary
    model, tok, _ = load_checkpoint("base-nano")
    ids = tok.encode(line)
    q_pos = max(i for i in range(len(ids)) if "=" in tok.decode([ids[i]]))
    idx = torch.tensor([ids])
    B, T = idx.shape
    found = []
    with torch.no_grad():
        x = model.wte(idx)
        for block in model.blocks:
            h = block.norm_1(x)
            C, nh = h.shape[-1], block.attn.n_head
            hs = C // nh
            q, k, _ = (h @ block.attn.c_attn.weight.T).split(C, dim=-1)
            heads = lambda t: t.view(B, T, nh, hs).transpose(1, 2)                  # noqa: E731
            cos, sin = model.rope_cos[:T], model.rope_sin[:T]
            q, k = apply_rotary(heads(q), cos, sin), apply_rotary(heads(k), cos, sin)
            scores = q @ k.transpose(-2, -1) / math.sqrt(hs)
            future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
            att = scores.masked_fill(future, float("-inf")).softmax(dim=-1)      # (B, nh, T, T)
            found.append(int(att[0, :, q_pos].mean(0).argmax()))
            x = block(x, model.rope_cos[:T, None, None, :], model.rope_sin[:T, None, None, :])
    return tuple(found)


@exercise("02.1", "number",
          asks=Say(f'a list, one position per layer of base-nano: where the token holding "=" in "{SUM_LINE}" '
                   "puts the most attention (weights averaged over the heads); positions count from 0",
                   f"一个列表，base-nano 每层一个位置：在“{SUM_LINE}”里，含“=”的 token 把最多的注意力"
                   "（各头的权重取平均）放在哪个位置上；位置从 0 开始数"),
          hint=Say("use attention_weights(block, h) layer by layer as in section 7, take the row of the '=' token, "
                   "average over the head dimension and take argmax; h is the block's norm_1 of the residual stream",
                   "仿照第 7 节逐层调用 attention_weights(block, h)，取“=”那一行，在头的维度上取平均再取 argmax；"
                   "h 是残差流经过该模块 norm_1 的结果"),
          wrong=([0, 0], "3", [99, 99]))
def _02_1(answer):
    if not isinstance(answer, (list, tuple)) or not all(isinstance(p, int) for p in answer):
        return wrong_type("a list of integer positions", answer)
    truth = _attention_argmax(SUM_LINE)
    if len(answer) != len(truth):
        return Say(f"base-nano has {len(truth)} layers; give one position per layer",
                   f"base-nano 有 {len(truth)} 层，每层给一个位置")
    wrong = [layer for layer, (a, b) in enumerate(zip(answer, truth)) if a != b]
    if wrong:
        return Say(f"the position of layer(s) {wrong} is not the one that gets the most attention",
                   f"第 {wrong} 层给出的位置不是得到最多注意力的那个")
    return None


NO_POSITIONS = {1: True, 2: False, 3: True, 4: False}


@exercise("02.2", "facts",
          asks=Say("after switching the rotation off (cos = 1, sin = 0), mark each statement True or False",
                   "关掉旋转（cos = 1, sin = 0）之后，判断每条陈述是对（True）还是错（False）"),
          statements=(Say("The score between a query and a key no longer depends on how far apart they are.",
                          "查询和键之间的得分不再取决于它们相隔多远。"),
                      Say("The row of \" in\" can still tell the name's first mention from its second.",
                          "\" in\" 那一行仍然能分清名字的第一次出现和第二次出现。"),
                      Say("Shuffling the tokens before the last one leaves the last position's vector after the "
                          "first block unchanged.",
                          "把最后一个 token 之前的 token 打乱顺序，最后一个位置经过第一个模块后的向量不变。"),
                      Say("Shuffling them leaves the whole model's logits at the last position unchanged.",
                          "打乱它们之后，整个模型在最后一个位置的 logits 也不变。")),
          hint=Say("try it on the model: shuffle idx[:, :-1], compare the last position after model.blocks[0] and at the "
                   "end; which prefix did each earlier position see?",
                   "在模型上试试：打乱 idx[:, :-1]，比较最后一个位置在 model.blocks[0] 之后和整个模型末端的结果；"
                   "前面每个位置看到的前缀是什么？"),
          wrong=({1: True, 2: False, 3: True, 4: True}, {1: False, 2: False, 3: False, 4: False}, {1: True}))
def _02_2(answer):
    return facts(answer, NO_POSITIONS)


@exercise("02.3", "number",
          asks=Say("a tuple (L, C, ratio): a model with about 10M parameters and a 512-token vocabulary "
                   "(n_head = C // 32), and its training FLOPs per token divided by micro's",
                   "一个元组 (L, C, ratio)：一个约 1000 万参数、词表 512 的模型（n_head = C // 32），"
                   "以及它每个 token 的训练 FLOPs 除以 micro 的"),
          hint=Say("solve V·C + 12·L·C² ≈ 10M for a few depths L; check with count_params(GPT(size_config('mini', 512, "
                   "n_layer=L, n_embd=C, n_head=C // 32))) and flops_per_token",
                   "对几个深度 L 解 V·C + 12·L·C² ≈ 10M；用 count_params(GPT(size_config('mini', 512, n_layer=L, "
                   "n_embd=C, n_head=C // 32))) 和 flops_per_token 检查"),
          wrong=((2, 64, 1.0), (4, 128, 1.0), "10M", (8, 320, 3.0)))
def _02_3(answer):
    from minilab.config import size_config
    from minilab.model import GPT, count_params, flops_per_token
    if not (isinstance(answer, tuple) and len(answer) == 3 and all(isinstance(v, int) for v in answer[:2])):
        return wrong_type("a tuple (L, C, ratio) with integers L and C", answer)
    L, C, ratio = answer
    if L < 1 or C < 32 or C % 32:
        return Say("L must be at least 1 and C a multiple of 32 (heads of 32 channels)",
                   "L 至少为 1，C 必须是 32 的倍数（每个头 32 个通道）")
    config = size_config("mini", 512, n_layer=L, n_embd=C, n_head=C // 32)
    n = count_params(GPT(config))
    problem = in_range(n / 1e6, 8.5, 11.5, Say("the parameter count in millions of your (L, C)",
                                               "你的 (L, C) 的参数量（百万）"))
    if problem:
        return problem
    truth = flops_per_token(config) / flops_per_token(size_config("micro", 512))
    return in_range(ratio, truth * 0.98, truth * 1.02, Say("the FLOPs ratio to micro of your (L, C)",
                                                            "你的 (L, C) 与 micro 的 FLOPs 之比"))
