"""nbgrader configuration when nbgrader (or JupyterLab's formgrader) runs from the repository
root: the course's settings live in ``autograder/nbgrader_config.py``."""

c = get_config()  # noqa: F821  (provided by traitlets when the file is loaded)
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821  (relative to this file's folder)
