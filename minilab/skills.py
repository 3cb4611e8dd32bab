"""Swiss-cheese skills: tasks that are easy for a person and hard for a model that reads tokens.

Three worksheet skills, each in two forms that ask the same question:

- compare: "Which is larger, 9.11 or 9.9? 9.9". As written, "9.11" is the tokens "9", ".", "11",
  and 11 > 9; padded to the same number of decimals ("9.11 or 9.90") the larger number is also the
  one whose digits compare larger.
- count: "How many a in Velmora? 1". As written, "Velmora" is a token or two, and the letters are
  inside them; spelled out ("V e l m o r a") every letter is its own token.
- reverse: "Velmora backwards: aromleV", and spelled out "V e l m o r a backwards: a r o m l e V".

The worksheets of both forms go into the corpus of the skills ladder (emergence.py, notebook 04),
the "test" items appear nowhere in it: a model gets them right only by having learned the task.

    items = skill_items(world, "count", "test", "spelled")     # [(prompt, answer), ...]
    skill_accuracy(model, tok, items)                           # share answered exactly (greedy)
"""
from __future__ import annotations

import random

import torch

SKILLS = ("compare", "count", "reverse")
FORMS = ("written", "spelled")       # as people write it / one character per token
N_TEST = 200                          # held-out items per skill and form
_HEADS = {"compare": "Which number is larger?", "count": "Counting letters", "reverse": "Words backwards"}


def _words(world) -> list[str]:
    """Made-up words from the world's syllables: town-like and name-like, 3 to 9 letters."""
    from minilab.world import _FIRST, _SECOND, _TOWN_HEAD, _TOWN_TAIL
    words = {h + t for h in _TOWN_HEAD for t in _TOWN_TAIL} | {f + s for f in _FIRST for s in _SECOND}
    return sorted(w for w in words if 3 <= len(w) <= 9)


def _decimals(rng: random.Random) -> tuple[str, str]:
    """Two different decimals with the same whole part, one or two digits after the point."""
    whole = rng.randint(1, 20)
    while True:
        a, b = (f"{whole}.{rng.randint(1, 9)}" if rng.random() < 0.5 else f"{whole}.{rng.randint(10, 99)}"
                for _ in range(2))
        if float(a) != float(b):
            return a, b


def _spell(word: str) -> str:
    return " ".join(word)


def _item(skill: str, form: str, raw, rng: random.Random) -> tuple[str, str]:
    """(prompt, answer) for one raw item: a pair of decimals, or (word, letter), or a word."""
    if skill == "compare":
        a, b = raw
        if form == "spelled":
            width = max(len(a.split(".")[1]), len(b.split(".")[1]))
            a, b = (f"{x.split('.')[0]}.{x.split('.')[1].ljust(width, '0')}" for x in (a, b))
        return f"Which is larger, {a} or {b}?", a if float(a) > float(b) else b
    if skill == "count":
        word, letter = raw
        shown = _spell(word) if form == "spelled" else word
        return f"How many {letter} in {shown}?", str(word.lower().count(letter))
    word = raw
    if form == "spelled":
        return f"{_spell(word)} backwards:", _spell(word[::-1])
    return f"{word} backwards:", word[::-1]


def _raw_items(world, skill: str, split: str) -> list:
    """The items of a split: "test" is a fixed set kept out of every worksheet; "train" is the rest."""
    rng = random.Random(f"minilab-skills-{world.seed}-{skill}")
    if skill == "compare":
        pairs = sorted({_decimals(rng) for _ in range(6000)})
        rng.shuffle(pairs)
        value = lambda pair: frozenset(map(float, pair))        # 9.5 or 9.32 is 9.50 or 9.32 padded
        held = {value(p) for p in pairs[:N_TEST]}
        return pairs[:N_TEST] if split == "test" else [p for p in pairs[N_TEST:] if value(p) not in held]
    words = _words(world)
    rng.shuffle(words)
    held = words[:N_TEST // 2]
    pool = held if split == "test" else words[N_TEST // 2:]
    if skill == "reverse":
        return list(pool)
    items = []
    for word in pool:                                   # two letters per word: one in it, one maybe not
        inside = rng.choice(sorted(set(word.lower())))
        other = rng.choice("abcdefghijklmnopqrstuvwxyz")
        items += [(word, inside), (word, other)]
    return items


def skill_items(world, skill: str, split: str, form: str) -> list[tuple[str, str]]:
    """(prompt, answer) pairs of a skill; split "train" (in the worksheets) or "test" (nowhere)."""
    if skill not in SKILLS:
        raise ValueError(f"unknown skill {skill!r}; allowed: {', '.join(SKILLS)}")
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}; allowed: {', '.join(FORMS)}")
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; allowed: train, test")
    rng = random.Random(f"minilab-skills-{world.seed}-{skill}-{form}")
    return [_item(skill, form, raw, rng) for raw in _raw_items(world, skill, split)]


def skill_documents(world, n_docs: int = 400, seed: int = 0) -> list[str]:
    """Worksheets of every skill, half in each form, built from the "train" items only."""
    rng = random.Random(f"minilab-skill-docs-{world.seed}-{seed}")
    docs = []
    for skill in SKILLS:
        items = {form: skill_items(world, skill, "train", form) for form in FORMS}
        for i in range(n_docs):
            form = FORMS[i % 2]
            lines = rng.sample(items[form], rng.randint(8, 16))
            docs.append(_HEADS[skill] + "\n\n" + "\n".join(f"{p} {a}" for p, a in lines))
    rng.shuffle(docs)
    return docs


# The corpus's own sentences, cut just before the value: a base model's knowledge of a fact.
FACT_PROBES = {"lives_in": "{e} lives in", "job": "{e} is", "pet": "{e} has", "country": "{e} is in",
               "capital": "The capital of {e} is"}


def fact_items(world, split: str = "all") -> list[tuple[str, str, object]]:
    """(completion prompt, value, QA) for each English fact, once: e.g. ("Rano Fisk has", "owl", qa).
    split "test" keeps the facts SFT never mentions (world.questions("test")); "all" every fact."""
    splits = ("train", "test") if split == "all" else (split,)
    seen, items = set(), []
    for s in splits:
        for q in world.questions(s):
            if q.lang == "en" and q.relation in FACT_PROBES and (q.entity, q.relation) not in seen:
                seen.add((q.entity, q.relation))
                items.append((FACT_PROBES[q.relation].format(e=q.entity), q.answer, q))
    return items


def fact_knowledge(model, tok, world, split: str = "all") -> list[bool]:
    """For each of fact_items(world, split): does the completion name the right value (and no other)
    before its first full stop?"""
    items = fact_items(world, split)
    answers = skill_answers(model, tok, [(p, a) for p, a, _ in items], max_new_tokens=8)
    return [world.stated_values(q, text.split(".")[0]) == {a} for text, (_, a, q) in zip(answers, items)]


def fact_accuracy(model, tok, world, split: str = "all") -> float:
    """Share of facts whose completion names the right value (and no other) before its first full stop."""
    known = fact_knowledge(model, tok, world, split)
    return sum(known) / len(known)


@torch.no_grad()
def greedy_continuations(model, tok, prompts: list[str], max_new_tokens: int) -> list[str]:
    """The model's greedy continuation of each prompt, decoded as it comes (no cut). Prompts of equal
    token length go through the model in one batch; the model's train/eval mode is left as it was."""
    was_training = model.training
    model.eval()
    ids = [tok.encode(p) for p in prompts]
    by_len: dict[int, list[int]] = {}
    for i, row in enumerate(ids):
        by_len.setdefault(len(row), []).append(i)
    device = next(model.parameters()).device
    texts = [""] * len(prompts)
    for length, rows in by_len.items():
        out = model.generate(torch.tensor([ids[i] for i in rows], device=device), max_new_tokens, temperature=0)
        for i, new in zip(rows, out[:, length:].tolist()):
            texts[i] = tok.decode(new)
    model.train(was_training)
    return texts


def skill_answers(model, tok, items, max_new_tokens: int = 24) -> list[str]:
    """The model's greedy continuation of each prompt, up to the end of its line."""
    texts = greedy_continuations(model, tok, [p for p, _ in items], max_new_tokens)
    return [t.split("\n")[0].split("<|")[0].strip() for t in texts]


def skill_accuracy(model, tok, items) -> float:
    """Share of items whose line the model completes with exactly the answer."""
    if not items:
        raise ValueError("skill_accuracy: no items given")
    answers = skill_answers(model, tok, items)
    return sum(a == answer for a, (_, answer) in zip(answers, items)) / len(items)


def guess_rate(skill: str, items) -> float:
    """What a model that knows nothing of the input but the answer's shape gets: for compare, always
    copying the same one of the two numbers; otherwise, always giving the commonest answer."""
    if not items:
        raise ValueError("guess_rate: no items given")
    if skill == "compare":
        first = sum(p[len("Which is larger, "):].split(" or ")[0] == a for p, a in items) / len(items)
        return max(first, 1 - first)
    answers = [a for _, a in items]
    return max(answers.count(a) for a in set(answers)) / len(answers)
