"""The single exception type that :func:`edi835.parse` lets escape."""

from __future__ import annotations

__all__ = ["Edi835Error"]


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
