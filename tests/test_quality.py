"""Quality metrics: names taken apart, figures kept or dropped, implementations preferred."""

from __future__ import annotations

import math
from uuid import UUID

import pytest

from iqm_async.quality import (
    MetricName,
    QubitQuality,
    metrics_from_observations,
    parse_metric_name,
)

CAL = UUID("49229fc0-7406-48a4-bd53-9679cd57f9c7")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "metrics.rb.prx.drag_crf_sx.QB1.fidelity:par=d2",
            MetricName("prx", ("QB1",), "fidelity", "drag_crf_sx", "par=d2"),
        ),
        (
            "metrics.irb.cz.slepian_crf.QB2__QB1.fidelity:par=d2",
            MetricName("cz", ("QB2", "QB1"), "fidelity", "slepian_crf", "par=d2"),
        ),
        (
            "metrics.irb.move.crf_crf.QB1__COMPR1.fidelity:n_interleaved_gates=2",
            MetricName("move", ("QB1", "COMPR1"), "fidelity", "crf_crf", "n_interleaved_gates=2"),
        ),
        (
            "metrics.ssro.measure.constant.QB8.error_1_to_0",
            MetricName("readout", ("QB8",), "error_1_to_0", "constant"),
        ),
        (
            "metrics.ssro.measure_fidelity.constant.QB8.fidelity",
            MetricName("readout", ("QB8",), "fidelity", "constant"),
        ),
        (
            "characterization.model.COMPR1.t1_time",
            MetricName("model", ("COMPR1",), "t1_time"),
        ),
    ],
)
def test_names_read(name: str, expected: MetricName) -> None:
    assert parse_metric_name(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "metrics.rb.clifford.xy.QB1.fidelity:par=d2",  # a figure we do not read
        "metrics.rb.clifford.uz_cz.QB1__QB2.fidelity:par=d2",
        "metrics.qndness.measure.constant.QB1.repeatability",
        "metrics.irb.cz.slepian.QB1.fidelity",  # a CZ on one qubit
        "metrics.rb.prx.drag.QB1__QB2.fidelity",  # a prx on two
        "metrics.irb.cz.slepian.QB1__.fidelity",  # an empty component
        "metrics.rb.prx..QB1.fidelity",  # no implementation
        "characterization.model.QB1.frequency",
        "gates.prx.drag_crf.QB1.duration",
        "",
        "metrics",
    ],
)
def test_unread_names_are_none(name: str) -> None:
    assert parse_metric_name(name) is None


def test_a_non_string_name_is_none() -> None:
    assert parse_metric_name(12) is None  # type: ignore[arg-type]


def test_metrics_built_per_qubit_coupler_and_move() -> None:
    metrics = metrics_from_observations(
        [
            ("metrics.rb.prx.drag_crf.QB1.fidelity:par=d2", 0.9995),
            ("metrics.ssro.measure.constant.QB1.error_0_to_1", 0.01),
            ("metrics.ssro.measure.constant.QB1.error_1_to_0", 0.03),
            ("metrics.ssro.measure.constant.QB1.fidelity", 0.98),
            ("characterization.model.QB1.t1_time", 4.1e-5),
            ("characterization.model.QB1.t2_time", 9.8e-6),
            ("characterization.model.QB1.t2_echo_time", 2.3e-5),
            ("metrics.irb.cz.slepian_crf.QB2__QB1.fidelity:par=d2", 0.995),
            ("metrics.irb.move.crf_crf.QB1__COMPR1.fidelity:n_interleaved_gates=2", 0.99),
        ],
        calibration_set_id=CAL,
    )
    assert metrics.calibration_set_id == CAL
    assert metrics.qubit("QB1") == QubitQuality(
        prx_fidelity=0.9995,
        readout_error_0_to_1=0.01,
        readout_error_1_to_0=0.03,
        readout_fidelity=0.98,
        t1_s=4.1e-5,
        t2_s=9.8e-6,
        t2_echo_s=2.3e-5,
    )
    assert metrics.cz("QB1", "QB2") == metrics.cz("QB2", "QB1") == 0.995
    assert metrics.cz("QB1", "QB3") is None
    assert metrics.move("QB1", "COMPR1") == metrics.move("COMPR1", "QB1") == 0.99
    assert metrics.qubit("QB1").readout_error == pytest.approx(0.02)
    assert not metrics.is_empty


@pytest.mark.parametrize(
    "bad",
    [
        "0.99",  # a string: the server should send numbers
        True,
        None,
        math.nan,
        math.inf,
        0.0,  # a fidelity of zero is a failed measurement, not a figure
        1.2,
        -0.1,
        [0.99],
    ],
)
def test_unusable_fidelities_are_absent_never_perfect(bad: object) -> None:
    metrics = metrics_from_observations(
        [
            ("metrics.rb.prx.drag.QB1.fidelity", bad),
            ("metrics.irb.cz.slepian.QB1__QB2.fidelity", bad),
        ]
    )
    assert metrics.qubit("QB1").prx_fidelity is None
    assert metrics.cz("QB1", "QB2") is None
    assert metrics.is_empty


@pytest.mark.parametrize(
    ("value", "kept"), [(0.0, True), (1.0, True), (1.01, False), (-1e-9, False)]
)
def test_readout_errors_range(value: float, kept: bool) -> None:
    metrics = metrics_from_observations([("metrics.ssro.measure.c.QB1.error_0_to_1", value)])
    assert (metrics.qubit("QB1").readout_error_0_to_1 == value) is kept


@pytest.mark.parametrize("value", [0.0, -4e-5, math.inf])
def test_times_must_be_positive_and_finite(value: float) -> None:
    metrics = metrics_from_observations([("characterization.model.QB1.t1_time", value)])
    assert metrics.qubit("QB1").t1_s is None


def test_default_implementation_wins_then_parallel_figure() -> None:
    observations = [
        ("metrics.rb.prx.other.QB1.fidelity", 0.9),
        ("metrics.rb.prx.drag_crf.QB1.fidelity:par=d1", 0.991),
        ("metrics.rb.prx.drag_crf.QB1.fidelity:par=d2", 0.992),
        ("metrics.rb.prx.drag_crf.QB1.fidelity", 0.993),
    ]
    preferred = metrics_from_observations(observations, default_implementations={"prx": "drag_crf"})
    assert preferred.qubit("QB1").prx_fidelity == 0.992
    # The result does not depend on the order the server lists them in.
    backwards = metrics_from_observations(
        reversed(observations), default_implementations={"prx": "drag_crf"}
    )
    assert backwards == preferred
    # Without the architecture's defaults the choice is still deterministic.
    assert metrics_from_observations(observations) == metrics_from_observations(
        reversed(observations)
    )


def test_a_coupler_published_in_both_orders_keeps_one_entry() -> None:
    metrics = metrics_from_observations(
        [
            ("metrics.irb.cz.s.QB2__QB1.fidelity", 0.99),
            ("metrics.irb.cz.s.QB1__QB2.fidelity", 0.98),
        ]
    )
    assert list(metrics.cz_fidelity) == [("QB1", "QB2")]
    assert metrics.cz("QB2", "QB1") == 0.98


def test_readout_error_falls_back_to_fidelity() -> None:
    assert QubitQuality(readout_fidelity=0.97).readout_error == pytest.approx(0.03)
    assert QubitQuality(readout_error_0_to_1=0.01).readout_error is None
    assert QubitQuality().readout_error is None
