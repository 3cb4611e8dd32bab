"""The channels minilab.nbrun gives papermill: an endless wait becomes a loop of short polls
(a single endless poll once slept through a reply that had arrived), a wait with a timeout too, and a
caller's timeout is kept."""
import asyncio
from queue import Empty

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from minilab.nbrun import POLL_SLICE_S, SlicedChannel, SlicedPollKernelManager


@pytest.fixture
def socket_polls(monkeypatch):
    """Replace the real socket read: the first two polls find nothing, the third finds the reply."""
    calls = []

    async def get_msg(self, timeout=None):
        calls.append(timeout)
        if len(calls) < 3:
            raise Empty
        return {"msg_type": "execute_reply"}

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", get_msg)
    return calls


def test_endless_wait_polls_in_slices_until_the_reply_arrives(socket_polls):
    channel = SlicedChannel.__new__(SlicedChannel)           # no socket needed: get_msg is replaced
    assert asyncio.run(channel.get_msg()) == {"msg_type": "execute_reply"}
    assert socket_polls == [POLL_SLICE_S] * 3


def test_a_wait_with_a_timeout_polls_in_slices_too(socket_polls):
    # nbconvert's --ExecutePreprocessor.timeout: one long poll could sleep through the reply until then
    channel = SlicedChannel.__new__(SlicedChannel)
    assert asyncio.run(channel.get_msg(timeout=600.0)) == {"msg_type": "execute_reply"}
    assert socket_polls == [POLL_SLICE_S] * 3


def test_a_callers_timeout_is_kept_and_empty_still_raised(monkeypatch):
    calls = []

    async def nothing_arrives(self, timeout=None):
        calls.append(timeout)
        await asyncio.sleep(timeout)
        raise Empty

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", nothing_arrives)
    channel = SlicedChannel.__new__(SlicedChannel)
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=2.5))
    assert len(calls) == 3 and calls[:2] == [POLL_SLICE_S] * 2 and 0.4 < calls[2] <= 0.5 + 1e-6


def test_the_kernel_manager_hands_out_clients_with_sliced_shell_and_iopub_channels():
    client = SlicedPollKernelManager(kernel_name="python3").client()
    assert client.shell_channel_class is SlicedChannel and client.iopub_channel_class is SlicedChannel
