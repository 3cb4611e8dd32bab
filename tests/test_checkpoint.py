"""Tests of minilab.checkpoint: round trip, atomic writes, clear errors, nothing of the user's replaced."""
import json
import os
import pickle
import re
import stat
import warnings
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


class Payload:
    """Unpickling it creates the file `marker`: proof that a loader ran pickled code."""
    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_weights_holding_a_pickle_are_refused_without_running_it(tmp_path, parts, writer):
    model, tok = parts
    save_checkpoint(tmp_path / "ck", model, tok, {"stage": "pretrain"})
    payload = Payload()
    payload.marker = tmp_path / "pickle-ran"
    weights = tmp_path / "ck" / "model.safetensors"
    if writer == "pickle":
        weights.write_bytes(pickle.dumps({"wte": payload}))
    else:
        torch.save({"wte": payload}, weights)
    with pytest.raises(ValueError, match="model.safetensors: cannot read the weights"):
        load_checkpoint(tmp_path / "ck")
    assert not payload.marker.exists()


# ---------------------------------------------------------------- never lose what the user owns

def tree(root: Path) -> dict:
    """Every file under root (relative path -> bytes) and every folder (-> None)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def thesis_file(root):  # the target is the user's file
    (root / "thesis.txt").write_text("four years of work")
    return root / "thesis.txt"


def folder_of_work(root):  # `--out work` where work/ holds a thesis and a subfolder
    (root / "work" / "figures").mkdir(parents=True)
    (root / "work" / "thesis.txt").write_text("four years of work")
    (root / "work" / "figures" / "plot.png").write_bytes(b"\x89PNG")
    return root / "work"


def current_folder(root):  # `--out .` in a folder holding a thesis
    (root / "thesis.txt").write_text("four years of work")
    return root / "."


def checkpoint_plus_notes(root):  # a checkpoint the user wrote notes into
    (root / "ck").mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "notes.txt"):
        (root / "ck" / name).write_text(name)
    return root / "ck"


def only_a_config(root):  # some other tool's folder that happens to hold a config.json
    (root / "tool").mkdir()
    (root / "tool" / "config.json").write_text("{}")
    return root / "tool"


@pytest.mark.parametrize("make, shown", [(thesis_file, "it is a file"), (folder_of_work, "figures, thesis.txt"),
                                         (current_folder, "thesis.txt"), (checkpoint_plus_notes, "notes.txt"),
                                         (only_a_config, "holds config.json")])
def test_save_refuses_to_replace_what_is_not_a_checkpoint(tmp_path, parts, make, shown):
    model, tok = parts
    root = tmp_path / "home"
    root.mkdir()
    target = make(root)
    before = tree(tmp_path)
    with pytest.raises(FileExistsError) as err:
        save_checkpoint(target, model, tok, {})
    message = str(err.value)
    assert str(target.resolve()) in message and shown in message and "force=True" in message and "\n" not in message
    assert tree(tmp_path) == before  # nothing changed, and no temporary folder left behind


@pytest.mark.parametrize("make", [thesis_file, folder_of_work])
def test_force_replaces_it(tmp_path, parts, make):
    model, tok = parts
    target = make(tmp_path)
    save_checkpoint(target, model, tok, {"stage": "forced"}, force=True)
    assert load_checkpoint(target)[2]["stage"] == "forced"
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]


def test_an_empty_folder_is_filled_without_force(tmp_path, parts):
    model, tok = parts
    (tmp_path / "out").mkdir()
    save_checkpoint(tmp_path / "out", model, tok, {"stage": "pretrain"})
    assert load_checkpoint(tmp_path / "out")[2]["stage"] == "pretrain"


@pytest.mark.parametrize("umask, folder, file", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600), (0o002, 0o775, 0o664)])
def test_saved_modes_follow_the_umask(tmp_path, parts, umask, folder, file):
    model, tok = parts
    old = os.umask(umask)
    try:
        save_checkpoint(tmp_path / "ck", model, tok, {})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "ck").stat().st_mode) == folder
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "ck").iterdir()} == {
        "config.json": file, "model.safetensors": file, "tokenizer.json": file}


def test_tilde_means_the_home_folder(tmp_path, parts, monkeypatch):
    model, tok = parts
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    saved = save_checkpoint("~/ckpt", model, tok, {"stage": "home"})
    assert saved == tmp_path / "home" / "ckpt" and not (tmp_path / "work" / "~").exists()
    assert load_checkpoint("~/ckpt")[2]["loaded_from"] == str(tmp_path / "home" / "ckpt")


@pytest.mark.parametrize("bad", [None, "", "   "])
def test_no_checkpoint_given_is_a_clear_error(tmp_path, parts, monkeypatch, bad):
    model, tok = parts
    save_checkpoint(tmp_path / "ck", model, tok, {})
    monkeypatch.chdir(tmp_path / "ck")  # the current folder is a checkpoint, and must not be taken for one
    with pytest.raises(ValueError, match=rf"no checkpoint given \({re.escape(repr(bad))}\): pass a bundled name .* or the path"):
        load_checkpoint(bad)


def test_a_bare_name_means_the_bundled_checkpoint_and_a_path_the_folder(tmp_path, parts, monkeypatch):
    model, tok = parts
    monkeypatch.setenv("MINILAB_DATA", str(tmp_path / "data"))
    bundled = save_checkpoint(tmp_path / "data" / "checkpoints" / "sft-nano", model, tok, {"stage": "bundled"})
    monkeypatch.chdir(tmp_path)
    local = save_checkpoint("sft-nano", model, tok, {"stage": "local"})  # ./sft-nano, same name
    with pytest.warns(UserWarning, match=r"bundled checkpoint .* not the folder ./sft-nano here; pass './sft-nano'"):
        meta = load_checkpoint("sft-nano")[2]
    assert meta["stage"] == "bundled" and meta["loaded_from"] == str(bundled)
    for path in ("./sft-nano", str(local), Path("sft-nano")):
        meta = load_checkpoint(path)[2]
        assert meta["stage"] == "local" and meta["loaded_from"] == str(local), path
    save_checkpoint("mine", model, tok, {"stage": "mine"})  # a bare name that nothing bundled has: the folder
    assert load_checkpoint("mine")[2]["loaded_from"] == str(tmp_path / "mine")


def test_a_config_claiming_more_context_than_was_trained_warns(tmp_path, parts):
    model, tok = parts  # block_size=16; RoPE has no position table, so only the recorded pretrain config can tell
    save_checkpoint(tmp_path / "ck", model, tok, {"pretrain_config": {"block_size": 8}})
    with pytest.warns(UserWarning, match="claims block_size=16, but the model was pretrained with block_size=8"):
        load_checkpoint(tmp_path / "ck")
    save_checkpoint(tmp_path / "ck", model, tok, {"pretrain_config": {"block_size": 16}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checkpoint(tmp_path / "ck")
