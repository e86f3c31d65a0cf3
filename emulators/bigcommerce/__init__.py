"""BigCommerce emulator: login service, control-panel simulator, store APIs, webhooks.

``create_app(...)`` builds the Flask app; ``python -m emulators bigcommerce --help`` runs it.
"""

from .app import DEFAULT_CLIENT_ID, DEFAULT_TOKEN, create_app
from .generator import StoreSpec
from .signed_payload import (
    BAD_KINDS,
    bad_payload_jwt,
    make_claims,
    sign_payload_jwt,
    signed_payload_jwt,
)

__all__ = [
    "BAD_KINDS", "DEFAULT_CLIENT_ID", "DEFAULT_TOKEN", "StoreSpec", "bad_payload_jwt", "create_app",
    "make_claims", "sign_payload_jwt", "signed_payload_jwt",
]
