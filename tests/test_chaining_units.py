"""The pipeline's preference data and the bundle build, with the models and the training replaced by tiny fakes:
what is checked is the chaining (what each stage gets, what is saved, in which order), not the learning."""
import copy
from pathlib import Path

import pytest
import torch

from minilab import bundle, pipeline
from minilab.chat import Sample
from minilab.checkpoint import load_checkpoint
from minilab.config import GPTConfig
from minilab.history import PPOHistory, PretrainHistory, SFTHistory
from minilab.model import GPT
from minilab.reward import RewardModel, load_reward_model
from minilab.tokenizer import CharTokenizer

FAKE_REPLIES = ["fake reply A", "fake reply B", "fake reply C", "fake reply D"]


def fake_sampler(model, tok, prompts, seed=0, **kwargs):
    """Four distinct replies to each prompt (sample_pairs asks for each prompt four times in a row)."""
    return [Sample(p, FAKE_REPLIES[(i + seed) % 4], True, [], []) for i, p in enumerate(prompts)]


def test_preference_data_is_variant_pairs_then_sample_pairs(world, monkeypatch):
    monkeypatch.setattr(pipeline, "sample_responses", fake_sampler)
    train, val = pipeline.preference_data(None, None, world, seed=3, n_variant_pairs=16, n_sample_prompts=8)
    # train: 16 hand-made pairs, then 2 pairs of samples for each of 8 prompts; held-out: an eighth of each
    assert len(train) == 16 + 8 * 2 and len(val) == 2 + 1 * 2
    for pairs, n_variants, split in ((train, 16, "train"), (val, 2, "test")):
        prompts = {q.prompt for q in world.questions(split)}
        assert all(p.prompt in prompts for p in pairs)
        assert not any(p.chosen.text in FAKE_REPLIES for p in pairs[:n_variants])
        assert all({p.chosen.text, p.rejected.text} <= set(FAKE_REPLIES) for p in pairs[n_variants:])
    assert len({p.prompt for p in train[16:]}) == 8
    assert pipeline.preference_data(None, None, world, seed=3, n_variant_pairs=16, n_sample_prompts=8) == (train, val)
    assert pipeline.preference_data(None, None, world, seed=4, n_variant_pairs=16, n_sample_prompts=8) != (train, val)


def tiny_gpt(tok) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=8, dropout=0.0))


def same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture
def tiny_stages(monkeypatch):
    """Every stage of the bundle replaced by one that returns at once; `calls` records what each stage got."""
    calls = {}

    def train_base(world, tok, size, max_iters, seed, lr, batch_size, progress):
        calls["base"] = dict(size=size, max_iters=max_iters, seed=seed, lr=lr, batch_size=batch_size)
        return tiny_gpt(tok), PretrainHistory(val_loss=[2.5])

    def train_sft_model(model, tok, world, max_iters, seed, progress):
        calls["sft"] = dict(model=copy.deepcopy(model), max_iters=max_iters)
        with torch.no_grad():
            model.wte.weight.add_(1.0)                         # SFT changes the weights
        return model, SFTHistory(loss=[1.0], gold=[0.1, 0.3], well_formed=[0.2, 0.9])

    def train_rm(sft_model, tok, world, max_iters, seed, progress, policies):
        calls["rm"] = dict(model=copy.deepcopy(sft_model), max_iters=max_iters, policies=policies)
        calls.setdefault("rm_policies", []).append([copy.deepcopy(p) for p in policies])
        rm = RewardModel(copy.deepcopy(sft_model))
        rm.reward_mean.fill_(0.5)
        return rm, None, {"accuracy": 0.75}

    def run_ppo(size, seed, progress, checkpoints, rm_size, **knobs):
        sft_model, tok, _ = load_checkpoint(Path(checkpoints) / f"sft-{size}")
        calls["ppo"] = dict(size=size, rm_size=rm_size, model=copy.deepcopy(sft_model), **knobs)
        with torch.no_grad():
            sft_model.wte.weight.add_(1.0)                     # PPO changes the weights
        return sft_model, tok, PPOHistory(kl=[0.5])

    monkeypatch.setattr(bundle, "run_ppo", run_ppo)
    monkeypatch.setattr(bundle, "evaluate_model", lambda model, tok, world, prompts, seed: ({"gold": 0.25}, []))
    monkeypatch.setattr(bundle, "build_tokenizer", lambda world: CharTokenizer.train("a tiny corpus"))
    monkeypatch.setattr(bundle, "budget", lambda size: dict(pretrain=2, sft=3, rm=4, pretrain_batch=5, lr=1e-3))
    monkeypatch.setattr(bundle, "train_base", train_base)
    monkeypatch.setattr(bundle, "train_sft_model", train_sft_model)
    monkeypatch.setattr(bundle, "train_rm", train_rm)
    return calls


def test_bundle_build_chains_the_stages_and_saves_each(tmp_path, tiny_stages):
    figures = bundle.build(sizes=("nano",), seed=7, out=tmp_path, progress=False)
    assert list(figures) == ["base-nano", "sft-nano", "rm-nano"]
    assert tiny_stages["base"] == dict(size="nano", max_iters=2, seed=7, lr=1e-3, batch_size=5)
    base, _, base_meta = load_checkpoint(tmp_path / "base-nano")
    sft_model, _, sft_meta = load_checkpoint(tmp_path / "sft-nano")
    rm, _, rm_meta = load_reward_model(tmp_path / "rm-nano")
    assert same_weights(tiny_stages["sft"]["model"], base)         # SFT starts from the base model
    assert same_weights(tiny_stages["rm"]["model"], sft_model)     # the reward model from the SFT model
    assert not same_weights(base, sft_model)
    assert rm.reward_mean.item() == 0.5
    assert (base_meta["stage"], base_meta["seed"], base_meta["figures"]["val_loss"]) == ("base", 7, 2.5)
    assert sft_meta["figures"] | {"seconds": 0} == {"loss": 1.0, "gold": 0.3, "well_formed": 0.9, "gold_base": 0.1,
                                                    "well_formed_base": 0.2, "iters": 3, "seconds": 0}
    assert rm_meta["figures"]["accuracy"] == 0.75 and rm_meta["figures"]["iters"] == 4


def test_bundle_build_of_one_stage_starts_from_the_saved_one_before(tmp_path, tiny_stages):
    bundle.build(sizes=("nano",), out=tmp_path, progress=False)
    saved_sft, _, _ = load_checkpoint(tmp_path / "sft-nano")
    tiny_stages.clear()
    figures = bundle.build(sizes=("nano",), out=tmp_path, stages=("rm",), progress=False)
    assert list(figures) == ["rm-nano"] and set(tiny_stages) == {"rm", "rm_policies"}
    assert same_weights(tiny_stages["rm"]["model"], saved_sft)


def test_bundle_reward_model_of_a_size_compares_the_replies_of_every_smaller_sft_model(tmp_path, tiny_stages):
    figures = bundle.build(sizes=("nano", "micro"), out=tmp_path, progress=False)
    assert list(figures)[-1] == "ppo-nano"                 # after rm-micro, its judge
    ppo, _, ppo_meta = load_checkpoint(tmp_path / "ppo-nano")
    assert same_weights(tiny_stages["ppo"]["model"], load_checkpoint(tmp_path / "sft-nano")[0])   # PPO starts from SFT
    assert not same_weights(ppo, tiny_stages["ppo"]["model"])
    assert tiny_stages["ppo"]["rm_size"] == "micro" and tiny_stages["ppo"]["batch_size"] == 256
    assert (ppo_meta["stage"], ppo_meta["figures"]["judge"], ppo_meta["figures"]["kl"]) == ("ppo", "rm-micro", 0.5)
    nano_sft, _, _ = load_checkpoint(tmp_path / "sft-nano")
    micro_sft, _, _ = load_checkpoint(tmp_path / "sft-micro")
    rm_nano, rm_micro = tiny_stages["rm_policies"]
    assert len(rm_nano) == 1 and same_weights(rm_nano[0], nano_sft)
    assert len(rm_micro) == 2 and same_weights(rm_micro[0], nano_sft) and same_weights(rm_micro[1], micro_sft)
    tiny_stages.clear()                       # rebuilding rm-micro alone loads sft-nano from disk
    bundle.build(sizes=("micro",), out=tmp_path, stages=("rm",), progress=False)
    (policies,) = tiny_stages["rm_policies"]
    assert len(policies) == 2 and same_weights(policies[0], nano_sft) and same_weights(policies[1], micro_sft)


def _card(gold_base, gold_sft, gold_ppo):
    seconds = {"world": 1.0, "tokenizer": 1.0, "pretrain": 70.0, "sft": 18.0, "reward_model": 50.0, "ppo": 12.0,
               "evaluation": 4.0}
    card = {"size": "nano", "seed": 0, "seconds": seconds, "val_loss": 0.63, "rm_acc_gold": 0.659,
            "rm_acc_gold_facts": 0.745, "rm_acc_gold_style": 0.569, "rm_acc_annotators": 0.6, "kl_ppo": 1.8,
            "ppo_iter_s": 0.5, "gold_base": gold_base, "gold_sft": gold_sft, "gold_ppo": gold_ppo,
            "wall_s": sum(seconds.values()), "samples": {n: [("Q?", "A.")] for n in ("base", "sft", "ppo")}}
    for name in ("base", "sft", "ppo"):
        card[f"well_formed_{name}"], card[f"gold_{name}_unseen"] = 0.9, -1.0
    return card


def test_the_report_card_says_in_words_whether_ppo_raised_gold_and_why_not():
    worse = pipeline.verdict(_card(-3.19, -0.27, -0.62))
    assert worse.startswith("SFT raised held-out gold by +2.92; PPO against this run's reward model changed it by -0.35:")
    assert "only 66% of the time (right vs wrong 74%, style 57%)" in worse     # the figures that explain it
    assert "Notebook 07" in worse and "noise" not in worse
    assert "SFT raised held-out gold" in pipeline.format_card(_card(-3.19, -0.27, -0.62))
    flat = pipeline.verdict(_card(-3.15, -0.38, -0.37))          # +0.01: not a gain, and the card must not say so
    assert "changed it by +0.01, within twice the ±0.08" in flat and "raised it by a further" not in flat
    better = pipeline.verdict(_card(-3.19, -0.27, -0.05))
    assert better.endswith("PPO raised it by a further +0.22 against this run's reward model.")
    good_rm = pipeline.verdict({**_card(-3.19, -0.27, -0.30), "rm_acc_gold": 0.85})
    assert "changed it by -0.03, within twice the ±0.08" in good_rm
    assert "although its reward model orders clear held-out pairs like gold 85%" in good_rm
    assert "only" not in good_rm and "Notebook 07" not in good_rm and good_rm.endswith("one reply per prompt.")
    hacked = pipeline.verdict({**_card(-3.19, -0.27, -0.60), "rm_acc_gold": 0.85})   # a clear fall, a good judge
    assert "changed it by -0.33, although" in hacked and "noise" not in hacked and "reward hacking" in hacked
    assert pipeline.verdict(_card(-0.30, -0.50, -0.50)).startswith("SFT changed held-out gold by -0.20;")
