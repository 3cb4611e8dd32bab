"""Run a notebook with papermill, with a kernel client that cannot sleep through a message.

    from minilab.nbrun import execute_notebook
    execute_notebook("notebooks/07_ppo.ipynb", "out.ipynb", {"beta": 0.2, "fast": True})

Why this module exists: nbclient (under papermill and nbconvert) waits for a cell's messages in
asyncio polls of the kernel's zmq sockets, and such a poll can sleep through a message that has
arrived; it wakes only at its deadline, and with no cell timeout there is none, so a finished
notebook (07's widget-panel cell) can hang a run for good. A poll with a deadline re-checks the
socket when the deadline passes and finds the message (pyzmq polls once more without waiting),
so the shell and IOPub channels here wait in one-second slices, endless waits and waits with a
timeout alike; a caller's timeout still ends the wait at its deadline.
"""
from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

POLL_SLICE_S = 1.0


class SlicedChannel(AsyncZMQSocketChannel):
    """A channel whose every wait is a loop of polls of at most one second, up to the caller's
    timeout (None: for ever). A poll given the whole timeout can sleep through a message until
    that deadline: with nbconvert's --ExecutePreprocessor.timeout=1800, a finished cell once
    kept a run waiting with the kernel idle."""

    async def get_msg(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(min(POLL_SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedPollClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)


class SlicedPollKernelManager(AsyncKernelManager):
    """The kernel manager nbclient starts; its clients wait in slices."""
    client_factory = Type(SlicedPollClient)


KERNEL_NAME = "python3"      # the kernel ipykernel installs for the running Python


def execute_notebook(source, output, parameters: dict | None = None, **kwargs):
    """papermill.execute_notebook(source, output, parameters, **kwargs) on the python3 kernel,
    through SlicedPollKernelManager. Returns the executed notebook."""
    import papermill
    kwargs.setdefault("kernel_name", KERNEL_NAME)
    return papermill.execute_notebook(str(source), str(output), parameters=parameters or {},
                                      kernel_manager_class=SlicedPollKernelManager, **kwargs)
