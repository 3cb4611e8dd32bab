"""Run a notebook with papermill, with a kernel client that cannot sleep through a cell's reply.

    from minilab.nbrun import execute_notebook
    execute_notebook("notebooks/07_ppo.ipynb", "out.ipynb", {"beta": 0.2, "fast": True})

Why this module exists: with no cell timeout, nbclient (under papermill) waits for each cell's
`execute_reply` in a single asyncio poll of the shell socket with no deadline. In one CI run on
a loaded machine the kernel finished notebook 07's widget cell in 9 s and papermill waited 20
minutes, until pytest-timeout killed it: the cell's metadata had `iopub.status.idle` but no
`shell.execute_reply`, so the reply was sent and the poll most likely slept through it (nbclient
issue #312 reports the same blocking on widget cells). A poll with a deadline re-checks the
socket when the deadline passes and finds the message, so the shell channel here waits in
one-second slices. Only the case with no timeout changes: a caller's cell timeout
(`execution_timeout`) still applies as before.
"""
from __future__ import annotations

from queue import Empty

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type

POLL_SLICE_S = 1.0


class SlicedShellChannel(AsyncZMQSocketChannel):
    """A shell channel whose endless wait is a loop of one-second polls."""

    async def get_msg(self, timeout: float | None = None):
        if timeout is not None:
            return await super().get_msg(timeout)
        while True:
            try:
                return await super().get_msg(POLL_SLICE_S)
            except Empty:
                continue


class SlicedPollClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedShellChannel)


class SlicedPollKernelManager(AsyncKernelManager):
    """The kernel manager nbclient starts; its clients wait on the shell channel in slices."""
    client_factory = Type(SlicedPollClient)


def execute_notebook(source, output, parameters: dict | None = None, **kwargs):
    """papermill.execute_notebook(source, output, parameters, **kwargs) on the python3 kernel,
    through SlicedPollKernelManager. Returns the executed notebook."""
    import papermill
    kwargs.setdefault("kernel_name", "python3")
    return papermill.execute_notebook(str(source), str(output), parameters=parameters or {},
                                      kernel_manager_class=SlicedPollKernelManager, **kwargs)
