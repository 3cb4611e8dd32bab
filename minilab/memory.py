"""Peak memory of a piece of training, measured on the CPU (notebook 10 compares PPO and GRPO).

PyTorch reports how much memory its CPU allocator holds only while its profiler records memory:
`torch.profiler.profile(profile_memory=True)` logs every allocation and free with the running
total ("Total Allocated"). The peak of that total is what the run itself allocated at its worst
moment: weights it copied, optimizer state, rollout buffers and the activations a backward pass
keeps. Memory held before the call (the model you pass in, Python itself) is not counted.

    result, peak = peak_memory(lambda: train_grpo(cfg, policy, tok, prompts, world))
    print(f"{peak / 2**20:.0f} MB")

The profiler slows what it records (about 1.5–2×), so time a run without it.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable


def peak_memory(fn: Callable[[], Any]) -> tuple[Any, int | None]:
    """Run fn() under torch's profiler. Returns (what fn returned, the peak of the bytes allocated
    during the call and not yet freed), or (result, None) where this PyTorch build reports no
    allocations."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace.json"
        prof.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text())["traceEvents"]
    totals = [e["args"]["Total Allocated"] for e in events
              if e.get("name") == "[memory]" and "Total Allocated" in e.get("args", {})]
    return result, (max(totals) if totals else None)
