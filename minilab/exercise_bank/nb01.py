"""Notebook 01 (tokenization): the exercises' checkers."""
from __future__ import annotations

import functools
import re

from minilab.exercises import Say, close_to, exercise, wrong_type
from minilab.tokenizer import BPETokenizer, split_chunks

WORKSHEET_LINE = re.compile(r"\d+ \+ \d+ = \d+")        # "23 + 45 = 68", a line of an arithmetic worksheet


@functools.cache
def _documents() -> tuple[str, ...]:
    from minilab.world import make_world
    return tuple(make_world(0).documents())


@functools.cache
def _fact_pairs() -> tuple[tuple[str, str], ...]:
    """Section 10's facts: (English answer, Chinese answer) for every fact asked about (sums left out)."""
    from minilab.world import make_world
    world, pairs = make_world(0), {}
    for qa in world.questions("train") + world.questions("test"):
        if qa.relation != "add":
            pairs.setdefault((qa.entity, qa.relation), {}).setdefault(qa.lang, world.render_answer(qa))
    return tuple((p["en"], p["zh"]) for p in pairs.values())


def _zh_en(tok) -> float:
    """Tokens of the Chinese answers divided by tokens of the English ones (section 10's ratio)."""
    pairs = _fact_pairs()
    return sum(len(tok.encode(zh)) for _, zh in pairs) / sum(len(tok.encode(en)) for en, _ in pairs)


@functools.cache
def _bundled_merges() -> tuple:
    from minilab.checkpoint import data_dir
    from minilab.tokenizer import load_tokenizer
    return tuple(load_tokenizer(data_dir() / "checkpoints" / "base-nano" / "tokenizer.json").merges.items())


@exercise("01.1", "number",
          asks=Say("a tuple (tok, bytes_per_token, zh_en): your tokenizer with vocab_size = 1024 trained on the corpus, "
                   "its bytes per token on `sample` (section 5) and its Chinese/English tokens per fact (section 10)",
                   "一个元组 (tok, bytes_per_token, zh_en)：你在语料上训练的 vocab_size = 1024 的分词器、"
                   "它在 `sample`（第 5 节）上每个 token 的字节数，以及它的中文/英文每个事实的 token 数之比（第 10 节）"),
          hint=Say("tok = BPETokenizer.train(corpus, vocab_size=1024); bytes: len(sample.encode('utf-8')) / "
                   "len(tok.encode(sample)); the ratio: redo section 10's sums with tok.encode",
                   "tok = BPETokenizer.train(corpus, vocab_size=1024)；字节数：len(sample.encode('utf-8')) / "
                   "len(tok.encode(sample))；比值：用 tok.encode 重做第 10 节的求和"),
          wrong=((BPETokenizer({}), 1.0, 1.5), ("tok", 2.6, 1.6), (None, 1.83, 1.45), (2.6, 1.6)))
def _01_1(answer):
    if not (isinstance(answer, tuple) and len(answer) == 3):
        return wrong_type("a tuple (tok, bytes_per_token, zh_en)", answer)
    tok, bytes_per_token, zh_en = answer
    if not isinstance(tok, BPETokenizer):
        return wrong_type("a BPETokenizer as the first item", tok)
    if tok.vocab_size != 1024:
        return Say(f"your tokenizer has {tok.vocab_size} ids; train it with vocab_size=1024",
                   f"你的分词器有 {tok.vocab_size} 个 id；请用 vocab_size=1024 训练")
    bundled = _bundled_merges()
    if tuple(tok.merges.items())[:len(bundled)] != bundled:
        return Say("your tokenizer's first merges are not those of the world's corpus; train it on `corpus`",
                   "你的分词器的前几次合并与世界语料的不同；请在 `corpus` 上训练")
    sample = "\n\n".join(_documents())
    measured = [len(s.encode("utf-8")) / len(tok.encode(s)) for s in (sample[:100_000], sample[:300_000])]
    what = Say("the bytes per token of your tokenizer on `sample`", "你的分词器在 `sample` 上每个 token 的字节数")
    problems = [close_to(bytes_per_token, m, 0.01, what) for m in measured]     # fast mode's sample or the default one
    if all(problems):
        return problems[0]
    return close_to(zh_en, _zh_en(tok), 0.01, Say("the Chinese/English tokens per fact of your tokenizer",
                                                  "你的分词器的中文/英文每个事实的 token 数之比"))


@functools.cache
def _chinese_only_ratio() -> float:
    chinese = [d for d in _documents() if any("\u4e00" <= ch <= "\u9fff" for ch in d)]
    return _zh_en(BPETokenizer.train("<|endoftext|>".join(chinese), vocab_size=512))


@exercise("01.2", "number",
          asks=Say("a number: under a tokenizer trained on the Chinese documents only (vocab_size = 512), the tokens of "
                   "section 10's Chinese answers divided by the tokens of the English ones",
                   "一个数：用只在中文文档上训练的分词器（vocab_size = 512），第 10 节中文答案的 token 数除以英文答案的 token 数"),
          hint=Say("tok_zh = BPETokenizer.train('<|endoftext|>'.join(chinese_docs), vocab_size=512); sum "
                   "len(tok_zh.encode(p['zh'])) and len(tok_zh.encode(p['en'])) over fact_pairs.values()",
                   "tok_zh = BPETokenizer.train('<|endoftext|>'.join(chinese_docs), vocab_size=512)；对 fact_pairs.values() "
                   "分别累加 len(tok_zh.encode(p['zh'])) 和 len(tok_zh.encode(p['en']))"),
          wrong=(1.449, 1.0, 1.2, 0.5, "English"))
def _01_2(answer):
    return close_to(answer, _chinese_only_ratio(), 0.02, Say("the Chinese/English ratio under the Chinese-trained tokenizer",
                                                             "中文训练的分词器下的中文/英文之比"))


@functools.cache
def _per_digit_ratio() -> float:
    lines = [line for d in _documents() for line in d.split("\n") if WORKSHEET_LINE.fullmatch(line)]
    chunks = [split_chunks(line) for line in lines]          # GPT-4 has one token for each of these chunks
    grouped = sum(len(c) for c in chunks)
    per_digit = sum(len(piece) if piece.isdigit() else 1 for c in chunks for piece in c)
    return per_digit / grouped


@exercise("01.3", "number",
          asks=Say("a number: how many times longer the corpus's worksheet lines (\"23 + 45 = 68\") would be with one token "
                   "per digit than under GPT-4, which keeps each group of up to three digits as one token",
                   "一个数：如果每个数字单独一个 token，语料里的练习题行（\"23 + 45 = 68\"）会比在 GPT-4 下长多少倍"
                   "（GPT-4 把每组最多三位的数字当作一个 token）"),
          hint=Say("the lines: re.fullmatch(r'\\d+ \\+ \\d+ = \\d+', line) over the lines of every document; under GPT-4 each "
                   "chunk of split_chunks(line) is one token; one token per digit turns a chunk of k digits into k tokens",
                   "这些行：对每个文档的每一行做 re.fullmatch(r'\\d+ \\+ \\d+ = \\d+', line)；在 GPT-4 下 split_chunks(line) "
                   "的每个块是一个 token；每个数字一个 token 时，k 位数字的块变成 k 个 token"),
          wrong=(1.07, 1.0, 2.0, 3.0, [1.37]))
def _01_3(answer):
    return close_to(answer, _per_digit_ratio(), 0.02, Say("the length ratio, one token per digit to GPT-4",
                                                          "每个数字一个 token 与 GPT-4 的长度之比"))
