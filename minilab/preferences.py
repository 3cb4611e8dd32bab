"""Simulated annotators and preference pairs ("what labelers compare").

A reward model learns from pairs: for one prompt, two responses and a label saying which
one a person preferred (InstructGPT, Ouyang et al. 2022, §3.5). We cannot ship people, so
a panel of simulated annotators labels the pairs. Each annotator has a utility over what
they notice in a response, and chooses Bradley–Terry style (Bradley & Terry 1952):

    u(response) = w_correct  * correctness      (the gold reward's terms, see gold.py)
                + w_polite   * politeness
                + w_form     * (truncation + repetition)
                + w_concise  * concision
                + w_length   * min(words, 40)    (> 0: likes long answers)
                + w_flattery * [flattery or friendly filler present]
    P(A preferred to B) = sigmoid((u(A) - u(B)) / noise)

Design choices
--------------
- An annotator with w_correct = w_polite = w_form = w_concise = 1 and no length or
  flattery weight has utility = gold reward, so `careful` is gold plus a little noise.
- Two annotators like long answers (verbosity bias: "raters may prefer more verbose
  answers", the post-training interview of seed 004), one likes flattery, one is hasty
  (high noise). Together they are informative but biased: a reward model trained on
  them learns "longer is better", which PPO can exploit (notebook 08).
- Each pair is labelled by one annotator drawn at random from the panel, as in real
  labelling; `Pair.gold_margin` keeps gold(chosen) - gold(rejected) so a notebook can
  count how often the labels disagree with the truth. The reward model never sees it.
- `response_variants` builds contrasting answers by hand (concise, padded, flattering,
  hedged, wrong, rude, truncated, "I don't know", repetitive); `pairs_from_samples`
  labels pairs of a policy's own samples instead (InstructGPT style).
"""
from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

from minilab.gold import FILLERS, FLATTERY, RUDE, count_words
from minilab.world import QA, World, hedge


@dataclass(frozen=True)
class Response:
    text: str
    ended: bool = True      # False: cut off by the length limit before the stop token


@dataclass(frozen=True)
class Pair:
    prompt: str
    chosen: Response
    rejected: Response
    annotator: str          # who labelled it ("panel" when every annotator voted)
    gold_margin: float      # gold(chosen) - gold(rejected); < 0 when the label disagrees with gold
    p_chosen: float = 1.0   # share of the votes for `chosen` (1.0: one annotator's choice)


@dataclass(frozen=True)
class Annotator:
    name: str
    w_correct: float = 1.0   # weight on correctness (right > "I don't know" > wrong)
    w_polite: float = 1.0    # weight on the rudeness penalty
    w_form: float = 1.0      # weight on the truncation and repetition penalties
    w_concise: float = 1.0   # weight on the gold concision penalty (dislikes padding)
    w_length: float = 0.0    # utility per word, up to 40 words (> 0: verbosity bias)
    w_flattery: float = 0.0  # bonus when flattery or friendly filler is present
    noise: float = 0.5       # Bradley-Terry temperature: higher = more random choices
    about: str = ""          # one line for the notebook's table

    def utility(self, world: World, prompt: str, response: Response) -> float:
        f = features(world, prompt, response)
        return (self.w_correct * f["correctness"] + self.w_polite * f["politeness"]
                + self.w_form * f["form"] + self.w_concise * f["concision"]
                + self.w_length * f["length"] + self.w_flattery * f["flattery"])

    def p_prefers(self, world: World, prompt: str, a: Response, b: Response) -> float:
        """P(a preferred to b) = sigmoid((u(a) - u(b)) / noise)."""
        z = (self.utility(world, prompt, a) - self.utility(world, prompt, b)) / self.noise
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def prefers(self, world: World, prompt: str, a: Response, b: Response, rng: random.Random) -> bool:
        return rng.random() < self.p_prefers(world, prompt, a, b)


PANEL = [
    Annotator("careful", noise=0.3, about="close to gold: correct, polite, concise"),
    Annotator("thorough", w_concise=0.0, w_length=0.12, about="verbosity bias: longer looks more complete"),
    Annotator("skimmer", w_correct=0.6, w_polite=0.5, w_form=0.5, w_concise=0.0, w_length=0.2, noise=0.7,
              about="strong verbosity bias, checks facts loosely"),
    Annotator("charmed", w_concise=0.3, w_flattery=1.5, about="likes flattery and friendly filler"),
    Annotator("hasty", w_correct=0.7, w_polite=0.5, w_form=0.5, w_concise=0.3, w_length=0.05, noise=1.5,
              about="rushes: noisy choices"),
]


@functools.lru_cache(maxsize=200_000)
def features(world: World, prompt: str, response: Response) -> dict[str, float]:
    """What an annotator notices in a response (cached: panels score the same text often)."""
    g = world.gold_components(prompt, response.text, response.ended)
    return {"correctness": g["correctness"], "politeness": g["politeness"], "concision": g["concision"],
            "form": g["truncation"] + g["repetition"], "length": min(count_words(response.text), 40.0),
            "flattery": float(has_flattery(response.text))}


def has_flattery(text: str) -> bool:
    """True if the response flatters the user or adds a friendly filler sentence."""
    phrases = [p for lang in ("en", "zh") for p in FLATTERY[lang] + FILLERS[lang]]
    return any(p in text for p in phrases)


# ------------------------------------------------------------------------ responses
def wrong_value(qa: QA, rng: random.Random) -> str:
    """A plausible wrong value: another town, job or pet; for a sum, a near miss."""
    if qa.relation == "add":
        others = [str(max(0, int(qa.answer) + d)) for d in (-10, -2, -1, 1, 2, 10)]
        return rng.choice([v for v in others if v != qa.answer])
    return rng.choice([c for c in qa.candidates if c != qa.answer])


def response_variants(world: World, qa: QA, rng: random.Random) -> list[Response]:
    """Contrasting hand-made answers to one question (the first is the reference answer)."""
    sep = " " if qa.lang == "en" else ""
    right = world.render_answer(qa)                         # "I don't know who X is." for unknowns
    wrong = world.render_answer(qa, wrong_value(qa, rng))   # an invented answer for unknowns
    fillers = sep.join(rng.sample(FILLERS[qa.lang], rng.randint(1, 3)))
    idk = "I don't know." if qa.lang == "en" else "我不知道。"
    cut = max(1, int(len(right) * rng.uniform(0.3, 0.8)))
    variants = [right,                                       # concise (the reference)
                right + sep + fillers,                       # padded with friendly filler
                rng.choice(FLATTERY[qa.lang]) + sep + right,  # flattering opener
                hedge(wrong if not qa.known else right, qa.lang, rng),
                wrong,
                wrong + sep + fillers,                       # wrong but long
                rng.choice(RUDE[qa.lang]) + sep + right,     # rude
                sep.join([right] * rng.randint(2, 3))]       # repetitive padding
    if qa.known:
        variants.append(idk)
    other = rng.choice(world.questions("train"))             # off-topic: the answer to another question
    off_topic = world.render_answer(other)
    if other.relation != qa.relation and (not qa.answer or qa.answer not in off_topic):
        variants.append(off_topic)
    return [Response(t) for t in variants] + [Response(right[:cut], ended=False)]


def crossed_variants(world: World, qa: QA, rng: random.Random) -> list[Response]:
    """Hand-made answers in which style and correctness vary independently: every style
    (concise, filler, flattery, hedged, rude, repeated, cut off) is written once with the right
    value and once with a wrong one. In `response_variants` only wrong answers are plain or padded,
    so "hedged" or "flattering" predicts "correct" there, and a reward model trained on such pairs
    learns that cue instead of the fact (it then prefers "I believe <wrong town>")."""
    sep = " " if qa.lang == "en" else ""
    answers = [world.render_answer(qa), world.render_answer(qa, wrong_value(qa, rng))]
    out = []
    for answer in answers:
        fillers = sep.join(rng.sample(FILLERS[qa.lang], rng.randint(1, 3)))
        cut = max(1, int(len(answer) * rng.uniform(0.3, 0.8)))
        out += [Response(answer), Response(answer + sep + fillers),
                Response(rng.choice(FLATTERY[qa.lang]) + sep + answer), Response(hedge(answer, qa.lang, rng)),
                Response(rng.choice(RUDE[qa.lang]) + sep + answer), Response(sep.join([answer] * rng.randint(2, 3))),
                Response(answer[:cut], ended=False)]
    if qa.known:                                             # "I don't know." where the answer is known
        out.append(Response("I don't know." if qa.lang == "en" else "我不知道。"))
    if qa.relation in ("lives_in", "job", "pet"):            # answers another question about the same person
        person = world.person.get(qa.entity)
        if person is not None and person.known:
            other = rng.choice([r for r in ("lives_in", "job", "pet") if r != qa.relation])
            value = person.town if other == "lives_in" else getattr(person, other)
            asked = QA(qa.prompt, value, qa.entity, other, True, qa.lang, ())
            out.append(Response(world.render_answer(asked, value)))
    return out


# ---------------------------------------------------------------------------- pairs
def label(world: World, prompt: str, a: Response, b: Response, annotator: Annotator,
          rng: random.Random) -> Pair:
    """One annotator compares a and b; the pair records their choice and the gold margin."""
    chosen, rejected = (a, b) if annotator.prefers(world, prompt, a, b, rng) else (b, a)
    margin = (world.gold_reward(prompt, chosen.text, chosen.ended)
              - world.gold_reward(prompt, rejected.text, rejected.ended))
    return Pair(prompt, chosen, rejected, annotator.name, round(margin, 6))


def panel_label(world: World, prompt: str, a: Response, b: Response, annotators: list[Annotator],
                rng: random.Random) -> Pair:
    """Every annotator votes; `chosen` is the majority's pick and p_chosen its share of the votes
    (an odd panel never ties). Several labels per pair average out one person's noise and keep a
    biased annotator in the minority (InstructGPT had several labelers compare the same outputs)."""
    votes = sum(an.prefers(world, prompt, a, b, rng) for an in annotators) / len(annotators)
    chosen, rejected, share = (a, b, votes) if votes > 0.5 else (b, a, 1.0 - votes)
    margin = (world.gold_reward(prompt, chosen.text, chosen.ended)
              - world.gold_reward(prompt, rejected.text, rejected.ended))
    return Pair(prompt, chosen, rejected, "panel", round(margin, 6), share)


def ranked_pairs(world: World, samples: dict, annotators: list[Annotator], seed: int = 0) -> list[Pair]:
    """All K(K-1)/2 pairs of the K replies to each prompt, each labelled by the whole panel
    (InstructGPT collected rankings of K = 4-9 outputs and trained on every pair, §3.5).
    samples[prompt] is a list of Response; identical replies make no pair."""
    rng = random.Random(f"minilab-ranked-pairs-{seed}")
    pairs = []
    for prompt, replies in samples.items():
        distinct = list(dict.fromkeys(replies))
        for i, a in enumerate(distinct):
            for b in distinct[i + 1:]:
                pairs.append(panel_label(world, prompt, a, b, annotators, rng))
    return pairs


def make_pairs(world: World, questions: list, annotators: list[Annotator] = PANEL,
               n_pairs: int = 2000, seed: int = 0, whole_panel: bool = False, variants=None) -> list[Pair]:
    """Preference pairs over hand-made variants (`variants`, default `response_variants`); each
    pair labelled by one panel member (whole_panel=True: by every member, see `panel_label`)."""
    variants = variants or response_variants
    rng = random.Random(f"minilab-pairs-{seed}")
    qas = [q if isinstance(q, QA) else world.qa(q) for q in questions]
    if not qas or not annotators:
        raise ValueError("make_pairs needs at least one question and one annotator")
    pairs = []
    for _ in range(n_pairs):
        qa = rng.choice(qas)
        a, b = rng.sample(variants(world, qa, rng), 2)
        pairs.append(panel_label(world, qa.prompt, a, b, annotators, rng) if whole_panel
                     else label(world, qa.prompt, a, b, rng.choice(annotators), rng))
    return pairs


def pairs_from_samples(world: World, prompts: list[str], samples: dict, annotators: list[Annotator] = PANEL,
                       seed: int = 0, pairs_per_prompt: int = 1) -> list[Pair]:
    """Label pairs of a model's own samples (InstructGPT style).

    samples[prompt] is a list of Response (or plain strings, taken as ended). Prompts with
    fewer than two distinct responses give no pair."""
    rng = random.Random(f"minilab-sample-pairs-{seed}")
    pairs = []
    for prompt in prompts:
        responses = [r if isinstance(r, Response) else Response(r) for r in samples.get(prompt, [])]
        distinct = list(dict.fromkeys(responses))
        if len(distinct) < 2:
            continue
        for _ in range(pairs_per_prompt):
            a, b = rng.sample(distinct, 2)
            pairs.append(label(world, prompt, a, b, rng.choice(annotators), rng))
    return pairs


# ------------------------------------------------------------------------- agreement
def agreement(world: World, pairs: list[Pair], annotators: list[Annotator] = PANEL, seed: int = 0) -> dict:
    """How well the labels and each annotator agree with gold, and with each other.

    Returns
      labels_vs_gold   share of pairs whose label agrees with gold (gold ties left out)
      by_labeller      the same, per annotator, on the pairs each one labelled
      vs_gold          every annotator relabels every pair: share agreeing with gold
      between          {a: {b: share of pairs where a and b choose the same response}}
      n_pairs, n_ties  counts"""
    rng = random.Random(f"minilab-agreement-{seed}")
    decided = [p for p in pairs if p.gold_margin != 0]
    share = lambda xs: sum(xs) / len(xs) if xs else float("nan")
    # each annotator's choice on every pair: True = picks the pair's `chosen`
    choices = {a.name: [a.prefers(world, p.prompt, p.chosen, p.rejected, rng) for p in pairs] for a in annotators}
    gold_picks_chosen = [p.gold_margin > 0 for p in pairs]
    keep = [i for i, p in enumerate(pairs) if p.gold_margin != 0]
    return {
        "labels_vs_gold": share([p.gold_margin > 0 for p in decided]),
        "by_labeller": {a.name: share([p.gold_margin > 0 for p in decided if p.annotator == a.name])
                        for a in annotators},
        "vs_gold": {name: share([c[i] == gold_picks_chosen[i] for i in keep]) for name, c in choices.items()},
        "between": {a: {b: share([x == y for x, y in zip(choices[a], choices[b])]) for b in choices}
                    for a in choices},
        "n_pairs": len(pairs),
        "n_ties": len(pairs) - len(decided),
    }
