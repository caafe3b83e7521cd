"""Placement and routing that keep the best of a few deterministic tries (private module).

Which placement routes a circuit with the fewest SWAPs depends on the circuit: graph placement
suits sparse interaction graphs, line placement suits chains and QFT-like circuits, and
placing qubits on the fly while routing suits circuits that touch qubits one after another.
pytket's ``DefaultMappingPass`` runs a graph search under a wall-clock limit and falls back to
a line placement when the search runs out of time, so its result changes with machine load.
Instead we route with a fixed list of placements, each bounded by search size rather than
time, finish each routed circuit (the passes after routing), and keep the one with the fewest
CZ gates; ties go to the earlier candidate. Same circuit in, same circuit out.

With the device's error rates (:class:`~iqm_async.compiler._noise.DeviceErrors`), the
candidates are today's plus pytket's ``NoiseAwarePlacement`` (bounded by match count, as the
graph placements), each routed circuit is moved to the best spot of the chip for its gates
(:mod:`iqm_async.compiler._embed`), and the one with the highest estimated success
probability wins; ties go to fewer CZs, then to the earlier candidate.

The choice is a ``CustomPassMap`` (so the compilation unit's initial and final maps stay
right); its label holds the architecture and level as JSON, and :func:`pass_from_dict`
rebuilds it in a worker process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from pytket.architecture import Architecture
from pytket.circuit import Circuit, OpType
from pytket.mapping import LexiLabellingMethod, LexiRouteRoutingMethod
from pytket.passes import (
    BasePass,
    CustomPassMap,
    CustomRoutingPass,
    FullMappingPass,
    NaivePlacementPass,
    SequencePass,
)
from pytket.placement import GraphPlacement, LinePlacement, NoiseAwarePlacement, Placement
from pytket.predicates import CompilationUnit
from pytket.unit_id import Node, UnitID

from ._embed import best_embedding, device_costs
from ._noise import DeviceErrors, log_success, moved, noise_aware_placement_errors, tally

# A GraphPlacement stops after this many matches or this much wall-clock time, whichever
# comes first; the time limit is a far-away safety net (never reached on 20 qubits), so the
# match count decides and the result does not depend on machine load.
PLACEMENT_MAX_MATCHES = 100
PLACEMENT_SAFETY_TIMEOUT_MS = 600_000

# Candidate placements, tried in this order (ties keep the earlier one). Level 0 tries the
# first two, level 1 the first three, level 2 all five: each try routes and finishes the
# circuit again, so the list grows with the optimisation level the caller pays for.
# ("graph", gates, depth): GraphPlacement on a pattern of at most that many gates/depth;
# ("line", gates, depth): LinePlacement with those bounds; ("on the fly",): no placement,
# LexiLabellingMethod assigns each qubit when routing first needs it. Pattern graphs of 100
# gates are avoided: their first match alone can take over 10 s on a random 20-qubit circuit.
# Chosen on benchmarks/compile_quality.py (QFT, GHZ and random circuits on Garnet).
CANDIDATES: tuple[tuple[str, ...] | tuple[str, int, int], ...] = (
    ("graph", 20, 20),
    ("line", 20, 20),
    ("graph", 30, 30),
    ("line", 100, 100),
    ("on the fly",),
)
CANDIDATES_PER_LEVEL = {0: 2, 1: 3, 2: 5}

# Tried after those when error rates are known: ("noise-aware", gates, depth), pytket's
# NoiseAwarePlacement on a pattern of at most that many gates/depth, stopped after
# NOISE_AWARE_MAX_MATCHES matches (the time limit is the same far-away safety net).
NOISE_AWARE_CANDIDATES: tuple[tuple[str, int, int], ...] = (("noise-aware", 20, 20),)
NOISE_AWARE_MAX_MATCHES = 100

LABEL_PREFIX = "iqm_async.fewest_cz_mapping:"

UnitMap = Mapping[UnitID, UnitID]
FinishingPasses = Callable[[int], list[BasePass]]


def _routing_methods() -> list[Any]:
    return [LexiLabellingMethod(), LexiRouteRoutingMethod()]


def _placement(
    architecture: Architecture, candidate: Sequence[Any], errors: DeviceErrors | None = None
) -> Placement | None:
    kind = candidate[0]
    if kind == "noise-aware":
        if errors is None:
            raise ValueError("A noise-aware placement needs the device's error rates.")
        node_errors, link_errors, readout_errors = noise_aware_placement_errors(
            errors, architecture
        )
        return NoiseAwarePlacement(
            architecture,
            node_errors,
            link_errors,
            readout_errors,
            maximum_matches=NOISE_AWARE_MAX_MATCHES,
            timeout=PLACEMENT_SAFETY_TIMEOUT_MS,
            maximum_pattern_gates=candidate[1],
            maximum_pattern_depth=candidate[2],
        )
    if kind == "graph":
        return GraphPlacement(
            architecture,
            maximum_matches=PLACEMENT_MAX_MATCHES,
            timeout=PLACEMENT_SAFETY_TIMEOUT_MS,
            maximum_pattern_gates=candidate[1],
            maximum_pattern_depth=candidate[2],
        )
    if kind == "line":
        return LinePlacement(
            architecture, maximum_line_gates=candidate[1], maximum_line_depth=candidate[2]
        )
    return None


def mapping_pass(
    architecture: Architecture, candidate: Sequence[Any], errors: DeviceErrors | None = None
) -> BasePass:
    """Place (as ``candidate`` says) and route onto ``architecture``; unused nodes are
    assigned naively so every circuit qubit ends on a node."""
    placement = _placement(architecture, candidate, errors)
    if placement is None:
        return SequencePass(
            [
                CustomRoutingPass(architecture, _routing_methods()),
                NaivePlacementPass(architecture),
            ]
        )
    return FullMappingPass(architecture, placement, _routing_methods())


def candidate_passes(
    architecture: Architecture,
    optimisation_level: int,
    finishing: FinishingPasses,
    errors: DeviceErrors | None = None,
) -> list[BasePass]:
    """The complete passes tried from placement on: mapping, then ``finishing(level)``;
    with ``errors``, the noise-aware placements too."""
    chosen: list[Sequence[Any]] = list(CANDIDATES[: CANDIDATES_PER_LEVEL[optimisation_level]])
    if errors is not None:
        chosen += NOISE_AWARE_CANDIDATES
    return [
        SequencePass([mapping_pass(architecture, c, errors), *finishing(optimisation_level)])
        for c in chosen
    ]


def fewest_cz(
    candidates: Sequence[BasePass], circuit: Circuit
) -> tuple[Circuit, tuple[UnitMap, UnitMap]]:
    """Apply every candidate to a copy of ``circuit``; return the result with the fewest CZ
    gates (ties: the earliest candidate) with its initial and final maps.

    Raises whatever the first failing candidate raises (e.g. a circuit too big for the device).
    """
    best: tuple[int, CompilationUnit] | None = None
    for candidate in candidates:
        unit = CompilationUnit(circuit.copy())
        candidate.apply(unit)
        cz_count = unit.circuit.n_gates_of_type(OpType.CZ)
        if best is None or cz_count < best[0]:
            best = (cz_count, unit)
    if best is None:
        raise ValueError("fewest_cz needs at least one candidate pass.")
    unit = best[1]
    return unit.circuit, (unit.initial_map, unit.final_map)


def _relabelled(
    unit: CompilationUnit, moves: Mapping[int, int]
) -> tuple[Circuit, UnitMap, UnitMap]:
    """The unit's circuit and maps with node ``i`` renamed ``node[moves[i]]``."""
    renames: dict[UnitID, UnitID] = {
        Node(old): Node(new) for old, new in moves.items() if old != new
    }
    circuit = unit.circuit.copy()
    if not renames:
        return circuit, unit.initial_map, unit.final_map
    circuit.rename_units(renames)

    def moved(units: UnitMap) -> dict[UnitID, UnitID]:
        return {key: renames.get(value, value) for key, value in units.items()}

    return circuit, moved(unit.initial_map), moved(unit.final_map)


def most_likely_to_succeed(
    candidates: Sequence[BasePass],
    architecture: Architecture,
    errors: DeviceErrors,
    circuit: Circuit,
) -> tuple[Circuit, tuple[UnitMap, UnitMap]]:
    """Apply every candidate to a copy of ``circuit``, move each result to its best spot on
    the chip, and return the one with the highest estimated success probability (ties: fewer
    CZs, then the earliest candidate) with its initial and final maps.

    Raises whatever the first failing candidate raises (e.g. a circuit too big for the device).
    """
    device = device_costs(errors, [(a.index[0], b.index[0]) for a, b in architecture.coupling])
    best: tuple[tuple[float, int], Circuit, UnitMap, UnitMap] | None = None
    for candidate in candidates:
        unit = CompilationUnit(circuit.copy())
        candidate.apply(unit)
        counts = tally(unit.circuit)
        moves = best_embedding(counts, device)
        score = log_success(moved(counts, moves), errors)
        rank = (-score, sum(counts.cz.values()))
        if best is None or rank < best[0]:
            best = (rank, *_relabelled(unit, moves))
    if best is None:
        raise ValueError("most_likely_to_succeed needs at least one candidate pass.")
    return best[1], (best[2], best[3])


def fewest_cz_mapping_pass(
    architecture: Architecture,
    optimisation_level: int,
    finishing: FinishingPasses,
    errors: DeviceErrors | None = None,
) -> BasePass:
    """A pass that runs :func:`candidate_passes` and keeps the fewest-CZ result, or with
    ``errors``, the result most likely to succeed (:func:`most_likely_to_succeed`)."""
    settings: dict[str, Any] = {"architecture": architecture.to_dict(), "level": optimisation_level}
    if errors is not None:
        settings["errors"] = errors.to_json()
    label = LABEL_PREFIX + json.dumps(settings, sort_keys=True)
    return CustomPassMap(_choice(architecture, optimisation_level, finishing, errors), label=label)


def _choice(
    architecture: Architecture,
    optimisation_level: int,
    finishing: FinishingPasses,
    errors: DeviceErrors | None,
) -> Callable[[Circuit], tuple[Circuit, tuple[UnitMap, UnitMap]]]:
    candidates = candidate_passes(architecture, optimisation_level, finishing, errors)
    if errors is None:
        return partial(fewest_cz, candidates)
    return partial(most_likely_to_succeed, candidates, architecture, errors)


def _labels(pass_dict: Any) -> list[str]:
    """Every CustomPassMap label of ours in a pass dict (any nesting)."""
    found: list[str] = []
    if isinstance(pass_dict, dict):
        label = pass_dict.get("label")
        if pass_dict.get("name") == "CustomPassMap" and isinstance(label, str):
            found += [label] if label.startswith(LABEL_PREFIX) else []
        for value in pass_dict.values():
            found += _labels(value)
    elif isinstance(pass_dict, list):
        for value in pass_dict:
            found += _labels(value)
    return found


def pass_from_dict(pass_dict: dict[str, Any], finishing: FinishingPasses) -> BasePass:
    """``BasePass.from_dict`` that also rebuilds our mapping passes (fewest-CZ and
    noise-aware)."""
    rebuilt = {}
    for label in _labels(pass_dict):
        settings = json.loads(label.removeprefix(LABEL_PREFIX))
        architecture = Architecture.from_dict(settings["architecture"])
        errors = settings.get("errors")
        rebuilt[label] = _choice(
            architecture,
            settings["level"],
            finishing,
            None if errors is None else DeviceErrors.from_json(errors),
        )
    return BasePass.from_dict(pass_dict, custom_map_deserialisation=rebuilt)
