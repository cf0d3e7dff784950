"""Small language resources shipped with the package (stop words, punctuation sets).

Files are plain text, one entry per line, `#` starts a comment line, so partners can review and
extend them without touching code.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from llm_train.errors import ConfigError

RESOURCES = Path(__file__).resolve().parent
STOPWORDS_DIR = RESOURCES / "stopwords"


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


@cache
def stop_words(lang: str) -> frozenset[str]:
    """The stop words of `lang` (ISO 639-1); a clear error names the languages that have a list."""
    path = STOPWORDS_DIR / f"{lang}.txt"
    if not path.is_file():
        known = ", ".join(stop_word_languages())
        raise ConfigError(
            f"no stop-word list for language {lang!r} (have: {known}); give stop_words explicitly"
        )
    return frozenset(_lines(path))


def stop_word_languages() -> list[str]:
    return sorted(p.stem for p in STOPWORDS_DIR.glob("*.txt"))


@cache
def char_set(name: str) -> frozenset[str]:
    """A character set stored as hex code points, e.g. `terminal_punctuation`."""
    return frozenset(chr(int(cp, 16)) for cp in _lines(RESOURCES / f"{name}.txt"))
