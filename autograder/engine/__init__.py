"""The grading engine: one submission, graded in a sandbox against the instructor's source.

- :mod:`.submission`: the entry point, :func:`~.submission.grade_submission`.
- :mod:`.source`: reads the instructor's notebook and lines a submission up against it.
- :mod:`.runner` (with :mod:`.confine`): the student's side, inside the sandbox.
- :mod:`.sandbox`: bubblewrap, or resource limits alone as a loud fallback.
- :mod:`.judge` (with :mod:`.judgepool`, :mod:`.plan`): the instructor's tests, in a clean process.
- :mod:`.process`, :mod:`.record`: child processes and the pickle-free wire between them.
- :mod:`.untrusted`: submission text and outputs, cleaned and bounded where they enter.
- :mod:`.cleanup`: removing whatever folder tree a submission left; :mod:`.deadline`: the
  wall-clock limit around the grader's own work.
- :mod:`.results`: what grading produces, the contract with the class-level code
  (:mod:`autograder.batch`, :mod:`autograder.gradebook`, :mod:`autograder.feedback`,
  :mod:`autograder.report`; :mod:`autograder.outdir` keeps their output folder crash-safe).
"""
