"""ERA (835) remittances against the operational store: generate, match, post, review.

- :mod:`edi835.generate` (pure) renders remittances; :mod:`.remittances` feeds it our claims and
  writes the 835 + ground-truth files.
- :mod:`.frames` turns a parsed file into polars frames (cents, patient identity from NM1*QC/IL).
- :mod:`.matching` links every CLP to our claims and charges: the PRD's five levels.
- :mod:`.posting` posts a file in one transaction (idempotent) and runs the manual review queue.
- :mod:`.cli` is `mentalspace era generate | post | review`; :mod:`.codes` our short code labels.

Submodules are imported on use (this package imports nothing, so `codes` stays cheap).
"""
