"""Shared tools for the backprop-lab notebooks.

``utils`` holds tools, never answers: gradient checking (:mod:`utils.gradcheck`),
test-time randomness (:mod:`utils.testing`), plotting and data helpers. Nothing here
implements an exercise of the notebooks.
"""

__all__: list[str] = []
