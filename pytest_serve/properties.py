"""The `user_properties` keys through which a test tells the report about itself.

A test's properties travel with its report (also from xdist workers, and into
`--junitxml`), so they are how the plugin's fixtures and hooks reach the result
collector on whichever process writes the report.
"""

from __future__ import annotations

__all__ = ["CLAUSE", "NOT_TESTABLE", "OBSERVATION"]

#: One per clause ID the test is marked with.
CLAUSE = "serve_clause"
#: The reason the instance cannot run the test as it needs; its clause is graded "not testable".
NOT_TESTABLE = "serve_not_testable"
#: One per figure the test recorded with `serve_observe` (JSON).
OBSERVATION = "serve_observation"
