"""Where tests find shared fixtures that must not be copied into the project."""

from __future__ import annotations

import os
from pathlib import Path

# The RAR samples (no free tool writes RAR): ../shared/fixtures/rar next to the checkout,
# or wherever FERRYMAN_RAR_FIXTURES points. Tests skip with a reason when it is absent.
RAR_FIXTURES = Path(
    os.environ.get(
        "FERRYMAN_RAR_FIXTURES", Path(__file__).resolve().parents[3] / "shared/fixtures/rar"
    )
)
