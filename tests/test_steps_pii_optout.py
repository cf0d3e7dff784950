"""PII scrubbing (nothing planted survives, ordinary numbers do), opt-out removal, normalize."""

from __future__ import annotations

import random
import re

import pytest

from data_prep.document import Document
from data_prep.steps.normalize import Normalize, collapse_whitespace, normalized, repair_mojibake
from data_prep.steps.optout import OptOutFilter, normalize_url
from data_prep.steps.pii import PIIScrubber, iban_valid, scrub_text
from llm_train.errors import ConfigError

PLANTED = {
    "de": (
        "Schreiben Sie an erika.mustermann@example.de oder rufen Sie 030 1234567 bzw. +49 30 12345678 an. "
        "Überweisung auf DE89 3704 0044 0532 0130 00, Server 203.0.113.7 und 2001:db8:85a3::8a2e:370:7334.",
        [
            "erika.mustermann@example.de",
            "030 1234567",
            "12345678",
            "DE89",
            "0532 0130",
            "203.0.113.7",
            "8a2e:370",
        ],
    ),
    "fr": (
        "Contact : jean.dupont@exemple.fr, téléphone 01 23 45 67 89 ou +33 1 23 45 67 89. "
        "IBAN FR14 2004 1010 0505 0001 3M02 606, adresse IP 198.51.100.23.",
        ["jean.dupont@exemple.fr", "01 23 45 67 89", "FR14", "198.51.100.23"],
    ),
    "pl": (
        "Napisz na jan.kowalski@przyklad.pl lub zadzwoń: 22 123 45 67, kom. +48 600 123 456. "
        "Konto PL61 1090 1014 0000 0712 1981 2874, serwer 192.168.10.5.",
        ["jan.kowalski@przyklad.pl", "22 123 45 67", "600 123 456", "PL61", "192.168.10.5"],
    ),
    "en": (
        "Mail john.smith@example.co.uk, call 020 7946 0958 or +44 20 7946 0958; pay GB82WEST12345698765432 "
        "from 2a00:1450:4001:82a::200e.",
        ["john.smith@example.co.uk", "7946 0958", "GB82WEST", "2a00:1450"],
    ),
}
ORDINARY = (
    "Am 12.05.2020 um 10:30 kostete es 1.299,00 € (Artikel 4711, die Jahre 1999 bis 2021), "
    "ISBN 978-3-16-148410-0, Seite 1234567, Version 1.2.3.4, 3,141,592 Nutzer, 1 000 000 Einwohner, "
    "2023-11-05, 05.11.2023, std::vector und 127.0.0.1."
)


@pytest.mark.parametrize("lang", sorted(PLANTED))
def test_no_planted_pii_survives(lang):
    text, secrets = PLANTED[lang]
    out = scrub_text(Document(id="p", text=text, lang=lang))
    for secret in secrets:
        assert secret not in out, (secret, out)
    for tag in ("<EMAIL>", "<PHONE>", "<IBAN>", "<IP>"):
        assert tag in out


def test_ordinary_numbers_dates_prices_survive():
    for lang in ("de", "en", "pl", "fr"):
        assert scrub_text(Document(id="o", text=ORDINARY, lang=lang)) == ORDINARY


def test_pii_counts_per_type_and_never_drops():
    step = PIIScrubber()
    docs = [Document(id=str(i), text=PLANTED[lang][0], lang=lang) for i, lang in enumerate(sorted(PLANTED))]
    docs.append(Document(id="x", text=ORDINARY, lang="de"))
    out = list(step.run(docs))
    assert len(out) == len(docs)
    assert step.stats["pii.email"] == 4
    assert step.stats["pii.iban"] == 4
    assert step.stats["pii.ip"] == 5
    assert step.stats["pii.phone"] == 8
    assert step.stats.by_lang["de"]["pii.docs_changed"] == 1


def test_iban_checksum():
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("DE89370400440532013001")
    text = "Konto DE89 3704 0044 0532 0130 01 ist falsch."
    assert scrub_text(Document(id="i", text=text, lang="de")) == text


def test_pii_params_are_validated():
    with pytest.raises(ConfigError, match="replacements"):
        PIIScrubber(replacements={"mail": "x"})
    with pytest.raises(ConfigError, match="unknown phone region"):
        PIIScrubber(phone_regions=["XX"])
    out = scrub_text(Document(id="r", text="a@b.org", lang="en"), replacements={"email": "[mail]"})
    assert out == "[mail]"


def test_optout_by_url_domain_and_id(tmp_path):
    listing = tmp_path / "optout.txt"
    listing.write_text(
        "# removal requests\nhttps://www.Example.org/private/page/\ndomain:blocked.eu\nid:doc-42\n\n",
        encoding="utf-8",
    )
    f = OptOutFilter(list_path=str(listing))
    cases = {
        "http://example.org/private/page#top": (False, "optout_url"),
        "https://example.org/private/other": True,
        "https://news.blocked.eu/a": (False, "optout_domain"),
        "https://blocked.eu": (False, "optout_domain"),
        "https://notblocked.eu/a": True,
    }
    for url, expected in cases.items():
        assert f.filter(Document(id="d", text="t", url=url)) == expected, url
    assert f.filter(Document(id="doc-42", text="t")) == (False, "optout_id")
    assert normalize_url("HTTPS://WWW.Example.org:443/a/") == "example.org/a"
    with pytest.raises(ConfigError, match="not a URL"):
        OptOutFilter(entries=["example.org"])
    with pytest.raises(ConfigError, match="does not exist"):
        OptOutFilter(list_path=str(tmp_path / "missing.txt"))


def test_normalize_repairs_and_tidies():
    d = Document(id="n", text="FranÃ§ais cafÃ© â€œZitatâ€\u009d  a\t\tb\r\n\n\n\nz\x00 \u00a0q\u200b e\u0301")
    assert normalized(d) == "Français café “Zitat” a b\n\nz q é"
    # Correct text that merely looks like mojibake stays as it is (ß + „“ quotes, É + …).
    for text in ("Maß“ und Fuß„", "CAFÉ…", "Grüße–Test"):
        assert repair_mojibake(text) == text


@pytest.mark.parametrize("seed", range(5))
def test_whitespace_collapse_equals_the_plain_regex_rules(seed):
    def reference(text: str) -> str:
        text = re.sub(r"[ \t]{2,}|\t", " ", text)
        text = re.sub(r"[ \t]+\n", "\n", text)
        text = re.sub(r"\n[ \t]+", "\n", text)
        return re.sub(r"\n{3,}", "\n\n", text).strip()

    rng = random.Random(seed)
    pieces = [" ", "  ", "\t", "\n", "\n\n\n", " \n", "\n ", "\t\n", "a", "é"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        assert collapse_whitespace(text) == reference(text), repr(text)


def test_normalize_drop_reasons():
    step = Normalize()
    docs = [
        Document(id="a", text=" \n\t "),
        Document(id="b", text="Text mit \ufffd\ufffd\ufffd kaputten Zeichen"),
        Document(id="c", text="Gut."),
    ]
    assert [d.id for d in step.run(docs)] == ["c"]
    assert step.stats["dropped.normalize_empty"] == 1
    assert step.stats["dropped.normalize_bad_encoding"] == 1
    assert step.stats["dropped_bytes.normalize_bad_encoding"] == len(docs[1].text.encode("utf-8"))
    assert step.stats["bytes_dropped"] == step.stats["bytes_in"] - step.stats["bytes_out"]
    with pytest.raises(ConfigError, match="form must be"):
        Normalize(form="NFX")
