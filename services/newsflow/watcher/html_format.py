"""HTML articles: trafilatura extracts the main text (navigation, cookie banners, related links
and footers removed) and the page metadata; the headline is the article's <h1> when it has one.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import trafilatura

from newsflow.core.identity import collapse_spaces
from newsflow.core.records import DeadLetterReason, TitleMethod

from .decoding import clean_text
from .parsed import InputRejected, ParsedArticle
from .text_rules import (
    CONFIDENCE_HTML_HEADLINE,
    CONFIDENCE_HTML_METADATA,
    TitleChoice,
    derive_title,
    drop_reprint_notices,
    is_meaningful,
    parse_timestamp,
    tidy_body,
)

if TYPE_CHECKING:
    from lxml.html import HtmlElement  # trafilatura's tree type; lxml comes with it

# Where a page declares its encoding: <meta charset>, the http-equiv form, or an XML
# declaration. Browsers look in the first 1024 bytes; some pages put it a little later.
_DECLARATION_WINDOW = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
# lxml refuses a str that still carries an encoding declaration; the text is decoded already.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")

# trafilatura spends about 80 microseconds on each element of a page, however small: a page of
# 200,000 empty headings takes it 18 seconds and half a gigabyte. News pages hold a few
# thousand elements; the longest live blogs and comment threads some tens of thousands.
MAX_HTML_ELEMENTS = 50_000
# lxml checks each attribute of an element against all the ones before it: 40,000 attributes
# on one tag take it 8 seconds. No real element carries more than a few dozen; a tag with more
# than this many loses its attributes (never its text) before lxml sees it.
MAX_HTML_ATTRIBUTES = 1_000
# A start tag, its quoted attribute values read whole as HTML parsers read them (they may
# hold "<" or ">"; a quote not after "=" is just a character); comments, end tags and doctypes
# are not elements. Each tag is read once, left to right.
_START_TAG = re.compile(r"""<([A-Za-z][^\s/>]*)(?:[^<>=]|=\s*"[^"]*"|=\s*'[^']*'|=)*+""")
# One attribute (name, maybe "=" and a value) inside a start tag.
_ATTRIBUTE = re.compile(r"""[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>]*))?""")
# A tag with this many attributes is at least twice as long (a name and a space each).
_MIN_CHARS_OF_CROWDED_TAG = 2 * MAX_HTML_ATTRIBUTES

# "Headline | Site", "Headline - Site": a site suffix on <title> or og:title. Pipes and the
# like are never part of a headline; a dash is, so a dash suffix goes only if it names the site.
_PIPE_SUFFIX = re.compile(r"^(.+?)\s+(?:\||::|»|·|•)\s+([^|]+)$")
_DASH_SUFFIX = re.compile(r"^(.+)\s+[-\u2013\u2014]\s+(.+)$")
_SITE_NAME_WORDS = 5

# htmldate (trafilatura's date finder): only from the page's markup, not guessed from its
# text, and with the time of day when the markup gives one; a date in the URL is a fallback.
_DATE_PARAMS = {
    "extensive_search": False,
    "original_date": True,
    "deferred_url_extractor": True,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}


def declared_encoding(data: bytes) -> str | None:
    """The encoding an HTML page declares for itself, if any (not validated)."""
    window = data[:_DECLARATION_WINDOW]
    found = _XML_ENCODING.search(window) or _META_CHARSET.search(window)
    return found.group(1).decode("ascii") if found else None


def parse_html(file_name: str, text: str) -> ParsedArticle:
    """One article from the decoded text of an .html or .htm file."""
    text = _within_parser_bounds(file_name, _XML_DECLARATION.sub("", text, count=1))
    # trafilatura rejects what does not look like a full document; a fragment is wrapped.
    if "<html" not in text[:1024].lower():
        text = f"<html><body>{text}</body></html>"
    tree = trafilatura.load_html(text)
    if tree is None:
        raise InputRejected(
            DeadLetterReason.NO_ARTICLE_TEXT, f"{file_name} could not be parsed as HTML"
        )
    # The headline as readers see it: trafilatura's metadata would prefer og:title, often a
    # shortened headline written for social media.
    headline = _single_h1(tree)
    language = _optional(tree.getroottree().getroot().get("lang"))

    _drop_page_furniture(tree)
    document = trafilatura.bare_extraction(
        tree,
        with_metadata=True,
        include_comments=False,
        favor_precision=True,
        date_extraction_params=_DATE_PARAMS,
    )
    if document is None or not (document.text or "").strip():
        raise InputRejected(
            DeadLetterReason.NO_ARTICLE_TEXT,
            f"{file_name} has no article text: only navigation, boilerplate or too little text",
        )

    sitename = _optional(document.sitename)
    if headline is not None:
        title = TitleChoice(headline, TitleMethod.HTML_HEADLINE, CONFIDENCE_HTML_HEADLINE)
    elif metadata_title := _without_site_suffix(
        _optional(document.title), sitename, document.hostname
    ):
        title = TitleChoice(metadata_title, TitleMethod.HTML_HEADLINE, CONFIDENCE_HTML_METADATA)
    else:
        title = None

    body, reprinted_from = drop_reprint_notices(
        _body(document.text, title.title if title else None)
    )
    if not body:
        raise InputRejected(
            DeadLetterReason.NO_ARTICLE_TEXT, f"{file_name} has a headline but no article text"
        )
    if title is None:
        title = derive_title(body)
    return ParsedArticle(
        title=title.title,
        title_method=title.method,
        title_confidence=title.confidence,
        body=body,
        url=_optional(document.url),
        publisher=sitename or reprinted_from,
        published_at=parse_timestamp(document.date),
        language=language,
    )


def _within_parser_bounds(file_name: str, text: str) -> str:
    """The page, with the attributes of any crowded tag taken off, or InputRejected(TOO_LARGE)
    when it has more elements than a page is parsed with (see MAX_HTML_ELEMENTS)."""
    crowded: list[re.Match[str]] = []
    for elements, tag in enumerate(_START_TAG.finditer(text), start=1):
        if elements > MAX_HTML_ELEMENTS:
            raise InputRejected(
                DeadLetterReason.TOO_LARGE,
                f"{file_name} holds more than {MAX_HTML_ELEMENTS:,} HTML elements, the most a "
                "page is parsed with",
            )
        if tag.end() - tag.start() > _MIN_CHARS_OF_CROWDED_TAG and _has_too_many_attributes(tag):
            crowded.append(tag)
    if not crowded:
        return text
    parts = []
    done = 0
    for tag in crowded:
        parts += [text[done : tag.start()], "<", tag.group(1)]
        done = tag.end()
    parts.append(text[done:])
    return "".join(parts)


def _has_too_many_attributes(tag: re.Match[str]) -> bool:
    attributes = _ATTRIBUTE.finditer(tag.string, tag.end(1), tag.end())
    return any(number > MAX_HTML_ATTRIBUTES for number, _ in enumerate(attributes, start=1))


# HTML5 says what these are: never article text. trafilatura's fallback extractors would
# otherwise return the menu of a page that has no article ("Home").
_FURNITURE = (
    "//nav | //footer | //aside | //*[@role='navigation' or @role='contentinfo'"
    " or @role='complementary' or @role='banner']"
)


def _drop_page_furniture(tree: HtmlElement) -> None:
    for element in tree.xpath(_FURNITURE):
        if element.getparent() is not None:
            element.drop_tree()


def _single_h1(tree: HtmlElement) -> str | None:
    """The text of the article's one <h1>; None when there is none or several compete."""
    for scope in ("//article//h1", "//main//h1", "//h1"):
        headings = [collapse_spaces(h1.text_content()) for h1 in tree.xpath(scope)]
        headings = [heading for heading in headings if is_meaningful(heading)]
        if headings:
            return clean_text(headings[0]) if len(headings) == 1 else None
    return None


def _body(text: str, title: str | None) -> str:
    lines = clean_text(text).split("\n")
    # trafilatura keeps the <h1> as the first line of the text; the title is not body.
    if title and lines and _same_text(lines[0], title):
        lines = lines[1:]
    return tidy_body("\n".join(lines))


def _without_site_suffix(title: str | None, sitename: str | None, hostname: str | None) -> str:
    if not title:
        return ""
    pipe = _PIPE_SUFFIX.match(title)
    if pipe and len(pipe.group(2).split()) <= _SITE_NAME_WORDS:
        return pipe.group(1).strip()
    dash = _DASH_SUFFIX.match(title)
    if dash and _names_site(dash.group(2), sitename, hostname):
        return dash.group(1).strip()
    return title


def _names_site(text: str, sitename: str | None, hostname: str | None) -> bool:
    candidate = _comparable(text)
    names = {_comparable(sitename or "")}
    if hostname:
        # "news.example.org" is named "Example" or "example.org" in titles.
        parts = hostname.lower().removeprefix("www.").split(".")
        names |= {_comparable(".".join(parts)), _comparable(parts[-2] if len(parts) > 1 else "")}
    return bool(candidate) and candidate in names


def _comparable(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())


def _same_text(first: str, second: str) -> bool:
    return _comparable(first) == _comparable(second)


def _optional(value: str | None) -> str | None:
    if not value:
        return None
    return collapse_spaces(clean_text(value)) or None
