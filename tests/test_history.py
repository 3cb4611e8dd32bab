"""Typed histories: record appends, fields are typed, string keys still read (old notebooks)."""
import pytest

from minilab.history import PPOHistory, PretrainHistory


def test_record_appends_one_value_per_named_list():
    h = PretrainHistory()
    h.record(iter=1, train_loss=3.0)
    h.record(iter=2, train_loss=2.5)
    assert h.iter == [1, 2] and h.train_loss == [3.0, 2.5] and h.val_loss == []
    assert h["train_loss"] is h.train_loss                   # notebooks written for dict histories still work


def test_unknown_names_fail_loudly():
    with pytest.raises(KeyError, match="no field 'gold_reward'"):
        PPOHistory()["gold_reward"]                             # the key is "gold"
    with pytest.raises(AttributeError):
        PPOHistory().record(gold_reward=1.0)
