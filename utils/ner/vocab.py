"""Word vocabularies for window classifiers: ids, padding and unknown words.

A :class:`Vocabulary` maps each word type to a row of the embedding matrix ``E``. Row 0 is the
padding token that fills windows past a sentence's ends; rows 1.. are the *unknown-word
classes*: a word the vocabulary does not hold is not thrown away but mapped to the class of its
shape (capitalised, all caps, number, URL, @user, #hashtag, ...), since "an unseen capitalised
word" is itself good evidence for a name.

Lookup order for a token: the token itself, then its lower-cased form, then its unknown class.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

PAD = "<pad>"
UNKNOWN_CLASSES = ("<unk>", "<unk:Title>", "<unk:UPPER>", "<unk:lower>", "<unk:number>",
                   "<unk:url>", "<unk:@user>", "<unk:#tag>")
SPECIALS = (PAD,) + UNKNOWN_CLASSES

_URL = re.compile(r"^(https?:|www\.)|\.(com|org|net|ly|co)(/|$)", re.I)
_NUMBER = re.compile(r"^[+-]?[\d.,:/%-]*\d[\d.,:/%-]*$")


def unknown_class(token: str) -> str:
    """The unknown-word class of ``token``, one of :data:`UNKNOWN_CLASSES`."""
    if _URL.search(token):
        return "<unk:url>"
    if token.startswith("@") and len(token) > 1:
        return "<unk:@user>"
    if token.startswith("#") and len(token) > 1:
        return "<unk:#tag>"
    if _NUMBER.match(token):
        return "<unk:number>"
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return "<unk>"
    if all(c.isupper() for c in letters) and len(letters) > 1:
        return "<unk:UPPER>"
    if letters[0].isupper():
        return "<unk:Title>"
    if all(c.islower() for c in letters):
        return "<unk:lower>"
    return "<unk>"


@dataclass(frozen=True)
class Vocabulary:
    """An ordered list of word types; ``words[i]`` is the word of embedding row ``i``.

    Build one with :meth:`build`. ``words`` starts with :data:`SPECIALS` (padding, then the
    unknown classes), so ``pad_id == 0``.
    """

    words: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.words[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        index = {word: i for i, word in enumerate(self.words)}
        if len(index) != len(self.words):
            raise ValueError("a vocabulary cannot list a word twice")
        object.__setattr__(self, "_index", index)

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        *,
        min_count: int = 1,
        pretrained: Iterable[str] = (),
        lowercase: bool = True,
    ) -> Vocabulary:
        """A vocabulary of the training tokens seen ``min_count`` times or more, plus ``pretrained``.

        Args:
            token_lists: tokenised training sentences.
            min_count: rarer training words are left out (and so become unknown-class tokens,
                which lets the unknown classes' vectors learn something during training).
            pretrained: words that have a pretrained vector (kept whatever their count).
            lowercase: store lower-cased words (GloVe is lower-cased); otherwise keep each
                spelling as its own type (``Paris`` and ``paris`` get separate rows).
        """
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counts = Counter(tok.lower() if lowercase else tok for tokens in token_lists for tok in tokens)
        kept = [w for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0])) if c >= min_count]
        seen = set(SPECIALS)
        words = list(SPECIALS)
        for word in [*kept, *pretrained]:
            if word and word not in seen:
                seen.add(word)
                words.append(word)
        return cls(tuple(words))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    @property
    def pad_id(self) -> int:
        return 0

    def id(self, token: str) -> int:
        """The row of ``token``: itself, else its lower-cased form, else its unknown class."""
        found = self._index.get(token)
        if found is None:
            found = self._index.get(token.lower())
        if found is None:
            found = self._index[unknown_class(token)]
        return found

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Token ids, shape ``(len(tokens),)``, dtype int64."""
        return np.array([self.id(token) for token in tokens], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of ``ids`` (an unknown token comes back as its class, e.g. ``<unk:Title>``)."""
        return [self.words[int(i)] for i in ids]

    def is_unknown(self, token: str) -> bool:
        """Whether ``token`` falls back to an unknown class."""
        return self.id(token) < len(SPECIALS) and token not in self._index
