"""minilab: build and steer every stage of how a chat model is made, on a laptop CPU.

One idea per module (see docs/ARCHITECTURE.md):
world (the synthetic world: facts and questions), corpus (its pretraining documents),
gold (the gold reward and the judge), tokenizer (byte-level BPE), model (a tiny GPT),
pretrain, sft, preferences (simulated annotators), reward (the reward model), ppo (RLHF with a
KL penalty), losses (the pure loss functions), checkpoint, plots, widgets, report.
"""
__version__ = "0.1.0"
