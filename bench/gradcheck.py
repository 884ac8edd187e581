"""Benchmark utils.gradcheck against a full central-difference sweep (and torch, if installed).

One run, side by side, on the same function: the mean softmax cross-entropy of a 2-layer ReLU
network on a batch of 64, as a function of all its parameters packed into one vector of about
1e3, 1e4, 1e5 and 1e6 entries. For each size it prints

* ``fwd+bwd``: one forward and backward pass of the network, measured in the same run: the
  unit in which ``check/fwd+bwd`` states the cost of a check (what a student pays for it);
* ``check``: the time of ``check_gradient`` on the correct gradient (its default options);
* ``sweep``: the cs231n loop, one central difference per entry (``2n`` calls). At large sizes
  it is **extrapolated** from a timed subset of entries (``--subset``) unless ``--full-sweep``
  is given, and the table says which;
* ``torch fast``: ``torch.autograd.gradcheck(..., fast_mode=True)`` on the same numpy function
  with the same gradient (wrapped in a ``torch.autograd.Function``), when torch is installed;
  otherwise that column says "n/a";
* the ratios ``sweep / check`` and ``torch / check``, on the correct gradient and, in a second
  table, on a wrong one (where torch's fast mode falls back to the full ``2n`` Jacobian; at
  1e5 only with ``--torch-failing-all``, as that takes minutes);
* the corpus (up to 1e5 parameters): how many of :data:`MISTAKES`, typical student mistakes,
  ``check_gradients`` catches and diagnoses exactly, how many of the :data:`CORRECT` networks
  pass, and how many right parameters failed (false failures).

BLAS runs on one thread throughout (threadpoolctl), for stable timings. Times are CPU seconds of
this process by default (``--clock cpu``): with one thread they equal wall-clock time on an idle
machine and stay meaningful on a busy shared one; ``--clock wall`` measures wall-clock time. Usage::

    python bench/gradcheck.py                     # 1e3 … 1e6; sweep extrapolated from 2000 entries (100 at 1e6)
    python bench/gradcheck.py --full-sweep        # the real 2n sweep up to 1e5 (about 3 minutes there)
    python bench/gradcheck.py --sizes 1e3,1e4 --repeats 5
    python bench/gradcheck.py --sizes 1e5,1e6 --no-detection   # check/fwd+bwd only (about 30 s)
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from utils.gradcheck import check_gradient, check_gradients

BATCH = 64
SHAPES = {  # parameters: inputs·hidden + hidden + hidden·classes + classes
    1_000: (16, 48, 4),  # 1,012
    10_000: (100, 96, 4),  # 10,084
    100_000: (784, 128, 10),  # 101,770
    1_000_000: (784, 1258, 10),  # 1,000,120
}
DETECTION_MAX = 100_000
"""The corpus runs up to this size: at 1e6 it would take minutes (14 cases × 4 parameters × about
a hundred forward passes of 30 ms each), and the rules it exercises do not depend on the size."""


@dataclass
class Problem:
    """A network, its data, and the loss as a function of a dict or of one packed vector."""

    X: np.ndarray
    y: np.ndarray
    params: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return sum(v.size for v in self.params.values())

    def unpack(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for key, value in self.params.items():
            out[key] = theta[start: start + value.size].reshape(value.shape)
            start += value.size
        return out

    def pack(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([arrays[key].reshape(-1) for key in self.params])

    def loss(self, params: dict[str, np.ndarray]) -> float:
        z = self.X @ params["W1"] + params["b1"]
        scores = np.maximum(z, 0) @ params["W2"] + params["b2"]
        scores = scores - scores.max(axis=1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return float(-np.mean(log_p[np.arange(len(self.y)), self.y]))

    def flat_loss(self, theta: np.ndarray) -> float:
        return self.loss(self.unpack(theta))

    def grads(self, mistake: str | None = None) -> dict[str, np.ndarray]:
        """The gradient of the loss, with one planted mistake of the corpus."""
        p, X, y = self.params, self.X, self.y
        z = X @ p["W1"] + p["b1"]
        h = np.maximum(z, 0)
        scores = h @ p["W2"] + p["b2"]
        prob = np.exp(scores - scores.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        d = prob.copy()
        if mistake != "softmax without -y":
            d[np.arange(len(y)), y] -= 1
        if mistake != "missing 1/N":
            d /= len(y)
        dW2, db2 = h.T @ d, d.sum(axis=0)
        if mistake == "bias over wrong axis":
            db2 = d.sum(axis=1)
        dz = d @ p["W2"].T
        if mistake != "missing ReLU mask":
            dz = dz * (z > 0)
        dW1, db1 = X.T @ dz, dz.sum(axis=0)
        if mistake == "sign flip":
            dW1 = -dW1
        elif mistake == "factor 2":
            dW2 = 2 * dW2
        elif mistake == "one example only":
            dW1 = np.outer(X[0], dz[0])
        elif mistake == "transposed dW1":
            dW1 = dz.T @ X
        elif mistake == "NaN":
            db1 = db1.copy()
            db1[0] = np.nan
        elif mistake == "one wrong entry":
            dW1 = dW1.copy()
            dW1[dW1.shape[0] // 3, dW1.shape[1] // 2] += np.sqrt(np.mean(dW1 ** 2))
        elif mistake == "×1.001 (no ε)":
            dW2 = 1.001 * dW2
        elif mistake == "last entry skipped":
            db1 = db1.copy()
            db1[-1] = 0.0
        elif mistake == "last entry skipped, kinks at x":
            dW1 = dW1.copy()
            dW1[-1, -1] = 0.0
        elif mistake == "half the batch":
            dW2 = 2 * h[: len(y) // 2].T @ d[: len(y) // 2]
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
        if mistake == "swapped b1/b2" and db1.shape == db2.shape:
            grads["b1"], grads["b2"] = db2, db1
        return grads


clock: Callable[[], float] = time.process_time


MISTAKES = {  # mistake: the diagnosis of every parameter it breaks (the others must pass)
    "sign flip": {"W1": "sign"},
    "missing 1/N": {"W1": "scale", "b1": "scale", "W2": "scale", "b2": "scale"},
    "factor 2": {"W2": "scale"},
    "×1.001 (no ε)": {"W2": "scale"},
    "bias over wrong axis": {"b2": "shape"},
    "missing ReLU mask": {"W1": "wrong", "b1": "wrong"},
    "softmax without -y": {"W1": "wrong", "b1": "wrong", "W2": "wrong", "b2": "wrong"},
    "one example only": {"W1": "wrong"},
    "half the batch": {"W2": "wrong"},
    "transposed dW1": {"W1": "transposed"},
    "NaN": {"b1": "nonfinite"},
    "one wrong entry": {"W1": "partial"},
    "last entry skipped": {"b1": "partial"},
    "last entry skipped, kinks at x": {"W1": "partial"},  # on the network "kinks at x" below
}
CORRECT = ("seed 1", "seed 2", "seed 3", "kinks at x")
"""Correct gradients that must pass: other networks, and one whose first example is (1, 0, …, 0)
with W1[0, :8] = 0.5 and b1[:8] = −0.5, so that eight ReLU inputs are exactly 0 (kinks at x for
W1 and b1: the gradient takes one side, mask z > 0)."""


def make_problem(size: int, seed: int = 0) -> Problem:
    inputs, hidden, classes = SHAPES[size]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, inputs))
    y = rng.integers(0, classes, BATCH)
    params = {"W1": rng.standard_normal((inputs, hidden)) / np.sqrt(inputs), "b1": 0.1 * rng.standard_normal(hidden),
              "W2": rng.standard_normal((hidden, classes)) / np.sqrt(hidden), "b2": 0.1 * rng.standard_normal(classes)}
    return Problem(X, y, params)


def full_sweep(f, x: np.ndarray, entries: np.ndarray | None = None, h: float = 1e-5) -> np.ndarray:
    """The cs231n loop: one central difference per entry, on a copy (``entries``: only those)."""
    x = x.astype(np.float64).copy()
    grad = np.zeros_like(x)
    for i in (range(x.size) if entries is None else entries):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def time_sweep(problem: Problem, theta: np.ndarray, subset: int, real: bool) -> tuple[float, bool]:
    """Seconds for the full sweep; extrapolated from ``subset`` random entries unless ``real``."""
    n = theta.size
    if real or n <= subset:
        start = clock()
        full_sweep(problem.flat_loss, theta)
        return clock() - start, False
    entries = np.random.default_rng(0).choice(n, size=subset, replace=False)
    start = clock()
    full_sweep(problem.flat_loss, theta, entries)
    return (clock() - start) * n / subset, True


def time_check(problem: Problem, theta: np.ndarray, grad: np.ndarray, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for repeat in range(repeats):
        start = clock()
        result = check_gradient(problem.flat_loss, theta, grad, name="dtheta", rng=repeat)
        times.append(clock() - start)
    return statistics.median(times), result


def time_torch(problem: Problem, theta: np.ndarray, grad: np.ndarray, repeats: int,
               warm_up: bool = True) -> float | None:
    """``torch.autograd.gradcheck(fast_mode=True)`` on the same numpy loss with the same gradient
    (a ``torch.autograd.Function`` whose backward returns ``grad``), or None without torch.

    For a wrong ``grad`` torch's fast mode fails and then builds the full Jacobian by ``2n``
    differences to report it; that is what this times too.
    """
    try:
        import torch
    except ImportError:
        return None
    gradient = torch.tensor(grad, dtype=torch.float64)

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return torch.tensor(problem.flat_loss(t.detach().numpy()), dtype=torch.float64)

        @staticmethod
        def backward(ctx, upstream):
            return upstream * gradient

    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same single thread as numpy's BLAS here
    times = []
    try:
        if warm_up:  # torch's first call pays for lazy initialisation
            torch.autograd.gradcheck(Loss.apply, (t,), fast_mode=True, eps=1e-6, atol=1e-5, rtol=1e-3,
                                     raise_exception=False)
        for _ in range(repeats):
            start = clock()
            torch.autograd.gradcheck(Loss.apply, (t,), fast_mode=True, eps=1e-6, atol=1e-5, rtol=1e-3,
                                     raise_exception=False)
            times.append(clock() - start)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(times)


def time_failing(problem: Problem, theta: np.ndarray, repeats: int,
                 with_torch: bool) -> tuple[float, float | None, int]:
    """Seconds of ``check_gradient`` and of torch's fast mode on a wrong gradient (dW1 sign-flipped),
    and the calls of ``f`` the check made."""
    grad = problem.pack(problem.grads("sign flip"))
    times = []
    for repeat in range(repeats):
        start = clock()
        result = check_gradient(problem.flat_loss, theta, grad, name="dtheta", rng=repeat)
        times.append(clock() - start)
    assert not result.passed
    torch_time = time_torch(problem, theta, grad, 1, warm_up=False) if with_torch else None
    return statistics.median(times), torch_time, result.evaluations


def correct_problem(size: int, case: str) -> Problem:
    """A network of the correct-gradient set (see :data:`CORRECT`)."""
    if case.startswith("seed"):
        return make_problem(size, seed=int(case.split()[1]))
    problem = make_problem(size)
    problem.X[0] = 0.0
    problem.X[0, 0] = 1.0
    problem.params["W1"][0, :8] = 0.5
    problem.params["b1"][:8] = -0.5
    return problem


@dataclass
class Corpus:
    """What the corpus found: mistakes caught, mistakes diagnosed exactly as expected (every broken
    parameter, and only those), and false failures (parameters that are right but failed)."""

    caught: int = 0
    diagnosed: int = 0
    false_failures: int = 0
    correct_passed: int = 0
    labels: list[str] | None = None


def detection(size: int) -> Corpus:
    """Run ``check_gradients`` on every mistake of :data:`MISTAKES` and every case of :data:`CORRECT`."""
    corpus = Corpus(labels=[])
    for mistake, expected in MISTAKES.items():
        problem = correct_problem(size, "kinks at x") if mistake.endswith("kinks at x") else make_problem(size)
        results = check_gradients(problem.loss, problem.params, problem.grads(mistake), rng=0)
        got = {key: r.diagnosis for key, r in results.items() if not r.passed}
        corpus.caught += bool(set(got) & set(expected))
        corpus.diagnosed += got == expected
        corpus.false_failures += len(set(got) - set(expected))
        shown = "/".join(sorted(set(got.values()))) or "MISSED"
        corpus.labels.append(f"{mistake}: {shown}{'' if got == expected else ' (expected ' + '/'.join(sorted(set(expected.values()))) + ')'}")
    for case in CORRECT:
        problem = correct_problem(size, case)
        results = check_gradients(problem.loss, problem.params, problem.grads(), rng=0)
        failing = [key for key, r in results.items() if not r.passed]
        corpus.correct_passed += not failing
        corpus.false_failures += len(failing)
        if failing:
            corpus.labels.append(f"correct ({case}): FAILED " + "; ".join(results[k].message for k in failing))
    return corpus


def time_forward_backward(problem: Problem, repeats: int) -> float:
    """Seconds of one forward and backward pass (the loss and its gradients), the median of ``repeats``."""
    times = []
    for _ in range(max(repeats, 3)):
        start = clock()
        problem.loss(problem.params)
        problem.grads()
        times.append(clock() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="comma-separated: 1e3, 1e4, 1e5, 1e6")
    parser.add_argument("--subset", type=int, default=2000,
                        help="entries timed to extrapolate the sweep when it has more (default 2000; "
                             "a twentieth of that above 1e5)")
    parser.add_argument("--full-sweep", action="store_true",
                        help="time the real 2n sweep up to 1e5 (at 1e6 it would take about two hours)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each fast timing (median)")
    parser.add_argument("--no-detection", action="store_true", help="skip the mistake corpus and correct cases")
    parser.add_argument("--torch-failing-all", action="store_true",
                        help="also time torch's fast mode on a wrong gradient at 1e5 (it falls back to 2n calls)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="cpu: process CPU time (default; robust on a busy machine); wall: wall-clock")
    args = parser.parse_args(argv)
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    for size in sizes:
        if size not in SHAPES:
            parser.error(f"size {size} not one of {sorted(SHAPES)}")

    rows, corpora = [], []
    with threadpool_limits(limits=1):
        for size in sizes:
            problem = make_problem(size)
            theta = problem.pack(problem.params)
            grad = problem.pack(problem.grads())
            once = time_forward_backward(problem, args.repeats)
            check_time, result = time_check(problem, theta, grad, args.repeats)
            subset = args.subset if size <= 100_000 else max(args.subset // 20, 50)
            sweep_time, extrapolated = time_sweep(problem, theta, subset, args.full_sweep and size <= 100_000)
            torch_time = time_torch(problem, theta, grad, args.repeats)
            failing = time_failing(problem, theta, args.repeats,
                                   with_torch=torch_time is not None and (size <= 10_000 or args.torch_failing_all))
            corpus = None if args.no_detection or size > DETECTION_MAX else detection(size)
            rows.append((problem.size, once, check_time, result, sweep_time, extrapolated, subset, torch_time,
                         failing))
            corpora.append((problem.size, corpus))

    print(f"times: {'CPU time of this process' if args.clock == 'cpu' else 'wall-clock'}, "
          "BLAS limited to one thread; check = median of --repeats runs on the correct gradient;")
    print("fwd+bwd = one forward and backward pass of the network (loss and gradients), the unit of the ratios")
    header = (f"{'params':>9}  {'fwd+bwd':>9}  {'check':>9}  {'check/fwd+bwd':>13}  {'calls':>5}  {'passed':>6}  "
              f"{'sweep (2n)':>14}  {'sweep/check':>11}  {'torch fast':>10}  {'torch/check':>11}")
    print(header)
    print("-" * len(header))
    for n, once, check_time, result, sweep_time, extrapolated, subset, torch_time, _ in rows:
        sweep = f"{sweep_time:9.2f} s{' (ex)' if extrapolated else '     '}"
        torch_text = "n/a" if torch_time is None else f"{torch_time * 1e3:8.1f}ms"
        torch_ratio = "n/a" if torch_time is None else f"{torch_time / check_time:10.1f}×"
        print(f"{n:>9,}  {once * 1e3:7.2f}ms  {check_time * 1e3:7.1f}ms  {check_time / once:12.0f}×  "
              f"{result.evaluations:>5}  {str(result.passed):>6}  {sweep:>14}  {sweep_time / check_time:10.0f}×  "
              f"{torch_text:>10}  {torch_ratio:>11}")
    if any(row[5] for row in rows):
        subsets = sorted({row[6] for row in rows if row[5]})
        print(f"(ex) = sweep extrapolated from {' or '.join(map(str, subsets))} timed entries; --full-sweep times the real one.")
    print()
    print("on a wrong gradient (dW1 sign-flipped):")
    header = f"{'params':>9}  {'check':>9}  {'check/fwd+bwd':>13}  {'calls':>5}  {'torch fast':>10}  {'torch/check':>11}"
    print(header)
    print("-" * len(header))
    for n, once, *_, failing in rows:
        check_failing, torch_failing, calls = failing
        torch_text = "n/a" if torch_failing is None else f"{torch_failing * 1e3:8.1f}ms"
        torch_ratio = "n/a" if torch_failing is None else f"{torch_failing / check_failing:10.1f}×"
        print(f"{n:>9,}  {check_failing * 1e3:7.1f}ms  {check_failing / once:12.0f}×  {calls:>5}  {torch_text:>10}  "
              f"{torch_ratio:>11}")
    if all(row[7] is None for row in rows):
        print("torch is not installed: torch.autograd.gradcheck(fast_mode=True) not timed.")
    if args.no_detection:
        return
    print()
    print(f"corpus: {len(MISTAKES)} mistakes (caught: some broken parameter fails; diagnosed: exactly the broken "
          f"parameters fail, each with the expected diagnosis) and {len(CORRECT)} correct networks; "
          "false failures: right parameters that failed, in either set")
    header = f"{'params':>9}  {'caught':>7}  {'diagnosed':>9}  {'correct passed':>14}  {'false failures':>14}"
    print(header)
    print("-" * len(header))
    for n, corpus in corpora:
        if corpus is None:
            print(f"{n:>9,}  not run above {DETECTION_MAX:,} parameters (minutes of forward passes; the same rules)")
            continue
        print(f"{n:>9,}  {corpus.caught:>3}/{len(MISTAKES):<3}  {corpus.diagnosed:>5}/{len(MISTAKES):<3}  "
              f"{corpus.correct_passed:>10}/{len(CORRECT):<3}  {corpus.false_failures:>14}")
    for n, corpus in corpora:
        if corpus is not None:
            print(f"diagnoses at {n:,} parameters: " + "; ".join(corpus.labels))


if __name__ == "__main__":
    main()
