"""Fixtures shared by the test files."""
import pytest

from minilab.world import make_world


@pytest.fixture(scope="session")
def world():
    """The default world (seed 0); make_world caches it, so every test sees the same object."""
    return make_world(0)
