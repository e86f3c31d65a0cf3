"""Pipelined bulk imports: the ``BatchWriter`` behind contacts and Insight data writes.

Records are encoded (orjson) one by one into the body of the next import, as the host hands
them over, until one more would take the body past ``import_max_bytes`` (just under the 50 MB
the API takes, reference §4.4 / §7.2) or the import past its record cap. The import is then
submitted (``PUT``) and recorded as a job the moment the service answers 202 (``jobs``: a crash
resumes it), and the writer goes on filling the next body. Imports in flight are polled
without blocking, each at its own pace (``poll_interval`` growing by half up to
``poll_max_interval``), on each later ``add``; when as many are in flight as the API allows
at once (25 contact imports, 5 Insight imports, ``max_active_*_imports``) the writer waits for
one to end before it submits another. ``finish`` submits the last body and waits for them all.

What the writer holds is bounded: the encoded bytes of the body being filled, and per import
in flight the keys it carries (an email or record key → the host's source ids), never the
records themselves. The batch hash of an import is the hash of its body's very bytes, so a
crash that has the host send the same records again rebuilds the same body and polls the
import left running (or closed at the next cycle's start, its answers unread) instead of
submitting it again (``jobs._find_unfinished``).

The rules of ``jobs`` hold for each import: one found ``stuck_import_seconds`` old is marked
stuck (the Store tab says so) and ends the write with a ``TransientError``; one still running
after ``import_timeout`` ends it too; either is checked again, never resubmitted, by the next
write of the same body or the next cycle's start.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from host.destinations import BatchWriter, DestinationRecord, WriteResult
from host.errors import TransientError
from host.models import Connection

from . import jobs
from .client import ApiError, EngagementCloudClient
from .config import Settings

# (key, encoded item): the key answers are matched by (an email, a record key).
Encode = Callable[[DestinationRecord], tuple[str, bytes]]
# (status body, keys) → key → answer; raises ``ConfigurationError`` for an account problem.
ReadReport = Callable[[dict[str, Any], list[str]], dict[str, WriteResult]]


class RecordRefused(Exception):
    """Raised by an ``encode_record`` for a record that must not be sent as it is: it is
    answered at once as refused, with ``reason`` (``"<code>: <sentence>"``), and never blocks
    the other records of the write."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode(value: Any) -> bytes:
    """JSON bytes as the import body carries them."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


@dataclass
class _InFlight:
    job: jobs.OpenJob
    sources: dict[str, list[str]]  # key → the host's source ids carried by it
    next_poll: float  # monotonic
    interval: float
    submitted_at: float  # monotonic: ``import_timeout`` counts from here
    waiting: int  # source ids


class ImportWriter(BatchWriter):
    """One target (a book, a collection) written through pipelined bulk imports."""

    def __init__(
        self,
        client: EngagementCloudClient,
        settings: Settings,
        service: jobs.ImportService,
        *,
        connection: Connection,
        kind: str,  # the job kind: "contacts", "insight:<collection>"
        head: bytes,  # the body up to its list's "["
        encode_record: Encode,
        read_report: ReadReport,
        max_records: int,
        max_active: int,
        on_api_error: Callable[[ApiError], Exception | None] = lambda error: None,
        single: Callable[[bytes], WriteResult] | None = None,
        on_finish: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client, self.settings, self.service = client, settings, service
        self.connection, self.kind = connection, kind
        self.head, self.tail = head, b"]}"
        self._encode, self._read_report = encode_record, read_report
        self.max_bytes = settings.import_max_bytes
        self.max_records = max(1, max_records)
        self.max_active = max(1, max_active)
        self._on_api_error, self._single, self._on_finish = on_api_error, single, on_finish
        self._clock, self._sleep = clock, sleep
        # The body being filled, from its head, each item appended as it is encoded (orjson's
        # own bytes objects keep a 4 KB buffer each: they are not kept).
        self._body = bytearray(self.head)
        self._index: dict[str, tuple[int, int]] = {}  # key → (offset, length) of its item
        self._sources: dict[str, list[str]] = {}
        self._buffered = 0  # source ids in the body being filled
        self._in_flight: list[_InFlight] = []
        self.imports = 0  # submitted (or resumed) by this writer

    # ------------------------------------------------------------------ BatchWriter
    @property
    def waiting(self) -> int:
        return self._buffered + sum(job.waiting for job in self._in_flight)

    def add(self, records: Sequence[DestinationRecord]) -> list[WriteResult]:
        results = self._poll_due()
        for record in records:
            try:
                key, part = self._encode(record)
            except RecordRefused as refused:
                results.append(WriteResult(record.source_id, False, None, refused.reason))
                continue
            if any(key in job.sources for job in self._in_flight):
                # The same record again while an import carrying it runs: let that one land
                # first, so the newer version is applied last.
                results += self._wait_for(lambda job, key=key: key in job.sources)
            if key in self._index:  # twice in one body: the later version wins, one answer for all
                self._replace(key, part)
            else:
                if self._index and (
                    len(self._body) + 1 + len(part) + len(self.tail) > self.max_bytes
                    or len(self._index) >= self.max_records
                ):
                    results += self._submit()
                if self._index:
                    self._body += b","
                self._index[key] = (len(self._body), len(part))
                self._body += part
            del part
            self._sources.setdefault(key, []).append(record.source_id)
            self._buffered += 1
        return results

    def drain(self, most: int) -> list[WriteResult]:
        """Wait for the imports in flight first (the body being filled stays whole); submit it
        early only when nothing else is left to wait for."""
        results: list[WriteResult] = []
        while self.waiting > most:
            if self._in_flight:
                results += self._wait_for(lambda job: True)
            elif self._index:
                results += self._submit()
            else:
                break
        return results

    def finish(self) -> list[WriteResult]:
        if self._on_finish is not None and (self._index or self.imports):
            self._on_finish()
        results: list[WriteResult] = []
        if self._single is not None and not self.imports and 0 < len(self._index) <= self.settings.single_upsert_max:
            results += self._send_singly()
        elif self._index:
            results += self._submit()
        while self._in_flight:
            results += self._wait_for(lambda job: True)
        return results

    # ------------------------------------------------------------------ imports
    def _send_singly(self) -> list[WriteResult]:
        """A tiny write (the fast lane): one upsert call each, no import to wait for."""
        results = []
        for key, (start, length) in self._index.items():
            answer = self._single(bytes(self._body[start : start + length]))
            results += [WriteResult(source_id, answer.ok, answer.destination_id, answer.reason)
                        for source_id in self._sources[key]]
        self._reset()
        return results

    def _replace(self, key: str, part: bytes) -> None:
        """Put ``part`` where the item of ``key`` is; the items after it move (rare: a record
        handed over twice before its import was submitted)."""
        start, length = self._index[key]
        self._body[start : start + length] = part
        shift = len(part) - length
        if shift:
            for other, (offset, size) in self._index.items():
                if offset > start:
                    self._index[other] = (offset + shift, size)
        self._index[key] = (start, len(part))

    def _reset(self) -> None:
        self._body, self._index, self._sources, self._buffered = bytearray(self.head), {}, {}, 0

    def _submit(self) -> list[WriteResult]:
        """Submit the body filled so far (or resume the identical import a crash left running)."""
        results: list[WriteResult] = []
        while len(self._in_flight) >= self.max_active:
            results += self._wait_for(lambda job: True)
        self._body += self.tail
        body = self._body  # sent as it is (a buffer: no copy of up to 50 MB)
        sources, count = self._sources, self._buffered
        self._reset()
        digest = hashlib.sha256(body).hexdigest()
        self.imports += 1
        job = jobs._find_unfinished(self.connection, self.kind, digest)
        if job is not None:
            flight = _InFlight(job, sources, self._clock(), self.settings.poll_interval, self._clock(), count)
            try:
                status = self._status(flight)
            except ApiError as error:
                if error.status != 404:
                    raise
                jobs._record_outcome(self.connection, job.id, "failed", {"status": "NotFound"})  # expired
                job = None
            else:
                if status is not None:
                    return results + self._answer(flight, status)
                self._in_flight.append(flight)
                return results
        try:
            answer = self.client.send("PUT", self.service.submit_path, data=body)  # 429: waits
        except ApiError as error:
            raise (self._on_api_error(error) or error) from None
        del body
        import_id = str((answer.body or {}).get("importId") or "")
        if not import_id:
            raise TransientError(f"Engagement Cloud accepted an import without an id ({self.kind})")
        job = jobs._record_submitted(self.connection, self.kind, import_id, len(sources), digest)
        now = self._clock()
        interval = self.settings.poll_interval
        self._in_flight.append(_InFlight(job, sources, now + interval, interval, now, count))
        return results

    def _poll_due(self) -> list[WriteResult]:
        """Poll the imports whose turn has come, without waiting; answer those that ended."""
        results: list[WriteResult] = []
        now = self._clock()
        for flight in [job for job in self._in_flight if job.next_poll <= now]:
            status = self._status(flight)
            if status is not None:
                self._in_flight.remove(flight)
                results += self._answer(flight, status)
        return results

    def _wait_for(self, wanted: Callable[[_InFlight], bool]) -> list[WriteResult]:
        """Poll, at each import's pace, until one ``wanted`` import ended (and any other
        whose turn came meanwhile); answer what ended."""
        results: list[WriteResult] = []
        while any(wanted(job) for job in self._in_flight):
            flight = min(self._in_flight, key=lambda job: job.next_poll)
            delay = flight.next_poll - self._clock()
            if delay > 0:
                self._sleep(delay)
            status = self._status(flight)
            if status is not None:
                self._in_flight.remove(flight)
                results += self._answer(flight, status)
                if wanted(flight):
                    break
        return results

    def _status(self, flight: _InFlight) -> dict[str, Any] | None:
        """One status call: the final status body, or None while it runs (next poll planned).
        Raises ``TransientError`` for an import stuck or running past ``import_timeout``."""
        job = flight.job
        body = self.client.get(self.service.status_path.format(id=job.remote_id)) or {}
        if body.get("status") in jobs.DONE or body.get("status") in jobs.FAILED:
            return body
        if jobs._age(job) >= self.settings.stuck_import_seconds:
            raise jobs._mark_stuck(self.connection, job, self.kind)
        now = self._clock()
        if now - flight.submitted_at >= self.settings.import_timeout:
            raise jobs.StillRunning(
                f"Engagement Cloud import {job.remote_id} is still processing; it will be checked again next sync"
            )
        until_stuck = self.settings.stuck_import_seconds - jobs._age(job)
        flight.next_poll = now + max(0.0, min(flight.interval, until_stuck))
        flight.interval = min(flight.interval * 1.5, self.settings.poll_max_interval)
        return None

    def _answer(self, flight: _InFlight, status: dict[str, Any]) -> list[WriteResult]:
        state = "finished" if status.get("status") in jobs.DONE else "failed"
        jobs._record_outcome(self.connection, flight.job.id, state,
                             {"status": status.get("status"), "summary": status.get("summary"), "unanswered": False})
        jobs._clear_stuck_if_none(self.connection)
        answers = self._read_report(status, list(flight.sources))
        return [WriteResult(source_id, answer.ok, answer.destination_id, answer.reason)
                for key, answer in answers.items() for source_id in flight.sources.get(key, ())]


def in_order(records: Sequence[DestinationRecord], results: Sequence[WriteResult]) -> list[WriteResult]:
    """One answer per record, in the records' order (a writer answers as imports end)."""
    by_source = {result.source_id: result for result in results}
    return [by_source.get(record.source_id)
            or WriteResult(record.source_id, False, None, "no answer for this record")
            for record in records]
