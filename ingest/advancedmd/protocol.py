"""The ``ppmdmsg`` request envelope, the ``PPMDResults`` response/fault format and the JSON broker.

Shared by the client and the simulator. The JSON broker is modelled as a mechanical XML<->JSON
conversion, exactly as AdvancedMD describes it: attributes become ``"@name"`` keys, text next to
attributes becomes ``"#text"``, empty elements become ``null`` and, the classic pitfall, repeated
children become an array while a single child stays an object. The client converts JSON answers
back into elements, so one parser serves both brokers and the single-vs-array quirk cannot bite.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ingest.advancedmd.errors import ProtocolError

XML_ENCODING = "ISO-8859-1"


class FaultCode(IntEnum):
    """AdvancedMD fault codes (0x8004xxxx as negative decimals)."""

    LOGIN_REDIRECT = -2147220476
    INVALID_CREDENTIALS = -2147220480
    SESSION_TIMEOUT = -2147220479
    INVALID_HOST_IP = -2147220478
    MISSING_ATTRIBUTE = -2147219456
    MISSING_ELEMENT = -2147219455
    INVALID_ELEMENT = -2147219454
    INVALID_ATTRIBUTE = -2147219453
    XML_PARSE_ERROR = -2147219452
    MAX_QUANTITY_EXCEEDED = -2147218432
    OBSOLETE_ACTION = -2147218427
    PERMISSION_DENIED = -2147218419
    OPERATION_TIMED_OUT = -2147218407
    DUPLICATE_SSN = -2147217401
    DUPLICATE_CHART = -2147217399
    RECORD_CHANGED = -2147217398
    NO_API_LICENCE = -2147217370
    TOO_MANY_ROWS_IDS_ONLY = -2147217350
    # Not in the vendor's table (gap): the simulator's answer to savecharges on a visit that
    # already has charges without force="1".
    DUPLICATE_CHARGES = -2147217390


RATE_LIMIT_MESSAGE = "Too many requests: Please wait and try your request again in about a minute."


@dataclass(frozen=True)
class Fault:
    """One ``<Fault>``; ``faultcode`` is ``Client`` or ``Server``."""

    code: int | None
    faultcode: str
    faultstring: str
    description: str = ""

    @property
    def is_rate_limit(self) -> bool:
        """The XMLRPC quota message is undocumented (gap); recognise it by its wording."""
        text = f"{self.faultstring} {self.description}".lower()
        return "too many requests" in text or "rate limit" in text or "quota" in text

    @property
    def is_retryable(self) -> bool:
        """Server-side trouble is worth retrying; Client faults mean our request is wrong."""
        if self.code == FaultCode.OPERATION_TIMED_OUT:
            return True
        return self.faultcode.lower() == "server" and self.code not in {
            FaultCode.SESSION_TIMEOUT,
            FaultCode.INVALID_CREDENTIALS,
            FaultCode.PERMISSION_DENIED,
            FaultCode.NO_API_LICENCE,
            FaultCode.INVALID_HOST_IP,
        }


@dataclass(frozen=True)
class AmdResponse:
    """A parsed ``PPMDResults``: the Results element (may be absent) and the fault (may be absent)."""

    root: ET.Element
    results: ET.Element | None
    fault: Fault | None
    server: str | None
    lst: str | None

    def results_attr(self, name: str) -> str | None:
        return None if self.results is None else self.results.get(name)


def build_request(
    action: str,
    cls: str,
    *,
    msgtime: str,
    attrs: Mapping[str, object] | None = None,
    children: Iterable[ET.Element] = (),
    usercontext: str | None = None,
) -> ET.Element:
    """Build ``<ppmdmsg action class msgtime ...>``; the token goes in as the *first* child."""
    msg = ET.Element("ppmdmsg", {"action": action, "class": cls, "msgtime": msgtime})
    if usercontext is not None:
        msg.set("nocookie", "1")
        ET.SubElement(msg, "usercontext").text = usercontext
    for key, value in (attrs or {}).items():
        if value is not None:
            msg.set(key, str(value))
    msg.extend(children)
    return msg


def element(tag: str, attrs: Mapping[str, object] | None = None, *children: ET.Element) -> ET.Element:
    """Small constructor helper: ``element("patient", {"id": 1})``."""
    el = ET.Element(tag, {k: str(v) for k, v in (attrs or {}).items() if v is not None})
    el.extend(children)
    return el


def encode_xml(el: ET.Element) -> bytes:
    """Serialise with the ISO-8859-1 declaration AdvancedMD uses (non-Latin-1 chars become refs)."""
    return ET.tostring(el, encoding=XML_ENCODING)


def decode_xml(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise ProtocolError(f"malformed XML ({exc.msg if hasattr(exc, 'msg') else exc})") from exc


def element_to_json(el: ET.Element) -> dict[str, Any]:
    """``{tag: value}`` using the broker's conversion rules (single child -> object!)."""
    return {el.tag: _element_value(el)}


def _element_value(el: ET.Element) -> Any:
    value: dict[str, Any] = {f"@{k}": v for k, v in el.attrib.items()}
    groups: dict[str, list[Any]] = {}
    for child in el:
        groups.setdefault(child.tag, []).append(_element_value(child))
    for tag, items in groups.items():
        value[tag] = items[0] if len(items) == 1 else items
    text = (el.text or "").strip()
    if text:
        if not value:
            return text
        value["#text"] = text
    return value or None


def json_to_element(obj: Mapping[str, Any]) -> ET.Element:
    """Inverse of :func:`element_to_json` for a one-key document; accepts objects *or* arrays."""
    if not isinstance(obj, Mapping) or len(obj) != 1:
        raise ProtocolError("JSON document must be an object with exactly one root key")
    ((tag, value),) = obj.items()
    return _json_value_to_element(tag, value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _json_value_to_element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(tag)
    if value is None:
        return el
    if not isinstance(value, Mapping):
        el.text = _scalar(value)
        return el
    for key, item in value.items():
        if key.startswith("@"):
            el.set(key[1:], _scalar(item))
        elif key == "#text":
            el.text = _scalar(item)
        elif isinstance(item, list):
            for sub in item:
                el.append(_json_value_to_element(key, sub))
        else:
            el.append(_json_value_to_element(key, item))
    return el


def encode_json(el: ET.Element) -> bytes:
    return json.dumps(element_to_json(el), ensure_ascii=False).encode("utf-8")


def decode_json(body: bytes) -> ET.Element:
    try:
        return json_to_element(json.loads(body.decode("utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("malformed JSON body") from exc


def parse_fault(fault_el: ET.Element) -> Fault:
    code_text = fault_el.findtext("detail/code")
    try:
        code = int(code_text) if code_text and code_text.strip() else None
    except ValueError:
        code = None
    return Fault(
        code=code,
        faultcode=(fault_el.findtext("faultcode") or "").strip(),
        faultstring=(fault_el.findtext("faultstring") or "").strip(),
        description=(fault_el.findtext("detail/description") or "").strip(),
    )


def parse_response(root: ET.Element) -> AmdResponse:
    """Split a ``PPMDResults`` element into results and fault."""
    if root.tag != "PPMDResults":
        raise ProtocolError(f"expected PPMDResults, got <{root.tag}>")
    fault_el = root.find("Error/Fault")
    return AmdResponse(
        root=root,
        results=root.find("Results"),
        fault=parse_fault(fault_el) if fault_el is not None else None,
        server=root.get("s"),
        lst=root.get("lst"),
    )


def build_response(
    results: ET.Element | None,
    *,
    server: str,
    lst: str,
    fault: Fault | None = None,
    fault_class: str = "",
    fault_method: str = "",
) -> ET.Element:
    """Build a ``PPMDResults`` envelope (used by the simulator)."""
    root = ET.Element("PPMDResults", {"s": server, "lst": lst})
    if results is not None:
        root.append(results)
    error = ET.SubElement(root, "Error")
    if fault is not None:
        f = ET.SubElement(error, "Fault")
        ET.SubElement(f, "faultcode").text = fault.faultcode
        ET.SubElement(f, "faultstring").text = fault.faultstring
        detail = ET.SubElement(f, "detail")
        ET.SubElement(detail, "code").text = str(fault.code)
        ET.SubElement(detail, "description").text = fault.description or fault.faultstring
        ET.SubElement(detail, "class").text = fault_class
        ET.SubElement(detail, "method").text = fault_method
        ET.SubElement(detail, "linenum").text = "0"
        ET.SubElement(detail, "source").text = "AdvancedMD simulator"
        ET.SubElement(detail, "extrainfo")
    return root


def children_of(parent: ET.Element | None, list_tag: str, item_tag: str) -> list[ET.Element]:
    """``parent/list_tag/item_tag`` elements; tolerant of a missing list."""
    if parent is None:
        return []
    found = parent.find(list_tag)
    return [] if found is None else list(found.findall(item_tag))


def lower_attrs(el: ET.Element) -> dict[str, str]:
    """Attributes keyed case-insensitively (the broker's casing of aliases is not guaranteed)."""
    return {k.lower(): v for k, v in el.attrib.items()}
