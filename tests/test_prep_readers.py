"""Readers: every input format, provenance, and every kind of bad input counted and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_prep.readers import ReaderOptions, ReadResult, detect_format, make_reader
from tests.prep_support import write_jsonl

GOOD = "Ein ganz normaler Satz mit genug Wörtern für einen echten Text."


def read_all(path, fmt=None, **opts):
    result = ReadResult()
    reader = make_reader(fmt or detect_format(str(path)), ReaderOptions(**opts))
    docs = list(reader.read(str(path), result))
    return docs, result


def dropped(result) -> dict[str, int]:
    return {
        k.removeprefix("dropped."): int(v)
        for k, v in result.stats.counters.items()
        if k.startswith("dropped.")
    }


@pytest.mark.parametrize("compress", [None, "gz", "zst"])
def test_jsonl_every_bad_input_kind_is_counted_and_skipped(tmp_path, compress):
    lines = [
        json.dumps({"id": "a", "text": GOOD, "url": "https://example.org/a", "source": "web"}) + "\n",
        '{"id": "b", "text": "unterminated\n',  # invalid JSON
        b'{"id": "c", "text": "caf\xe9"}\n',  # Latin-1 byte: invalid UTF-8
        json.dumps({"id": "d", "body": GOOD}) + "\n",  # no text field
        json.dumps({"id": "e", "text": 42}) + "\n",  # text is not a string
        json.dumps({"id": "f", "text": "   \n\t "}) + "\n",  # empty text
        json.dumps({"id": "g", "text": "\x00\x01\x02binary\x03\x04" * 50}) + "\n",  # binary junk
        json.dumps({"id": "h", "text": "x" * 3000}) + "\n",  # larger than the cap below
        '["not", "an", "object"]\n',
        '{"id": "i", "text": "lone surrogate \\ud800 here"}\n',
        "\n",  # blank line: not a record at all
        json.dumps({"id": "j", "text": GOOD + " zwei"}) + "\n",
    ]
    name = "in.jsonl" + (f".{compress}" if compress else "")
    raw = b"".join(x if isinstance(x, bytes) else x.encode() for x in lines)
    path = tmp_path / name
    if compress == "gz":
        import gzip

        raw = gzip.compress(raw)
    elif compress == "zst":
        import zstandard

        raw = zstandard.ZstdCompressor().compress(raw)
    path.write_bytes(raw)

    docs, result = read_all(path, max_doc_bytes=2000)

    assert [d.id for d in docs] == ["a", "j"]
    assert dropped(result) == {
        "read_invalid_json": 1,
        "read_invalid_utf8": 2,
        "read_missing_text": 1,
        "read_non_string_text": 1,
        "read_empty_text": 1,
        "read_binary": 1,
        "read_too_large": 1,
        "read_not_an_object": 1,
    }
    assert result.stats["docs_in"] == 11 and result.stats["docs_out"] == 2
    assert result.samples["read_invalid_json"] == [f"{path}:2"]
    assert result.samples["read_too_large"] == [f"{path}:8"]
    a = docs[0]
    assert (a.source, a.url, a.meta["input"]) == (
        "web",
        "https://example.org/a",
        {"file": str(path), "line": 1},
    )
    # No source in the record: the file name stands in.
    assert docs[1].source == "in"


def test_gigantic_line_is_skipped_without_reading_it_whole(tmp_path):
    huge = json.dumps({"id": "big", "text": "y" * (30 * 1024 * 1024)}) + "\n"
    path = write_jsonl(tmp_path / "big.jsonl", [huge, {"id": "ok", "text": GOOD}])
    docs, result = read_all(path, max_doc_bytes=1024 * 1024)
    assert [d.id for d in docs] == ["ok"]
    assert dropped(result) == {"read_too_large": 1}
    assert result.stats["dropped_bytes.read_too_large"] == len(huge)


def test_truncated_compressed_file_keeps_what_was_read(tmp_path):
    import zstandard

    records = [{"id": str(i), "text": f"{GOOD} {i} " + "wort " * 2000} for i in range(50)]
    data = zstandard.ZstdCompressor().compress("".join(json.dumps(r) + "\n" for r in records).encode())
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[: len(data) // 2])
    docs, result = read_all(path)
    assert 0 < len(docs) < 50
    assert dropped(result) == {"read_corrupt_file": 1}


def test_custom_text_field_and_missing_ids_get_stable_ids(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"content": GOOD}, {"content": GOOD + " b"}])
    first, _ = read_all(path, text_field="content")
    again, _ = read_all(path, text_field="content")
    assert [d.id for d in first] == [d.id for d in again]
    assert len({d.id for d in first}) == 2


def test_parquet(tmp_path):
    table = pa.table(
        {
            "id": ["p1", "p2", "p3"],
            "text": [GOOD, None, GOOD + " drei"],
            "url": ["https://a.eu/1", None, None],
            "extra": [1, 2, 3],
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    docs, result = read_all(path)
    assert [d.id for d in docs] == ["p1", "p3"]
    assert docs[1].meta["input"] == {"file": str(path), "row": 2}
    assert dropped(result) == {"read_missing_text": 1}


def test_directory_of_txt_files(tmp_path):
    root = tmp_path / "texts"
    (root / "sub").mkdir(parents=True)
    (root / "one.txt").write_text(GOOD, encoding="utf-8")
    (root / "sub" / "two.txt").write_text(GOOD + " zwei", encoding="utf-8")
    (root / "bad.txt").write_bytes(b"\xff\xfe\x00junk")
    (root / "ignored.md").write_text("not a txt", encoding="utf-8")
    docs, result = read_all(root)
    assert detect_format(str(root)) == "txt"
    assert [d.id for d in docs] == ["texts/one.txt", "texts/sub/two.txt"]
    assert docs[1].meta["input"] == {"file": str(root), "path": "sub/two.txt"}
    assert dropped(result) == {"read_invalid_utf8": 1}


def test_warc_html_main_text(tmp_path):
    from tests.helpers.warc import sample_html_pages, write_warc

    pages = sample_html_pages({"de", "fr"})[:4]
    assert pages, "the sample corpus has no HTML pages"
    empty = (
        "https://example.org/empty",
        b"<html><head><title>t</title></head><body><script>var x = 1;</script></body></html>",
    )
    path = write_warc(tmp_path / "crawl.warc.gz", [*pages, empty])
    docs, result = read_all(path)
    assert detect_format(str(path)) == "warc"
    assert [d.url for d in docs] == [url for url, _ in pages]
    assert all(len(d.text) > 100 and "<" not in d.text[:50] for d in docs)
    assert all(isinstance(d.meta["input"]["offset"], int) for d in docs)
    assert len({d.id for d in docs}) == len(docs)
    assert dropped(result) == {"read_empty_text": 1}


def test_warc_keeps_the_tdm_headers_and_html_meta(tmp_path):
    from tests.helpers.warc import sample_html_pages, write_warc

    (url, body), (url2, body2) = sample_html_pages({"de"})[:2]
    reserved = body.replace(
        b"<head>",
        b'<head><meta name="robots" content="noai, noimageai">'
        b"<meta content=1 name=TDM-Reservation><meta name='GPTBot' content='noindex'>",
        1,
    )
    assert reserved != body, "the sample page has no <head> to put meta tags in"
    headers = [
        ("TDM-Reservation", "1"),
        ("tdm-policy", "https://example.org/tdm.json"),
        ("Link", '<https://example.org/tdm.json>; rel="tdm-policy"'),
        ("X-Robots-Tag", "noai"),
        ("X-Robots-Tag", "noimageai"),
    ]
    path = write_warc(tmp_path / "tdm.warc.gz", [(url, reserved, headers), (url2, body2)])
    docs, _ = read_all(path)
    assert docs[0].meta["http_headers"] == {
        "tdm-reservation": "1",
        "tdm-policy": "https://example.org/tdm.json",
        "link": '<https://example.org/tdm.json>; rel="tdm-policy"',
        "x-robots-tag": "noai, noimageai",
    }
    assert docs[0].meta["html_meta"] == {
        "robots": "noai, noimageai",
        "tdm-reservation": "1",
        "gptbot": "noindex",
    }
    # A page that says nothing still has both keys, so a later step need not guess.
    assert docs[1].meta["http_headers"] == {} and docs[1].meta["html_meta"] == {}


IRC_LOG = (
    "[12:01] <\x0304alice\x03> hat jemand die neue Version schon getestet?\n"
    "[12:02] <\x0312bob\x03> \x02ja\x02, läuft auf zwei Knoten ohne Probleme\n"
    "[12:02] \x01ACTION winkt\x01\n"
    "[12:03] <\x0304alice\x03> \x1fdanke\x1f, dann baue ich heute Abend das Paket\n"
)


def test_irc_log_with_colour_codes_is_text_and_normalize_strips_them(tmp_path):
    from data_prep.steps.normalize import Normalize

    binary = "".join(chr(b % 32) for b in range(2000))  # packed small numbers: NULs and C0 codes
    utf16 = "Ein Satz mit Wörtern".encode("utf-16-le").decode("latin-1")  # every other char a NUL
    path = write_jsonl(
        tmp_path / "irc.jsonl",
        [
            {"id": "irc", "text": IRC_LOG},
            {"id": "ansi", "text": "\x1b[1;32mOK\x1b[0m   build finished in 12 s\n" * 3},
            {"id": "stray-nul", "text": GOOD * 20 + "\x00"},
            {"id": "bin", "text": binary},
            {"id": "utf16", "text": utf16},
        ],
    )
    docs, result = read_all(path)
    assert [d.id for d in docs] == ["irc", "ansi", "stray-nul"]
    assert dropped(result) == {"read_binary": 2}
    clean = {d.id: d.text for d in Normalize().run(docs)}
    assert "\x03" not in clean["irc"] and "\x02" not in clean["irc"] and "\x01" not in clean["irc"]
    assert "hat jemand die neue Version schon getestet?" in clean["irc"]
    assert "\x00" not in clean["stray-nul"]


def _hf_dataset(rows: int, offset: int = 0):
    import datasets

    return datasets.Dataset.from_dict(
        {
            "text": [f"{GOOD} Nummer {i}." for i in range(offset, offset + rows)],
            "id": [f"hf-{i}" for i in range(offset, offset + rows)],
            "label": list(range(rows)),
        }
    )


def test_save_to_disk_dataset_dict_is_read_file_by_file(tmp_path):
    import datasets

    from data_prep.pipeline.state import expand_inputs

    root = tmp_path / "partner-news"
    datasets.DatasetDict({"train": _hf_dataset(6), "validation": _hf_dataset(2, offset=6)}).save_to_disk(
        str(root), num_shards={"train": 2, "validation": 1}
    )
    assert detect_format(str(root)) == "hf"
    shards = expand_inputs([str(root)])
    assert [(Path(s.path).relative_to(root).as_posix(), s.format) for s in shards] == [
        ("train/data-00000-of-00002.arrow", "hf"),
        ("train/data-00001-of-00002.arrow", "hf"),
        ("validation/data-00000-of-00001.arrow", "hf"),
    ]
    ids = []
    for shard in shards:
        docs, result = read_all(shard.path, shard.format)
        assert not dropped(result)
        assert {d.source for d in docs} == {"partner-news"}  # the dataset, not "data-00000-of-00002"
        ids += [d.id for d in docs]
    assert ids == [f"hf-{i}" for i in range(8)]
    assert docs[-1].meta["input"] == {"file": shards[-1].path, "row": 1}


def test_parquet_dir_with_dataset_card_and_a_corrupt_file(tmp_path):
    from data_prep.pipeline.state import expand_inputs

    root = tmp_path / "card"
    (root / "data").mkdir(parents=True)
    _hf_dataset(4).to_parquet(str(root / "data" / "train-00000-of-00002.parquet"))
    _hf_dataset(4, offset=4).to_parquet(str(root / "data" / "train-00001-of-00002.parquet"))
    _hf_dataset(3, offset=8).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    (root / "data" / "unlisted.parquet").write_bytes(b"not named by the card")
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n"
        "  - split: train\n    path: data/train-*.parquet\n  - split: test\n    path: data/test-*.parquet\n"
        "---\n# A partner's corpus\n"
    )
    # The second train file got cut in transfer: counted with a reason, the rest is read.
    cut = root / "data" / "train-00001-of-00002.parquet"
    cut.write_bytes(cut.read_bytes()[:40])
    shards = expand_inputs([str(root)])
    assert [Path(s.path).name for s in shards] == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ]
    docs, reasons = [], {}
    for shard in shards:
        got, result = read_all(shard.path, shard.format)
        docs += got
        for k, v in dropped(result).items():
            reasons[k] = reasons.get(k, 0) + v
    assert sorted(d.id for d in docs) == sorted(f"hf-{i}" for i in [*range(4), 8, 9, 10])
    assert reasons == {"read_corrupt_file": 1}
    assert {d.source for d in docs} == {"card"}


def test_a_corrupt_arrow_file_is_counted_and_the_others_read(tmp_path):
    root = tmp_path / "saved"
    _hf_dataset(3000).save_to_disk(str(root), num_shards=2)
    broken = root / "data-00001-of-00002.arrow"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    ok, ok_result = read_all(root / "data-00000-of-00002.arrow", "hf")
    cut, cut_result = read_all(broken, "hf")
    assert len(ok) == 1500 and not dropped(ok_result)
    assert dropped(cut_result) == {"read_corrupt_file": 1}
    assert cut_result.samples["read_corrupt_file"][0].startswith(f"{broken}: ")
