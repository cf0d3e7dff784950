"""PII scrubbing: e-mail addresses, phone numbers, IBANs and IP addresses become placeholders.

Documents are never dropped here. Every candidate is validated before it is replaced, so ordinary
numbers, dates, years, prices and version strings survive: phone numbers must be valid for a
region hinted by the document's language (or written with +country code) per `phonenumbers`;
IBANs must pass the ISO 13616 mod-97 check; IPs must parse with `ipaddress`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from data_prep.document import Document
from data_prep.pipeline.registry import STEPS
from data_prep.pipeline.step import PipelineStep
from data_prep.steps.params import PerLang, check
from llm_train.errors import ConfigError

# Phone regions to try for each document language (first is the most likely).
LANG_REGIONS = {
    "bg": ["BG"], "cs": ["CZ"], "da": ["DK"], "de": ["DE", "AT", "CH"], "el": ["GR", "CY"],
    "en": ["GB", "IE", "MT"], "es": ["ES"], "et": ["EE"], "fi": ["FI"], "fr": ["FR", "BE", "LU"],
    "ga": ["IE"], "hr": ["HR"], "hu": ["HU"], "it": ["IT"], "lt": ["LT"], "lv": ["LV"], "mt": ["MT"],
    "nl": ["NL", "BE"], "pl": ["PL"], "pt": ["PT"], "ro": ["RO"], "sk": ["SK"], "sl": ["SI"], "sv": ["SE"],
}  # fmt: skip

DEFAULT_REPLACEMENTS = {"email": "<EMAIL>", "phone": "<PHONE>", "iban": "<IBAN>", "ip": "<IP>"}

_EMAIL = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}\b"
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f:.]*\d)[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
)
# "Version 1.2.3.4", "v2.0.0.1": dotted numbers after a version word are not addresses.
_VERSION_CUE = re.compile(
    r"(?i)(?:\bv|\bver|version|versión|versione|versão|versie|wersja|verze|verzia|versio|verzió|release)\.?\s*$"
)
# Digit runs that could be a phone number: 7+ digits with spaces, dots, dashes, slashes, parens.
# Dates are digit runs too: 2023-11-05, 05.11.2023, 5/11/23.
_DATE = re.compile(r"\d{4}([-./])\d{1,2}\1\d{1,2}|\d{1,2}([-./])\d{1,2}\2\d{2,4}")
_PHONE_CANDIDATE = re.compile(r"(?<![\w.,/+-])\+?\(?\d[\d \u00a0().\-/]{5,}\d(?![\w])")


def iban_valid(compact: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 is 1."""
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


@dataclass(frozen=True)
class PIIParams:
    email: bool = True
    phone: bool = True
    iban: bool = True
    ip: bool = True
    only_public_ips: bool = False  # True: keep private/reserved ranges (datatrove's default)
    phone_regions: list[str] | None = None  # None: LANG_REGIONS of the document's language
    replacements: dict = field(default_factory=dict)  # overrides of DEFAULT_REPLACEMENTS

    def validate(self, step: str) -> None:
        keys = set(DEFAULT_REPLACEMENTS)
        check(
            isinstance(self.replacements, dict) and set(self.replacements) <= keys,
            step,
            "replacements",
            f"a mapping with keys among {sorted(keys)}",
            self.replacements,
        )
        check(
            self.phone_regions is None or all(isinstance(r, str) and len(r) == 2 for r in self.phone_regions),
            step,
            "phone_regions",
            "a list of two-letter region codes or null",
            self.phone_regions,
        )


@STEPS.register("pii")
class PIIScrubber(PipelineStep):
    name = "pii"

    def __init__(self, per_lang: dict | None = None, **params):
        super().__init__()
        self.params = PerLang(PIIParams, self.name, params, per_lang)
        try:
            import phonenumbers
        except ImportError as e:
            raise ConfigError("step 'pii' needs the phonenumbers package (pip install phonenumbers)") from e
        self._pn = phonenumbers
        for p in [self.params.default, *self.params.by_lang.values()]:
            for region in p.phone_regions or []:
                if region not in phonenumbers.SUPPORTED_REGIONS:
                    raise ConfigError(f"step 'pii': unknown phone region {region!r}")

    def scrub(self, text: str, lang: str | None, p: PIIParams) -> tuple[str, dict[str, int]]:
        counts = {"email": 0, "phone": 0, "iban": 0, "ip": 0}
        rep = {**DEFAULT_REPLACEMENTS, **p.replacements}

        def sub(kind: str, pattern: re.Pattern[str], valid, text: str) -> str:
            def replace(m: re.Match[str]) -> str:
                out = valid(m)
                if out is None:
                    return m.group(0)
                counts[kind] += 1
                return out

            return pattern.sub(replace, text)

        if p.email and "@" in text:
            text = sub("email", _EMAIL, lambda m: rep["email"], text)
        if p.iban:
            text = sub("iban", _IBAN, lambda m: self._iban(m, rep["iban"]), text)
        if p.ip:
            if ":" in text:
                text = sub("ip", _IPV6, lambda m: self._ip(m, p, rep["ip"]), text)
            text = sub("ip", _IPV4, lambda m: self._ip(m, p, rep["ip"]), text)
        if p.phone:
            regions = p.phone_regions if p.phone_regions is not None else LANG_REGIONS.get(lang, [])
            text = sub(
                "phone", _PHONE_CANDIDATE, lambda m: self._phones(m.group(0), regions, counts, rep), text
            )
        return text, counts

    @staticmethod
    def _iban(m: re.Match[str], placeholder: str) -> str | None:
        # The pattern may take a trailing group that is not part of the IBAN: try shorter prefixes.
        parts = m.group(0).split(" ") if " " in m.group(0) else [m.group(0)]
        for end in range(len(parts), 0, -1):
            if iban_valid("".join(parts[:end])):
                return placeholder + (" " + " ".join(parts[end:]) if end < len(parts) else "")
        return None

    @staticmethod
    def _ip(m: re.Match[str], p: PIIParams, placeholder: str) -> str | None:
        raw = m.group(0)
        try:
            addr = ipaddress.ip_address(raw)
        except ValueError:
            return None
        if addr.is_loopback or addr.is_unspecified:
            return None  # 127.0.0.1, ::1, 0.0.0.0 are technical constants, not anyone's address
        if p.only_public_ips and not addr.is_global:
            return None
        if addr.version == 4 and _VERSION_CUE.search(m.string, max(0, m.start() - 12), m.start()):
            return None
        if addr.version == 6 and sum(1 for g in raw.split(":") if g) < 2:
            return None  # "a::b"-like strings are too short to be a real address in prose
        return placeholder

    def _phones(self, candidate: str, regions: list[str], counts: dict[str, int], rep: dict) -> str | None:
        if sum(c.isdigit() for c in candidate) < 7:
            return None
        pn = self._pn
        spans: list[tuple[int, int]] = []
        for region in regions or [None]:
            for match in pn.PhoneNumberMatcher(candidate, region, leniency=pn.Leniency.VALID):
                raw = match.raw_string
                # Bare digit strings without a trunk 0 or "+" are more often IDs and counts.
                if (raw.isdigit() and not raw.startswith("0")) or _DATE.fullmatch(raw):
                    continue
                if not any(s < match.end and match.start < e for s, e in spans):
                    spans.append((match.start, match.end))
        if not spans:
            return None
        out, last = [], 0
        for s, e in sorted(spans):
            out += [candidate[last:s], rep["phone"]]
            last = e
        out.append(candidate[last:])
        counts["phone"] += len(spans) - 1  # the caller counts one
        return "".join(out)

    def run(self, docs):
        for doc in docs:
            self.count_in(doc)
            text, counts = self.scrub(doc.text, doc.lang, self.params.get(doc.lang))
            for kind, n in counts.items():
                if n:
                    self.stats.update(f"pii.{kind}", n, doc.lang)
            if text != doc.text:
                self.stats.update("pii.docs_changed", 1, doc.lang)
                doc.text = text
            self.count_out(doc)
            yield doc


def scrub_text(doc: Document, **params) -> str:
    """Convenience for tests: the text `pii` would produce for `doc`."""
    step = PIIScrubber(**params)
    return step.scrub(doc.text, doc.lang, step.params.get(doc.lang))[0]
