"""The real Home Assistant tests run from `make test-homeassistant` (CI: .ci/run).

They need a few minutes and a cached Home Assistant venv (.ci/homeassistant), so the
default `make test` leaves them out; the make target sets POSTURED_HOMEASSISTANT=1.
"""

import os

collect_ignore = (
    [] if os.environ.get("POSTURED_HOMEASSISTANT") == "1" else ["test_real_homeassistant.py"]
)
