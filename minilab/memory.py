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

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable


def peak_memory(fn: Callable[[], Any]) -> tuple[Any, int | None]:
    """Run fn() under torch's profiler. Returns (what fn returned, the peak of the bytes allocated
    during the call and not yet freed), or (result, None) where this PyTorch build reports no
    allocations."""
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr():
        prof.start()
    try:
        result = fn()
    finally:
        with _quiet_stderr():
            prof.stop()
    with tempfile.TemporaryDirectory() as folder:
        trace = Path(folder) / "trace.json"
        prof.export_chrome_trace(str(trace))
        events = json.loads(trace.read_text())["traceEvents"]
    totals = [e["args"]["Total Allocated"] for e in events
              if e.get("name") == "[memory]" and "Total Allocated" in e.get("args", {})]
    return result, (max(totals) if totals else None)


@contextlib.contextmanager
def _quiet_stderr():
    """Mute file descriptor 2: the profiler's C++ side writes "profiler_start" and "profiler_stop" lines
    straight to it, and a notebook would show them under the cell. Only the start and the stop are muted."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
