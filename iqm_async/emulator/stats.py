"""Counters behind ``GET /_emulator/stats`` and the duplicate-submission detector (no I/O)."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict, deque
from typing import Any

__all__ = ["DuplicateDetector", "StatsCounters"]


class StatsCounters:
    """Plain counters, incremented on the server's event loop (no locks, no per-request cost
    beyond a dict update). Reading them from another thread is safe: copies are taken with
    single C-level calls."""

    def __init__(self) -> None:
        self.requests_by_route: Counter[str] = Counter()
        self.responses_by_status: Counter[str] = Counter()
        self.token_requests: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.faults_by_route: defaultdict[str, Counter[str]] = defaultdict(Counter)
        """Per route (``"POST /jobs"``), injected faults by outcome: ``"500"``, ``"429"``,
        ... and ``"drop <status>"`` with the status of the answer that was thrown away (a
        ``"drop 201"`` on ``POST /jobs`` is a job created that the client never heard of), and
        ``"trickle <status>"`` for an answer sent too slowly to arrive."""
        self.reset()

    def reset(self) -> None:
        """Zero every counter. The Counter objects are cleared in place, so a request in
        flight that already holds one still counts into the live statistics."""
        self.requests_total = 0
        self.jobs_created = 0
        self.duplicate_submissions = 0
        self.logouts = 0
        self.requests_by_route.clear()
        self.responses_by_status.clear()
        self.token_requests.clear()
        self.token_requests.update({"password": 0, "refresh_token": 0})
        self.faults_injected.clear()
        self.faults_injected.update({"5xx": 0, "429": 0, "drop": 0, "trickle": 0})
        self.faults_by_route.clear()

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready plain dicts."""
        return {
            "requests_total": self.requests_total,
            "requests_by_route": dict(self.requests_by_route),
            "responses_by_status": dict(self.responses_by_status),
            "jobs_created": self.jobs_created,
            "duplicate_submissions": self.duplicate_submissions,
            "token_requests": dict(self.token_requests),
            "logouts": self.logouts,
            "faults_injected": dict(self.faults_injected),
            "faults_by_route": {
                route: dict(kinds) for route, kinds in list(self.faults_by_route.items())
            },
        }


class DuplicateDetector:
    """Recognises a submit body identical to one received in the last ``window_s`` seconds."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._last_seen: dict[bytes, float] = {}
        self._order: deque[tuple[float, bytes]] = deque()

    def seen_recently(self, body: bytes, now: float) -> bool:
        """Record ``body`` at clock time ``now``; True if it was seen within the window."""
        while self._order and self._order[0][0] <= now - self.window_s:
            when, digest = self._order.popleft()
            if self._last_seen.get(digest) == when:
                del self._last_seen[digest]
        digest = hashlib.blake2b(body, digest_size=16).digest()
        previous = self._last_seen.get(digest)
        self._last_seen[digest] = now
        self._order.append((now, digest))
        return previous is not None and previous > now - self.window_s
