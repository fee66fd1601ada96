"""A cold server imports what the pages need while the sign-in form is on screen (issue 12, speed): the
first page after sign-in used to spend most of its run importing pandas, the charts and the loaders."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import STEP_TIMEOUT
from tests.dashboards.conftest import APP

# Imported by pages (pandas by Streamlit on a page's first table), never by the frame or the sign-in form.
PAGE_ONLY = (
    "dashboards.data.overview",
    "dashboards.components.charts",
    "dashboards.data.team",
    "edi835",
    "operational_api.era.posting",
    "pandas",
    "pyarrow.compute",
)

# A fresh interpreter: this test process has long imported everything.
SCRIPT = """
import json, logging, sys
from streamlit.testing.v1 import AppTest
logging.disable(logging.WARNING)
at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
print(json.dumps({"titles": [t.value for t in at.title], "exceptions": [str(e.value) for e in at.exception],
                  "modules": sorted(sys.modules)}))
"""


def test_the_sign_in_form_leaves_the_pages_imports_done(var_dir):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, APP],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run = json.loads(result.stdout.strip().splitlines()[-1])
    assert run["titles"] == ["Sign in"] and not run["exceptions"], run["exceptions"]
    missing = [name for name in PAGE_ONLY if name not in run["modules"]]
    assert not missing, f"imported only on the first page after sign-in: {missing}"
