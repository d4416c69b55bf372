"""A local Zalo/Infobip sandbox for the OA console tests, reset before each test that uses it."""

import pytest

from sandbox.testing import sandbox_fixture

sandbox_server = sandbox_fixture("sandbox_server", scope="session", config={"delay_factor": 0.001})


@pytest.fixture
def sb(sandbox_server, settings):
    """The sandbox, freshly seeded, with the product's provider URLs pointing at it."""
    sandbox_server.reset()
    for key, value in sandbox_server.settings_env().items():
        setattr(settings, key, value)
    return sandbox_server
