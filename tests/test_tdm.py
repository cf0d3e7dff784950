"""TDM reservations (DSM Art. 4(3)): each kind of machine-readable reservation on handmade WARC
records and HTML files drops the page with its own reason, counted in stats.json, per domain and
in the data card; unusable robots.txt snapshots and a corrupt WARC are counted, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep.cli.prep import main as prep_main
from data_prep.document import Document
from data_prep.steps.tdm import TdmReservationFilter
from data_prep.steps.tdm_sites import parse_robots
from llm_train.errors import ConfigError
from tests.helpers.warc import sample_html_pages, write_warc


def doc(url="https://example.org/a", headers=None, meta=None) -> Document:
    return Document(
        "d", "text " * 20, "de", "crawl", url, {"http_headers": headers or {}, "html_meta": meta or {}}
    )


def reason(step, d):
    result = step.filter(d)
    return None if result is True else result[1]


def test_page_level_reservations_each_have_their_reason():
    step = TdmReservationFilter(user_agents=["GPTBot"])
    assert reason(step, doc(headers={"tdm-reservation": "1"})) == "tdm_header"
    assert reason(step, doc(headers={"tdm-reservation": "0"})) is None
    assert reason(step, doc(meta={"tdm-reservation": "1"})) == "tdm_meta"
    assert reason(step, doc(headers={"x-robots-tag": "noindex, noai"})) == "tdm_x_robots_tag"
    # An agent prefix scopes the directives after it: only the agents the user named count.
    assert reason(step, doc(headers={"x-robots-tag": "googlebot: noai"})) is None
    assert reason(step, doc(headers={"x-robots-tag": "GPTBot: noindex, noai"})) == "tdm_x_robots_tag"
    assert (
        reason(step, doc(headers={"x-robots-tag": "unavailable_after: 2030-01-01, noai"}))
        == "tdm_x_robots_tag"
    )
    assert reason(step, doc(meta={"robots": "index, follow"})) is None
    assert reason(step, doc(meta={"robots": "noimageai"})) == "tdm_robots_meta"
    assert reason(step, doc(meta={"gptbot": "noai"})) == "tdm_robots_meta"
    assert reason(step, doc(meta={"ccbot": "noai"})) is None
    # Documents from sources without web metadata pass untouched.
    assert reason(step, Document("x", "text", "de", "books", None, {})) is None
    text_only = TdmReservationFilter(robots_directives=["noai"])
    assert reason(text_only, doc(meta={"robots": "noimageai"})) is None


def test_bad_parameters_fail_at_construction(tmp_path):
    with pytest.raises(ConfigError, match="user_agents"):
        TdmReservationFilter(robots_dir=str(tmp_path))
    with pytest.raises(ConfigError, match="unknown parameter.*agents"):
        TdmReservationFilter(agents=["GPTBot"])
    with pytest.raises(ConfigError, match="on_unparseable must be keep or drop"):
        TdmReservationFilter(on_unparseable="maybe")
    with pytest.raises(ConfigError, match="does not exist"):
        TdmReservationFilter(domain_list=str(tmp_path / "missing.txt"))


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"User-agent: *\nDisallow: /private\n", None),
        (b"", None),  # an empty robots.txt allows everything
        (b"# only a comment\n", None),
        (b"<!DOCTYPE html><html><head><title>404</title></head></html>", "html"),
        (b"\xff\xfeU\x00s\x00e\x00r\x00", "binary"),
        (b"User-agent: *\nDisallow: /caf\xe9\n", "not_utf8"),
        (b"this is not\na robots file\n", "no_directives"),
    ],
)
def test_robots_snapshots_are_parsed_or_rejected_with_a_reason(data, problem):
    assert parse_robots(data).problem == problem


HOSTS = {
    "header": ("https://header.example/p", [("TDM-Reservation", "1")], ""),
    "header-zero": ("https://zero.example/p", [("TDM-Reservation", "0")], ""),
    "meta": ("https://meta.example/p", [], '<meta name="tdm-reservation" content="1">'),
    "xrobots": ("https://xrobots.example/p", [("X-Robots-Tag", "noai")], ""),
    "xrobots-other": ("https://xother.example/p", [("X-Robots-Tag", "googlebot: noai")], ""),
    "robots-meta": ("https://robotsmeta.example/p", [], '<meta name="robots" content="noai, noimageai">'),
    "agent-meta": ("https://agentmeta.example/p", [], "<meta name='GPTBot' content='noai'>"),
    "listed": ("https://sub.listed.example/p", [], ""),
    "robots-private": ("https://www.robots.example/private/page", [], ""),
    "robots-public": ("https://www.robots.example/public/page", [], ""),
    "robots-html": ("https://broken.example/p", [], ""),
    "robots-binary": ("https://binary.example/p", [], ""),
    "plain": ("https://plain.example/p", [], ""),
}
DROPPED = {
    "header": "tdm_header",
    "meta": "tdm_meta",
    "xrobots": "tdm_x_robots_tag",
    "robots-meta": "tdm_robots_meta",
    "agent-meta": "tdm_robots_meta",
    "listed": "tdm_site_list",
    "robots-private": "tdm_site_robots",
}


@pytest.fixture
def crawl(tmp_path):
    """Handmade HTML files (real help pages with reservations added), their WARC, robots.txt
    snapshots, a domain list and a corrupt WARC."""
    pages = sample_html_pages({"de", "fr", "pl"})
    assert len(pages) >= len(HOSTS)
    html_dir = tmp_path / "html"
    html_dir.mkdir()
    records = []
    for (name, (url, headers, meta)), (_, body) in zip(HOSTS.items(), pages, strict=False):
        page = body.replace(b"<head>", b"<head>" + meta.encode(), 1)
        assert b"<head>" in body
        (html_dir / f"{name}.html").write_bytes(page)
        records.append((url, (html_dir / f"{name}.html").read_bytes(), headers))
    raw = tmp_path / "raw"
    write_warc(raw / "crawl.warc.gz", records)
    # A second archive with unreserved pages of another site, cut in the middle and followed by junk.
    write_warc(
        tmp_path / "other.warc.gz",
        [(f"https://corrupt.example/{i}", body) for i, (_, body) in enumerate(pages[:4])],
    )
    good = (tmp_path / "other.warc.gz").read_bytes()
    (raw / "corrupt.warc.gz").write_bytes(good[: len(good) // 2] + b"\x00garbage" * 50)
    robots = tmp_path / "robots"
    robots.mkdir()
    (robots / "www.robots.example.txt").write_text(
        "User-agent: GPTBot\nDisallow: /private\n\nUser-agent: *\nAllow: /\n"
    )
    (robots / "broken.example").mkdir()
    (robots / "broken.example" / "robots.txt").write_text("<html><body>Not found</body></html>")
    (robots / "binary.example.txt").write_bytes(b"\x00\x01\x02binary")
    (robots / "plain.example.txt").write_text("User-agent: CCBot\nDisallow: /\n")
    domains = tmp_path / "reserved-domains.txt"
    domains.write_text("# rightsholders who wrote to us\nlisted.example\n")
    config = tmp_path / "prep.yaml"
    config.write_text(
        json.dumps(
            {
                "name": "tdm-test",
                "input": {"format": "warc"},
                "steps": {
                    "tdm": {"user_agents": ["GPTBot"], "robots_dir": str(robots), "domain_list": str(domains)}
                },
                "dedup": {"exact": False, "near": False},
                "output": {"validation_fraction": 0.0, "charts": False},
            }
        )
    )
    return raw, config


def test_prep_drops_reserved_pages_and_counts_them_per_reason_and_domain(crawl, tmp_path):
    raw, config = crawl
    out = tmp_path / "clean"
    rc = prep_main(
        ["--input", str(raw / "*.warc.gz"), "--output", str(out), "--config", str(config), "--no-progress"]
    )
    assert rc == 0
    stats = json.loads((out / "stats.json").read_text())
    tdm = stats["tdm"]
    want: dict[str, int] = {}
    for r in DROPPED.values():
        want[r] = want.get(r, 0) + 1
    assert {r: v["docs"] for r, v in tdm["by_reason"].items()} == want
    assert tdm["reserved_docs"] == len(DROPPED) == stats["steps"][1]["counters"]["docs_dropped"]
    by_domain = tdm["by_domain"]
    for name, reason_ in DROPPED.items():
        host = HOSTS[name][0].split("/")[2].removeprefix("www.")
        assert by_domain[host][reason_] >= 1, (name, by_domain)
    for kept in ("header-zero", "xrobots-other", "robots-html", "robots-binary", "plain"):
        assert HOSTS[kept][0].split("/")[2].removeprefix("www.") not in by_domain
    assert by_domain["robots.example"] == {"docs": 1, "tdm_site_robots": 1}  # /public/ stays
    assert tdm["robots_unparseable"]["broken.example"] == {"html": 1}
    assert tdm["robots_unparseable"]["binary.example"] == {"binary": 1}
    assert stats["drop_reasons"]["read_corrupt_file"]["docs"] == 1
    kept_urls = {json.loads(line)["url"] for line in _lines(out)}
    assert HOSTS["plain"][0] in kept_urls and HOSTS["robots-public"][0] in kept_urls
    assert not {HOSTS[n][0] for n in DROPPED} & kept_urls
    card = (out / "DATACARD.md").read_text()
    assert "## Text-and-data-mining reservations (DSM Art. 4(3))" in card
    assert "| `tdm_site_robots` |" in card and "| robots.example |" in card
    assert "`broken.example`: html 1" in card


def _lines(out: Path) -> list[str]:
    import zstandard

    lines = []
    for path in sorted(out.glob("*/*/*.jsonl.zst")):
        lines += zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read().decode().splitlines()
    return lines


def test_unparseable_robots_can_drop_when_asked(tmp_path):
    robots = tmp_path / "robots"
    robots.mkdir()
    (robots / "broken.example.txt").write_text("<html>oops</html>")
    step = TdmReservationFilter(user_agents=["GPTBot"], robots_dir=str(robots), on_unparseable="drop")
    assert reason(step, doc("https://broken.example/x")) == "tdm_robots_unparseable"
    assert step.stats["robots_unparseable.html.broken.example"] == 1
    # A site without a snapshot is not reserved by one.
    assert reason(step, doc("https://other.example/x")) is None
