"""Benchmark notebook 5's numpy MLP against scikit-learn's MLPClassifier (and PyTorch on the CPU).

One run, side by side, on the same data (scikit-learn's digits, the notebook's stratified split and
standardisation), the same architecture (64-H-10, ReLU), the same optimiser (plain mini-batch SGD, no
momentum, no weight decay), batch size, learning rate and number of epochs. Each implementation is
trained ``--repeats`` times (seeds ``seed, seed+1, ...`` for the initial weights and the batch order;
the data split stays fixed), because on 359 test images one seed's accuracy moves by about 1%.
It prints the mean test accuracy and the median time per epoch of each, and the ratios against
the numpy network measured in the same run.

The numpy network is the notebook's own code: the function cells of the *solution* notebook
(``solutions/05_mlp_backprop/mlp_backprop.ipynb``) are executed into a namespace, so nothing of the
solution is copied here. PyTorch is optional; without it that row is skipped.

    python bench/mlp.py                      # defaults: H=256, 20 epochs, batch 32, 5 repeats, 1 thread
    python bench/mlp.py --hidden 256 --epochs 30 --threads 2
"""

from __future__ import annotations

import argparse
import ast
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
from threadpoolctl import threadpool_limits

from autograder import SOLUTIONS_DIR
from utils.datasets import Split, load_digits_split
from utils.training import accuracy, minibatches

NOTEBOOK = SOLUTIONS_DIR / "05_mlp_backprop" / "mlp_backprop.ipynb"


@dataclass(frozen=True)
class Result:
    """One training run: test accuracy, seconds per epoch of training, and of forward+backward only."""

    name: str
    test_accuracy: float
    epoch_seconds: float
    forward_backward_seconds: float | None


@dataclass(frozen=True)
class Summary:
    """Several runs of one implementation: mean (min, max) accuracy and median times."""

    name: str
    accuracies: list[float]
    epoch_seconds: float
    forward_backward_seconds: float | None

    @classmethod
    def of(cls, runs: list[Result]) -> "Summary":
        fb = [r.forward_backward_seconds for r in runs]
        return cls(runs[0].name, [r.test_accuracy for r in runs],
                   float(np.median([r.epoch_seconds for r in runs])),
                   None if None in fb else float(np.median(fb)))

    @property
    def test_accuracy(self) -> float:
        return float(np.mean(self.accuracies))


def notebook_functions(path: Path = NOTEBOOK) -> dict:
    """Execute every code cell of ``path`` that only defines functions (and imports what they use);
    return the namespace.

    These are the answer cells (solutions included) and the given helper cells such as
    ``init_params``; cells that run code (tests, demos) are skipped.
    """
    nb = nbformat.read(path, as_version=4)
    namespace: dict = {"np": np}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics such as %matplotlib: not a function cell
            continue
        if (any(isinstance(node, ast.FunctionDef) for node in tree.body)
                and all(isinstance(node, (ast.FunctionDef, ast.Import, ast.ImportFrom)) for node in tree.body)):
            exec(compile(tree, f"{path.name}:{cell.get('id', '?')}", "exec"), namespace)
    for name in ("init_params", "mlp_forward", "mlp_loss_and_grads", "sgd_step"):
        if name not in namespace:
            raise RuntimeError(f"{path} defines no function {name!r}; is it the solution notebook?")
    return namespace


def epoch_batches(data: Split, args: argparse.Namespace, seed: int) -> list[list[np.ndarray]]:
    """The mini-batch index arrays of every epoch, drawn once and shared by numpy and PyTorch."""
    rng = np.random.default_rng([seed, 1])
    return [list(minibatches(len(data.X_train), args.batch_size, rng)) for _ in range(args.epochs)]


def run_numpy(nb: dict, data: Split, args: argparse.Namespace, initial: dict, batches: list) -> Result:
    loss_and_grads, sgd_step = nb["mlp_loss_and_grads"], nb["sgd_step"]
    params = {name: value.copy() for name, value in initial.items()}
    compute = 0.0
    start = time.perf_counter()
    for epoch in batches:
        for batch in epoch:
            t = time.perf_counter()
            _, grads = loss_and_grads(params, data.X_train[batch], data.y_train[batch], "relu")
            compute += time.perf_counter() - t
            params = sgd_step(params, grads, args.learning_rate)
    total = time.perf_counter() - start
    predicted = nb["mlp_forward"](params, data.X_test, "relu")[0].argmax(axis=1)
    return Result("numpy (notebook 5)", accuracy(predicted, data.y_test), total / args.epochs,
                  compute / args.epochs)


def run_sklearn(data: Split, args: argparse.Namespace, seed: int) -> Result:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(args.hidden,), activation="relu", solver="sgd",
                          learning_rate="constant", learning_rate_init=args.learning_rate,
                          momentum=0.0, nesterovs_momentum=False, alpha=0.0, batch_size=args.batch_size,
                          max_iter=args.epochs, tol=0.0, n_iter_no_change=args.epochs + 1,
                          shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        total = time.perf_counter() - start
    return Result("scikit-learn MLPClassifier", accuracy(model.predict(data.X_test), data.y_test),
                  total / model.n_iter_, None)


def run_torch(data: Split, args: argparse.Namespace, initial: dict, batches: list) -> Result | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(args.threads)
    layers = [torch.nn.Linear(64, args.hidden), torch.nn.ReLU(), torch.nn.Linear(args.hidden, 10)]
    model = torch.nn.Sequential(*layers).double()
    with torch.no_grad():
        for linear, l in ((layers[0], 1), (layers[2], 2)):  # the same initial weights as numpy
            linear.weight.copy_(torch.from_numpy(initial[f"W{l}"].T))
            linear.bias.copy_(torch.from_numpy(initial[f"b{l}"]))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    compute = 0.0
    start = time.perf_counter()
    for epoch in batches:
        for batch in epoch:
            index = torch.from_numpy(batch)
            t = time.perf_counter()
            optimizer.zero_grad()
            loss = loss_fn(model(X[index]), y[index])
            loss.backward()
            compute += time.perf_counter() - t
            optimizer.step()
    total = time.perf_counter() - start
    with torch.no_grad():
        predicted = model(torch.from_numpy(data.X_test)).argmax(dim=1).numpy()
    return Result(f"PyTorch {torch.__version__} (CPU)", accuracy(predicted, data.y_test),
                  total / args.epochs, compute / args.epochs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256, help="hidden units H (default 256, as in the notebook)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="training runs per implementation (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch threads (default 1)")
    args = parser.parse_args(argv)
    if min(args.hidden, args.epochs, args.batch_size, args.repeats, args.threads) < 1:
        parser.error("--hidden, --epochs, --batch-size, --repeats and --threads must be positive")

    data = load_digits_split(np.random.default_rng(args.seed))
    nb = notebook_functions()
    print(f"digits: {data.X_train.shape[0]} train / {data.X_test.shape[0]} test, network 64-{args.hidden}-10 ReLU, "
          f"SGD lr={args.learning_rate}, batch {args.batch_size}, {args.epochs} epochs, "
          f"{args.repeats} seed(s), {args.threads} thread(s)")
    runs: dict[str, list[Result]] = {"numpy": [], "sklearn": [], "torch": []}
    with threadpool_limits(limits=args.threads):
        for seed in range(args.seed, args.seed + args.repeats):
            initial = nb["init_params"]([64, args.hidden, 10], np.random.default_rng(seed), weight_std="he")
            batches = epoch_batches(data, args, seed)
            runs["numpy"].append(run_numpy(nb, data, args, initial, batches))
            runs["sklearn"].append(run_sklearn(data, args, seed))
            torch_run = run_torch(data, args, initial, batches)
            if torch_run is not None:
                runs["torch"].append(torch_run)
    numpy_result, sklearn_result = Summary.of(runs["numpy"]), Summary.of(runs["sklearn"])
    torch_result = Summary.of(runs["torch"]) if runs["torch"] else None

    rows = [r for r in (numpy_result, sklearn_result, torch_result) if r is not None]
    print(f"\n{'implementation':32s} {'test acc (mean, min-max)':>25s} {'ms/epoch':>9s} {'fwd+bwd ms/epoch':>17s}")
    for r in rows:
        fb = f"{1000 * r.forward_backward_seconds:17.1f}" if r.forward_backward_seconds is not None else f"{'-':>17s}"
        spread = f"{r.test_accuracy:.4f} ({min(r.accuracies):.4f}-{max(r.accuracies):.4f})"
        print(f"{r.name:32s} {spread:>25s} {1000 * r.epoch_seconds:9.1f} {fb}")

    print("\nratios (numpy / other, same run):")
    acc_ok = numpy_result.test_accuracy >= sklearn_result.test_accuracy
    print(f"  time per epoch, numpy / scikit-learn: {numpy_result.epoch_seconds / sklearn_result.epoch_seconds:.2f}x")
    print(f"  mean test accuracy, numpy - scikit-learn: {numpy_result.test_accuracy - sklearn_result.test_accuracy:+.4f} "
          f"(goal >= 0: {'met' if acc_ok else 'MISSED'})")
    if torch_result is None:
        print("  PyTorch not installed — skipped")
    else:
        ratio = numpy_result.forward_backward_seconds / torch_result.forward_backward_seconds
        print(f"  forward+backward, numpy / PyTorch: {ratio:.2f}x (goal <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})")
        print(f"  mean test accuracy, numpy - PyTorch: {numpy_result.test_accuracy - torch_result.test_accuracy:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
