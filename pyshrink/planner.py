"""Arena planning: every activation and scratch buffer of a model in one block.

Each buffer lives from the step that first needs it to the step that last reads
it (inclusive). Buffers are placed greedily, largest first (as TFLite Micro's
GreedyMemoryPlanner does): each goes at the lowest aligned offset where it does
not overlap any already placed buffer whose lifetime overlaps its own. The
arena size is the highest end offset. The plan is checked after it is made: no
two buffers that are alive at the same step share a byte, except an in-place pair.

In place: a step may write its output over its own input when the input dies at
that step and the kernel allows it (an `InPlace`: the output exactly `offset` bytes
below the input, as ps_depthwise_conv2d_inplace_offset allows). Such buffers are
placed together, as one unit whose members keep their relative offsets (a chain,
when an in-place output is itself the dying input of a later in-place step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Iterable

#: Every offset is a multiple of this (the fused kernels keep int32 sums in scratch).
ALIGNMENT = 4


@dataclass(frozen=True)
class Buffer:
    """A region of the arena: `size` bytes at `offset`, alive for steps first..last."""

    key: Hashable  # a tensor index, or ("scratch", step)
    size: int
    first: int
    last: int
    offset: int = -1

    @property
    def end(self) -> int:
        return self.offset + self.size

    def alive_at(self, step: int) -> bool:
        return self.first <= step <= self.last

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class InPlace:
    """Buffer `output` starts exactly `offset` bytes below buffer `input` and may overlap it:
    the step that writes `output` reads `input` for the last time, and its kernel reads every
    input byte before it writes over it."""

    output: Hashable
    input: Hashable
    offset: int


@dataclass(frozen=True)
class Plan:
    """Where every buffer lives; `peak_bytes` is the arena size a run allocates.

    `aliases` maps a key that shares another's bytes (a reshaped tensor) to that key;
    `inplace` lists the outputs placed over their own (dying) inputs.
    """

    peak_bytes: int
    buffers: tuple[Buffer, ...]
    steps: int
    aliases: dict[Hashable, Hashable] = field(default_factory=dict)
    inplace: tuple[InPlace, ...] = ()

    def buffer(self, key: Hashable) -> Buffer:
        key = self.aliases.get(key, key)
        for b in self.buffers:
            if b.key == key:
                return b
        raise KeyError(key)

    def offset(self, key: Hashable) -> int:
        return self.buffer(key).offset

    def inplace_offset(self, key: Hashable) -> int | None:
        """How many bytes below its input the in-place output `key` starts, or None (also
        for a reshape of it: an alias is not written by a step)."""
        return next((r.offset for r in self.inplace if r.output == key), None)

    @property
    def live_bytes(self) -> tuple[int, ...]:
        """Bytes the buffers alive at each step occupy (an in-place overlap counted once;
        without alignment gaps)."""
        result = []
        for s in range(self.steps):
            total = reach = 0
            for lo, hi in sorted((b.offset, b.end) for b in self.buffers if b.alive_at(s)):
                if hi > reach:
                    total += hi - max(lo, reach)
                    reach = hi
            result.append(total)
        return tuple(result)

    @property
    def offsets(self) -> dict[Hashable, int]:
        """Every key's offset, aliases included."""
        own = {b.key: b.offset for b in self.buffers}
        return own | {alias: own[root] for alias, root in self.aliases.items() if root in own}


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _units(todo: list[Buffer], inplace: tuple[InPlace, ...]) -> list[list[tuple[Buffer, int]]]:
    """The buffers as placement units: each a list of (buffer, offset within the unit).
    A buffer in no in-place relation is a unit of its own; in-place chains are one unit."""
    by_key = {b.key: b for b in todo}
    below: dict[Hashable, InPlace] = {}  # input key -> its relation
    outputs: set[Hashable] = set()
    for r in inplace:
        if r.input not in by_key or r.output not in by_key:
            raise ValueError(f"in-place relation {r!r} names a buffer that is not planned")
        if by_key[r.input].last != by_key[r.output].first:
            raise ValueError(f"in-place output {r.output!r} must be written at the step its input "
                             f"{r.input!r} is last read")
        if r.offset < 0 or r.offset % ALIGNMENT:
            raise ValueError(f"in-place offset {r.offset} must be a non-negative multiple of {ALIGNMENT}")
        if r.input in below or r.output in outputs:
            raise ValueError(f"buffer {r.input!r} or {r.output!r} is in two in-place relations")
        below[r.input] = r
        outputs.add(r.output)
    for r in inplace:
        # A chain through a buffer written and last read at one step would put its two
        # neighbours, alive together at that step, over each other.
        if r.input in outputs and by_key[r.input].first == by_key[r.input].last:
            raise ValueError(f"buffer {r.input!r} is written and last read at the same step: it cannot "
                             f"be an in-place output and an in-place input")
    units, covered = [], 0
    for head in todo:
        if head.key in outputs:
            continue  # placed with the buffer it overwrites
        chain, rel = [head], [0]
        while chain[-1].key in below:
            r = below[chain[-1].key]
            chain.append(by_key[r.output])
            rel.append(rel[-1] - r.offset)
        low = min(rel)
        units.append([(b, off - low) for b, off in zip(chain, rel)])
        covered += len(chain)
    if covered != len(todo):
        raise ValueError("in-place relations form a cycle")
    return units


def plan(buffers: Iterable[Buffer], steps: int, aliases: dict[Hashable, Hashable] | None = None,
         inplace: Iterable[InPlace] = ()) -> Plan:
    """Place the buffers (offsets ignored on input) and verify the result."""
    todo = [b for b in buffers if b.size > 0]
    if len({b.key for b in todo}) != len(todo):
        raise ValueError("buffer keys must be unique")
    relations = tuple(inplace)
    placed: list[Buffer] = []
    # Largest first (a unit by its extent); ties by first use so equal sizes pack in time order.
    units = sorted(_units(todo, relations), key=lambda u: (-max(off + b.size for b, off in u),
                                                           min(b.first for b, _ in u), str(u[0][0].key)))
    for unit in units:
        conflicts = [(b, off, p) for b, off in unit for p in placed if p.overlaps_in_time(b)]
        # The lowest feasible base puts some member right after a conflict (or is 0).
        candidates = sorted({0} | {_align(p.end) - off for _, off, p in conflicts if _align(p.end) >= off})
        base = next(c for c in candidates
                    if all(c + off + b.size <= p.offset or p.end <= c + off for b, off, p in conflicts))
        placed += [Buffer(b.key, b.size, b.first, b.last, base + off) for b, off in unit]
    peak = max((b.end for b in placed), default=0)
    result = Plan(peak, tuple(sorted(placed, key=lambda b: (b.first, b.offset))), steps, dict(aliases or {}),
                  relations)
    verify(result)
    return result


def plan_inplace(buffers: Iterable[Buffer], steps: int, aliases: dict[Hashable, Hashable] | None = None,
                 candidates: Iterable[InPlace] = ()) -> Plan:
    """`plan` with those of the candidate in-place relations that make the arena smaller.

    Greedy placement with a unit fixed in shape can do worse than without it (an in-place
    output sits below its input, so alternating steps drift down), so candidates are tried
    one by one, in order: one pass keeps each that lowers the peak, another each that does
    not raise it (two steps at the same peak need both). The lowest peak wins, then the
    fewest relations (a relation that saves nothing still moves offsets, and so code, on a
    device); never a larger arena than planning without."""
    buffers = list(buffers)
    candidates = list(candidates)
    best = plan(buffers, steps, aliases)
    for strict in (True, False) if candidates else ():
        kept: list[InPlace] = []
        current = plan(buffers, steps, aliases)
        for r in candidates:
            trial = plan(buffers, steps, aliases, kept + [r])
            if trial.peak_bytes < current.peak_bytes or (not strict and trial.peak_bytes == current.peak_bytes):
                kept.append(r)
                current = trial
        if (current.peak_bytes, len(current.inplace)) < (best.peak_bytes, len(best.inplace)):
            best = current
    return best


def verify(p: Plan) -> None:
    """Raise if two buffers alive at the same step overlap (unless they are an in-place pair
    at its exact offset), or one leaves the arena."""
    pairs = {}
    for r in p.inplace:
        out, src = p.buffer(r.output), p.buffer(r.input)
        if out.offset != src.offset - r.offset or src.last != out.first:
            raise AssertionError(f"in-place output {r.output!r} is not {r.offset} bytes below its dying input "
                                 f"{r.input!r}")
        pairs[frozenset((r.output, r.input))] = r
    for i, a in enumerate(p.buffers):
        if a.offset < 0 or a.end > p.peak_bytes or a.offset % ALIGNMENT:
            raise AssertionError(f"buffer {a.key!r} at [{a.offset}, {a.end}) is outside the arena or unaligned")
        for b in p.buffers[i + 1:]:
            if (a.overlaps_in_time(b) and a.offset < b.end and b.offset < a.end
                    and frozenset((a.key, b.key)) not in pairs):
                raise AssertionError(f"buffers {a.key!r} and {b.key!r} are alive together and overlap")
