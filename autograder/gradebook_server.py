"""The nbgrader gradebook on a PostgreSQL server (``grade --db postgresql+psycopg://...``).

Without ``--db`` the gradebook is ``OUT/gradebook.db`` (SQLite), rebuilt from ``OUT``'s results
on every run and renamed into place. On a server, one database serves several instructors (and
formgrader, and ``nbgrader export``) at once, so a batch replaces only the assignments it
graded, in one transaction:

1. a PostgreSQL advisory lock, held on a connection of its own, makes writers to the same
   database take turns (nbgrader's schema set-up included, which is not safe to race);
2. each graded assignment is removed (its notebooks, cells, submissions, grades and our status
   rows) and added again from the batch's results, with the code that builds the SQLite file
   (:func:`autograder.gradebook.fill_gradebook`);
3. one commit: readers see the old grades or the new ones, never a mix, and a batch that fails
   half-way changes nothing. nbgrader's API commits after every row; during the write its
   commits only flush, so the whole batch is that single transaction.

Re-grading is therefore idempotent (the same results give the same rows), and two instructors
grading different assignments into one database lose nothing.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from .batch import GradingError
from .engine.results import SubmissionResult
from .gradebook import COURSE_ID, STATUS_TABLE, fill_gradebook

LOCK_KEY = 0x6270_6C61_6231  # "bplab1": the advisory lock that writers of a gradebook share
CONNECT_SECONDS = 10
INSTALL_HINT = ("a PostgreSQL gradebook needs psycopg: pip install 'backprop-lab[postgres]' "
                "(or `pip install -r requirements.txt`)")


def normalise_url(url: str) -> str:
    """``url`` with the psycopg driver named (``postgresql://`` would mean psycopg2)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise GradingError(f"--db {url!r} is not a database URL; use "
                           "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE") from None
    if parsed.get_backend_name() != "postgresql":
        raise GradingError(f"--db takes a PostgreSQL URL (postgresql+psycopg://USER:PASSWORD@HOST:PORT/"
                           f"DATABASE), not {parsed.get_backend_name()}; without --db the gradebook "
                           "is OUT/gradebook.db (SQLite)")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def shown(url: str) -> str:
    """``url`` with its password masked, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _engine(url: str):
    from sqlalchemy import create_engine

    try:
        return create_engine(url, connect_args={"connect_timeout": CONNECT_SECONDS})
    except ModuleNotFoundError:
        raise GradingError(INSTALL_HINT) from None


def check_url(url: str) -> None:
    """Fail before grading when ``--db`` is not a reachable PostgreSQL database (says why)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    url = normalise_url(url)
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        raise GradingError(f"cannot use the gradebook database {shown(url)}: "
                           f"{str(getattr(err, 'orig', None) or err).strip()}") from None
    finally:
        engine.dispose()


def write_server_gradebook(url: str, assignments: list[str], results: list[SubmissionResult],
                           sources: dict[tuple[str, str], Path]) -> None:
    """Replace ``assignments`` in the gradebook at ``url`` by ``results`` (one transaction)."""
    from nbgrader.api import InvalidEntry
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    url = normalise_url(url)
    lock_engine = _engine(url)
    try:
        with lock_engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            try:
                _replace(url, assignments, results, sources)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
    except (SQLAlchemyError, InvalidEntry) as err:
        raise GradingError(f"could not write the gradebook to {shown(url)} (nothing was changed "
                           f"there): {str(getattr(err, 'orig', None) or err).strip()}") from None
    finally:
        lock_engine.dispose()


def alembic_head() -> str:
    """nbgrader's schema version, asked of alembic in-process (nbgrader shells out for it)."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


def _stamp_if_empty(url: str) -> None:
    """Create nbgrader's tables in an empty database and stamp their version, as nbgrader does
    on first use but without running the ``alembic`` command."""
    from nbgrader.api import Base
    from sqlalchemy import inspect, text

    engine = _engine(url)
    try:
        with engine.begin() as connection:
            if inspect(connection).get_table_names():
                return
            Base.metadata.create_all(bind=connection)
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                               {"v": alembic_head()})
    finally:
        engine.dispose()


def _replace(url: str, assignments: list[str], results: list[SubmissionResult],
             sources: dict[tuple[str, str], Path]) -> None:
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import text

    _stamp_if_empty(url)
    with warnings.catch_warnings(), Gradebook(url, course_id=COURSE_ID) as gb:
        # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they are harmless
        warnings.simplefilter("ignore", category=Warning)
        session = gb.db()                          # the session behind nbgrader's scoped one
        commit = session.commit
        session.commit = session.flush             # one transaction for the whole batch
        try:
            session.execute(text(f"CREATE TABLE IF NOT EXISTS {STATUS_TABLE} (student_id TEXT, "
                                 "assignment TEXT, notebook TEXT, status TEXT, reason TEXT, "
                                 "PRIMARY KEY (student_id, assignment, notebook))"))
            for assignment in assignments:
                try:
                    gb.remove_assignment(assignment)
                except MissingEntry:
                    pass
                session.execute(text(f"DELETE FROM {STATUS_TABLE} WHERE assignment = :a"),
                                {"a": assignment})
            fill_gradebook(gb, results, {key: path for key, path in sources.items()
                                         if key[0] in assignments})
            if results:
                session.execute(text(f"INSERT INTO {STATUS_TABLE} VALUES (:s, :a, :n, :status, :reason)"),
                                [{"s": r.student_id, "a": r.assignment, "n": r.notebook,
                                  "status": r.status, "reason": r.reason} for r in results])
        except BaseException:
            session.rollback()
            raise
        finally:
            del session.commit
        commit()
