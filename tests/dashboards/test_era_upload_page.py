"""The billing page: the ERA upload page is there for billing staff only, lists the review queue, and a
remittance posted by the service is refused the second time (the page and the sensor share that rule).
A file posted from the page empties the loaders' caches, so the other pages stop showing the old payments."""

from __future__ import annotations

import uuid

import pytest

from dashboards.data.cache import cached
from edi835.generate import RemittanceOptions
from operational_api.db import get_engine
from operational_api.era.posting import post_bytes
from operational_api.era.remittances import claim_specs_from_store, write_remittance
from tests.dashboards.conftest import signed_in_app


def _open_era_page(at):
    at.switch_page("app_pages/era_upload.py").run()
    assert not at.exception, at.exception
    return at


def test_billing_opens_the_era_page_with_its_review_queue(demo_env, tmp_path):
    engine = get_engine()
    # A sample of its own: the demo practice is shared with other tests and may be reused between runs.
    seed = uuid.uuid4().int % 10**9
    written = write_remittance(
        claim_specs_from_store(engine, limit=15, seed=seed),
        tmp_path,
        RemittanceOptions(seed=seed),
        stem="page_test",
    )
    data = written.path.read_bytes()
    first = post_bytes(engine, data, written.path.name)
    assert not first.already_posted and first.claim_count >= 15
    at = _open_era_page(signed_in_app(demo_env, "BILLING"))
    assert at.title[0].value == "ERA upload"
    assert "Manual review queue" in [h.value for h in at.subheader]
    again = post_bytes(engine, data, "same-bytes-new-name.835")
    assert again.already_posted and again.era_file_id == first.era_file_id


def test_posting_an_upload_clears_the_loaders_caches(demo_env, tmp_path):
    engine = get_engine()
    seed = uuid.uuid4().int % 10**9
    written = write_remittance(
        claim_specs_from_store(engine, limit=5, seed=seed),
        tmp_path,
        RemittanceOptions(seed=seed),
        stem="upload_test",
    )
    computed: list[int] = []

    @cached()
    def loader() -> int:  # stands in for every cached loader: they share st.cache_data
        computed.append(1)
        return len(computed)

    assert loader() == 1 and loader() == 1
    at = _open_era_page(signed_in_app(demo_env, "BILLING"))
    at.file_uploader(key="era_file").set_value(
        (written.path.name, written.path.read_bytes(), "text/plain")
    ).run()
    assert "Validation summary" in [h.value for h in at.subheader]
    at.button(key="era_post").click().run()
    assert not at.exception, at.exception
    # Messages are Markdown-escaped (they may quote the file): compare without the escapes.
    assert any("auto-posted" in message.value.replace("\\", "") for message in at.success)
    assert loader() == 2, "posting left the cached loader results in place"
    # The same file again posts nothing, so the caches stay.
    at.button(key="era_post").click().run()
    assert any("already posted" in message.value.replace("\\", "") for message in at.info)
    assert loader() == 2


def test_clinicians_have_no_era_page(demo_env):
    at = signed_in_app(demo_env, "CLINICIAN")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/era_upload.py")
