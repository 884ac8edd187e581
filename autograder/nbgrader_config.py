"""nbgrader configuration for backprop-lab.

``solutions/<assignment>/<notebook>.ipynb`` is the instructor source and
``notebooks/<assignment>/<notebook>.ipynb`` the student release. nbgrader reads this file
from its working folder, so run plain nbgrader commands from ``autograder/``:

    cd autograder && nbgrader generate_assignment 01_gradients --force
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when the file is loaded)

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c.CourseDirectory.course_id = "backprop-lab"
c.CourseDirectory.root = os.environ.get("BACKPROP_LAB_COURSE_ROOT", _ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# A gradebook on a server (`grade --db URL`): set BACKPROP_LAB_DB_URL to the same URL.
c.CourseDirectory.db_url = (os.environ.get("BACKPROP_LAB_DB_URL")
                            or "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db"))

# Solutions are replaced by a comment only: every solution block is followed by a task-named
# `raise NotImplementedError("Exercise N.M: name")` that is unreachable in the solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Feedback must never show hidden tests (nbgrader#917, #1363).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.ClearHiddenTests.enforce_metadata = False

c.ExecutePreprocessor.timeout = 120
