"""Tests of minilab.checkpoint: round trip, atomic writes, clear errors."""
import json
from pathlib import Path

import pytest
import torch

import minilab.checkpoint as checkpoint
from minilab.checkpoint import load_checkpoint, save_checkpoint
from minilab.config import GPTConfig, SPECIAL_TOKENS
from minilab.model import GPT
from minilab.tokenizer import CharTokenizer

TEXT = "hello world, a tiny checkpoint."


@pytest.fixture
def parts():
    torch.manual_seed(0)
    tok = CharTokenizer.train(TEXT, special_tokens=SPECIAL_TOKENS)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    return model, tok


def files(path: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def test_round_trip_gives_identical_logits(tmp_path, parts):
    model, tok = parts
    head = torch.randn(16)
    save_checkpoint(tmp_path / "ck", model, tok, {"stage": "pretrain", "metrics": {"val_loss": 1.5}},
                    extra_tensors={"value_head.weight": head})
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    loaded, tok2, meta = load_checkpoint(tmp_path / "ck")
    idx = torch.tensor([tok.encode("hello world")])
    assert torch.equal(loaded(idx), model.eval()(idx))
    assert tok2.encode(TEXT) == tok.encode(TEXT) and tok2.vocab_size == tok.vocab_size
    assert meta["stage"] == "pretrain" and meta["metrics"] == {"val_loss": 1.5} and meta["kind"] == "gpt"
    assert torch.equal(meta["extra_tensors"]["value_head.weight"], head)
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["model"]["n_embd"] == 16


def test_bundled_names_and_the_env_override(tmp_path, parts, monkeypatch):
    model, tok = parts
    monkeypatch.setenv("MINILAB_DATA", str(tmp_path))
    save_checkpoint(tmp_path / "checkpoints" / "sft-nano", model, tok, {"stage": "sft"})
    assert checkpoint.bundled_checkpoints() == ["sft-nano"]
    assert load_checkpoint("sft-nano")[2]["stage"] == "sft"
    with pytest.raises(FileNotFoundError, match="bundled: sft-nano"):
        load_checkpoint("rlhf-nano")


def test_a_failed_save_keeps_the_old_checkpoint_and_leaves_no_temp_dirs(tmp_path, parts, monkeypatch):
    model, tok = parts
    save_checkpoint(tmp_path / "ck", model, tok, {"version": 1})
    before = files(tmp_path / "ck")

    def crash(path):  # the weights and config are already written when this runs
        raise OSError("disk full")

    monkeypatch.setattr(tok, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "ck", model, tok, {"version": 2})
    assert files(tmp_path / "ck") == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


def test_a_failure_during_the_swap_restores_the_old_checkpoint(tmp_path, parts, monkeypatch):
    model, tok = parts
    save_checkpoint(tmp_path / "ck", model, tok, {"version": 1})
    before = files(tmp_path / "ck")
    real_replace, calls = checkpoint.os.replace, []

    def flaky_replace(src, dst):  # the 2nd rename (new checkpoint into place) fails
        calls.append(src)
        if len(calls) == 2:
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="power cut"):
        save_checkpoint(tmp_path / "ck", model, tok, {"version": 2})
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    assert files(tmp_path / "ck") == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]
    save_checkpoint(tmp_path / "ck", model, tok, {"version": 2})  # and a complete save replaces it
    assert load_checkpoint(tmp_path / "ck")[2]["version"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


def test_missing_checkpoint_or_file_is_named(tmp_path, parts):
    model, tok = parts
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing")
    save_checkpoint(tmp_path / "ck", model, tok, {})
    (tmp_path / "ck" / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        load_checkpoint(tmp_path / "ck")


def test_corrupt_weights_are_named(tmp_path, parts):
    model, tok = parts
    save_checkpoint(tmp_path / "ck", model, tok, {})
    (tmp_path / "ck" / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="model.safetensors.*corrupt"):
        load_checkpoint(tmp_path / "ck")


def test_config_that_does_not_match_the_weights(tmp_path, parts):
    model, tok = parts
    save_checkpoint(tmp_path / "ck", model, tok, {})
    config_path = tmp_path / "ck" / "config.json"
    config = json.loads(config_path.read_text())
    config["model"]["n_embd"] = 32
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not match.*wrong shapes"):
        load_checkpoint(tmp_path / "ck")
    config["model"].update(n_embd=16, n_layer=2)
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="missing"):
        load_checkpoint(tmp_path / "ck")


def test_tokenizer_that_does_not_fit_the_embedding(tmp_path, parts):
    model, _ = parts
    other = CharTokenizer.train("abc", special_tokens=SPECIAL_TOKENS)
    save_checkpoint(tmp_path / "ck", model, other, {})
    with pytest.raises(ValueError, match=r"tokenizer.json has 8 tokens .* vocab_size="):
        load_checkpoint(tmp_path / "ck")


def test_meta_that_json_cannot_hold_fails_before_touching_the_disk(tmp_path, parts):
    model, tok = parts
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "ck", model, tok, {"bad": object()})
    assert not (tmp_path / "ck").exists()


def test_no_pickle():
    source = Path(checkpoint.__file__).read_text()
    assert "torch.load" not in source and "pickle" not in source.replace("no pickle", "")
