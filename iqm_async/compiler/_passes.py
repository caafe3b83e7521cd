"""pytket passes and predicates for IQM's native gates (private; see :mod:`iqm_async.compiler`).

Everything here is a plain function without I/O. Placement is made deterministic: pytket's
``DefaultMappingPass`` uses a ``GraphPlacement`` whose search stops on a wall-clock limit, so
its result (and the compiled circuit) changes with machine load. We route with a few
placements bounded by search size instead and keep the fewest-CZ result, or, given the
device's quality metrics, the result with the highest estimated success probability
(:mod:`iqm_async.compiler._mapping`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pytket.architecture import Architecture
from pytket.circuit import Circuit, OpType
from pytket.passes import (
    AutoRebase,
    BasePass,
    CliffordSimp,
    DecomposeBoxes,
    DelayMeasures,
    FullPeepholeOptimise,
    KAKDecomposition,
    RemoveRedundancies,
    SequencePass,
    SimplifyInitial,
    SynthesiseTket,
)
from pytket.predicates import (
    ConnectivityPredicate,
    GateSetPredicate,
    NoClassicalControlPredicate,
    NoFastFeedforwardPredicate,
    NoMidMeasurePredicate,
    NoSymbolsPredicate,
    Predicate,
)
from pytket.utils.prepare import prepare_circuit as _pytket_prepare_circuit

from ..errors import ConfigurationError
from ..metadata import NODE_REGISTER, qubit_name_to_node
from ..models import DynamicQuantumArchitecture
from ..quality import QualityMetrics
from . import _mapping
from ._noise import DeviceErrors, device_errors

OPTIMISATION_LEVELS = (0, 1, 2)

# IQM operation name -> the pytket OpType it runs. Barrier is not a calibrated gate (the DQA
# never lists it) but every IQM server accepts it, so it is always in the gate set.
_OPTYPE_OF_OPERATION = {"prx": OpType.PhasedX, "cz": OpType.CZ, "measure": OpType.Measure}
NATIVE_GATES = frozenset({OpType.PhasedX, OpType.CZ, OpType.Measure, OpType.Barrier})

# A one-qubit circuit for an X gate in the native gate set: PhasedX(1, 0) is X up to a phase.
X_CIRCUIT = Circuit(1).add_gate(OpType.PhasedX, [1, 0], [0]).add_phase(0.5)

ArchitectureLike = Architecture | DynamicQuantumArchitecture


def gate_set(architecture: DynamicQuantumArchitecture | None = None) -> set[OpType]:
    """The pytket gates an IQM device runs: PhasedX, CZ, Measure and Barrier.

    Args:
        architecture: when given, only the gates it has calibrated (``prx``, ``cz``,
            ``measure``) are included; Barrier is always included. Default: all four.
    """
    if architecture is None:
        return set(NATIVE_GATES)
    calibrated = {op for name, op in _OPTYPE_OF_OPERATION.items() if architecture.loci(name)}
    return calibrated | {OpType.Barrier}


def rebase_pass() -> BasePass:
    """Rebase any circuit to {PhasedX, CZ}; Measure and Barrier pass through unchanged."""
    return AutoRebase({OpType.CZ, OpType.PhasedX})


def architecture_from_dqa(
    dqa: DynamicQuantumArchitecture,
    couplings: Iterable[Sequence[str]] | None = None,
) -> Architecture:
    """The pytket ``Architecture`` of the qubit pairs with a calibrated CZ.

    Args:
        dqa: the dynamic quantum architecture of one calibration set.
        couplings: optional override, pairs of qubit names such as ``[("QB1", "QB2"), ...]``
            (e.g. to compile for a subset of the device). Each name must be a qubit of ``dqa``.

    Raises:
        ConfigurationError: the override names a qubit the device does not have, or a pair
            that is not two qubits, or there are no couplings at all.
    """
    if couplings is None:
        pairs = [(a, b) for a, b in dqa.couplings if a in dqa.qubits and b in dqa.qubits]
    else:
        pairs = []
        known = set(dqa.qubits)
        for pair in couplings:
            names = tuple(pair)
            if len(names) != 2 or names[0] == names[1]:
                raise ConfigurationError(
                    f"Coupling {list(names)} is not a pair of two different qubit names; give "
                    "pairs like ('QB1', 'QB2')."
                )
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ConfigurationError(
                    f"Coupling {list(names)} names {unknown}, which calibration set "
                    f"{dqa.calibration_set_id} does not have; its qubits are {dqa.qubits}."
                )
            pairs.append((names[0], names[1]))
    if not pairs:
        raise ConfigurationError(
            "The architecture has no qubit pairs with a calibrated CZ, so no two-qubit circuit "
            "can run; pass couplings explicitly or pick another calibration set."
        )
    return Architecture([(qubit_name_to_node(a), qubit_name_to_node(b)) for a, b in pairs])


def _as_architecture(architecture: ArchitectureLike) -> Architecture:
    if isinstance(architecture, DynamicQuantumArchitecture):
        return architecture_from_dqa(architecture)
    return architecture


def default_compilation_pass(
    architecture: ArchitectureLike,
    optimisation_level: int = 2,
    metrics: QualityMetrics | DeviceErrors | None = None,
) -> BasePass:
    """The pass that makes any pytket circuit runnable on the device, deterministically.

    The pass lists follow pytket-iqm 0.18: level 0 only rebases, places and routes; level 1
    adds ``SynthesiseTket``; level 2 adds ``FullPeepholeOptimise`` before routing and KAK /
    Clifford / Tket resynthesis after it. Differences: placement is deterministic and the
    circuit is routed and finished with 2 (level 0), 3 (level 1) or 5 (level 2) candidate
    placements, keeping the one with the fewest CZ gates (see the module docstring); and
    classical registers are kept as they are (pytket-iqm flattens them), so results are read
    with the caller's own bit names.

    With ``metrics``, placement is noise-aware: pytket's ``NoiseAwarePlacement`` (bounded by
    match count) joins the candidates, each routed circuit is moved to where the chip's
    figures are best for its gates (same gates, other qubits), and the circuit with the
    highest :func:`estimated_success_probability` wins (ties: fewer CZs). Still
    deterministic. Without metrics, or metrics without a single figure, the pass is exactly
    the fewest-CZ one.

    The returned pass contains a ``CustomPassMap``: rebuild its ``to_dict()`` form with
    :func:`pass_from_dict`, not ``BasePass.from_dict``.

    Args:
        architecture: a pytket ``Architecture`` of ``node[i]`` nodes, or a
            ``DynamicQuantumArchitecture`` (converted with :func:`architecture_from_dqa`).
        optimisation_level: 0, 1 or 2. Default 2, as pytket's ``get_compiled_circuit``;
            a pytket ``Backend.default_compilation_pass`` for IQM defaults to 1, as pytket-iqm.
        metrics: the calibration set's quality metrics (``await client.quality_metrics()``),
            or None (default) to place by CZ count alone.

    Raises:
        ConfigurationError: for a level outside 0-2, or metrics with an architecture whose
            nodes are not ``node[i]`` (the metrics could not be matched to its qubits).
    """
    if optimisation_level not in OPTIMISATION_LEVELS:
        raise ConfigurationError(
            f"optimisation_level must be 0, 1 or 2, got {optimisation_level!r}."
        )
    arch = _as_architecture(architecture)
    passes: list[BasePass] = [DecomposeBoxes()]
    if optimisation_level == 0:
        passes.append(rebase_pass())  # routing needs gates of at most two qubits
    elif optimisation_level == 1:
        passes.append(SynthesiseTket())
    else:
        passes.append(FullPeepholeOptimise())
    errors = device_errors(metrics)
    if errors is not None and any(node.reg_name != NODE_REGISTER for node in arch.nodes):
        raise ConfigurationError(
            "Quality metrics name qubits QB<n>, which are the nodes node[n-1]; this "
            f"architecture has other nodes ({sorted(arch.nodes)[0]}, ...). Build it with "
            "architecture_from_dqa, or compile without metrics."
        )
    passes.append(
        _mapping.fewest_cz_mapping_pass(arch, optimisation_level, finishing_passes, errors)
    )
    return SequencePass(passes)


def finishing_passes(optimisation_level: int) -> list[BasePass]:
    """The passes after routing: delay measurements, (level 2) resynthesise, rebase, tidy."""
    passes: list[BasePass] = [DelayMeasures()]
    if optimisation_level == 2:
        passes += [
            KAKDecomposition(allow_swaps=False),
            CliffordSimp(allow_swaps=False),
            SynthesiseTket(),
        ]
    return [*passes, rebase_pass(), RemoveRedundancies()]


def pass_from_dict(pass_dict: dict[str, Any]) -> BasePass:
    """Rebuild a pass from its ``to_dict()`` form, including the mapping pass of
    :func:`default_compilation_pass` (which plain ``BasePass.from_dict`` refuses)."""
    return _mapping.pass_from_dict(pass_dict, finishing_passes)


def required_predicates(
    architecture: ArchitectureLike, gates: set[OpType] | None = None
) -> list[Predicate]:
    """What a circuit must satisfy to run: native gates on coupled qubits, no classical
    control, no fast feed-forward, no mid-circuit measurement, no symbols.

    Args:
        architecture: the coupling map (pytket ``Architecture`` or DQA).
        gates: the allowed gates; default :func:`gate_set` (of the DQA when one is given).
    """
    if gates is None:
        dqa = architecture if isinstance(architecture, DynamicQuantumArchitecture) else None
        gates = gate_set(dqa)
    return [
        NoClassicalControlPredicate(),
        NoFastFeedforwardPredicate(),
        NoMidMeasurePredicate(),
        NoSymbolsPredicate(),
        GateSetPredicate(set(gates)),
        ConnectivityPredicate(_as_architecture(architecture)),
    ]


def prepare_circuit(
    circuit: Circuit, postprocess: bool = False, simplify_initial: bool = False
) -> tuple[Circuit, Circuit | None]:
    """Optional fidelity improvements before translation; the input is never changed.

    Args:
        circuit: a compiled circuit (native gates on device nodes).
        postprocess: apply pytket's contextual optimisation, moving end-of-circuit gates into
            a classical post-processing circuit (returned as ``ppcirc``; give it to
            :func:`to_backend_result`). Default False.
        simplify_initial: apply ``SimplifyInitial``, assuming every qubit starts in |0>.
            Default False.

    Returns:
        ``(circuit to run, ppcirc or None)``; the first is always a new circuit.
    """
    ppcirc: Circuit | None = None
    if postprocess:
        prepared, ppcirc = _pytket_prepare_circuit(circuit, allow_classical=False, xcirc=X_CIRCUIT)
    else:
        prepared = circuit.copy()
    if simplify_initial:
        SimplifyInitial(allow_classical=False, create_all_qubits=True, xcirc=X_CIRCUIT).apply(
            prepared
        )
    return prepared, ppcirc
