"""Where the tests find the repository, their data and their helper scripts
(test modules live one folder down, in `tests/<area>/`)."""

import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TESTS)
DATA = os.path.join(TESTS, "data")
HELPERS = os.path.join(TESTS, "helpers")
