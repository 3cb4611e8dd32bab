"""Exercises that check themselves: `check("07.1", answer)` says right, or what is wrong and a hint.

Every notebook ends with exercises. Each has a key ("07.1": notebook 07, exercise 1) and one of
three kinds of answer:

- **number**: a figure you measured or computed. The checker knows the range it must fall in,
  or recomputes it from what you pass along (your run's history), and says whether you are
  inside it, too high or too low.
- **code**: a function you wrote. The checker runs it on cases and shows the first case it gets
  wrong (input, what it returned, what was expected there).
- **facts**: an open question ("why ...?"). Think it through, then confirm the key facts: the
  answer is a dict {statement number: True or False}. The checker says which are wrong, never
  which way.

    from minilab.exercises import check, hint, show
    show("07")                  # the exercises of notebook 07 and what each expects
    check("07.2", {1: True, 2: False, 3: True})
    hint("07.2")

The checkers never print the answer. The solutions live in notebooks/solutions/ (executed in CI,
each solution passes its own checker). The messages follow `minilab.i18n.use_language`: English,
or Chinese in notebooks/zh/.

Writing an exercise: in minilab/exercise_bank/nbNN.py, decorate a test function with
`@exercise("NN.k", kind, asks=Say(...), hint=Say(...), wrong=(...))`: the test returns None when
the answer is right and a `Say` (English and Chinese) saying what is wrong when it is not; `wrong`
lists answers it must refuse, which the tests try.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from minilab.i18n import language


@dataclass(frozen=True)
class Say:
    """A message in both languages; shown in the one in use."""
    en: str
    zh: str

    def __str__(self) -> str:
        return self.zh if language() == "zh" else self.en


@dataclass(frozen=True)
class Exercise:
    key: str                                   # "07.2"
    kind: str                                  # "number", "code" or "facts"
    asks: Say                                  # what to pass to check(), in one line
    hint: Say
    test: Callable[[Any], Say | None]          # None: right; else what is wrong
    statements: tuple[Say, ...] = field(default=())   # facts: the statements to mark True or False
    wrong: tuple = field(default=())           # answers the checker must refuse (tests/test_exercises.py tries them)


EXERCISES: dict[str, Exercise] = {}
KINDS = ("number", "code", "facts")


def exercise(key: str, kind: str, asks: Say, hint: Say, statements=(), wrong=()):
    """Register the decorated test function as exercise `key`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def register(test):
        if key in EXERCISES:
            raise ValueError(f"exercise {key} is defined twice")
        if not wrong:
            raise ValueError(f"exercise {key}: give at least one wrong answer the checker must refuse")
        EXERCISES[key] = Exercise(key, kind, asks, hint, test, tuple(statements), tuple(wrong))
        return test
    return register


def _find(key: str) -> Exercise:
    _load()
    if key not in EXERCISES:
        known = ", ".join(sorted(EXERCISES))
        raise KeyError(f"no exercise {key!r}; the exercises are: {known}")
    return EXERCISES[key]


def check(key: str, answer: Any) -> bool:
    """Check `answer` to exercise `key`; prints right or what is wrong (with a hint), returns True when right."""
    ex = _find(key)
    try:
        problem = ex.test(answer)
    except Exception as error:                 # a student's function that raises is a wrong answer, said plainly
        problem = Say(f"checking your answer raised {type(error).__name__}: {error}",
                      f"检查你的答案时出错：{type(error).__name__}: {error}")
    if problem is None:
        print(f"✓ {key}: " + ("正确。" if language() == "zh" else "right."))
        return True
    print(f"✗ {key}: {problem}\n  " + ("提示：" if language() == "zh" else "hint: ") + str(ex.hint))
    return False


def hint(key: str) -> None:
    """Print the hint of exercise `key`."""
    print(f"{key}: {_find(key).hint}")


def show(notebook: str) -> None:
    """Print the exercises of a notebook ("07"): what each one asks you to pass to check()."""
    _load()
    keys = sorted(k for k in EXERCISES if k.split(".")[0] == notebook)
    if not keys:
        raise KeyError(f"notebook {notebook!r} has no exercises; notebooks with exercises: "
                       f"{sorted({k.split('.')[0] for k in EXERCISES})}")
    for key in keys:
        ex = EXERCISES[key]
        print(f"{key} ({ex.kind}): {ex.asks}")
        for i, statement in enumerate(ex.statements, 1):
            print(f"    {i}. {statement}")


# ----------------------------------------------------------------------------- answer checks

def wrong_type(expected: str, answer) -> Say:
    return Say(f"expected {expected}, got {type(answer).__name__} {answer!r:.60}",
               f"需要 {expected}，收到的是 {type(answer).__name__} {answer!r:.60}")


def in_range(answer, low: float, high: float, what: Say) -> Say | None:
    """None when `answer` is a number in [low, high]; else says too low / too high (not by how much)."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(float(answer)):
        return wrong_type("a finite number", answer)
    if answer < low:
        return Say(f"{answer:g} is too low for {what.en}", f"{answer:g} 作为{what.zh}偏低")
    if answer > high:
        return Say(f"{answer:g} is too high for {what.en}", f"{answer:g} 作为{what.zh}偏高")
    return None


def close_to(answer, truth: float, rel: float, what: Say) -> Say | None:
    """None when `answer` is within `rel` (relative) of `truth`, the figure recomputed from the student's data."""
    span = rel * max(abs(truth), 1e-9)
    return in_range(answer, truth - span, truth + span, what)


def facts(answer, truth: dict[int, bool]) -> Say | None:
    """`answer` marks statements True/False; names the wrong ones (not which way they should go)."""
    if not isinstance(answer, dict) or set(answer) != set(truth):
        return Say(f"pass a dict with one True/False per statement {sorted(truth)}, e.g. "
                   f"{{{', '.join(f'{k}: True' for k in sorted(truth))}}}",
                   f"请传入一个字典，为每条陈述 {sorted(truth)} 标上 True 或 False")
    if not all(type(v).__name__ in ("bool", "bool_") for v in answer.values()):   # numpy's comparisons give bool_
        return Say("mark each statement True or False", "每条陈述请标 True 或 False")
    answer = {k: bool(v) for k, v in answer.items()}
    wrong = [k for k in sorted(truth) if answer[k] != truth[k]]
    if wrong:
        return Say(f"statement(s) {wrong} are not marked right; the others are",
                   f"第 {wrong} 条标得不对，其余的对")
    return None


def first_failure(fn, cases, compare=None) -> Say | None:
    """Run `fn` on each (args, expected) case; name the first one it gets wrong."""
    if not callable(fn):
        return wrong_type("a function", fn)
    for args, expected in cases:
        got = fn(*args)
        if not (compare(got, expected) if compare else got == expected):
            shown = ", ".join(repr(a)[:80] for a in args)
            return Say(f"your function({shown}) returned {got!r:.80}; that is not right for this input",
                       f"你的函数({shown}) 返回了 {got!r:.80}，对这个输入不对")
    return None


def _load() -> None:
    """Import the exercise definitions (minilab/exercise_bank/nbNN.py, one module per notebook)."""
    from minilab import exercise_bank  # noqa: F401  (registers on import)
