"""Engagement Cloud (dotdigital) emulator, faithful to ``shared/reference/engagement-cloud-api.md``.

- ``create_app(accounts, processing_delay=0.2, public_base_url=None, ...)`` builds the Flask
  app; ``python -m emulators engagement-cloud --port P ...`` runs it (``cli``).
- Regions share one process: the base URL of region rN is ``http://HOST:PORT/rN`` and a path
  without a prefix is r1; ``GET /v2/account-info`` answers on any region with the account's
  ``ApiEndpoint``; other calls on the wrong region get 403 (``gate``).
- Imports and enrolments finish when the emulator clock passes their processing delay
  (``jobs``); ``POST /_emulator/clock`` moves the clock for tests.
- ``/_emulator``: ``state`` (``?summary=1``), ``reset``, ``faults`` (including "applied"
  faults: a write carried out, then answered 5xx or dropped), ``stuck-imports``,
  ``imports/<id>/release``, ``clock``, ``options``, ``accounts`` (seed, change settings and
  features, programs, confirm double opt-in, set a contact's status) — see ``control``.
"""

from .app import DEFAULT_ACCOUNT, create_app
from .model import AccountSeed, ProgramSeed

__all__ = ["DEFAULT_ACCOUNT", "AccountSeed", "ProgramSeed", "create_app"]
