"""Move a routed circuit to where the chip is best, without changing its gates (private).

A routed and finished circuit runs CZs only on couplers of the device. Any one-to-one map
of its nodes onto device nodes that sends every coupler it uses to a coupler of the device
gives a circuit with exactly the same gates, only elsewhere on the chip. Of those maps we
want the one with the highest estimated success probability: the sum, over its gates and
readouts, of the log-fidelity of the qubit or coupler each one lands on.

:func:`best_embedding` searches those maps depth first, most promising target first, and
prunes a branch as soon as even perfect luck on the rest could not beat the best map found
so far. The search stops after :data:`MAX_SEARCH_STEPS` steps, whatever the machine load, so
its answer is the same on every run; it starts from the circuit as routed, so it never
returns a worse map than that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._noise import DeviceErrors, GateTally

MAX_SEARCH_STEPS = 4000
"""Targets tried at most per circuit: about 10 ms of Python, found ample on Garnet-sized
chips (benchmarks/noise_aware_placement.py)."""

# Improvements smaller than this are rounding, not better placements: keep the earlier map.
_EPSILON = 1e-12


@dataclass(frozen=True)
class _Device:
    """Log-fidelities per device node and coupler (indices are pytket node indices)."""

    nodes: tuple[int, ...]
    neighbours: Mapping[int, tuple[int, ...]]
    log_prx: Mapping[int, float]
    log_readout: Mapping[int, float]
    log_cz: Mapping[tuple[int, int], float]

    def cz(self, a: int, b: int) -> float:
        return self.log_cz[(a, b) if a < b else (b, a)]


def device_costs(errors: DeviceErrors, couplings: Sequence[tuple[int, int]]) -> _Device:
    """The log-fidelities of every node and coupler of a coupling map."""
    neighbours: dict[int, set[int]] = {}
    log_cz: dict[tuple[int, int], float] = {}
    for a, b in couplings:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
        key = (a, b) if a < b else (b, a)
        log_cz[key] = math.log1p(-errors.cz_error(f"QB{a + 1}", f"QB{b + 1}"))
    nodes = tuple(sorted(neighbours))
    return _Device(
        nodes=nodes,
        neighbours={n: tuple(sorted(neighbours[n])) for n in nodes},
        log_prx={n: math.log1p(-errors.prx_error(f"QB{n + 1}")) for n in nodes},
        log_readout={n: math.log1p(-errors.readout_error(f"QB{n + 1}")) for n in nodes},
        log_cz=log_cz,
    )


def _score(counts: GateTally, device: _Device, mapping: Mapping[int, int]) -> float:
    total = 0.0
    for u, n in counts.prx.items():
        total += n * device.log_prx[mapping[u]]
    for u, n in counts.measure.items():
        total += n * device.log_readout[mapping[u]]
    for (u, w), n in counts.cz.items():
        total += n * device.cz(mapping[u], mapping[w])
    return total


def best_embedding(
    counts: GateTally, device: _Device, max_steps: int = MAX_SEARCH_STEPS
) -> dict[int, int]:
    """The best map (found within ``max_steps``) of the circuit's nodes onto device nodes.

    Returns ``{old node index: new node index}`` for every node of the circuit; the identity
    when nothing better was found, or when the circuit uses a node the device lacks.
    """
    pattern_nodes = counts.nodes
    identity = {u: u for u in pattern_nodes}
    if any(u not in device.neighbours for u in pattern_nodes) or any(
        (a, b) not in device.log_cz for a, b in counts.cz
    ):
        return identity

    def node_gain(u: int, v: int) -> float:
        return (
            counts.prx.get(u, 0) * device.log_prx[v]
            + counts.measure.get(u, 0) * device.log_readout[v]
        )

    adjacency: dict[int, dict[int, int]] = {u: {} for u in pattern_nodes}
    for (a, b), n in counts.cz.items():
        adjacency[a][b] = n
        adjacency[b][a] = n
    coupled = [u for u in pattern_nodes if adjacency[u]]
    isolated = [u for u in pattern_nodes if not adjacency[u]]

    # Place coupled nodes breadth first from the busiest, so that each node after a
    # component's first has a placed neighbour and its targets are that neighbour's neighbours.
    def weight(u: int) -> tuple[int, int]:
        return (-sum(adjacency[u].values()), u)

    order: list[int] = []
    seen: set[int] = set()
    for root in sorted(coupled, key=weight):
        if root in seen:
            continue
        seen.add(root)
        frontier = [root]
        while frontier:
            u = frontier.pop(0)
            order.append(u)
            for w in sorted(adjacency[u], key=weight):
                if w not in seen:
                    seen.add(w)
                    frontier.append(w)
    position = {u: i for i, u in enumerate(order)}

    best_log_prx = max(device.log_prx.values())
    best_log_readout = max(device.log_readout.values())
    best_log_cz = max(device.log_cz.values())
    # Optimistic gain of everything from depth d on: each node on the best qubit, each
    # coupling on the best coupler (a coupling counts at the depth of its later end).
    optimistic = [0.0] * (len(order) + 1)
    for d in range(len(order) - 1, -1, -1):
        u = order[d]
        later_edges = sum(n for w, n in adjacency[u].items() if position[w] < d)
        optimistic[d] = (
            optimistic[d + 1]
            + counts.prx.get(u, 0) * best_log_prx
            + counts.measure.get(u, 0) * best_log_readout
            + later_edges * best_log_cz
        )

    def place_isolated(used: set[int]) -> tuple[float, dict[int, int]]:
        # Nodes without CZs go, busiest first, to the best free node for them.
        gain, placed = 0.0, {}
        free = [v for v in device.nodes if v not in used]
        for u in sorted(
            isolated, key=lambda u: (-counts.measure.get(u, 0), -counts.prx.get(u, 0), u)
        ):
            v = max(free, key=lambda v: (node_gain(u, v), -v))
            free.remove(v)
            placed[u] = v
            gain += node_gain(u, v)
        return gain, placed

    best_score = _score(counts, device, identity)
    best_map = identity
    mapping: dict[int, int] = {}
    used: set[int] = set()
    steps = 0

    def search(depth: int, partial: float) -> None:
        nonlocal best_score, best_map, steps
        if depth == len(order):
            gain, rest = place_isolated(used)
            if partial + gain > best_score + _EPSILON:
                best_score = partial + gain
                best_map = {**mapping, **rest}
            return
        u = order[depth]
        placed_neighbours = [w for w in adjacency[u] if w in mapping]
        if placed_neighbours:
            anchor = mapping[placed_neighbours[0]]
            targets = [v for v in device.neighbours[anchor] if v not in used]
        else:
            targets = [v for v in device.nodes if v not in used]
        options = []
        for v in targets:
            if any(mapping[w] not in device.neighbours[v] for w in placed_neighbours):
                continue
            gain = node_gain(u, v) + sum(
                adjacency[u][w] * device.cz(v, mapping[w]) for w in placed_neighbours
            )
            options.append((-gain, v))
        for negative_gain, v in sorted(options):
            if steps >= max_steps:
                return
            steps += 1
            total = partial - negative_gain
            if total + optimistic[depth + 1] <= best_score + _EPSILON:
                # Options come best first: even perfect luck on the rest of this one, or
                # any later one, would not beat the best map found.
                break
            mapping[u] = v
            used.add(v)
            search(depth + 1, total)
            del mapping[u]
            used.discard(v)

    search(0, 0.0)
    return best_map
