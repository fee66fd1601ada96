"""The single exception type that :func:`edi835.parse` lets escape."""

from __future__ import annotations

import re

__all__ = ["CONTROL_VALUE_PATTERN", "Edi835Error", "shown_control"]

# Envelope counts and control numbers (SE01/SE02, GE01/GE02, IEA01/IEA02, ST02, GS06, ISA13) are digits. When a
# segment terminator is lost, the next segments (patient names included) run into the element, so a message echoes
# the value only when it looks like one.
CONTROL_VALUE_PATTERN = r"^\d{0,9}$"
_CONTROL_VALUE = re.compile(CONTROL_VALUE_PATTERN)


def shown_control(value: object) -> str:
    """An envelope count or control number as a message may show it: the digits, or '(not a number)'."""
    text = "" if value is None else str(value)
    return text if _CONTROL_VALUE.match(text) else "(not a number)"


class Edi835Error(ValueError):
    """An 835 file that cannot be parsed: empty, truncated, not X12/835, or structurally broken.

    The message always names the file, the segment number (1-based ordinal of the segment in the
    file; 0 when the problem is not tied to a segment), the segment id and the reason. It never
    carries element values that could be PHI (patient names, member IDs): only segment ids,
    positions, element names and delimiter characters.
    """

    def __init__(self, file_name: str, segment_position: int, segment_id: str, reason: str) -> None:
        self.file_name = file_name
        self.segment_position = segment_position
        self.segment_id = segment_id
        self.reason = reason
        super().__init__(f"{file_name}: segment {segment_position} ({segment_id or '-'}): {reason}")
