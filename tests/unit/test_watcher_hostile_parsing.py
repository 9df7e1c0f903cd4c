"""The watcher's parsers on hostile input (no broker): files shaped to crash them, to fill the
memory or to take minutes, and furniture dressed as text. Each is rejected with a reason or
parsed quickly, and no article text is lost to a boilerplate rule.

The timing tests parse inputs that took tens of seconds when parsing was quadratic; their
bounds are many times what linear parsing takes, so they fail only on a quadratic parser.
"""

import json
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.core.records import DeadLetterReason, InputFormat, TitleMethod
from newsflow.watcher.decoding import clean_text
from newsflow.watcher.json_format import MAX_REJECTED_LINES_LISTED
from newsflow.watcher.parsing import (
    MAX_ARTICLES_PER_FILE,
    InputRejected,
    ParsedArticle,
    ParsedFile,
    parse_file_bytes,
)

BODY = (
    "The harbour authority closed the port on Monday after waves of up to nine metres battered "
    "the breakwater.\n\nOfficials said the closure would last at least three days."
)
FIRST_SENTENCE = (
    "The harbour authority closed the port on Monday after waves of up to nine metres battered "
    "the breakwater"
)


def rejection(file_name: str, data: bytes, **options) -> InputRejected:
    with pytest.raises(InputRejected) as caught:
        parse_file_bytes(file_name, data, **options)
    return caught.value


def only_article(file_name: str, data: bytes) -> ParsedArticle:
    parsed = parse_file_bytes(file_name, data)
    assert len(parsed.articles) == 1
    return parsed.articles[0]


def every_string(parsed: ParsedFile) -> list[str]:
    strings = [parsed.encoding]
    for article in parsed.articles:
        strings += [article.title, article.body, article.url, article.publisher, article.language]
    for bad in parsed.rejected_lines:
        strings += [bad.message, bad.text]
    return [string for string in strings if string is not None]


# --- exceptions that escaped parsing --------------------------------------------------------

LONG_NUMBER = "9" * 5000  # Python reads integers of at most 4,300 digits


def test_a_json_number_too_long_to_read_is_invalid_json():
    problem = rejection("a.json", f'{{"body": "Text.", "views": {LONG_NUMBER}}}'.encode())
    assert problem.reason is DeadLetterReason.INVALID_JSON
    assert "number too long to read" in problem.message


def test_a_json_number_too_long_to_read_in_an_array_is_invalid_json():
    problem = rejection("a.json", f'[{{"body": "Text."}}, {LONG_NUMBER}]'.encode())
    assert problem.reason is DeadLetterReason.INVALID_JSON


def test_a_json_line_with_a_number_too_long_to_read_is_a_bad_line():
    lines = ['{"body": "First."}', f'{{"body": "Second.", "views": {LONG_NUMBER}}}']
    parsed = parse_file_bytes("feed.jsonl", "\n".join(lines).encode())
    assert [article.body for article in parsed.articles] == ["First."]
    [bad] = parsed.rejected_lines
    assert (bad.line, bad.reason) == (2, DeadLetterReason.INVALID_JSON)


def test_clean_text_replaces_lone_surrogates():
    assert clean_text("Storm \ud800closes\udfff harbour\udc80") == (
        "Storm \ufffdcloses\ufffd harbour\ufffd"
    )


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_lone_surrogate_escapes_in_json_fields_become_replacement_characters(suffix):
    document = (
        '{"title": "Storm \\ud800", "body": "Waves \\udfff hit.", "url": "https://x.org/\\udc00",'
        ' "source": {"name": "Coast \\ud83d"}, "language": "e\\ud800n",'
        ' "published_at": "2024-03-05\\ud800", "\\udabc": 1}'
    )
    parsed = parse_file_bytes(f"storm{suffix}", document.encode())
    for string in every_string(parsed):
        string.encode("utf-8")
    [article] = parsed.articles
    assert article.title == "Storm \ufffd"
    assert article.body == "Waves \ufffd hit."
    assert article.url == "https://x.org/\ufffd"
    assert article.publisher == "Coast \ufffd"
    assert article.language == "e\ufffdn"
    assert article.published_at is None


def test_a_source_with_a_lone_surrogate_becomes_a_clean_publisher():
    article = only_article("a.json", b'{"body": "Text.", "source": "\\udfffWire"}')
    assert article.publisher == "\ufffdWire"


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_field_names_with_lone_surrogates_make_a_clean_message(suffix):
    problem = rejection(f"a{suffix}", b'{"titl\\ud800e": "Storm", "text": "No body"}')
    assert problem.reason is DeadLetterReason.MISSING_BODY
    assert "fields: text, titl\ufffde" in problem.message
    problem.message.encode("utf-8")


def test_long_field_names_are_cut_short_in_the_message():
    problem = rejection("a.json", json.dumps({"k" * 100_000: 1}).encode())
    assert len(problem.message) < 200


def test_a_file_name_with_lone_surrogates_makes_a_clean_message():
    # A name that is not UTF-8 on disk reaches Python with lone surrogates (os.fsdecode).
    problem = rejection("caf\udce9.json", b'{"text": "no body"}')
    problem.message.encode("utf-8")
    assert problem.message.startswith("caf\ufffd.json")


@pytest.mark.parametrize("published_at", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_a_date_no_record_can_hold_in_utc_is_ignored(published_at):
    document = {"body": "Text.", "published_at": published_at}
    assert only_article("a.json", json.dumps(document).encode()).published_at is None


def test_a_date_with_an_offset_in_seconds_is_kept_as_the_same_instant_in_utc():
    # Records write offsets in whole minutes: "+00:00:01" would be read back a second off.
    document = {"body": "Text.", "published_at": "2000-01-01T00:00:00+00:00:01"}
    published_at = only_article("a.json", json.dumps(document).encode()).published_at
    assert published_at == datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert published_at.utcoffset() == timedelta(0)


# --- memory bounded by the file's size --------------------------------------------------------


def small_lines(count: int) -> bytes:
    return "\n".join(json.dumps({"body": f"Article {number}."}) for number in range(count)).encode()


def test_a_json_lines_file_with_more_articles_than_the_limit_is_rejected_whole():
    problem = rejection("feed.jsonl", small_lines(MAX_ARTICLES_PER_FILE + 1))
    assert problem.reason is DeadLetterReason.TOO_LARGE
    assert f"at least {MAX_ARTICLES_PER_FILE + 1:,} articles" in problem.message
    assert f"limit of {MAX_ARTICLES_PER_FILE:,}" in problem.message


def test_a_json_lines_file_at_the_limit_is_parsed():
    parsed = parse_file_bytes("feed.jsonl", small_lines(3), max_articles=3)
    assert [article.line for article in parsed.articles] == [1, 2, 3]


def test_a_json_array_with_more_articles_than_the_limit_is_rejected_whole():
    items = [{"body": f"Article {number}."} for number in range(4)]
    problem = rejection("batch.json", json.dumps(items).encode(), max_articles=3)
    assert problem.reason is DeadLetterReason.TOO_LARGE
    assert "at least 4 articles" in problem.message
    assert len(parse_file_bytes("batch.json", json.dumps(items[:3]).encode(), 3).articles) == 3


@pytest.mark.timeout(30)
def test_a_file_of_800_000_tiny_articles_is_rejected_without_holding_them():
    data = small_lines(800_000)  # 22 MB; parsing it whole took gigabytes
    tracemalloc.start()
    try:
        problem = rejection("feed.jsonl", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem.reason is DeadLetterReason.TOO_LARGE
    assert peak < 100 * 1024 * 1024  # the decoded text and the first articles, no more


@pytest.mark.timeout(10)
def test_an_array_of_800_000_tiny_articles_is_rejected_without_decoding_it_all():
    data = b"[" + b",".join(b'{"body": "Text."}' for _ in range(800_000)) + b"]"
    tracemalloc.start()
    try:
        problem = rejection("batch.json", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem.reason is DeadLetterReason.TOO_LARGE
    assert peak < 100 * 1024 * 1024


@pytest.mark.timeout(10)
def test_bad_lines_past_the_first_hundred_are_summed_up_in_one():
    data = b'{"body": "The one good line."}\n' + b"{\n" * 2_000_000
    parsed = parse_file_bytes("feed.jsonl", data)
    assert len(parsed.articles) == 1
    assert len(parsed.rejected_lines) == MAX_REJECTED_LINES_LISTED + 1
    listed, summary = parsed.rejected_lines[:-1], parsed.rejected_lines[-1]
    assert [bad.line for bad in listed] == list(range(2, 102))
    assert summary.line == 102
    assert summary.reason is DeadLetterReason.INVALID_JSON
    assert summary.message.startswith(
        "1,999,900 more bad lines after line 101, the first of them at line 102: invalid JSON"
    )
    assert summary.text == "{"


def test_the_summary_of_unlisted_bad_lines_gives_the_first_one_s_reason():
    lines = ["{"] * MAX_REJECTED_LINES_LISTED + ['{"title": "no body"}', "[]", '{"body": "Good."}']
    parsed = parse_file_bytes("feed.jsonl", "\n".join(lines).encode())
    summary = parsed.rejected_lines[-1]
    assert summary.reason is DeadLetterReason.MISSING_BODY
    assert summary.message.startswith("2 more bad lines after line 100, the first of them at line")
    assert summary.text == '{"title": "no body"}'


def test_one_bad_line_past_the_listed_ones_is_listed_as_it_is():
    lines = ["{"] * (MAX_REJECTED_LINES_LISTED + 1) + ['{"body": "Good."}']
    parsed = parse_file_bytes("feed.jsonl", "\n".join(lines).encode())
    assert [bad.line for bad in parsed.rejected_lines] == list(range(1, 102))
    assert parsed.rejected_lines[-1].message.startswith("invalid JSON at column 2")


@pytest.mark.timeout(10)
def test_a_file_of_only_bad_lines_is_rejected_with_their_count():
    problem = rejection("feed.jsonl", b"{}\n" * 1_000_000)
    assert problem.reason is DeadLetterReason.MISSING_BODY
    assert "(999,999 more bad lines)" in problem.message


# --- time linear in the file's size -----------------------------------------------------------


@pytest.mark.timeout(5)
def test_a_text_of_abbreviations_is_parsed_in_linear_time():
    article = only_article("mr.txt", ("Mr. " * 16_000).encode())  # 27 s when quadratic
    assert article.title_method is TitleMethod.DERIVED


@pytest.mark.timeout(5)
def test_a_markdown_heading_with_a_long_run_of_spaces_is_parsed_in_linear_time():
    article = only_article("a.md", ("# Storm" + " " * 60_000 + "closes #\n\n" + BODY).encode())
    assert article.title == "Storm closes"


@pytest.mark.timeout(5)
@pytest.mark.parametrize("unit", ["*a ", "_a ", "`a ", "**a "])
def test_a_markdown_heading_of_unclosed_emphasis_is_parsed_in_linear_time(unit):
    article = only_article("a.md", ("# " + unit * 30_000 + "\n\n" + BODY).encode())
    assert article.title_method is TitleMethod.FIRST_LINE


@pytest.mark.timeout(5)
def test_a_markdown_heading_of_unclosed_links_is_parsed_in_linear_time():
    article = only_article("a.md", ("# " + "[a" * 60_000 + "\n\n" + BODY).encode())
    assert article.title.startswith("[a[a")


@pytest.mark.timeout(5)
def test_a_long_run_of_spaces_inside_a_line_is_tidied_in_linear_time():
    article = only_article("a.txt", ("Storm\n\nWaves hit" + " " * 100_000 + "the wall.").encode())
    assert article.body == "Waves hit" + " " * 100_000 + "the wall."


@pytest.mark.timeout(5)
def test_markdown_emphasis_and_links_still_read_as_plain_text():
    article = only_article(
        "a.md", f"# **Storm** *closes* [harbour](/h) `now` ##\n\n{BODY}".encode()
    )
    assert article.title == "Storm closes harbour now"


@pytest.mark.timeout(5)
def test_a_page_of_200_000_elements_is_rejected_quickly():
    page = "<html><body>" + "<h1>x</h1>" * 200_000 + f"<p>{BODY}</p></body></html>"
    problem = rejection("a.html", page.encode())  # 18 s and 519 MB when parsed
    assert problem.reason is DeadLetterReason.TOO_LARGE
    assert "more than 50,000 HTML elements" in problem.message


@pytest.mark.timeout(5)
def test_an_element_with_60_000_attributes_loses_them_not_its_text():
    attributes = " ".join(f'data-a{number}="x>y"' for number in range(60_000))
    page = f"<html><body><article><p {attributes}>{BODY}</p></article></body></html>"
    article = only_article("a.html", page.encode())  # 18 s in lxml when parsed whole
    assert article.body == BODY.replace("\n\n", " ")


def test_elements_with_a_few_attributes_keep_them():
    page = (
        '<html lang="en"><body><article class="story"><h1 id="t">Storm closes harbour</h1>'
        + "".join(f"<p>{paragraph}</p>" for paragraph in BODY.split("\n\n"))
        + "</article></body></html>"
    )
    article = only_article("a.html", page.encode())
    assert (article.title, article.language) == ("Storm closes harbour", "en")


# --- never lose text, never make furniture the title -------------------------------------------

CONTINUATION = (
    "the ruling would leave small publishers without any protection against the platforms that "
    "copy their reporting, and that the court had ignored decades of settled practice in the "
    "industry, according to filings seen by this newspaper on Tuesday evening."
)
OPENINGS = [
    "Copyright holders argued that",
    "Copyright 2024 filings show that",
    "© symbols aside, lawyers for the group said that",
    "All rights reserved clauses, the lawyers said, mean that",
    "Join the debate, our readers wrote, because",
    "Subscribe to this view and our experts say that",
    "Follow the money, said our sources, and you will see that",
    "Sign up fees rose, and our lawyers said",
    "Advertisement revenue fell sharply, and analysts said",
    "Advertisement",
    "Share prices fell after lawyers said",
    "Share this article, the publishers urged, because",
    "Related cases show that",
    "Related: the lawyers said",
    "Read more: the lawyers said",
    "READ MORE about it, the lawyers said, since",
    "We use cookies as an example, the lawyers said, and",
    "This site uses cookies, the complaint said, and",
    "This article was originally published in a journal, the lawyers said, and",
]


@pytest.mark.parametrize("opening", OPENINGS)
@pytest.mark.parametrize("suffix", [".txt", ".md", ".html"])
def test_a_long_paragraph_that_opens_like_furniture_stays_in_the_body(opening, suffix):
    paragraph = f"{opening} {CONTINUATION}"
    if suffix == ".html":
        data = (
            f"<html><body><article><h1>Storm closes harbour</h1><p>{paragraph}</p>"
            f"<p>{FIRST_SENTENCE}.</p><p>{paragraph}</p></article></body></html>"
        )
    else:
        heading = "# " if suffix == ".md" else ""
        data = f"{heading}Storm closes harbour\n\n{paragraph}\n\n{BODY}\n\n{paragraph}\n"
    article = only_article(f"ruling{suffix}", data.encode())
    assert article.title == "Storm closes harbour"
    assert article.body.count(paragraph) == 2


@pytest.mark.parametrize(
    "furniture",
    [
        "Copyright 2024 Coast Gazette. All rights reserved.",
        "© Coast Gazette 2024",
        "Join our Telegram channel for the latest news",
        "Subscribe now",
        "We use cookies to improve your experience on our site.",
        "READ MORE: Ferry services cancelled again as winds rise",
        "Share this article",
        "This story first appeared on Coast Gazette.",
    ],
)
def test_a_short_furniture_line_is_still_left_out(furniture):
    article = only_article("storm.txt", f"Storm closes harbour\n\n{BODY}\n\n{furniture}\n".encode())
    assert article.body == BODY


WIRE_NOTICE = (
    "This article was originally published by Harbour Daily and is reprinted with permission."
)


def test_a_reprint_notice_is_neither_the_title_nor_body_and_names_the_publisher():
    wire_copy = f"Subscribe to our newsletter for the latest news\n\n{WIRE_NOTICE}\n\n{BODY}\n"
    article = only_article("wire.txt", wire_copy.encode())
    assert article.title == FIRST_SENTENCE
    assert article.title_method is TitleMethod.DERIVED
    assert article.body == BODY
    assert article.publisher == "Harbour Daily"


@pytest.mark.parametrize(
    ("notice", "publisher"),
    [
        (WIRE_NOTICE, "Harbour Daily"),
        ("*Originally published in The Guardian.*", "The Guardian"),
        ("This story first appeared on ProPublica.", "ProPublica"),
        ("The post Storm closes harbour appeared first on Coast Gazette.", "Coast Gazette"),
        ("Republished with permission from the Times of Malta.", "Times of Malta"),
        (
            "This article is republished from The Conversation under a Creative Commons license.",
            "The Conversation",
        ),
        (
            "Originally published on 5 March 2024 by harbourdaily.example.org",
            "harbourdaily.example.org",
        ),
        ("Reprinted with permission.", None),
    ],
)
@pytest.mark.parametrize("where", ["top", "bottom"])
@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_reprint_notices_are_left_out_of_text_and_markdown(notice, publisher, where, suffix):
    text = f"{notice}\n\n{BODY}" if where == "top" else f"{BODY}\n\n{notice}"
    heading = "# " if suffix == ".md" else ""
    article = only_article(f"wire{suffix}", f"{heading}Storm closes harbour\n\n{text}\n".encode())
    assert (article.title, article.body, article.publisher) == (
        "Storm closes harbour",
        BODY,
        publisher,
    )


def test_a_reprint_notice_in_a_json_body_is_left_out_and_names_the_publisher():
    article = only_article("wire.json", json.dumps({"body": f"{WIRE_NOTICE}\n\n{BODY}"}).encode())
    assert (article.title, article.body, article.publisher) == (
        FIRST_SENTENCE,
        BODY,
        "Harbour Daily",
    )


def test_the_source_of_a_json_article_wins_over_its_reprint_notice():
    document = {"body": f"{BODY}\n\n{WIRE_NOTICE}", "source": "Wire Service"}
    article = only_article("wire.json", json.dumps(document).encode())
    assert (article.body, article.publisher) == (BODY, "Wire Service")


def test_a_json_body_of_only_a_reprint_notice_is_rejected():
    problem = rejection("wire.json", json.dumps({"body": WIRE_NOTICE}).encode())
    assert problem.reason is DeadLetterReason.MISSING_BODY


def test_a_reprint_notice_in_an_html_page_is_left_out_and_names_the_publisher():
    paragraphs = "".join(f"<p>{paragraph}</p>" for paragraph in BODY.split("\n\n"))
    page = f"<html><body><article><p>{WIRE_NOTICE}</p>{paragraphs}</article></body></html>"
    article = only_article("wire.html", page.encode())
    assert article.title == FIRST_SENTENCE
    assert WIRE_NOTICE not in article.body
    assert "nine metres" in article.body
    assert article.publisher == "Harbour Daily"


def test_a_json_body_opening_with_a_promo_line_gets_its_title_from_the_text():
    body = f"Subscribe to our newsletter\n\n{BODY}"
    article = only_article("a.json", json.dumps({"body": body}).encode())
    assert article.title == FIRST_SENTENCE


def test_a_sentence_about_an_earlier_publication_is_article_text():
    sentence = "The decree, originally published in 1923, was found in the archive."
    article = only_article("decree.txt", f"Old decree returns\n\n{sentence}\n\n{BODY}".encode())
    assert article.body.startswith(sentence)
    assert article.publisher is None


def test_a_json_file_is_still_a_json_file():
    # The array reader decodes items one at a time; the whole result is what json.loads gives.
    items = [{"title": "One", "body": "First."}, {"body": "Second.", "source": {"name": "Wire"}}]
    parsed = parse_file_bytes("batch.json", f"  {json.dumps(items, indent=2)}\n".encode())
    assert parsed.format is InputFormat.JSON
    assert [(article.title, article.publisher) for article in parsed.articles] == [
        ("One", None),
        ("Second", "Wire"),
    ]


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ('[{"body": "a"} {"body": "b"}]', "line 1 column 16: Expecting ',' delimiter"),
        ('[{"body": "a"}]\n x', "line 2 column 2: Extra data"),
        ('[{"body": "a"},\n]', "line 2 column 1: Expecting value"),
        ("[", "line 1 column 2: Expecting value"),
        ('[{"body": "a"}', "line 1 column 15: Expecting ',' delimiter"),
    ],
)
def test_an_invalid_json_array_is_rejected_with_where_it_breaks(document, where):
    problem = rejection("a.json", document.encode())
    assert problem.reason is DeadLetterReason.INVALID_JSON
    assert f"invalid JSON at {where}" in problem.message
