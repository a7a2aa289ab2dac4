"""Shared test configuration: Hypothesis profiles.

The default ``ci`` profile is capped so the whole suite stays well under CI's budget; run the
thorough one on demand with ``SUPPORTKIT_HYPOTHESIS=thorough nox -s tests``.
"""

import os

from hypothesis import HealthCheck, settings

# derandomize: CI runs the same examples every time, so a red run is reproducible; the
# thorough profile explores afresh.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("SUPPORTKIT_HYPOTHESIS", "ci"))
