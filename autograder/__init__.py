"""backprop-lab's autograder: releases notebooks and grades submissions on top of nbgrader."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SOLUTIONS_DIR = REPO_ROOT / "solutions"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
NBGRADER_CONFIG = PACKAGE_DIR / "nbgrader_config.py"
