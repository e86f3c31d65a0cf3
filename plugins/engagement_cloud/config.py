"""The plugin's settings: ``[plugins.engagement_cloud]`` over the defaults below.

Keys (all optional except ``api_base_url`` in production, which defaults to the real r1 host):

- ``api_base_url``: where account-info is asked first (reference §1.3: always r1). The
  account's own region endpoint (``ApiEndpoint``) is used for everything else.
- ``request_timeout``: seconds to wait for an answer (the service asks clients to allow 121 s).
- ``max_attempts``, ``retry_base_seconds``, ``retry_max_seconds``: retries of throttled (429),
  failing (5xx) and unreachable calls, with exponential back-off and jitter.
- ``max_rate_limit_wait``: the longest single pause taken on an ``X-RateLimit-Reset`` header.
- ``import_max_bytes`` (49,500,000): the largest body of one bulk import, just under the
  documented 50 MB (reference §4.4, §7.2). Records are encoded into an import until the next
  would take it past this, so a backfill sends as few imports as the API allows.
- ``contact_batch_size``, ``order_batch_size``, ``catalog_batch_size`` (250,000 each, at most
  ``MAX_BATCH_SIZE``): the most records per bulk import, a cap beside the byte limit (no record
  cap is documented; the bytes are what usually ends an import).
- ``max_active_contact_imports`` (25, reference §4.4) and ``max_active_insight_imports`` (5,
  §7.2): how many imports one writer keeps in flight while it fills the next body; the
  service's own limit is per account, and a 429 "too many active imports" is waited out.
- ``poll_interval`` (5 s), ``poll_max_interval`` (30 s), ``import_timeout``: how an import is
  polled and how long a write waits before leaving the import to be resumed later. The
  defaults are the vendor's recommended pace for production (reference §7.2 and §10.2: poll
  async jobs every 5–30 s): the first status call 5 s after the submit, each wait half as long
  again (5, 7.5, 11.3, 16.9, 25.3 s), then every 30 s. Only the emulators finish an import in
  milliseconds: the tests, the benchmarks and the demo set a faster pace explicitly.
- ``stuck_import_seconds`` (600): an import still processing this long after it was submitted
  is stuck: shown on the Store tab as a connection problem, checked once at each later write
  and cycle (never waited on again, never resubmitted), so nothing is held for
  ``import_timeout``.
- ``single_upsert_max``: batches this small use one PATCH per contact instead of an import
  (the fast lane: no polling delay).
- ``lookup_cache_seconds``: how long address books, programs and data fields are cached.
- ``enrolments_per_hour`` (20, reference §8) and ``enrolment_batch_size`` (25, the ReadMe
  spec's ``maxItems``): the enrolment allowance the host's queue spends (``host.enrolments``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from host.config import ConfigError, plugin_config

PLUGIN_NAME = "engagement_cloud"
DEFAULT_API_BASE_URL = "https://r1-api.dotdigital.com"
MAX_BATCH_SIZE = 1_000_000
MAX_IMPORT_BYTES = 50 * 1000 * 1000  # the documented limit of an import's body (decimal, the safe reading)


@dataclass(frozen=True)
class Settings:
    api_base_url: str = DEFAULT_API_BASE_URL
    request_timeout: float = 121.0
    max_attempts: int = 6
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    max_rate_limit_wait: float = 120.0
    import_max_bytes: int = 49_500_000
    contact_batch_size: int = 250_000
    order_batch_size: int = 250_000
    catalog_batch_size: int = 250_000
    max_active_contact_imports: int = 25
    max_active_insight_imports: int = 5
    poll_interval: float = 5.0  # the vendor's pace (every 5-30 s); grows by half each poll
    poll_max_interval: float = 30.0
    import_timeout: float = 3600.0
    stuck_import_seconds: float = 600.0
    single_upsert_max: int = 1
    lookup_cache_seconds: float = 60.0
    enrolments_per_hour: int = 20
    enrolment_batch_size: int = 25

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Settings:
        """Typed settings from a config table; unknown keys and bad values stop with a message."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"[plugins.{PLUGIN_NAME}] has unknown key(s): {', '.join(unknown)}")
        typed: dict[str, Any] = {}
        for name, value in values.items():
            kind = type(getattr(cls, name))
            try:
                typed[name] = kind(value)
            except (TypeError, ValueError):
                raise ConfigError(f"[plugins.{PLUGIN_NAME}] {name} must be a {kind.__name__}") from None
        settings = cls(**typed)
        for name in ("contact_batch_size", "order_batch_size", "catalog_batch_size"):
            if not 1 <= getattr(settings, name) <= MAX_BATCH_SIZE:
                raise ConfigError(f"[plugins.{PLUGIN_NAME}] {name} must be between 1 and {MAX_BATCH_SIZE}")
        if not 1_000 <= settings.import_max_bytes <= MAX_IMPORT_BYTES:
            raise ConfigError(f"[plugins.{PLUGIN_NAME}] import_max_bytes must be between 1000 and {MAX_IMPORT_BYTES}")
        for name in ("max_active_contact_imports", "max_active_insight_imports"):
            if getattr(settings, name) < 1:
                raise ConfigError(f"[plugins.{PLUGIN_NAME}] {name} must be at least 1")
        return settings


def current_settings() -> Settings:
    """The running app's settings for this plugin."""
    return Settings.from_mapping(plugin_config(PLUGIN_NAME))
