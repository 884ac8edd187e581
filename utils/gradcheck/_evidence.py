"""Evidence about a reference derivative: linear measurements of it, each with a tolerance.

Every check reduces to measurements ``M(G)`` of the unknown reference ``G`` (shape
``(m, n)``: outputs × inputs): entries ``G[:, i]`` (coordinate probes, or all of them for
:func:`compare`) and directional derivatives ``G @ u``. Any candidate array ``B`` — the
student's, its negative, its transpose, another parameter's gradient — is judged by the
same measurements, so the diagnosis needs no further calls of ``f``.

Full mode probes every coordinate (``2n`` calls). Fast mode, for big arrays, probes a few
random unit directions, one direction along the student's own gradient, and a sample of
entries: tens of calls whatever ``n`` is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._precision import NOISE_SAFETY, Precision, measure_noise
from ._probe import KINK, RESOLVED, UNSURE, WRONG, Line, Probe

FULL_LIMIT = 500
"""Arrays with at most this many entries are checked entry by entry by default."""
WEAK_FULL = 4
"""When kinks at ``x`` set the random directions aside, arrays up to ``WEAK_FULL · full_limit``
entries are swept in full after all; bigger ones get ``WEAK_ENTRIES ·`` more sampled entries."""
WEAK_ENTRIES = 4


@dataclass
class Evidence:
    """Measurements of the reference, each with a tolerance half-width.

    ``centers`` and ``widths`` have shape ``(K, m)``; probe ``k`` measures a candidate ``B``
    (shape ``(m, n)``) as ``B[:, index]`` or ``B @ u``. :func:`from_arrays` builds the same
    tables directly (no probe objects) for :func:`~utils.gradcheck.compare`.
    """

    shape: tuple[int, ...]
    m: int
    probes: list[Probe]
    method: str
    precision: Precision | None = None
    rtol: float = 0.0
    floor: np.ndarray = field(default_factory=lambda: np.zeros(1))
    line: Line | None = None
    dense: dict | None = None
    _cache: dict | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def refresh(self) -> None:
        """Forget the tables built from the probes (after a probe's status changed)."""
        self._cache = None

    def table(self) -> dict[str, np.ndarray]:
        """Arrays over the probes: centers, widths, taus, wrong ``(K, m)``; kinky, unsure, entry ``(K,)``."""
        if self.dense is not None:
            return self.dense
        if self._cache is None or self._cache["count"] != len(self.probes):
            probes, K, m = self.probes, len(self.probes), self.m
            self._cache = {
                "count": K,
                "centers": np.array([p.center for p in probes]).reshape(K, m),
                "widths": np.array([p.width for p in probes]).reshape(K, m),
                "taus": np.array([p.first["tau"] if p.first and "tau" in p.first else p.width
                                  for p in probes]).reshape(K, m),
                "wrong": np.array([[s == WRONG for s in p.status] for p in probes], dtype=bool).reshape(K, m),
                "kinky": np.array([any(s in (KINK, RESOLVED, UNSURE) for s in p.status) for p in probes], dtype=bool),
                "unsure": np.array([UNSURE in p.status for p in probes], dtype=bool),
                "entry": np.array([p.index if p.kind == "entry" else -1 for p in probes], dtype=np.int64),
            }
        return self._cache

    @property
    def centers(self) -> np.ndarray:
        return self.table()["centers"]

    @property
    def widths(self) -> np.ndarray:
        return self.table()["widths"]

    @property
    def is_full(self) -> bool:
        """Whether every entry was measured on its own (so the reference is known entry-wise)."""
        return self.method in ("full", "compare")

    def measure(self, B: np.ndarray) -> np.ndarray:
        """The measurements of a candidate ``B`` of shape ``(m, n)``, shape ``(K, m)``."""
        if self.is_full:
            return np.ascontiguousarray(B.T)
        rows = [B[:, probe.index] if probe.kind == "entry" else B @ probe.u for probe in self.probes]
        return np.array(rows).reshape(len(self.probes), self.m)

    def excess(self, B: np.ndarray) -> np.ndarray:
        """``|M(B) − center| / width`` per measurement: at most 1 where ``B`` agrees."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return np.abs(self.measure(B) - self.centers) / self.widths

    def matches(self, B: np.ndarray, slack: float = 1.0) -> bool:
        """Whether candidate ``B`` agrees with every measurement (within ``slack`` widths)."""
        with np.errstate(invalid="ignore", over="ignore"):
            return bool(np.all(self.excess(B) <= slack))

    def explains(self, B: np.ndarray, slack: float = 3.0, share: float = 0.8, norm: float = 0.05) -> bool:
        """Whether candidate ``B`` explains the measurements: most of them (``share``) agree within
        ``slack`` tolerances and the norm-wise relative error is at most ``norm``.

        Looser than :meth:`matches`, because a few measurements (a step that crossed a kink
        while judging a wrong gradient) may be off without saying anything about ``B``.
        """
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            measured, centers, widths = self.measure(B), self.centers, self.widths
            judged = np.isfinite(widths)
            if not judged.any():
                return False
            agree = np.abs(measured - centers)[judged] <= slack * widths[judged]
            reference = float(np.linalg.norm(centers[judged]))
            difference = float(np.linalg.norm((measured - centers)[judged]))
        return bool(agree.mean() >= share and difference <= norm * reference)

    def reference(self) -> np.ndarray | None:
        """The reference ``G`` itself, shape ``(m, n)``, when every entry was measured."""
        return np.ascontiguousarray(self.centers.T) if self.is_full else None

    def relative_errors(self, B: np.ndarray) -> np.ndarray:
        """Relative error per measurement, beyond any kink band: shape ``(K, m)``."""
        table = self.table()
        measured, centers, widths = self.measure(B), table["centers"], table["widths"]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            slack = np.maximum(widths - table["taus"], 0.0)  # the kink band, if any
            excess = np.maximum(np.abs(measured - centers) - slack, 0.0)
            scale = np.maximum(np.maximum(np.abs(measured), np.abs(centers)), self.floor)
            return np.where(scale > 0, excess / scale, 0.0)

    @property
    def kinks(self) -> int:
        return int(self.table()["kinky"].sum())

    @property
    def unsure(self) -> int:
        return int(self.table()["unsure"].sum())

    @property
    def passed(self) -> bool:
        return not bool(self.table()["wrong"].any())

    @property
    def weakened(self) -> bool:
        """Fast evidence with kinks exactly at ``x``: a direction through them only bounds the
        gradient by a band (or not at all), so sampled entries are the evidence left."""
        return self.method == "fast" and any(p.exact_kink for p in self.probes)

    def entry_wrong(self, index: int, output: int = 0) -> bool:
        """Whether entry ``index`` (of output ``output``) was measured and disagreed."""
        table = self.table()
        rows = np.flatnonzero(table["entry"] == index)
        return bool(table["wrong"][rows, output].any()) if rows.size else False

    def describe(self) -> str:
        entries = "1 entry" if self.n == 1 else f"{self.n} entries"
        if self.method == "compare":
            return f"{entries} (compare)"
        if self.method == "full":
            return entries if self.n == 1 else f"all {entries}"
        kinds = [p.kind for p in self.probes]
        directions = sum(p.kind in ("direction", "student") and UNSURE not in p.status for p in self.probes)
        parts = [f"{directions} direction{'' if directions == 1 else 's'}", f"{kinds.count('entry')} of {self.n} entries"]
        if kinds.count("block"):
            parts.append(f"{kinds.count('block')} blocks")
        text = " + ".join(parts)
        if self.weakened:
            aside = kinds.count("direction") + kinds.count("student") - directions
            text += f" ({aside} set aside, the rest blurred by kinks at x)" if aside else " (blurred by kinks at x)"
        return text


def from_arrays(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> Evidence:
    """Evidence that knows the reference exactly (for :func:`compare`): every entry, as tables."""
    G = np.asarray(expected, dtype=np.float64).reshape(-1, 1)
    A = np.asarray(actual, dtype=np.float64).reshape(-1, 1)
    scale = float(np.sqrt(np.mean(G ** 2))) if G.size else 0.0
    tau = rtol * np.maximum(np.abs(G), scale) + atol
    none = np.zeros(G.shape[0], dtype=bool)
    dense = {"count": G.shape[0], "centers": G, "widths": tau, "taus": tau, "wrong": np.abs(A - G) > tau,
             "kinky": none, "unsure": none, "entry": np.arange(G.shape[0])}
    return Evidence(shape=tuple(np.shape(expected)), m=1, probes=[], method="compare", rtol=rtol,
                    floor=np.array([scale]), dense=dense)


def rademacher(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random unit vector with entries ±1/√n: every entry weighs the same (so no single entry
    can hide behind a near-zero weight), and it is cheap to draw for big ``n``."""
    bits = np.unpackbits(np.frombuffer(rng.bytes((n + 7) // 8), dtype=np.uint8), count=n)
    scale = 1.0 / np.sqrt(n)
    return np.where(bits.astype(bool), scale, -scale)


def choose_probes(A: np.ndarray, shape: tuple[int, ...], *, rng: np.random.Generator, full: bool,
                  directions: int, entries: int) -> list[Probe]:
    """Coordinate probes for every entry (full), or random directions + the student's + sampled entries."""
    n = A.shape[1]
    if full:
        return [Probe(kind="entry", index=i) for i in range(n)]
    probes = []
    for _ in range(directions):
        probes.append(Probe(kind="direction", v=rademacher(rng, n)))
    if A.shape[0] == 1 and np.any(A):
        norm = float(np.linalg.norm(A[0]))
        if np.isfinite(norm) and norm > 0:
            probes.append(Probe(kind="student", v=A[0] / norm))
    sample: set[int] = set()
    while len(sample) < min(entries, n):  # distinct random entries (cheaper than a permutation of n)
        sample.update(int(i) for i in rng.integers(0, n, size=entries - len(sample)))
    sizes = np.linalg.norm(A, axis=0) if A.shape[0] > 1 else np.abs(A[0])
    largest = np.argpartition(-sizes, 1)[:2] if n > 2 else np.arange(n)
    sample.update(int(i) for i in largest)
    probes.extend(Probe(kind="entry", index=i) for i in sorted(sample))
    return probes


def tolerances(evidence: Evidence, probes: list[Probe], A: np.ndarray, precision: Precision,
               f0: np.ndarray, atol: float) -> None:
    """Set the floor of the evidence and the tolerance ``tau`` of each first-passed probe."""
    random = [p for p in probes if p.kind in ("direction", "entry")]
    measured = np.array([p.center for p in random]).reshape(len(random), -1)
    rms_reference = np.sqrt(np.mean(measured ** 2, axis=0)) if len(random) else np.zeros(A.shape[0])
    rms_student = np.sqrt(np.mean(A ** 2, axis=1)) if A.size else np.zeros(A.shape[0])
    evidence.floor = np.maximum(rms_reference, rms_student)
    for probe in probes:
        set_tau(probe, evidence.floor, precision, f0, atol)


def set_tau(probe: Probe, floor: np.ndarray, precision: Precision, f0: np.ndarray, atol: float) -> None:
    """Tolerance of one probe: relative to its size (floored), plus ``atol``, plus evaluation noise."""
    first = probe.first
    values = np.maximum.reduce([np.abs(f0), np.abs(first["fp"]), np.abs(first["fm"])])
    if precision.noise is not None:  # measured (float32 arithmetic)
        noise = np.maximum(precision.noise, 2 * precision.eps * values) / first["h"]
    else:
        noise = NOISE_SAFETY * precision.eps * values / first["h"]
    size = np.maximum(np.abs(probe.student), np.abs(probe.center))
    first["noise"] = noise
    first["tau"] = precision.rtol * np.maximum(size, floor) + atol + noise


def collect(line: Line, shape: tuple[int, ...], A: np.ndarray, f0: np.ndarray, precision: Precision, *,
            rng: np.random.Generator, full: bool, directions: int, entries: int, atol: float) -> Evidence:
    """Probe ``f`` around ``x`` and judge the student's ``A`` along every probe (kink-aware)."""
    probes = choose_probes(A, shape, rng=rng, full=full, directions=directions, entries=entries)
    evidence = Evidence(shape=tuple(shape), m=A.shape[0], probes=probes, method="full" if full else "fast",
                        precision=precision, rtol=precision.rtol, line=line)
    if precision.noise is None:  # float64: measure the noise only if small steps need it
        line.measure_noise = lambda: np.maximum(
            measure_noise(line.evaluate, line.x0, f0, rng, step=1e-10), 2 * precision.eps * np.abs(f0))
    for probe in probes:
        line.first_pass(probe, precision.h)
    tolerances(evidence, probes, A, precision, f0, atol)
    for probe in probes:
        judge(line, probe, precision)
    if any(p.exact_kink for p in probes):
        # f has no derivative at x. Along a direction through several such kinks the one-sided
        # slopes can cancel, hiding them, so failing directions cannot be trusted: entries decide.
        for probe in probes:
            if probe.kind != "entry" and WRONG in probe.status:
                probe.status = [UNSURE if s == WRONG else s for s in probe.status]
                probe.width = np.where(np.array(probe.status) == UNSURE, np.inf, probe.width)
        evidence.refresh()
    if evidence.weakened:
        # directions through exact kinks judge only a band, or nothing: look at more entries, the
        # first and last ones included (a loop that stops one entry early)
        n, taken = A.shape[1], {p.index for p in probes if p.kind == "entry"}
        count = WEAK_ENTRIES * max(entries, 1)
        extra = [0, n - 1] + [int(i) for i in rng.choice(n, size=min(n, count + len(taken) + 2), replace=False)]
        extra = list(dict.fromkeys(i for i in extra if i not in taken))[: count + 2]
        for index in extra:
            probe = Probe(kind="entry", index=int(index))
            probes.append(probe)
            add_probe(evidence, probe, f0, atol)
    return evidence


def judge(line: Line, probe: Probe, precision: Precision) -> None:
    """Judge one first-passed probe with its tolerance, shrinking the step down to the noise floor."""
    tau, noise = probe.first["tau"], probe.first["noise"]
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(tau > 0, noise * precision.h / (4 * tau), 0.0)
    h_min = float(np.max(floor)) if floor.size else 0.0
    line.judge(probe, tau, h_min, noise * probe.first["h"])


def add_probe(evidence: Evidence, probe: Probe, f0: np.ndarray, atol: float) -> Probe:
    """Measure and judge one more probe (to localise errors) with the evidence's own floor."""
    evidence.line.first_pass(probe, evidence.precision.h)
    set_tau(probe, evidence.floor, evidence.precision, f0, atol)
    judge(evidence.line, probe, evidence.precision)
    return probe
