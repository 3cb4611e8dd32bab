"""What a training run records, one small dataclass per stage: the lists plots.py draws.

    model, history = pretrain(cfg, train_ids, val_ids)
    history.val_loss[-1]            # the last validation loss
    plots.loss_curves(history)

Each field is a list with one entry per step (or per evaluation, for the `eval_` fields and
what is measured with them). `record(name=value, ...)` appends one entry to each named list, so
a loop says what it records in one line. `history["val_loss"]` reads a field too, for the
notebooks and papermill reports written when histories were dicts.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class History:
    def record(self, **values) -> None:
        """Append one value to each named list."""
        for name, value in values.items():
            getattr(self, name).append(value)

    def __getitem__(self, name: str):
        if name not in {f.name for f in fields(self)}:
            raise KeyError(f"{type(self).__name__} has no field {name!r}; fields: {', '.join(f.name for f in fields(self))}")
        return getattr(self, name)


@dataclass
class PretrainHistory(History):
    iter: list[int] = field(default_factory=list)          # iterations done (1-based)
    train_loss: list[float] = field(default_factory=list)  # loss on the iteration's batch
    lr: list[float] = field(default_factory=list)          # learning rate of the iteration
    tokens: list[int] = field(default_factory=list)        # tokens trained on so far
    elapsed: list[float] = field(default_factory=list)     # seconds since the start, evaluation included
    train_s: list[float] = field(default_factory=list)     # seconds of training only
    eval_iter: list[int] = field(default_factory=list)     # iterations at which the val loss was measured
    val_loss: list[float] = field(default_factory=list)    # mean loss over the validation split
    eval_elapsed: list[float] = field(default_factory=list)
    eval_train_s: list[float] = field(default_factory=list)


@dataclass
class SFTHistory(History):
    iter: list[int] = field(default_factory=list)          # step (0-based)
    loss: list[float] = field(default_factory=list)        # masked next-token loss of the step's batch
    eval_iter: list[int] = field(default_factory=list)     # steps at which replies were sampled and scored
    gold: list[float] = field(default_factory=list)        # mean gold reward of those replies
    well_formed: list[float] = field(default_factory=list)  # share of replies that end properly
    length: list[float] = field(default_factory=list)      # mean reply length


@dataclass
class RewardHistory(History):
    iter: list[int] = field(default_factory=list)          # step (0-based)
    loss: list[float] = field(default_factory=list)        # Bradley–Terry loss of the step's batch
    acc: list[float] = field(default_factory=list)         # share of the batch's pairs ranked as labelled


@dataclass
class PPOHistory(History):
    iter: list[int] = field(default_factory=list)          # PPO iteration (0-based)
    score: list[float] = field(default_factory=list)       # mean proxy score (reward model) of the rollout
    gold: list[float] = field(default_factory=list)        # mean gold reward of the rollout (nan without a world)
    kl: list[float] = field(default_factory=list)          # mean KL to the reference per reply
    entropy: list[float] = field(default_factory=list)
    clipfrac: list[float] = field(default_factory=list)    # share of tokens whose ratio was clipped
    approx_kl: list[float] = field(default_factory=list)   # KL between the old and new policy
    value_loss: list[float] = field(default_factory=list)
    policy_loss: list[float] = field(default_factory=list)
    explained_var: list[float] = field(default_factory=list)
    length: list[float] = field(default_factory=list)      # mean reply length in tokens
    ended: list[float] = field(default_factory=list)       # share of replies that ended
    beta: list[float] = field(default_factory=list)        # KL coefficient used
    t_rollout: list[float] = field(default_factory=list)   # seconds per stage of the iteration
    t_score: list[float] = field(default_factory=list)
    t_update: list[float] = field(default_factory=list)
    samples: list[list[tuple]] = field(default_factory=list)  # a few (prompt, reply, ended) per iteration
    config: dict = field(default_factory=dict)             # the PPOConfig of the run, as a dict


@dataclass
class DPOHistory(History):
    iter: list[int] = field(default_factory=list)            # step (0-based)
    loss: list[float] = field(default_factory=list)          # DPO loss of the step's batch
    acc: list[float] = field(default_factory=list)           # share of the batch's pairs with r̂_chosen > r̂_rejected
    margin: list[float] = field(default_factory=list)        # mean r̂_chosen - r̂_rejected of the batch
    chosen_logratio: list[float] = field(default_factory=list)    # mean log π/π_ref of the chosen replies
    rejected_logratio: list[float] = field(default_factory=list)  # ... and of the rejected ones
    train_s: list[float] = field(default_factory=list)       # seconds of training so far (evaluations left out)
    eval_iter: list[int] = field(default_factory=list)       # steps at which replies were sampled
    gold: list[float] = field(default_factory=list)          # held-out gold reward of those replies
    kl: list[float] = field(default_factory=list)            # KL(π ‖ π_ref) per reply, on those replies
    well_formed: list[float] = field(default_factory=list)
    length: list[float] = field(default_factory=list)        # mean reply length in tokens
    config: dict = field(default_factory=dict)


@dataclass
class GRPOHistory(History):
    iter: list[int] = field(default_factory=list)            # iteration (0-based)
    reward: list[float] = field(default_factory=list)        # mean verified reward of the rollout (its accuracy)
    informative: list[float] = field(default_factory=list)   # share of groups whose replies got different rewards
    kl: list[float] = field(default_factory=list)            # KL(π ‖ π_ref) per reply on the rollout (k1)
    length: list[float] = field(default_factory=list)        # mean reply length in tokens
    ended: list[float] = field(default_factory=list)         # share of replies that ended
    entropy: list[float] = field(default_factory=list)       # nats per token, of the rollout's policy on all its replies
    clipfrac: list[float] = field(default_factory=list)
    t_rollout: list[float] = field(default_factory=list)     # seconds: sampling and log-probs
    t_update: list[float] = field(default_factory=list)      # seconds: the updates
    samples: list[list[tuple]] = field(default_factory=list)  # a few (prompt, reply, ended) per iteration
    eval_iter: list[int] = field(default_factory=list)       # iterations at which held-out accuracy was measured
    eval_accuracy: list[float] = field(default_factory=list)  # share of held-out replies the program accepts
    config: dict = field(default_factory=dict)
