"""Clean-corpus reading for tokenizer/pack/evals (data_prep.readers.corpus): streaming, truncated
files, bad lines counted with the same reasons as prep's raw input.

Also home of `make_corpus`, the small multi-script clean corpus the tokenizer, pack and mixture
tests build (Latin, Greek and Cyrillic scripts, plus Maltese and Latvian diacritics).
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
import zstandard

from data_prep.readers import ReadResult
from data_prep.readers.corpus import discover, read_corpus_file
from llm_train.errors import DataError

SENTENCES = {
    "en": [
        "The committee will meet again next week to discuss the budget.",
        "Open the file menu and choose the option to save the document.",
        "Rain is expected in the north, while the south stays dry and warm.",
        "Researchers measured the energy used by each training run.",
        "She walked along the river and counted 42 boats before noon.",
    ],
    "de": [
        "Der Ausschuss tritt nächste Woche erneut zusammen, um den Haushalt zu beraten.",
        "Öffnen Sie das Menü „Datei“ und wählen Sie die Option zum Speichern.",
        "Im Norden wird Regen erwartet, während der Süden trocken und warm bleibt.",
        "Die Straße führt über die Brücke zum größten Marktplatz der Stadt.",
    ],
    "fr": [
        "Le comité se réunira de nouveau la semaine prochaine pour discuter du budget.",
        "Ouvrez le menu Fichier et choisissez l'option d'enregistrement du document.",
        "De la pluie est attendue au nord, tandis que le sud reste sec et chaud.",
        "L'été dernier, nous avons visité un château près de la forêt.",
    ],
    "el": [
        "Η επιτροπή θα συνεδριάσει ξανά την επόμενη εβδομάδα για τον προϋπολογισμό.",
        "Ανοίξτε το μενού Αρχείο και επιλέξτε την αποθήκευση του εγγράφου.",
        "Αναμένονται βροχές στον βορρά, ενώ ο νότος παραμένει ξηρός και ζεστός.",
        "Οι ερευνητές μέτρησαν την ενέργεια που χρησιμοποίησε κάθε εκπαίδευση.",
    ],
    "bg": [
        "Комисията ще заседава отново следващата седмица, за да обсъди бюджета.",
        "Отворете менюто „Файл“ и изберете опцията за запазване на документа.",
        "На север се очаква дъжд, а югът остава сух и топъл.",
        "Изследователите измериха енергията, използвана при всяко обучение.",
    ],
    "mt": [
        "Il-kumitat se jerġa' jiltaqa' l-ġimgħa d-dieħla biex jiddiskuti l-baġit.",
        "Iftaħ il-menu tal-fajl u agħżel l-għażla biex tissejvja d-dokument.",
        "Ħafna nies żaru l-belt qadima matul is-sajf.",
    ],
    "lv": [
        "Komiteja atkal tiksies nākamnedēļ, lai apspriestu budžetu.",
        "Atveriet izvēlni Fails un izvēlieties dokumenta saglabāšanas opciju.",
        "Ziemeļos gaidāms lietus, bet dienvidos saglabāsies sauss un silts laiks.",
    ],
}


def make_docs(lang: str, count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"{seed}-{lang}")
    docs = []
    for i in range(count):
        sentences = [rng.choice(SENTENCES[lang]) for _ in range(rng.randint(2, 8))]
        paragraphs = [" ".join(sentences[: len(sentences) // 2]), " ".join(sentences[len(sentences) // 2 :])]
        text = "\n\n".join(p for p in paragraphs if p) + f" #{i}"
        docs.append(
            {
                "id": f"{lang}-{i}",
                "text": text,
                "lang": lang,
                "source": f"src{i % 2}",
                "url": None,
                "meta": {},
            }
        )
    return docs


def write_jsonl_zst(path: Path, docs: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode("utf-8")
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))


def make_corpus(root: Path, counts: dict[str, int], files_per_lang: int = 2, valid: int = 10) -> dict:
    """Write `<root>/<lang>/{train,validation}/*.jsonl.zst`; returns {lang: train docs}."""
    out = {}
    for lang, count in counts.items():
        docs = make_docs(lang, count + valid)
        train, validation = docs[:count], docs[count:]
        per_file = -(-count // files_per_lang)
        for k in range(files_per_lang):
            part = train[k * per_file : (k + 1) * per_file]
            if part:
                write_jsonl_zst(root / lang / "train" / f"part-{k:05d}.jsonl.zst", part)
        if validation:
            write_jsonl_zst(root / lang / "validation" / "part-00000.jsonl.zst", validation)
        out[lang] = train
    (root / "stats.json").write_text("{}")
    return out


def test_discover_sorts_and_filters(tmp_path):
    make_corpus(tmp_path, {"el": 5, "de": 5})
    files = discover(tmp_path, "train")
    assert [(f.lang, f.path.name) for f in files] == [
        ("de", "part-00000.jsonl.zst"),
        ("de", "part-00001.jsonl.zst"),
        ("el", "part-00000.jsonl.zst"),
        ("el", "part-00001.jsonl.zst"),
    ]
    assert [f.lang for f in discover(tmp_path, "train", ["el"])] == ["el", "el"]
    with pytest.raises(DataError, match="no corpus files"):
        discover(tmp_path, "test")
    with pytest.raises(DataError, match="not found"):
        discover(tmp_path / "missing", "train")


def test_bad_lines_are_counted_and_skipped(tmp_path):
    good = make_docs("el", 3)
    lines = [json.dumps(good[0]), "{not json", json.dumps({"id": "x"}), json.dumps(good[1]), "", "[1, 2]"]
    lines += [json.dumps({"id": "e", "text": ""}), json.dumps(good[2])]
    path = tmp_path / "x.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(("\n".join(lines) + "\n").encode()))
    report = ReadResult()
    docs = [d.to_json() for d in read_corpus_file(path, report)]
    assert docs == good  # meta (with the raw input's provenance) is kept as written
    assert report.skipped == {"invalid_json": 1, "missing_text": 1, "not_an_object": 1, "empty_text": 1}
    assert report.to_json()["problems"][0] == {"reason": "empty_text", "where": f"{path}:7"}


@pytest.mark.parametrize("suffix", [".jsonl.zst", ".jsonl.gz"])
def test_truncated_file_is_reported(tmp_path, suffix):
    docs = make_docs("bg", 3000)  # several zstd blocks, so the cut leaves whole ones
    data = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()
    blob = zstandard.ZstdCompressor().compress(data) if suffix.endswith("zst") else gzip.compress(data)
    path = tmp_path / f"t{suffix}"
    path.write_bytes(blob[: len(blob) // 2])
    report = ReadResult()
    got = [d.to_json() for d in read_corpus_file(path, report)]
    assert 0 < len(got) < len(docs)
    assert got == docs[: len(got)]  # every document read is whole; the cut tail is dropped
    assert report.skipped == {"corrupt_file": 1}


def test_multi_frame_zst_reads_every_frame(tmp_path):
    docs = make_docs("lv", 50)
    comp = zstandard.ZstdCompressor()
    blob = b"".join(
        comp.compress("".join(json.dumps(d) + "\n" for d in docs[i : i + 10]).encode())
        for i in range(0, 50, 10)
    )
    path = tmp_path / "m.jsonl.zst"
    path.write_bytes(blob)
    report = ReadResult()
    assert [d.to_json() for d in read_corpus_file(path, report)] == docs
    assert not report.skipped


def train_small_tokenizer(corpus: Path, output: Path, vocab_size: int = 800) -> Path:
    """A real (tiny) tokenizer trained by our trainer on `corpus`."""
    from data_prep.tokenizer.train import TrainOptions, train

    train(corpus, output, TrainOptions(vocab_size=vocab_size, fertility_bytes=20_000))
    return output
