"""Text normalization: repair mojibake, Unicode NFC, drop control characters, tidy whitespace.

Mojibake (UTF-8 bytes decoded as cp1252/latin-1, "FranÃ§ais") is repaired run by run with a
re-encode/decode round trip, which is cheap and leaves correct text untouched; `repair: ftfy` uses
ftfy instead (must be installed). Documents that still look broken are dropped with a reason.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import PipelineStep
from data_prep.steps.params import PerLang, check
from llm_train.errors import ConfigError

# Lead byte of a 2-4 byte UTF-8 sequence read as cp1252/latin-1, followed by continuation bytes
# read the same way (0x80-0xBF: cp1252's €‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ or latin-1 \x80-\xbf).
_CONT = "\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_MOJIBAKE = re.compile(f"(?:[\xc2-\xdf][{_CONT}]|[\xe0-\xef][{_CONT}]{{2}}|[\xf0-\xf4][{_CONT}]{{3}})+")
# Every run starts like this; a plain two-character scan is several times cheaper than _MOJIBAKE's.
_MOJIBAKE_START = re.compile(f"[\xc2-\xf4][{_CONT}]")
# The classic signatures left behind when a run could not be repaired: Ã©, Â«, â€™.
_MOJIBAKE_LEFT = re.compile("[ÃÂ][\xa0-\xbf]|â€")
# Control characters except \t and \n; zero-width space, BOM, and the C1 range.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_UNICODE_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_BLANK_LINES = re.compile(r"\n{3,}")

_CP1252 = {ch: bytes([b]) for b in range(256) for ch in [bytes([b]).decode("cp1252", errors="ignore")] if ch}


def _sloppy_bytes(s: str) -> bytes | None:
    """Bytes that `s` was wrongly decoded from (cp1252, latin-1 for the bytes cp1252 lacks)."""
    out = bytearray()
    for ch in s:
        b = _CP1252.get(ch)
        if b is None:
            if ord(ch) > 0xFF:
                return None
            b = bytes([ord(ch)])
        out += b
    return bytes(out)


def _plausible(ch: str) -> bool:
    """Characters mojibake usually hides: Latin-1/Latin Extended-A, Greek, Cyrillic, punctuation,
    currency, letterlike symbols, emoji. "Maß“" (ß + cp1252 quote) would "decode" to an NKo letter:
    such a repair is refused and the text kept as it is."""
    cp = ord(ch)
    return 0xA0 <= cp <= 0x17F or 0x370 <= cp <= 0x4FF or 0x2000 <= cp <= 0x214F or 0x1F000 <= cp <= 0x1FAFF


def _fix_run(match: re.Match[str]) -> str:
    run = match.group(0)
    raw = _sloppy_bytes(run)
    if raw is None:
        return run
    try:
        fixed = raw.decode("utf-8")
    except UnicodeDecodeError:
        return run
    return fixed if all(map(_plausible, fixed)) else run


def repair_mojibake(text: str) -> str:
    return _MOJIBAKE.sub(_fix_run, text) if _MOJIBAKE_START.search(text) else text


def collapse_whitespace(text: str) -> str:
    """Runs of spaces/tabs -> one space, no space at line ends or starts, at most one blank line.

    Plain `str.replace` passes instead of a regex (about twice as fast on documentation text):
    tabs become spaces, then halving the runs of spaces until none is left takes log2(longest run)
    passes.
    """
    if "\t" in text:
        text = text.replace("\t", " ")
    while "  " in text:
        text = text.replace("  ", " ")
    # Only single spaces are left, so the line-edge spaces are exactly " \n" and "\n ".
    text = text.replace(" \n", "\n").replace("\n ", "\n")
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


@dataclass(frozen=True)
class NormalizeParams:
    form: str = "NFC"
    repair: str = "builtin"  # builtin | ftfy | off
    unicode_spaces: bool = True  # NBSP, thin spaces, ... -> " "
    collapse_whitespace: bool = True
    max_replacement_char_ratio: float = 0.001  # U+FFFD share of characters above which we drop
    max_mojibake_ratio: float = 0.001  # share of characters still in mojibake runs after repair

    def validate(self, step: str) -> None:
        check(
            self.form in ("NFC", "NFKC", "NFD", "NFKD"),
            step,
            "form",
            "one of NFC, NFKC, NFD, NFKD",
            self.form,
        )
        check(
            self.repair in ("builtin", "ftfy", "off"),
            step,
            "repair",
            "one of builtin, ftfy, off",
            self.repair,
        )
        for key in ("max_replacement_char_ratio", "max_mojibake_ratio"):
            v = getattr(self, key)
            check(isinstance(v, int | float) and 0 <= v <= 1, step, key, "in [0, 1]", v)


@STEPS.register("normalize")
class Normalize(PipelineStep):
    name = "normalize"

    def __init__(self, per_lang: dict | None = None, **params):
        super().__init__()
        self.params = PerLang(NormalizeParams, self.name, params, per_lang)
        self._ftfy = None
        if any(p.repair == "ftfy" for p in [self.params.default, *self.params.by_lang.values()]):
            try:
                import ftfy
            except ImportError as e:
                raise ConfigError(
                    "step 'normalize': repair: ftfy needs the ftfy package (pip install ftfy)"
                ) from e
            self._ftfy = ftfy

    def normalize(self, text: str, p: NormalizeParams) -> tuple[str, str | None]:
        """The normalized text and a drop reason (None to keep)."""
        if p.repair == "builtin":
            text = repair_mojibake(text)
        elif p.repair == "ftfy":
            text = self._ftfy.fix_encoding(text)
        if not unicodedata.is_normalized(p.form, text):
            text = unicodedata.normalize(p.form, text)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _CONTROL.sub("", text)
        if p.unicode_spaces:
            text = _UNICODE_SPACES.sub(" ", text)
        if p.collapse_whitespace:
            text = collapse_whitespace(text)
        if not text.strip():
            return text, "normalize_empty"
        n = len(text)
        if text.count("\ufffd") / n > p.max_replacement_char_ratio:
            return text, "normalize_bad_encoding"
        if p.repair != "off" and ("Ã" in text or "Â" in text or "â€" in text):
            left = 2 * len(_MOJIBAKE_LEFT.findall(text))
            if left / n > p.max_mojibake_ratio:
                return text, "normalize_mojibake"
        return text, None

    def run(self, docs):
        for doc in docs:
            self.count_in(doc)
            p = self.params.get(doc.lang)
            text, reason = self.normalize(doc.text, p)
            if reason is not None:
                self.count_dropped(doc, reason, _drop_stat(text, reason, p) if self.on_drop else None)
                continue
            if text != doc.text:
                self.stats.update("normalize.changed", 1, doc.lang)
            doc.text = text
            self.count_out(doc)
            yield doc


def _drop_stat(text: str, reason: str, p: NormalizeParams) -> dict | None:
    """The measured ratio behind a drop, for the audit trail only."""
    n = len(text) or 1
    if reason == "normalize_bad_encoding":
        return {
            "replacement_char_ratio": round(text.count("\ufffd") / n, 6),
            "max": p.max_replacement_char_ratio,
        }
    if reason == "normalize_mojibake":
        return {
            "mojibake_ratio": round(2 * len(_MOJIBAKE_LEFT.findall(text)) / n, 6),
            "max": p.max_mojibake_ratio,
        }
    return None


def normalized(doc: Document, **params) -> str:
    """Convenience for tests and notebooks: the text `normalize` would produce for `doc`."""
    step = Normalize(**params)
    return step.normalize(doc.text, step.params.get(doc.lang))[0]
