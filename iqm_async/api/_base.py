"""What a server API variant is: the one place that knows routes, bodies and status words.

A variant is a plain object without I/O. The client asks it for the :class:`Route` of each
operation, for the bytes of a run request, and to read each reply into the neutral types of
:mod:`iqm_async.results`; the HTTP boundary sends what it is given and retries as the
:class:`~iqm_async.policies.RetryPolicy` says. Adding a server API means one new subclass of
:class:`ServerAPI` (see ``docs/architecture.md``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from ..errors import ConfigurationError, InvalidResponseError
from ..metadata import Metadata
from ..models import Circuit, DynamicQuantumArchitecture, QuantumArchitectureSpecification
from ..quality import QualityMetrics
from ..results import CircuitCounts, JobResult, JobStatus
from ..transport import Route, ServerErrorText, server_message, shown_text

__all__ = [
    "Route",
    "ServerAPI",
    "check_uuid",
    "parse_reply",
    "validation_problems",
]

ModelT = TypeVar("ModelT", bound=BaseModel)


class ServerAPI(ABC):
    """One server API: its routes, its request bodies and how its replies read.

    Subclasses implement every abstract method as a pure function of its arguments; a
    reply that is not what the API says is an :class:`InvalidResponseError` (see
    :func:`parse_reply`), never a foreign exception.
    """

    name: ClassVar[str]
    """Short name of the API, as ``AsyncIQMClient(api=...)`` accepts it."""

    password_login: ClassVar[bool] = True
    """True if the API's servers take a username/password login (an auth server)."""

    counts_from_measurements: ClassVar[bool] = False
    """True: ``Job.counts()`` counts the measurements it already has instead of fetching
    :meth:`counts_route` (for APIs whose result fetch gives every shot anyway)."""

    # --- routes -------------------------------------------------------------------------------

    @abstractmethod
    def submit_route(self) -> Route:
        """Where a run request is sent."""

    @abstractmethod
    def status_route(self, job_id: str) -> Route:
        """The cheapest request that tells a job's status (what the poller sends)."""

    @abstractmethod
    def result_route(self, job_id: str, status: JobStatus) -> Route | None:
        """What to fetch once ``status`` is terminal; ``None`` when the status says all
        (e.g. a cancelled job, or an API whose status reply carries the failure)."""

    def metadata_route(self, job_id: str) -> Route | None:
        """Where a finished job's metadata is, when its result does not carry it (default:
        ``None``, the result carries it)."""
        return None

    def read_metadata(self, job_id: str, reply: httpx.Response, status: JobStatus) -> Metadata:
        """The reply of :meth:`metadata_route` as :class:`Metadata` (``status`` is the job's
        final status)."""
        raise NotImplementedError(f"The {self.name} API sends metadata with the result.")

    @abstractmethod
    def counts_route(self, job_id: str) -> Route:
        """The histograms of a finished job."""

    @abstractmethod
    def cancel_route(self, job_id: str) -> Route:
        """Cancel (abort) a job."""

    @abstractmethod
    def delete_route(self, job_id: str) -> Route:
        """Delete a job and its data from the server."""

    @abstractmethod
    def architecture_route(self) -> Route:
        """The static quantum architecture (qubits and couplings)."""

    @abstractmethod
    def dynamic_architecture_route(self, calibration_set: str) -> Route:
        """The gates one calibration set can run; ``calibration_set`` is a UUID or
        ``"default"``."""

    def quality_metrics_route(self, calibration_set: str) -> Route | None:
        """The quality metrics of one calibration set (a UUID or ``"default"``); ``None``
        when the API has no such route (default)."""
        return None

    def read_quality_metrics(
        self, reply: httpx.Response, *, default_implementations: Mapping[str, str] | None = None
    ) -> QualityMetrics:
        """The reply of :meth:`quality_metrics_route`: missing, invalid and non-numeric
        figures are absent; ``default_implementations`` (gate -> implementation, from the
        dynamic architecture) picks among figures of several implementations."""
        raise NotImplementedError(f"The {self.name} API publishes no quality metrics.")

    # --- requests -----------------------------------------------------------------------------

    @property
    @abstractmethod
    def run_options(self) -> frozenset[str]:
        """Keyword options ``AsyncIQMClient.submit`` accepts besides its named arguments."""

    @abstractmethod
    def encode_run(
        self,
        circuits: Circuit | Sequence[Circuit],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
        options: Mapping[str, Any],
    ) -> bytes:
        """The body of a run request, every input checked.

        Raises:
            ConfigurationError: bad shots, mapping, calibration set id or option.
            CircuitValidationError: a circuit the server would refuse.
        """

    @abstractmethod
    def encode_run_json(
        self,
        circuits_json: Sequence[str],
        *,
        shots: int,
        qubit_mapping: Mapping[str, str] | None,
        calibration_set_id: UUID | str | None,
    ) -> bytes:
        """The body of a run request around circuits that are already this API's JSON (from
        a trusted translator; not parsed). The other fields are checked as in
        :meth:`encode_run`."""

    # --- replies ------------------------------------------------------------------------------

    @abstractmethod
    def read_job_id(self, reply: httpx.Response) -> str:
        """The job id in a submit reply (a UUID string)."""

    def read_submitted(self, reply: httpx.Response) -> tuple[str, JobStatus | None]:
        """A submit reply: the job id, and the job's status where the reply carries one
        (default: :meth:`read_job_id` and no status)."""
        return self.read_job_id(reply), None

    @abstractmethod
    def read_status(self, reply: httpx.Response) -> JobStatus:
        """A status reply as a :class:`JobStatus`."""

    @abstractmethod
    def read_result(
        self, job_id: str, reply: httpx.Response, status: JobStatus | None = None
    ) -> JobResult | JobStatus:
        """The reply of :meth:`result_route`: the :class:`JobResult` of a completed job, or
        the job's :class:`JobStatus` when it holds no result (failed, or not finished after
        all: the result may lag behind the status). ``status`` is the terminal status the
        poller saw, for APIs whose result reply does not repeat it."""

    @abstractmethod
    def read_counts(self, job_id: str, reply: httpx.Response) -> list[CircuitCounts]:
        """The reply of :meth:`counts_route`, one histogram per circuit."""

    @abstractmethod
    def read_architecture(self, reply: httpx.Response) -> QuantumArchitectureSpecification:
        """The reply of :meth:`architecture_route`."""

    @abstractmethod
    def read_dynamic_architecture(self, reply: httpx.Response) -> DynamicQuantumArchitecture:
        """The reply of :meth:`dynamic_architecture_route`."""

    def error_text(self, reply: httpx.Response) -> str | ServerErrorText:
        """The server's explanation in an error reply (redacted, cut to a sane length).

        The default reads ``detail`` or ``message`` from a JSON body, else the raw text.
        """
        return server_message(reply)


# --- helpers for variants (no I/O) -------------------------------------------------------------


def check_uuid(value: UUID | str, what: str) -> UUID:
    """``value`` as a UUID; a :class:`ConfigurationError` naming ``what`` if it is not one."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise ConfigurationError(f"{what} must be a UUID, got {value!r}") from None


def validation_problems(exc: ValidationError) -> str:
    """The first three problems of a reply that did not parse, each as ``where: what``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
        for err in exc.errors()[:3]
    )


def parse_reply(
    response: httpx.Response, model: type[ModelT], what: str, content: bytes | None = None
) -> ModelT:
    """Parse a success reply into ``model``; anything else is an :class:`InvalidResponseError`.

    ``what`` names the reply for the message, e.g. ``"job status"``; ``content`` replaces the
    reply's body when given.
    """
    url = str(response.request.url)
    try:
        # One pass from bytes to model: json.loads then model_validate built every per-shot
        # list twice and left the garbage collector a large heap to walk (~3x slower).
        return model.model_validate_json(response.content if content is None else content)
    except ValidationError as exc:
        errors = exc.errors()
        if any(err["type"] == "json_invalid" for err in errors):
            kind = response.headers.get("content-type", "no content type")
            snippet = shown_text(response, response.text.strip(), 80)
            raise InvalidResponseError(
                f"The {what} from {url} is not JSON ({kind}; starts with {snippet!r}). Check "
                "that the URL points at an IQM server (not a login page or proxy).",
                url=url,
            ) from None
        problems = validation_problems(exc)
        raise InvalidResponseError(
            f"The {what} from {url} is not what the IQM protocol says ({problems}). Check "
            "that the URL points at a supported IQM server version.",
            url=url,
        ) from None
