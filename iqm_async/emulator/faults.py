"""Fault injection decisions: which request gets an error, a throttle, a drop or a trickle
(no I/O).

One uniform draw per request picks at most one fault, so the configured rates are exact
probabilities: ``fail_rate`` (500, 502 or 503, equally likely), then ``throttle_rate`` (429
with ``Retry-After``), then ``drop_rate`` (connection dropped after the route ran), then
``trickle_rate`` (the route's answer sent a byte at a time). Draws come from a seeded
:class:`random.Random`, so a seeded emulator misbehaves repeatably. ``fault_routes`` limits
faults and latency to some routes (:meth:`FaultPlan.applies`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .config import EmulatorConfig

__all__ = ["Fault", "FaultPlan"]

ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True)
class Fault:
    """One injected fault: ``kind`` is ``"5xx"``, ``"429"``, ``"drop"`` or ``"trickle"``;
    ``status`` the code of an injected answer (0 where the route answers)."""

    kind: str
    status: int = 0


_DROP = Fault("drop")
_TRICKLE = Fault("trickle")


class FaultPlan:
    """Draws the fault (if any) and the extra latency of each request."""

    def __init__(self, config: EmulatorConfig, rng: random.Random) -> None:
        self._rng = rng
        self._fail = config.fail_rate
        self._throttle = config.fail_rate + config.throttle_rate
        self._drop = self._throttle + config.drop_rate
        self._trickle = self._drop + config.trickle_rate
        self._routes = [re.compile(route) for route in config.fault_routes]
        self.trickle_gap_s = config.trickle_gap_ms / 1000.0
        """Seconds between two bytes of a trickled answer."""
        self.trickle_s = config.trickle_s
        """The least time a trickled answer takes in all, in seconds."""
        self._latency_s = config.latency_ms / 1000.0
        self._spike_rate = config.latency_spike_rate
        self._spike_s = config.latency_spike_ms / 1000.0
        self._throttle_fault = Fault("429", 429)
        self.retry_after_s = config.retry_after_s

    @property
    def active(self) -> bool:
        """True when any fault or latency is configured (otherwise nothing is drawn)."""
        return (
            self._trickle > 0.0 or self._latency_s > 0.0 or self._spike_s * self._spike_rate > 0.0
        )

    def applies(self, method: str, path: str) -> bool:
        """True if the request may get faults and latency: ``fault_routes`` is empty, or
        one of them matches ``"METHOD /path"`` from its start (``"GET /jobs/"`` matches
        ``GET /jobs/<id>/status``)."""
        if not self._routes:
            return True
        request = f"{method} {path}"
        return any(route.match(request) for route in self._routes)

    def draw(self) -> Fault | None:
        """The fault for the next request, or ``None``."""
        if self._trickle <= 0.0:
            return None
        roll = self._rng.random()
        if roll < self._fail:
            return Fault("5xx", self._rng.choice(ERROR_STATUSES))
        if roll < self._throttle:
            return self._throttle_fault
        if roll < self._drop:
            return _DROP
        if roll < self._trickle:
            return _TRICKLE
        return None

    def latency(self) -> float:
        """Extra latency for the next request in seconds: ``latency_ms`` ±50 % jitter, plus
        ``latency_spike_ms`` ±50 % for the ``latency_spike_rate`` share of requests."""
        delay = 0.0
        if self._latency_s > 0.0:
            delay = self._latency_s * self._rng.uniform(0.5, 1.5)
        # No draw when spikes are off, so seeded runs without spikes draw as before.
        if self._spike_s > 0.0 and self._spike_rate > 0.0 and self._rng.random() < self._spike_rate:
            delay += self._spike_s * self._rng.uniform(0.5, 1.5)
        return delay

    def retry_after_header(self) -> str:
        """``Retry-After`` value: whole seconds when integral, else a decimal (e.g. ``0.05``)."""
        value = self.retry_after_s
        return str(int(value)) if float(value).is_integer() else f"{value:g}"
