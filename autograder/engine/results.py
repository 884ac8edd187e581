"""What grading one submission produces: the contract between the grading engine
(:mod:`autograder.engine.submission`) and the batch tools (grade, feedback, reports, demo)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Status of a whole submission (one student's notebook).
OK = "ok"              # every cell ran; score is what the tests gave
PARTIAL = "partial"    # the run stopped early (timeout, kernel died, sys.exit, memory): credit
                       # for the questions that ran before, 0 with a reason for the rest
FLAGGED = "flagged"    # graded, but something was tampered with (edited/deleted/duplicated test or
                       # metadata, patched numpy or the checker, ...): reason says what; a cheat
                       # earns nothing from the tests it defeated
INVALID = "invalid"    # not a gradable notebook (a link, device or other non-regular file, malformed
                       # JSON, wrong format, or too large/slow for the grader to process): score 0
MISSING = "missing"    # no submission file for this student and notebook: score 0
ERROR = "error"        # the grader itself failed on this submission (a bug: never the student's
                       # fault); reason carries the exception
STATUSES = (OK, PARTIAL, FLAGGED, INVALID, MISSING, ERROR)

# Status of one question (one graded test cell).
PASSED = "passed"
FAILED = "failed"      # the test ran and failed: diagnosis/message say why
NOT_RUN = "not run"    # the student's run stopped before this test (message says why)
VOIDED = "voided"      # tampering defeated this test: 0 points (message says what was found)
QUESTION_STATUSES = (PASSED, FAILED, NOT_RUN, VOIDED)


@dataclass(frozen=True)
class QuestionResult:
    """One graded test cell of one submission."""

    grade_id: str
    points: float
    max_points: float
    status: str
    diagnosis: str = ""   # utils.gradcheck diagnosis word when the failure carried one
    message: str = ""     # student-facing; never reveals hidden-test code or reference values


@dataclass(frozen=True)
class SubmissionResult:
    """One student's notebook, graded."""

    student_id: str
    assignment: str
    notebook: str
    score: float
    max_score: float
    status: str
    reason: str = ""
    questions: tuple[QuestionResult, ...] = field(default_factory=tuple)
    seconds: float = 0.0
