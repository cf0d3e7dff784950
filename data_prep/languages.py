"""The languages of the project, in one place: the 24 official EU languages and the ISO 639-3 codes
language identifiers answer (heliport) mapped to ISO 639-1.

Standard library only: `scripts/corpus/build_corpus.py`, which must run without the project's
dependencies, imports it too.
"""

from __future__ import annotations

# The 24 official EU languages (ISO 639-1).
EU_LANGUAGES = ("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
                "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv")  # fmt: skip

# heliport's ISO 639-3 codes -> ISO 639-1. "hbs" (Serbo-Croatian) is Croatian here because our
# corpora are EU ones; keep "sr"/"bs" out of the keep list to avoid that assumption elsewhere.
ISO3_TO_ISO1 = {
    "bul": "bg", "ces": "cs", "dan": "da", "deu": "de", "ell": "el", "eng": "en", "spa": "es",
    "est": "et", "ekk": "et", "fin": "fi", "fra": "fr", "gle": "ga", "hrv": "hr", "hbs": "hr",
    "hun": "hu", "ita": "it", "lit": "lt", "lav": "lv", "lvs": "lv", "mlt": "mt", "nld": "nl",
    "pol": "pl", "por": "pt", "ron": "ro", "slk": "sk", "slv": "sl", "swe": "sv",
    "cat": "ca", "eus": "eu", "glg": "gl", "nor": "no", "nob": "nb", "nno": "nn", "isl": "is",
    "ukr": "uk", "rus": "ru", "tur": "tr", "srp": "sr", "bos": "bs", "mkd": "mk", "sqi": "sq",
    "als": "sq", "ltz": "lb", "cym": "cy", "bre": "br", "fry": "fy", "gla": "gd", "oci": "oc",
    "bel": "be", "ara": "ar", "zho": "zh", "cmn": "zh", "jpn": "ja", "kor": "ko", "hin": "hi",
}  # fmt: skip


def to_iso1(code: str) -> str:
    return ISO3_TO_ISO1.get(code, code)
