"""Text encoding: BOM first, then strict UTF-8, then charset-normalizer on a sample.

Decoding never fails mid-file: invalid UTF-8 bytes are read as Windows-1252 (the usual cause is a
file edited by two programs), other codecs replace undecodable bytes; both are counted and end
up as receipt warnings.
"""

from __future__ import annotations

import codecs
import contextvars
import re
from dataclasses import dataclass

import charset_normalizer

from . import errors as E

FALLBACK_HANDLER = "leadnav-cp1252-fallback"
REPLACE_HANDLER = "leadnav-count-replace"

CERTAIN = "certain"
HIGH = "high"
LOW = "low"

BOMS: tuple[tuple[bytes, str, str], ...] = (
    # UTF-32 first: its LE BOM starts with the UTF-16 LE BOM.
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)
# charset-normalizer's guesses that are plausible for business CSVs; anything else on a sample
# that is not UTF-8 is reported with low confidence.
WESTERN = frozenset({"cp1252", "latin_1", "iso8859_15", "cp1250", "cp1251", "iso8859_2", "mac_roman", "ascii"})


@dataclass
class DecodeStats:
    replaced: int = 0
    fallback: int = 0
    nul: int = 0


_STATS: contextvars.ContextVar[DecodeStats | None] = contextvars.ContextVar("leadnav_decode_stats", default=None)


def _fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    stats = _STATS.get()
    if stats is not None:
        stats.fallback += len(bad)
    # cp1252 leaves 5 bytes undefined; Latin-1 maps them to C1 controls, which is lossless.
    return "".join(
        bytes([b]).decode("cp1252", errors="strict") if b not in b"\x81\x8d\x8f\x90\x9d" else chr(b) for b in bad
    ), exc.end


def _replace(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    stats = _STATS.get()
    if stats is not None:
        stats.replaced += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error(FALLBACK_HANDLER, _fallback)
codecs.register_error(REPLACE_HANDLER, _replace)


def track_decoding(stats: DecodeStats) -> contextvars.Token:
    """Make the error handlers count into ``stats`` for the current context."""
    return _STATS.set(stats)


def untrack_decoding(token: contextvars.Token) -> None:
    _STATS.reset(token)


@dataclass(frozen=True)
class EncodingResult:
    codec: str  # Python codec used to decode (BOM-aware: utf-8-sig, utf-16)
    name: str  # what the receipt shows
    confidence: str  # certain | high | low
    bom: bool = False
    mixed: bool = False  # UTF-8 with Windows-1252 bytes mixed in

    @property
    def errors(self) -> str:
        return FALLBACK_HANDLER if self.codec in ("utf-8", "utf-8-sig") else REPLACE_HANDLER


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without a BOM shows NULs on every other byte (for Latin-script text)."""
    probe = sample[:4096]
    if len(probe) < 16:
        return None
    even = probe[0::2].count(0)
    odd = probe[1::2].count(0)
    half = len(probe) // 2
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


_UTF8_2BYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")


def _strict_utf8(sample: bytes, complete: bool) -> tuple[bool, int]:
    """(valid, well-formed multi-byte sequences) for the sample, ignoring a character cut at the
    end of an incomplete sample. Multi-byte sequences are evidence of real UTF-8."""
    multibyte = len(_UTF8_2BYTE.findall(sample))
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=complete)
    except UnicodeDecodeError:
        return False, multibyte
    return True, multibyte


def detect_encoding(sample: bytes, *, complete: bool, override: str | None = None) -> EncodingResult:
    """Choose how to decode the data bytes, from a sample of the start of the stream."""
    if override:
        try:
            codec = codecs.lookup(override).name
        except LookupError as exc:
            raise E.IngestError(E.ENCODING_UNKNOWN, override) from exc
        has_bom = any(sample.startswith(bom) for bom, _, _ in BOMS)
        if has_bom and codec in ("utf-8", "utf-16", "utf-16-le", "utf-16-be"):
            codec = {"utf-8": "utf-8-sig"}.get(codec, "utf-16")
        return EncodingResult(codec=codec, name=override.lower(), confidence=CERTAIN, bom=has_bom)
    for bom, codec, name in BOMS:
        if sample.startswith(bom):
            return EncodingResult(codec=codec, name=name, confidence=CERTAIN, bom=True)
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return EncodingResult(codec=utf16, name=utf16, confidence=HIGH)
    valid, multibyte = _strict_utf8(sample, complete)
    if valid:
        return EncodingResult(codec="utf-8", name="ascii" if multibyte == 0 else "utf-8", confidence=CERTAIN)
    if multibyte > 0:
        # Real UTF-8 sequences next to invalid bytes: a mixed file. Decode as UTF-8 and read the
        # stray bytes as Windows-1252 rather than guessing one encoding for everything.
        return EncodingResult(codec="utf-8", name="utf-8", confidence=LOW, mixed=True)
    matches = charset_normalizer.from_bytes(sample[: 1 << 20])
    best = matches.best()
    if best is None:
        return EncodingResult(codec="cp1252", name="cp1252", confidence=LOW)
    western = next((m for m in matches if codecs.lookup(m.encoding).name in ("cp1252", "iso8859-1")), None)
    if western is not None and western.chaos <= best.chaos + 0.05:
        # Near-ties between code pages are common on short samples (cp1250 vs cp1252 differ in a
        # handful of letters); our users' files are overwhelmingly Western European or American.
        best = western
    codec = codecs.lookup(best.encoding).name
    if codec not in {codecs.lookup(name).name for name in WESTERN}:
        # Single-byte Western text is misread as big5 / cp949 ... by statistical detectors;
        # Windows-1252 decodes every byte, so it is the safer default, flagged as unsure.
        return EncodingResult(codec="cp1252", name="cp1252", confidence=LOW)
    confident = best.chaos < 0.1 and codec in ("cp1252", "latin_1", "iso8859-1")
    return EncodingResult(codec=codec, name=codec, confidence=HIGH if confident else LOW)
