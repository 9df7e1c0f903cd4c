"""The watcher's parsing logic (no broker): what a user sees of a dropped file, its title, body
and metadata, or the dead-letter reason and message it is rejected with."""

import codecs
import gzip
import json
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsflow.core.records import DeadLetterReason, InputFormat, TitleMethod
from newsflow.watcher.parsing import (
    SUPPORTED_SUFFIXES,
    InputRejected,
    ParsedArticle,
    parse_file_bytes,
)

# The seed articles live beside the repository, never in it.
SEEDS = Path(__file__).resolve().parents[2].parent / "shared/data/seeds"


def seed(prefix: str) -> tuple[ParsedArticle, list[str]]:
    """A seed file's article, and the file's non-blank lines to compare it with."""
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found in {SEEDS} (they are kept outside the repository)")
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    parsed = parse_file_bytes(path.name, path.read_bytes())
    assert len(parsed.articles) == 1
    lines = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
    return parsed.articles[0], lines


def only_article(file_name: str, data: bytes) -> ParsedArticle:
    parsed = parse_file_bytes(file_name, data)
    assert len(parsed.articles) == 1
    assert parsed.rejected_lines == []
    return parsed.articles[0]


def rejection(file_name: str, data: bytes) -> InputRejected:
    with pytest.raises(InputRejected) as caught:
        parse_file_bytes(file_name, data)
    return caught.value


BODY = (
    "The harbour authority closed the port on Monday after waves of up to nine metres battered "
    "the breakwater.\n\nOfficials said the closure would last at least three days."
)


# --- seeds: real, messy text files -------------------------------------------------------
# Expected titles are spelled out; everything else is compared with the seed file itself, so
# no article text is copied into the repository.


@pytest.mark.parametrize(
    ("prefix", "title"),
    [
        ("000", "US plans to prevent Russian and Chinese influence in Venezuela"),
        (
            "001",
            "Pentagon ordered to draft military plans to counter Russia and China in Venezuela",
        ),
        ("003", "Russia military assistance to Venezuela provokes US State Department"),
    ],
)
def test_a_seed_headline_on_the_first_line_is_the_title(prefix, title):
    article, lines = seed(prefix)
    assert lines[0] == title
    assert article.title == title
    assert article.title_method is TitleMethod.FIRST_LINE
    assert article.title_confidence >= 0.8
    assert title not in article.body


def test_the_byline_under_a_seed_headline_is_neither_title_nor_body():
    article, lines = seed("000")
    headline, byline, first_paragraph = lines[:3]
    assert article.title == headline
    assert byline not in article.body
    assert article.body.startswith(first_paragraph)
    # The site signs off at the end with the name that opens the byline: not article text.
    signature = lines[-1]
    assert byline.startswith(signature)
    assert not article.body.endswith(signature)


def test_the_body_of_a_seed_starts_right_under_its_headline():
    for prefix in ("001", "003"):
        article, lines = seed(prefix)
        assert article.body.startswith(lines[1]), prefix


def test_a_promo_line_before_the_seed_headline_is_skipped_and_dropped():
    article, lines = seed("004")
    promo, headline, first_paragraph = lines[:3]
    assert article.title == headline == "US condemns Russian troop deployments in Venezuela"
    assert article.title_method is TitleMethod.AFTER_PROMO
    assert 0.5 <= article.title_confidence < seed("001")[0].title_confidence
    assert promo not in article.body
    assert article.body.startswith(first_paragraph)


def test_a_seed_without_headline_gets_a_derived_title_with_low_confidence():
    article, lines = seed("002")
    assert article.title_method is TitleMethod.DERIVED
    assert article.title_confidence <= 0.3
    # The first sentence, too long for a title, cut at a word boundary.
    assert len(article.title) <= 120
    assert article.title.endswith("…")
    assert lines[0].startswith(f"{article.title[:-1]} ")
    # The sentence the title came from stays in the body.
    assert article.body.startswith(lines[0])


def test_related_links_and_share_buttons_are_not_body_text():
    assert "READ MORE:" not in seed("002")[0].body
    assert not seed("003")[0].body.endswith("Share")


def test_related_links_anywhere_in_a_long_body_are_dropped_and_other_colons_kept():
    paragraphs = [f"Paragraph {n} of the report, with words." for n in range(400)]
    paragraphs[1] = "Read more: Another headline elsewhere"
    paragraphs[200] = "The minister said: we will act."
    paragraphs[-1] = "  SEE ALSO :  The same story, told again"
    text = "Flood waters rise in the delta\n\n" + "\n\n".join(paragraphs) + "\n"
    [article] = parse_file_bytes("long.txt", text.encode()).articles
    assert "Another headline" not in article.body and "told again" not in article.body
    assert "The minister said: we will act." in article.body
    assert article.body.count("\n\n") == 397  # no blank lines left where the links were


def test_seed_bodies_are_clean_text():
    for prefix in ("000", "001", "002", "003", "004"):
        body = seed(prefix)[0].body
        assert body == body.strip()
        assert "\r" not in body
        assert "\n\n\n" not in body
        assert unicodedata.is_normalized("NFC", body)


# --- text and Markdown title rules ----------------------------------------------------------


def test_a_markdown_heading_is_a_strong_title():
    text = f"# Storm closes **harbour** in [Port_Town](https://example.org)\n\n{BODY}\n"
    article = only_article("storm.md", text.encode())
    assert article.title == "Storm closes harbour in Port_Town"
    assert article.title_method is TitleMethod.FIRST_LINE
    assert article.title_confidence >= 0.95
    assert article.body == BODY


def test_a_markdown_heading_after_a_banner_and_an_underlined_heading():
    after_banner = only_article(
        "a.md", f"Advertisement\n\n## Storm closes harbour ##\n\n{BODY}".encode()
    )
    assert after_banner.title == "Storm closes harbour"
    assert after_banner.title_method is TitleMethod.AFTER_PROMO
    underlined = only_article(
        "b.MD", f"Storm closes harbour\n====================\n\n{BODY}".encode()
    )
    assert underlined.title == "Storm closes harbour"
    assert underlined.body == BODY


def test_a_byline_or_timestamp_line_is_never_the_title():
    for byline in ("By Ana Ruiz", "Updated 5 March 2024", "Monday, 5 March 2024 17:14 GMT"):
        article = only_article("a.txt", f"{byline}\n\nStorm closes harbour\n\n{BODY}".encode())
        assert article.title == "Storm closes harbour", byline
        assert byline not in article.body


def test_a_headline_with_a_time_inside_is_still_the_title():
    article = only_article("a.txt", f"Markets close at 16:30 after rally\n\n{BODY}".encode())
    assert article.title == "Markets close at 16:30 after rally"
    assert article.body == BODY


def test_markdown_front_matter_is_neither_title_nor_body():
    text = f"---\nlayout: post\ndate: 2024-03-05\n---\n\n# Storm closes harbour\n\n{BODY}"
    article = only_article("storm.md", text.encode())
    assert article.title == "Storm closes harbour"
    assert article.body == BODY


def test_a_sentence_on_the_first_line_is_body_not_title():
    text = "Waves battered the harbour on Monday. The port closed for three days.\nMore text.\n"
    article = only_article("a.txt", text.encode())
    assert article.title_method is TitleMethod.DERIVED
    assert article.title == "Waves battered the harbour on Monday"
    assert article.body == text.strip()


def test_a_body_without_a_single_letter_has_no_title():
    article = only_article(
        "numbers.txt", b"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26\n"
    )
    assert article.title is None
    assert article.title_method is TitleMethod.NONE
    assert article.title_confidence == 0.0


def test_a_headline_alone_is_not_an_article():
    problem = rejection("a.txt", b"Storm closes harbour\n")
    assert problem.reason is DeadLetterReason.NO_ARTICLE_TEXT
    assert "Storm closes harbour" in problem.message


def test_promo_lines_alone_are_not_an_article():
    problem = rejection("a.txt", b"Join our Telegram channel!\n\nSubscribe now\n")
    assert problem.reason is DeadLetterReason.NO_ARTICLE_TEXT


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", ["report.pdf", "notes.docx", "archive.txt.gz", "README"])
def test_an_unsupported_suffix_is_rejected(file_name):
    problem = rejection(file_name, b"Storm closes harbour\n\nText.")
    assert problem.reason is DeadLetterReason.UNSUPPORTED_TYPE
    assert ".txt" in problem.message


def test_suffixes_are_matched_whatever_their_case():
    assert {".txt", ".md", ".json", ".jsonl", ".html", ".htm"} == SUPPORTED_SUFFIXES
    assert parse_file_bytes("STORM.TXT", f"Storm\n\n{BODY}".encode()).format is InputFormat.TXT
    assert parse_file_bytes("storm.Htm", PAGE.encode()).format is InputFormat.HTML


def test_an_empty_file_is_rejected():
    problem = rejection("a.txt", b"")
    assert problem.reason is DeadLetterReason.EMPTY_FILE
    assert "empty" in problem.message


@pytest.mark.parametrize("data", [b" \n\t\r\n  ", codecs.BOM_UTF8 + b"\n\n", "\u00a0\n".encode()])
def test_a_file_of_whitespace_is_rejected(data):
    assert rejection("a.txt", data).reason is DeadLetterReason.WHITESPACE_ONLY


@pytest.mark.parametrize(
    "data",
    [
        gzip.compress(b"Storm closes harbour. " * 50),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)),
        b"%PDF-1.7\n\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f stream",  # controls, no NUL
    ],
    ids=["gzip", "png", "control-characters"],
)
def test_binary_data_renamed_to_text_is_rejected(data):
    problem = rejection("photo.txt", data)
    assert problem.reason is DeadLetterReason.BINARY_FILE
    assert "binary" in problem.message


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF16_LE + "Storm".encode("utf-16-le") + b"\x00\xd8",  # a lone surrogate
        codecs.BOM_UTF8 + "Caf\u00e9 \u201cquoted\u201d".encode("cp1252"),  # BOM, then not UTF-8
        bytes(range(0x80, 0x100)) * 3,  # no text encoding reads this as language
    ],
    ids=["utf-16-bom", "utf-8-bom", "garbage"],
)
def test_text_that_cannot_be_decoded_is_rejected(data):
    assert rejection("a.txt", data).reason is DeadLetterReason.UNDECODABLE_TEXT


# --- encodings and normalisation ----------------------------------------------------------

TEXT = "Café owners say “no” to the new rules\n\nThe café owners of Montréal said “no” on Monday."


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),  # no BOM: told by its NUL bytes
        (TEXT.encode("cp1252"), "cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-16-le-no-bom", "cp1252"],
)
def test_text_is_decoded_whatever_its_encoding(data, encoding):
    parsed = parse_file_bytes("cafe.txt", data)
    assert parsed.encoding == encoding
    article = parsed.articles[0]
    assert article.title == "Café owners say “no” to the new rules"
    assert article.body == "The café owners of Montréal said “no” on Monday."


def test_latin_1_text_is_decoded():
    text = (
        "Grève à la française\n\nLe ministre a déclaré à la presse que la réforme était "
        "nécessaire. « Ça suffit », a-t-il ajouté."
    )
    article = only_article("greve.txt", text.encode("latin-1"))
    assert article.title == "Grève à la française"
    assert article.body.endswith("« Ça suffit », a-t-il ajouté.")


def test_line_endings_become_line_feeds():
    article = only_article(
        "a.txt", b"Storm closes harbour\r\n\r\nFirst line.\r\nSecond line.\rThird."
    )
    assert article.title == "Storm closes harbour"
    assert article.body == "First line.\nSecond line.\nThird."


def test_text_comes_out_composed_and_without_control_characters():
    decomposed = "Cafe\u0301 owners protest\n\nThe cafe\u0301\x07 owners\u200b\tprotested.\x1b"
    assert not unicodedata.is_normalized("NFC", decomposed)
    article = only_article("a.txt", decomposed.encode())
    assert article.title == "Café owners protest"
    assert article.body == "The café owners\u200b\tprotested."


# --- JSON and JSON Lines ------------------------------------------------------------------


def test_a_json_article_with_every_field():
    record = {
        "title": "  Storm closes harbour ",
        "body": "Waves battered the breakwater.\r\nThe port closed.",
        "url": "https://news.example.org/storm",
        "source": "Coast Gazette",
        "published_at": "2024-03-05T08:30:00+01:00",
        "language": "en",
    }
    parsed = parse_file_bytes("storm.json", json.dumps(record).encode())
    assert parsed.format is InputFormat.JSON
    assert parsed.articles == [
        ParsedArticle(
            title="Storm closes harbour",
            title_method=TitleMethod.GIVEN,
            title_confidence=1.0,
            body="Waves battered the breakwater.\nThe port closed.",
            url="https://news.example.org/storm",
            publisher="Coast Gazette",
            published_at=datetime(2024, 3, 5, 8, 30, tzinfo=timezone(timedelta(hours=1))),
            language="en",
        )
    ]


@pytest.mark.parametrize(
    ("published_at", "expected"),
    [
        ("2024-03-05T07:30:00Z", datetime(2024, 3, 5, 7, 30, tzinfo=UTC)),
        ("2024-03-05T07:30:00", datetime(2024, 3, 5, 7, 30, tzinfo=UTC)),  # naive: UTC
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("last Tuesday", None),  # ignored, the article is kept
        (1709623800, None),
    ],
)
def test_a_json_date_is_read_as_iso_8601_or_ignored(published_at, expected):
    article = only_article(
        "a.json", json.dumps({"body": BODY, "published_at": published_at}).encode()
    )
    assert article.published_at == expected


def test_a_json_article_without_title_gets_one_derived_from_its_body():
    article = only_article("a.json", json.dumps({"body": BODY, "title": " "}).encode())
    assert article.title_method is TitleMethod.DERIVED
    assert (
        article.title
        == "The harbour authority closed the port on Monday after waves of up to nine metres "
        "battered the breakwater"
    )
    assert article.title_confidence <= 0.3


def test_a_json_array_holds_several_articles():
    items = [{"title": "One", "body": "First."}, {"body": "Second.", "source": {"name": "Wire"}}]
    parsed = parse_file_bytes("batch.json", json.dumps(items).encode())
    assert [article.body for article in parsed.articles] == ["First.", "Second."]
    assert parsed.articles[1].publisher == "Wire"


def test_invalid_json_is_rejected_with_where_it_breaks():
    problem = rejection("a.json", b'{\n  "title": "Storm",\n  "body": "Text" "more"\n}')
    assert problem.reason is DeadLetterReason.INVALID_JSON
    assert "invalid JSON at line 3 column 18: Expecting ',' delimiter" in problem.message


@pytest.mark.parametrize(
    ("document", "explanation"),
    [
        ('["a", "b"]', "item 1 of the JSON array: the JSON value is a string"),
        ("[]", "empty JSON array"),
        ('"just a string"', "a string, not an object"),
        ('{"title": "Storm"}', "no 'body' field"),
        ('{"body": 42}', "'body' is a number"),
        ('{"body": "  \\n "}', "'body' is empty"),
        ('[{"body": "ok"}, {"text": "no body"}]', "item 2 of the JSON array"),
    ],
)
def test_json_without_a_usable_body_is_rejected(document, explanation):
    problem = rejection("a.json", document.encode())
    assert problem.reason is DeadLetterReason.MISSING_BODY
    assert explanation in problem.message


def test_json_nested_too_deeply_is_rejected_not_crashed_on():
    assert rejection("a.json", b"[" * 100_000).reason is DeadLetterReason.INVALID_JSON


def test_json_lines_keep_good_lines_and_reject_bad_ones():
    lines = [
        json.dumps({"title": "One", "body": "First."}),
        "",
        '{"title": "Two", "body": "Second."',
        json.dumps({"title": "Three"}),
        json.dumps({"title": "Four", "body": "Fourth."}),
    ]
    parsed = parse_file_bytes("feed.jsonl", "\n".join(lines).encode())
    assert parsed.format is InputFormat.JSONL
    assert [(article.line, article.title) for article in parsed.articles] == [
        (1, "One"),
        (5, "Four"),
    ]
    assert [(bad.line, bad.reason) for bad in parsed.rejected_lines] == [
        (3, DeadLetterReason.INVALID_JSON),
        (4, DeadLetterReason.MISSING_BODY),
    ]
    assert parsed.rejected_lines[0].text == lines[2]
    assert "invalid JSON at column 35: Expecting ',' delimiter" in parsed.rejected_lines[0].message


def test_json_lines_without_any_good_line_are_rejected_with_the_first_reason():
    problem = rejection("feed.jsonl", b'{"title": "no body"}\nnot json\n')
    assert problem.reason is DeadLetterReason.MISSING_BODY
    assert "line 1" in problem.message
    assert "1 more bad line" in problem.message


# --- HTML ---------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Storm closes harbour for three days | Coast Gazette</title>
<meta property="og:site_name" content="Coast Gazette">
<meta property="og:url" content="https://news.example.org/2024/03/05/storm-closes-harbour">
<meta property="article:published_time" content="2024-03-05T08:30:00+01:00">
</head>
<body>
<header>
  <a href="/" class="logo">Coast Gazette</a>
  <nav><ul>
    <li><a href="/">Home</a></li><li><a href="/world">World desk</a></li>
    <li><a href="/sport">Sport pages</a></li><li><a href="/weather">Weather maps</a></li>
  </ul></nav>
</header>
<div class="cookie-banner" id="cookie-consent">
  <p>We use cookies to improve your experience on our site. Accept our cookie policy?</p>
  <button>Accept all</button>
</div>
<main>
<article>
  <h1>Storm closes harbour for three days</h1>
  <p class="byline">By Ana Ruiz</p>
  <p>The harbour authority closed the port on Monday after waves of up to nine metres
     battered the breakwater, leaving dozens of fishing boats stranded inside.</p>
  <p>Officials said the closure would last at least three days while engineers inspect the
     damage to the sea wall, which was rebuilt only two years ago for twelve million euros.</p>
  <p>Local fishermen, who depend on the winter catch, said the closure came at the worst
     possible time and asked the regional government for emergency support.</p>
</article>
<aside class="related">
  <h2>Related stories</h2>
  <ul><li><a href="/a">Ferry services cancelled again as winds rise</a></li>
      <li><a href="/b">Winter tides explained by our experts</a></li></ul>
</aside>
</main>
<footer>
  <p>Copyright 2024 Coast Gazette. All rights reserved.</p>
  <ul><li><a href="/privacy">Privacy policy</a></li>
      <li><a href="/contact">Contact the newsroom</a></li></ul>
</footer>
</body>
</html>
"""


def test_an_html_page_yields_its_article_without_the_site_around_it():
    parsed = parse_file_bytes("storm.html", PAGE.encode())
    assert parsed.format is InputFormat.HTML
    article = parsed.articles[0]
    assert article.title == "Storm closes harbour for three days"
    assert article.title_method is TitleMethod.HTML_HEADLINE
    assert article.body.startswith("The harbour authority closed the port on Monday")
    for paragraph in ("dozens of fishing boats", "engineers inspect", "emergency support"):
        assert paragraph in article.body
    for boilerplate in (
        "World desk",
        "Weather maps",
        "cookies",
        "Accept all",
        "Related stories",
        "Ferry services",
        "All rights reserved",
        "Privacy policy",
        "Contact the newsroom",
    ):
        assert boilerplate not in article.body, boilerplate
    assert article.url == "https://news.example.org/2024/03/05/storm-closes-harbour"
    assert article.publisher == "Coast Gazette"
    assert article.published_at == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    assert article.language == "en"


def test_without_h1_the_html_title_loses_its_site_suffix():
    page = PAGE.replace("<h1>Storm closes harbour for three days</h1>", "")
    page = page.replace(
        "<title>Storm closes harbour for three days |", "<title>Harbour shut by storm |"
    )
    article = only_article("storm.html", page.encode())
    assert article.title == "Harbour shut by storm"
    assert article.title_method is TitleMethod.HTML_HEADLINE


def test_an_html_page_in_a_declared_legacy_encoding_is_decoded():
    page = PAGE.replace('<meta charset="utf-8">', '<meta charset="windows-1252">')
    page = page.replace("Ana Ruiz", "Ana Ruíz").replace("the winter catch", "the “winter” catch")
    parsed = parse_file_bytes("storm.htm", page.encode("cp1252"))
    assert parsed.encoding == "cp1252"
    assert "the “winter” catch" in parsed.articles[0].body


def test_an_html_page_without_an_article_is_rejected():
    page = """<!DOCTYPE html><html><head><title>Coast Gazette</title></head><body>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li></ul></nav>
    <div class="cookie-banner"><p>We use cookies.</p><button>Accept</button></div>
    <footer><p>Copyright 2024 Coast Gazette.</p></footer></body></html>"""
    problem = rejection("index.html", page.encode())
    assert problem.reason is DeadLetterReason.NO_ARTICLE_TEXT
    assert "no article text" in problem.message
