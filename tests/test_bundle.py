"""`minilab checkpoints`: bare it lists (never trains); `--rebuild` checks everything before training.

No test here trains: the checkpoints are tiny fake folders, and the first step of a rebuild
(making the world) is replaced by a function that fails the test if it is ever reached."""
import json
import os

import pytest

from minilab import bundle, cli


def fake_checkpoint(folder, **meta):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"kind": "gpt", "model": {}, "meta": meta}))
    (folder / "model.safetensors").write_bytes(b"\0" * 2_000_000)
    (folder / "tokenizer.json").write_text("{}")


@pytest.fixture
def never_train(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(bundle, "make_world", fail)


def run(capsys, *argv):
    code = cli.main(["checkpoints", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_bare_command_lists_checkpoints_with_their_provenance(tmp_path, capsys, never_train):
    fake_checkpoint(tmp_path / "sft-nano", stage="sft", size="nano", git_commit="0123456789abcdef0123",
                    command="minilab checkpoints --sizes nano", figures={"gold": -0.4531, "iters": 400})
    (tmp_path / "notes").mkdir()                 # not a checkpoint: not listed
    code, out, err = run(capsys, "--out", str(tmp_path))
    assert code == 0 and err == ""
    assert f"1 checkpoints in {tmp_path}, 2.0 MB" in out
    assert "sft-nano" in out and "stage sft, size nano, commit 0123456789ab" in out
    assert "made by `minilab checkpoints --sizes nano`" in out and "gold -0.4531, iters 400" in out
    assert "notes" not in out


def test_bare_command_on_an_empty_folder_says_how_to_build(tmp_path, capsys, never_train):
    code, out, _ = run(capsys, "--out", str(tmp_path / "none"))
    assert code == 0 and "no checkpoints in" in out and "minilab checkpoints --rebuild" in out
    assert not (tmp_path / "none").exists()      # listing writes nothing


def test_the_bundled_checkpoints_are_listed_by_default(capsys, never_train):
    code, out, _ = run(capsys)
    assert code == 0 and "data/checkpoints" in out


# (arguments, words the one-line error must hold); none of them may start training
BAD = [
    (["--rebuild", "--sizes", "giant"], ["--sizes 'giant': unknown 'giant'", "allowed: nano, micro, mini"]),
    (["--rebuild", "--sizes", "nano,giant"], ["unknown 'giant'", "allowed: nano, micro, mini"]),
    (["--rebuild", "--sizes", ""], ["--sizes '': unknown ''", "allowed: nano, micro, mini"]),
    (["--rebuild", "--stages", "foo"], ["--stages 'foo': unknown 'foo'", "allowed: base, sft, rm, ppo"]),
    (["--rebuild", "--stages", "sft,dpo"], ["unknown 'dpo'", "allowed: base, sft, rm, ppo"]),
    (["--rebuild", "--seed", "-1"], ["--seed must be an integer in [0, 4294967295], got -1"]),
    (["--sizes", "giant"], ["unknown 'giant'", "allowed: nano, micro, mini"]),
    (["--sizes", "nano"], ["--sizes, --stages and --seed choose what --rebuild trains", "lists every checkpoint"]),
    (["--seed", "3"], ["--sizes, --stages and --seed choose what --rebuild trains"]),
]


@pytest.mark.parametrize("argv, words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_sizes_and_stages_exit_2_in_one_line(tmp_path, capsys, never_train, argv, words):
    code, out, err = run(capsys, *argv, "--out", str(tmp_path / "ck"))
    assert code == 2 and out == ""
    assert err.startswith("minilab checkpoints: ") and err.count("\n") == 1
    for w in words:
        assert w in err
    assert not (tmp_path / "ck").exists()


def test_an_unwritable_output_folder_is_refused_before_training(tmp_path, capsys, never_train):
    (tmp_path / "a-file").write_text("the user's")
    code, _, err = run(capsys, "--rebuild", "--out", str(tmp_path / "a-file" / "ck"))
    assert code == 2 and err.count("\n") == 1
    assert f"cannot write checkpoints to {tmp_path / 'a-file' / 'ck'}" in err and "nothing was trained" in err
    assert (tmp_path / "a-file").read_text() == "the user's"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused_before_training(tmp_path, capsys, never_train):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = run(capsys, "--rebuild", "--out", str(ro))
    finally:
        ro.chmod(0o755)
    assert code == 2 and f"cannot write checkpoints to {ro}" in err and list(ro.iterdir()) == []


def test_a_users_folder_in_the_way_is_refused_before_training(tmp_path, capsys, never_train):
    (tmp_path / "base-nano").mkdir()
    (tmp_path / "base-nano" / "thesis.tex").write_text("years of work")
    code, _, err = run(capsys, "--rebuild", "--sizes", "nano", "--out", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    assert f"refusing to replace {tmp_path / 'base-nano'}" in err and "thesis.tex" in err
    assert (tmp_path / "base-nano" / "thesis.tex").read_text() == "years of work"


def test_a_missing_starting_checkpoint_is_refused_before_training(tmp_path, capsys, never_train):
    code, _, err = run(capsys, "--rebuild", "--sizes", "nano", "--stages", "rm", "--out", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    assert f"no checkpoint {tmp_path / 'base-nano'} to start from" in err and "--stages base,sft,rm" in err


def test_ppo_needs_the_judge_before_training(tmp_path, capsys, never_train):
    for stage in ("base", "sft", "rm"):
        fake_checkpoint(tmp_path / f"{stage}-nano", stage=stage, size="nano")
    code, _, err = run(capsys, "--rebuild", "--sizes", "nano", "--stages", "ppo", "--out", str(tmp_path))
    assert code == 2 and f"no checkpoint {tmp_path / 'rm-micro'} to judge PPO with" in err
    assert "--sizes micro --stages rm" in err


def test_a_valid_plan_gets_to_training(tmp_path, capsys, never_train):
    fake_checkpoint(tmp_path / "base-nano", stage="base", size="nano")
    with pytest.raises(AssertionError, match="training started"):
        cli.main(["checkpoints", "--rebuild", "--sizes", "nano", "--stages", "sft", "--out", str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base-nano"]   # the write probe is gone
