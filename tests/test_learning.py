"""Learning outcomes at small scale, with margins a broken implementation would miss.

These train for real (seconds to a minute or two each on one core), starting from the bundled
nano checkpoints so that each test exercises one stage. Marked `slow`; CI runs them.
"""
import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from minilab.chat import evaluate_model
from minilab.checkpoint import load_checkpoint
from minilab.pipeline import run_ppo
from minilab.losses import lm_loss
from minilab.sft import SFTConfig, build_dataset, make_batch, sft

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def test_prompts(world):
    return [q.prompt for q in world.questions("test")][:96]


def test_sft_raises_well_formedness_and_gold(world, test_prompts):
    base, tok, _ = load_checkpoint("base-nano")
    before, _ = evaluate_model(base, tok, world, test_prompts)
    model, history = sft(SFTConfig(max_iters=150, eval_interval=0), copy.deepcopy(base), tok,
                         world.sft_conversations(), progress=False)
    after, _ = evaluate_model(model, tok, world, test_prompts)
    # the base model never closes a chat turn; after SFT most replies are well-formed
    assert after["well_formed"] >= before["well_formed"] + 0.5, (before, after)
    assert after["gold"] >= before["gold"] + 1.0, (before, after)
    assert history["loss"][-1] < 0.5 * history["loss"][0]


def test_assistant_only_loss_ignores_the_user_turns(world):
    """Trained on all tokens, the model spends capacity on predicting questions: its loss on the
    assistant tokens alone ends higher than with the assistant-only loss, for the same steps."""
    base, tok, _ = load_checkpoint("base-nano")
    convs = world.sft_conversations()[:512]
    losses = {}
    for loss_on in ("assistant", "all"):
        model, _ = sft(SFTConfig(max_iters=60, loss_on=loss_on, eval_interval=0), copy.deepcopy(base), tok, convs,
                       progress=False)
        data = build_dataset(tok, convs[:128], model.config.block_size)   # loss on the assistant tokens only
        x, y, m = make_batch(data, list(range(len(data))), tok.special_id("<|pad|>"))
        with torch.no_grad():
            losses[loss_on] = lm_loss(model(x), y, m).item()
    assert losses["assistant"] < losses["all"], losses


def test_ppo_raises_the_proxy_score_and_kl_grows_from_zero():
    _, _, history = run_ppo(beta=0.05, size="nano", iters=24, progress=False)   # measured rise: +0.39
    assert history["kl"][0] == pytest.approx(0.0, abs=0.05)      # the policy starts as the reference
    first, last = history["score"][:4], history["score"][-4:]
    assert sum(last) / 4 > sum(first) / 4 + 0.2, history["score"]
    assert history["kl"][-1] > 0.5


def test_pipeline_cli_json_report_card():
    out = subprocess.run([sys.executable, "-m", "minilab", "pipeline", "--size", "nano", "--fast", "--json"],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    card = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("gold_base", "gold_sft", "gold_ppo", "gold_base_unseen", "gold_sft_unseen", "gold_ppo_unseen",
                "rm_acc_gold", "rm_acc_gold_facts", "rm_acc_gold_style", "kl_ppo", "ppo_iter_s", "wall_s"):
        assert isinstance(card[key], float), key
    assert card["gold_sft"] > card["gold_base"] + 0.5          # SFT turns the base model into an assistant
    assert card["well_formed_sft"] > card["well_formed_base"]
    assert 0.5 < card["rm_acc_gold"] <= 1.0


def test_reward_hacking_at_beta_zero_proxy_rises_while_gold_falls_from_its_peak():
    """With no KL penalty and a long run, the policy exploits the reward model's biases (flattery,
    answers in the form it likes): the proxy score ends near its best while the gold reward ends
    well below its peak (running means of 5 iterations; iterations are noisy)."""
    _, _, h = run_ppo(beta=0.0, size="nano", iters=40, progress=False)
    smooth = lambda v: np.convolve(np.asarray(v, dtype=float), np.ones(5) / 5, mode="valid")
    gold, proxy = smooth(h["gold"]), smooth(h["score"])
    assert proxy[-1] > proxy[0] + 0.5, h["score"]
    assert proxy[-1] > proxy.max() - 0.3, h["score"]
    assert gold[-1] < gold.max() - 0.5, h["gold"]
    assert h["kl"][-1] > 5.0        # far from the SFT model: nothing held it back


def test_the_bundled_rlhf_model_beats_its_sft_model_on_held_out_gold(world):
    """ppo-nano (notebook 07's recipe: rm-micro as the judge, β = 0.05, 20 iterations) against
    sft-nano on all 398 held-out prompts: measured -0.27 -> -0.03 when it was built."""
    prompts = [q.prompt for q in world.questions("heldout")]
    sft_model, tok, _ = load_checkpoint("sft-nano")
    ppo_model, _, meta = load_checkpoint("ppo-nano")
    before, _ = evaluate_model(sft_model, tok, world, prompts)
    after, _ = evaluate_model(ppo_model, tok, world, prompts)
    assert after["gold"] >= before["gold"] + 0.15, (before, after)
    assert after["well_formed"] >= before["well_formed"] - 0.02, (before, after)
    assert meta["figures"]["gold"] == pytest.approx(after["gold"], abs=1e-6)   # what the bundle recorded
