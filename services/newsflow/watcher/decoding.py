"""Bytes to clean text: decides whether a file is text at all, which encoding it is in, and
normalises what every format parser starts from (LF line endings, NFC, no control characters).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

from charset_normalizer import from_bytes

from newsflow.core.records import DeadLetterReason

from .parsed import InputRejected

# Longest BOMs first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# C0 controls other than tab, LF, CR and form feed, plus DEL. Text files hold next to none;
# executables, images and compressed data hold roughly one byte in ten.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
BINARY_CONTROL_SHARE = 0.05

# Without a BOM, UTF-16 text betrays itself by NULs in every other byte: the high byte of
# every ASCII character (space, digits, punctuation, Latin letters) is zero.
_UTF16_SAMPLE_BYTES = 4096
_UTF16_MIN_NUL_SHARE = 0.2
_UTF16_MAX_OTHER_NUL_SHARE = 0.01

# What `clean_text` removes: every control character but \t and \n (CR is turned into LF
# before), C1 controls, and stray BOMs (zero-width no-break spaces) left inside the text.
# A regular expression, not str.translate: it scans clean text (the usual case) ten times faster.
_DROPPED_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")
# The ASCII part of the same set: ASCII text is cleaned with bytes.translate, faster still.
_DROPPED_ASCII_BYTES = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
# Lone UTF-16 surrogates: JSON's "\\ud800" escape and the UTF-7 codec make them, and a string
# holding one cannot be written as UTF-8, so no record could carry it. They stand for a
# character that was lost, which is what U+FFFD says.
_SURROGATES = re.compile("[\ud800-\udfff]")

# Browsers decode pages labelled latin-1 or ASCII as windows-1252 (WHATWG Encoding), and
# authors write those labels meaning exactly that; a label claiming UTF-16/32 on bytes that
# reached the label's ASCII text cannot be right.
_DECLARED_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_IMPOSSIBLE_DECLARATIONS = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}

# The most common legacy encoding of Western news text. When the detector finds several
# encodings equally plausible (cp1250 and cp1252 read French or Spanish equally "well" by its
# measures, though only cp1252 gets "à" right), this one wins.
_PREFERRED_LEGACY = "cp1252"


@dataclass(frozen=True)
class DecodedText:
    text: str  # cleaned: see `clean_text`
    encoding: str  # Python's canonical codec name, e.g. "utf-8", "utf-16", "cp1252"


def decode_text(file_name: str, data: bytes, declared_encoding: str | None = None) -> DecodedText:
    """Decode a file's bytes to clean text, or reject it as empty, binary, undecodable or blank.

    `declared_encoding` (an HTML page's `<meta charset>`) is honoured when the bytes are not
    UTF-8; it never overrides a BOM or valid UTF-8.
    """
    if not data:
        raise InputRejected(DeadLetterReason.EMPTY_FILE, f"{file_name} is empty (0 bytes)")
    text, encoding = _decode(file_name, data, declared_encoding)
    text = clean_text(text)
    if not text.strip():
        raise InputRejected(
            DeadLetterReason.WHITESPACE_ONLY,
            f"{file_name} holds only whitespace ({len(data)} bytes, {encoding})",
        )
    return DecodedText(text=text, encoding=encoding)


def clean_text(text: str) -> str:
    """LF line endings, no control characters but \\t and \\n, no BOM, no lone surrogates
    (U+FFFD in their place), Unicode NFC: text that always encodes as UTF-8."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():  # no surrogate, nothing to normalise: only controls can be dropped
        ascii_bytes = text.encode("ascii")
        kept = ascii_bytes.translate(None, _DROPPED_ASCII_BYTES)
        return text if len(kept) == len(ascii_bytes) else kept.decode("ascii")
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
    if _DROPPED_CHARS.search(text):
        text = _DROPPED_CHARS.sub("", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def _decode(file_name: str, data: bytes, declared_encoding: str | None) -> tuple[str, str]:
    for bom, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(bom):
            return _decode_unicode_with_bom(file_name, data, encoding), encoding

    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        try:
            text = data.decode(utf16)
        except UnicodeDecodeError as error:
            raise _binary(
                file_name, f"NUL bytes in every other byte but not UTF-16: {error.reason}"
            ) from None
        _reject_control_characters(file_name, _control_count(text), len(text))
        return text, utf16

    nul_at = data.find(b"\x00")
    if nul_at >= 0:
        raise _binary(file_name, f"NUL byte at offset {nul_at}")
    _reject_control_characters(file_name, _control_count(data), len(data))

    # Most files are UTF-8 (ASCII included): a strict decode settles them without detection.
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        not_utf8 = error

    declared = _usable_declaration(declared_encoding)
    if declared is not None:
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass  # a wrong label is common; detection below still gets a say

    return _detect_legacy(file_name, data, not_utf8)


def _decode_unicode_with_bom(file_name: str, data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        raise InputRejected(
            DeadLetterReason.UNDECODABLE_TEXT,
            f"{file_name} starts with a {encoding} byte-order mark but is not valid {encoding}: "
            f"{error.reason} at byte offset {error.start}",
        ) from None
    _reject_control_characters(file_name, _control_count(text), len(text))
    return text


def _utf16_without_bom(data: bytes) -> str | None:
    """The UTF-16 codec ("utf-16-le" or "utf-16-be") whose NUL pattern the bytes show, or None."""
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:_UTF16_SAMPLE_BYTES]
    pairs = len(sample) // 2
    nuls_at_even = sample[0::2].count(0) / pairs
    nuls_at_odd = sample[1::2].count(0) / pairs
    if nuls_at_odd >= _UTF16_MIN_NUL_SHARE and nuls_at_even <= _UTF16_MAX_OTHER_NUL_SHARE:
        return "utf-16-le"
    if nuls_at_even >= _UTF16_MIN_NUL_SHARE and nuls_at_odd <= _UTF16_MAX_OTHER_NUL_SHARE:
        return "utf-16-be"
    return None


def _control_count(content: str | bytes) -> int:
    if isinstance(content, bytes):
        return len(content) - len(content.translate(None, _CONTROL_BYTES))
    return len(_CONTROL_CHARS.findall(content))


def _reject_control_characters(file_name: str, controls: int, total: int) -> None:
    if total and controls / total > BINARY_CONTROL_SHARE:
        raise _binary(file_name, f"{controls} of {total} characters are control characters")


def _binary(file_name: str, evidence: str) -> InputRejected:
    return InputRejected(
        DeadLetterReason.BINARY_FILE, f"{file_name} looks like binary data, not text: {evidence}"
    )


def _usable_declaration(declared_encoding: str | None) -> str | None:
    if not declared_encoding:
        return None
    try:
        name = codecs.lookup(declared_encoding.strip()).name
    except LookupError:
        return None  # an unknown label is ignored, as browsers do
    name = _DECLARED_ALIASES.get(name, name)
    return None if name in _IMPOSSIBLE_DECLARATIONS else name


def _detect_legacy(file_name: str, data: bytes, not_utf8: UnicodeDecodeError) -> tuple[str, str]:
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise InputRejected(
            DeadLetterReason.UNDECODABLE_TEXT,
            f"{file_name} is not UTF-8 (byte 0x{data[not_utf8.start]:02x} at offset "
            f"{not_utf8.start} is invalid) and reads as garbage in every other text encoding tried",
        )
    for match in matches:
        tied = match.chaos == best.chaos and match.coherence == best.coherence
        if tied and _PREFERRED_LEGACY in match.could_be_from_charset:
            return data.decode(_PREFERRED_LEGACY), _PREFERRED_LEGACY
    return str(best), codecs.lookup(best.encoding).name
