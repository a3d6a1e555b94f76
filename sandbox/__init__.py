"""In-memory, Rotor-compatible CRM HTTP API.

leadgate delivers leads to Rotor (https://api.getrotor.com/open-api). This package plays Rotor's
part locally: it is the embedded default destination in development, so nothing leaves the
machine, and the real HTTP peer in the test suite, so delivery code is exercised over a socket
against the documented behaviour (auth, version header, upsert order, daily quota) instead of
against mocks. It is deliberately stricter than Rotor documents in one respect: unknown body
fields are rejected, so a client that writes `property_*` instead of `address_*` fails loudly.
"""

SANDBOX_API_KEY = "rotor_sandbox_key"
API_VERSION = "1.1.0"

# Imported after the constants because app.py reads them from this package.
from sandbox.app import create_sandbox_app  # noqa: E402
from sandbox.server import serve  # noqa: E402

__all__ = ["API_VERSION", "SANDBOX_API_KEY", "create_sandbox_app", "serve"]
