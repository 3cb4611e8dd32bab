"""The Swiss-cheese skills (minilab.skills): held-out items stay out of the worksheets, the two forms
ask the same question, and the probe reads an answer exactly."""
import pytest
import torch

from minilab import skills
from minilab.checkpoint import load_checkpoint
from minilab.world import make_world


@pytest.fixture(scope="module")
def world():
    return make_world(0)


@pytest.mark.parametrize("skill", skills.SKILLS)
def test_held_out_items_appear_in_no_worksheet_and_both_forms_agree(world, skill):
    docs = "\n".join(skills.skill_documents(world))
    for form in skills.FORMS:
        test = skills.skill_items(world, skill, "test", form)
        train = skills.skill_items(world, skill, "train", form)
        assert len(test) >= 100 and len(train) > len(test)
        assert not {p for p, _ in test} & {p for p, _ in train}
        assert not [p for p, _ in test if f"\n{p} " in docs], "a held-out item is in the corpus"
        assert any(f"\n{p} {a}" in docs for p, a in train[:50]), "the worksheets hold the training items"
    written, spelled = (skills.skill_items(world, skill, "test", f) for f in skills.FORMS)
    for (pw, aw), (ps, a_s) in zip(written, spelled):
        if skill == "compare":
            assert float(aw) == float(a_s) and max(map(float, pw[17:-1].split(" or "))) == float(aw)
        elif skill == "count":
            word = pw.split(" in ")[1][:-1]
            assert aw == a_s == str(word.lower().count(pw.split()[2])) and ps.endswith(" ".join(word) + "?")
        else:
            assert aw == pw.split()[0][::-1] and a_s.replace(" ", "") == aw


def test_the_written_form_hides_what_the_spelled_form_shows(world):
    _, tok, _ = load_checkpoint("base-nano")
    (pw, _), (ps, _) = (skills.skill_items(world, "count", "test", f)[0] for f in skills.FORMS)
    word = pw.split(" in ")[1][:-1]
    assert len(tok.encode(" " + word)) < len(word)                         # letters share tokens as written
    assert len(tok.encode(" " + " ".join(word))) == len(word)              # one token per letter spelled out
    a, b = skills.skill_items(world, "compare", "test", "written")[0][0][17:-1].split(" or ")
    assert "." in {tok.decode([i]) for i in tok.encode(a)}                  # "9.11" is "9", ".", "11"


class Oracle(torch.nn.Module):
    """A stand-in model that writes a fixed text after each prompt: the probe's parsing, alone."""
    def __init__(self, tok, replies):
        super().__init__()
        self.tok, self.replies, self.w = tok, replies, torch.nn.Parameter(torch.zeros(1))

    def generate(self, idx, n, temperature=1.0):
        rows = [row + self.tok.encode(self.replies[self.tok.decode(row)])[:n] for row in idx.tolist()]
        width = max(map(len, rows))
        return torch.tensor([r + [0] * (width - len(r)) for r in rows])


def test_skill_accuracy_reads_the_line_exactly(world):
    _, tok, _ = load_checkpoint("base-nano")
    items = skills.skill_items(world, "reverse", "test", "written")[:6]
    right = {p: f" {a}\nWords" for p, a in items}
    assert skills.skill_accuracy(Oracle(tok, right), tok, items) == 1.0
    half = {p: f" {a}x\n" if i % 2 else f" {a}\n" for i, (p, a) in enumerate(items)}
    assert skills.skill_accuracy(Oracle(tok, half), tok, items) == 0.5
    with pytest.raises(ValueError, match="unknown skill 'spelling'; allowed: compare, count, reverse"):
        skills.skill_items(world, "spelling", "test", "written")
    with pytest.raises(ValueError, match="unknown form"):
        skills.skill_items(world, "count", "test", "tokens")


def test_fact_probe_reads_the_bundled_models_knowledge(world):
    base, tok, _ = load_checkpoint("base-micro")
    items = skills.fact_items(world, "test")
    assert len(items) == 50 and items[0][0].endswith((" has", " is", " in"))
    assert skills.fact_accuracy(base, tok, world, "test") >= 0.7          # notebook 05 measures 90%
    sft, _, _ = load_checkpoint("sft-micro")
    assert skills.fact_accuracy(sft, tok, world, "test") <= 0.7           # ... and SFT moved it (50%)


def test_guess_rate_is_what_answering_blind_gets(world):
    assert skills.guess_rate("count", [("a", "1"), ("b", "0"), ("c", "1"), ("d", "1")]) == 0.75
    compare = skills.skill_items(world, "compare", "test", "written")
    rate = skills.guess_rate("compare", compare)
    assert 0.5 <= rate < 0.6                                    # the larger number is first about half the time
    assert skills.guess_rate("reverse", skills.skill_items(world, "reverse", "test", "written")) <= 0.02
