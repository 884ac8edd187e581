"""Read named-entity corpora in CoNLL column format.

One token per line, its columns separated by a tab or by spaces, the entity tag in the last
column (or ``tag_column``); a blank line ends a sentence; ``-DOCSTART-`` lines separate
documents. Tags follow the IOB scheme: ``O`` outside any entity, ``B-TYPE`` at the start of an
entity, ``I-TYPE`` inside it. Two dialects exist:

* **IOB2** (WNUT, BTC, most corpora today): every entity starts with ``B-``.
* **IOB1** (the original CoNLL-2003 release, WikiGold): an entity starts with ``I-``; ``B-`` is
  used only when an entity directly follows another of the same type.

:func:`read_conll` returns sentences tagged in IOB2 whatever the file used, so the rest of the
code (and the entity scorer) sees one scheme. A file that is not in this format raises
:class:`ConllFormatError` naming the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Scheme = Literal["auto", "IOB1", "IOB2"]

_TAG = re.compile(r"^(O|[BI]-\S+)$")
_DOCSTART = "-DOCSTART-"


class ConllFormatError(ValueError):
    """A CoNLL file is malformed; the message starts with ``<file>:<line>:``."""

    def __init__(self, source: str, line_number: int, problem: str) -> None:
        super().__init__(f"{source}:{line_number}: {problem}")
        self.source = source
        self.line_number = line_number
        self.problem = problem


@dataclass(frozen=True)
class Sentence:
    """A tokenised sentence and its entity tags (IOB2), one tag per token."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.tags)} tags")

    def __len__(self) -> int:
        return len(self.tokens)


def _split(line: str) -> list[str]:
    # Tab-separated columns are positional: a token may hold spaces, or be empty where a corpus
    # stripped an odd whitespace character (BTC has a few such lines). Space-separated files
    # have neither.
    if "\t" not in line:
        return line.split()
    fields = [field.strip() for field in line.split("\t")]
    while fields and not fields[-1]:
        fields.pop()
    return fields


def _entity_type(tag: str) -> str | None:
    return None if tag == "O" else tag[2:]


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> Literal["IOB1", "IOB2"]:
    """``"IOB1"`` if some entity starts with ``I-`` (after ``O`` or another type), else ``"IOB2"``."""
    for tags in tag_sequences:
        previous = "O"
        for tag in tags:
            if tag.startswith("I-") and _entity_type(previous) != tag[2:]:
                return "IOB1"
            previous = tag
    return "IOB2"


def to_iob2(tags: Sequence[str]) -> tuple[str, ...]:
    """Rewrite IOB1 tags as IOB2: an ``I-X`` that does not continue an ``X`` entity becomes ``B-X``.

    IOB2 input comes back unchanged, so the function is safe to apply to either scheme.
    """
    out = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and _entity_type(previous) != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return tuple(out)


def parse_conll(
    lines: Iterable[str],
    *,
    source: str = "<string>",
    scheme: Scheme = "auto",
    token_column: int = 0,
    tag_column: int = -1,
) -> list[Sentence]:
    """Parse CoNLL lines (see the module docstring) into IOB2-tagged sentences.

    Args:
        lines: the file's lines, with or without their line endings.
        source: the name used in error messages (a file path).
        scheme: ``"IOB1"``, ``"IOB2"`` or ``"auto"`` (detected with :func:`detect_scheme`).
            With ``"IOB2"`` an entity that starts with ``I-`` is an error.
        token_column, tag_column: which columns hold the token and the tag.

    Raises:
        ConllFormatError: a line with too few columns, a tag that is not ``O``/``B-X``/``I-X``,
            an ``I-`` start under ``scheme="IOB2"``, or a file with no sentence at all.
        ValueError: an unknown ``scheme``.
    """
    if scheme not in ("auto", "IOB1", "IOB2"):
        raise ValueError(f"scheme must be 'auto', 'IOB1' or 'IOB2', got {scheme!r}")
    sentences: list[tuple[list[str], list[str], int]] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0
    needed = max(token_column, tag_column) + 1 if tag_column >= 0 else max(token_column + 1, -tag_column, 2)

    def close() -> None:
        if tokens:
            sentences.append((tokens.copy(), tags.copy(), first_line))
            tokens.clear()
            tags.clear()

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            close()
            continue
        fields = _split(line)
        if fields and fields[0] == _DOCSTART:
            close()
            continue
        if len(fields) < needed:
            raise ConllFormatError(source, number, f"expected at least {needed} columns "
                                   f"(token and tag), found {len(fields)}: {line.strip()!r}")
        tag = fields[tag_column]
        if not _TAG.match(tag):
            raise ConllFormatError(source, number, f"{tag!r} is not an IOB tag (O, B-TYPE or I-TYPE)")
        if not tokens:
            first_line = number
        tokens.append(fields[token_column])
        tags.append(tag)
    close()
    if not sentences:
        raise ConllFormatError(source, 1, "no tagged tokens found: is this a CoNLL column file?")

    if scheme == "IOB2":
        for sentence_tokens, sentence_tags, start in sentences:
            previous = "O"
            for offset, tag in enumerate(sentence_tags):
                if tag.startswith("I-") and _entity_type(previous) != tag[2:]:
                    raise ConllFormatError(
                        source, start + offset,
                        f"{tag} starts an entity after {previous}: not IOB2 (read it with scheme='IOB1')")
                previous = tag
    return [Sentence(tuple(t), to_iob2(g)) for t, g, _ in sentences]


def read_conll(
    path: str | Path,
    *,
    scheme: Scheme = "auto",
    token_column: int = 0,
    tag_column: int = -1,
    encoding: str = "utf-8",
) -> list[Sentence]:
    """Read a CoNLL column file into IOB2-tagged sentences (see :func:`parse_conll`).

    Raises:
        FileNotFoundError: no such file.
        ConllFormatError: malformed content; the message names the file and line.
    """
    path = Path(path)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            return parse_conll(handle, source=str(path), scheme=scheme,
                               token_column=token_column, tag_column=tag_column)
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ConllFormatError(str(path), line, f"not {encoding} text ({err.reason})") from None
