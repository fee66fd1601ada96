"""Normalisation of AdvancedMD wire values: ID prefixes, mixed date formats, upper-cased text.

AdvancedMD returns IDs with type prefixes (``pat123``), forces all text to upper case on
storage and mixes three date formats within one response (advancedmd-api.md section 3). These
helpers turn wire strings into typed Python values. Error messages never echo the offending
value, because the value may be PHI (a date of birth, a name); they describe its shape instead.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

ID_PREFIXES: tuple[str, ...] = (
    "pat",
    "vst",
    "charge",
    "resp",
    "prof",
    "car",
    "ins",
    "eps",
    "rplan",
    "pcode",
    "dcode",
    "fclass",
    "feesch",
    "rprov",
    "payplan",
)
# Longest first so "payplan" is not read as "pat" + garbage.
_PREFIX_ALT = "|".join(sorted(ID_PREFIXES, key=len, reverse=True))
_PREFIX_RE = re.compile(rf"^(?:{_PREFIX_ALT})(?=\d)", re.IGNORECASE)

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?)?$"
)
_US_RE = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\s*([AaPp])\.?[Mm]\.?)?)?$"
)


class ValueFormatError(ValueError):
    """A wire value did not match any known AdvancedMD format (message shows its shape only)."""


def _shape(value: str) -> str:
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", value))[:40]


def strip_id_prefix(value: str) -> str:
    """``"pat123"`` -> ``"123"``; values without a known prefix are returned stripped."""
    return _PREFIX_RE.sub("", value.strip())


def parse_id(value: str | int | None) -> int | None:
    """Parse an AdvancedMD id with or without its type prefix; empty -> None."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = strip_id_prefix(value)
    if not text:
        return None
    if not text.isdigit():
        raise ValueFormatError(f"not an AdvancedMD id (shape {_shape(value)!r})")
    return int(text)


def prefixed(prefix: str, record_id: int) -> str:
    """Render an id with its type prefix, as non-``api`` classes return them."""
    return f"{prefix}{record_id}"


def parse_amd_naive(value: str | None) -> datetime | None:
    """Parse any of the three AdvancedMD date forms into a naive datetime; empty -> None.

    Accepts ``mm/dd/yyyy``, VB long ``mm/dd/yyyy h:nn:ss AM`` and ISO ``yyyy-mm-ddThh:nn:ss[.mmm]``
    including the vendor's sloppy unpadded hours (``2015-03-24T8:25:28.730``).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    m = _ISO_RE.match(text)
    if m:
        y, mo, d, h, mi, s, frac = m.groups()
        micro = int((frac or "0").ljust(6, "0")[:6])
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), micro)
    m = _US_RE.match(text)
    if m:
        mo, d, y, h, mi, s, ampm = m.groups()
        hour = int(h or 0)
        if ampm:
            if not 1 <= hour <= 12:
                raise ValueFormatError(f"bad 12-hour clock value (shape {_shape(text)!r})")
            hour = hour % 12 + (12 if ampm.lower() == "p" else 0)
        return datetime(int(y), int(mo), int(d), hour, int(mi or 0), int(s or 0))
    raise ValueFormatError(f"unrecognised AdvancedMD date format (shape {_shape(text)!r})")


def parse_amd_datetime(value: str | None, server_tz: tzinfo) -> datetime | None:
    """Parse a server-local timestamp and attach ``server_tz``.

    AdvancedMD timestamps carry no offset. In the repeated hour when DST ends we take the first
    occurrence (fold=0): that errs early, which for watermarks means re-reading, never skipping.
    """
    naive = parse_amd_naive(value)
    return None if naive is None else naive.replace(tzinfo=server_tz, fold=0)


def parse_amd_date(value: str | None) -> date | None:
    """Parse a date-only field (any of the three forms; a midnight time part is ignored)."""
    naive = parse_amd_naive(value)
    return None if naive is None else naive.date()


def to_server_naive(at: datetime, server_tz: tzinfo) -> datetime:
    """Convert an aware instant into AdvancedMD's naive server-local time."""
    return at.astimezone(server_tz).replace(tzinfo=None)


def format_iso(dt: datetime, *, millis: bool = True, pad_hour: bool = True) -> str:
    """``2015-03-24T08:25:28.730`` (or the vendor's sloppy ``T8:25``), from a naive datetime."""
    hour = f"{dt.hour:02d}" if pad_hour else str(dt.hour)
    base = f"{dt:%Y-%m-%d}T{hour}:{dt:%M:%S}"
    return f"{base}.{dt.microsecond // 1000:03d}" if millis else base


def format_vb(dt: datetime, *, pad_date: bool = True) -> str:
    """VB long date ``03/24/2015 8:25:28 AM`` (``pad_date=False`` gives ``3/24/2015``)."""
    hour12 = dt.hour % 12 or 12
    ampm = "AM" if dt.hour < 12 else "PM"
    datepart = f"{dt:%m/%d/%Y}" if pad_date else f"{dt.month}/{dt.day}/{dt.year}"
    return f"{datepart} {hour12}:{dt:%M:%S} {ampm}"


def format_us_date(d: date) -> str:
    """``03/24/2015``."""
    return f"{d:%m/%d/%Y}"


def floor_millis(at: datetime) -> datetime:
    """Drop sub-millisecond precision (AdvancedMD ``servertime`` has milliseconds)."""
    return at - timedelta(microseconds=at.microsecond % 1000)


def clean_text(value: str | None) -> str | None:
    """Canonical text: whitespace collapsed, upper case, empty -> None.

    AdvancedMD stores everything upper case, so the original casing is already lost; we keep
    upper case as the canonical form rather than invent a title case ("Mcdonald", "De La Cruz").
    """
    if value is None:
        return None
    text = " ".join(value.split()).upper()
    return text or None


def clean_email(value: str | None) -> str | None:
    """E-mail addresses come back upper-cased; mailboxes are matched case-insensitively, so lower them."""
    if value is None:
        return None
    text = value.strip().lower()
    return text or None


def clean_phone(value: str | None) -> str | None:
    """Digits only; a leading US country code 1 on an 11-digit number is dropped."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits or None


def clean_zip(value: str | None) -> str | None:
    """``30303`` or ``30303-1234``; anything else is kept as cleaned text."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    if len(digits) == 5:
        return digits
    if len(digits) == 9:
        return f"{digits[:5]}-{digits[5:]}"
    return clean_text(value)


def split_name(value: str | None) -> tuple[str | None, str | None, str | None]:
    """Split AdvancedMD's ``LAST,FIRST MIDDLE`` into (last, first, middle).

    Only used when the separate LastName/FirstName fields are absent: a space inside the
    first-name part is ambiguous ("MARY ANN"), so the last word is taken as the middle name only
    when it is a single initial.
    """
    text = clean_text(value)
    if text is None:
        return None, None, None
    last, _, rest = text.partition(",")
    rest = rest.strip()
    first, middle = rest, None
    parts = rest.rsplit(" ", 1)
    if len(parts) == 2 and len(parts[1]) == 1:
        first, middle = parts
    return last.strip() or None, first or None, middle


def parse_decimal(value: str | None) -> Decimal | None:
    """Money and amounts: ``"$1,234.50"`` -> ``Decimal("1234.50")``; empty -> None."""
    if value is None:
        return None
    text = value.strip().replace("$", "").replace(",", "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValueFormatError(f"not a decimal amount (shape {_shape(text)!r})") from exc


def parse_int(value: str | None) -> int | None:
    """Integer field; empty -> None; tolerates ``"1.0"``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        dec = parse_decimal(text)
        if dec is None or dec != dec.to_integral_value():
            raise ValueFormatError(f"not an integer (shape {_shape(text)!r})") from None
        return int(dec)


_TRUE = {"1", "Y", "YES", "TRUE", "T", "-1"}
_FALSE = {"0", "N", "NO", "FALSE", "F"}


def parse_bool(value: str | None) -> bool | None:
    """AdvancedMD flags come as 1/0, Y/N, True/False (and VB's -1)."""
    if value is None or not value.strip():
        return None
    text = value.strip().upper()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueFormatError(f"not a boolean flag (shape {_shape(text)!r})")


def split_list(value: str | None) -> tuple[str, ...]:
    """Comma/semicolon separated codes (modifiers, diagnosis codes) -> upper-cased tuple."""
    if value is None:
        return ()
    return tuple(p.strip().upper() for p in re.split(r"[,;]", value) if p.strip())
