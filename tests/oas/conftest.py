"""The provider test fixtures (local stub server, quick HTTP client, an OA with credentials) for the
oas services that drive the provider clients (tokens, clients, report URLs)."""

from tests.providers.conftest import http, oa, sleeps, stub  # noqa: F401
