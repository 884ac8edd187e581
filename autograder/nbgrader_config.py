"""nbgrader configuration for backprop-lab.

``solutions/<assignment>/<notebook>.ipynb`` is the instructor source and
``notebooks/<assignment>/<notebook>.ipynb`` the student release. nbgrader reads
``nbgrader_config.py`` from its working folder: the repository root has one that loads this
file, so plain nbgrader commands (and ``jupyter lab``'s formgrader) work from the root:

    nbgrader generate_assignment 01_gradients --force
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

# Regenerating an assignment (formgrader's "Generate", `generate_assignment --force`) replaces
# its notebooks only: with the default "*" nbgrader deletes the whole notebooks/<assignment>/
# folder first, extra files included. "?*" matches the same notebooks.
c.CourseDirectory.notebook_id = "?*"

# `python -m autograder lab` points formgrader at the autograder's output folder OUT: its
# gradebook, graded notebooks and feedback, the submissions it graded, and a course-local
# exchange (so the Assignment List works without /usr/local/share/nbgrader/exchange).
_GRADES = os.environ.get("BACKPROP_LAB_GRADES")
if _GRADES:
    # a server gradebook (BACKPROP_LAB_DB_URL, `grade --db`) wins over OUT's SQLite file
    c.CourseDirectory.db_url = (os.environ.get("BACKPROP_LAB_DB_URL")
                                or "sqlite:///" + os.path.join(_GRADES, "gradebook.db"))
    c.CourseDirectory.autograded_directory = os.path.join(_GRADES, "autograded")
    c.CourseDirectory.feedback_directory = os.path.join(_GRADES, "feedback")
    c.Exchange.root = os.path.join(_GRADES, "exchange")
    c.Exchange.cache = os.path.join(_GRADES, "exchange-cache")
    c.Exchange.assignment_dir = os.path.join(_GRADES, "assignments")
if os.environ.get("BACKPROP_LAB_SUBMISSIONS"):
    c.CourseDirectory.submitted_directory = os.environ["BACKPROP_LAB_SUBMISSIONS"]
