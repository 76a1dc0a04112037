"""What the service tests need (PostgreSQL, iverilog, yosys) and what happens when it is missing.

Without DSE_REQUIRE_SERVICES a missing service skips the test with the reason; with
DSE_REQUIRE_SERVICES=1 (set by .ci/run) it fails it, so CI cannot pass with a service missing.
Only an absent service counts as missing: a server that answers but refuses the credentials is a
misconfiguration and always fails.
"""

from __future__ import annotations

import os
import shutil

import pytest

DEFAULT_POSTGRES_URL = "postgresql://dse:dse@127.0.0.1:5432/dse_test"
# libpq messages of a server that answered and refused: wrong password, unknown role or database,
# pg_hba.conf rejecting the host, a password the server asked for and the URL lacks
REFUSALS = ("authentication failed", "does not exist", "no pg_hba.conf entry", "no password supplied")


def services_required() -> bool:
    """True under DSE_REQUIRE_SERVICES=1 (CI): a missing service fails its tests instead of skipping them."""
    return os.environ.get("DSE_REQUIRE_SERVICES", "") not in ("", "0")


def missing(reason: str) -> None:
    """Skip (or, when services are required, fail) the running test because a service is missing."""
    if services_required():
        pytest.fail(f"{reason} (DSE_REQUIRE_SERVICES=1: required services must be present)", pytrace=False)
    pytest.skip(reason)


def postgres_url() -> str:
    """The test server's URL (DSE_TEST_POSTGRES_URL); skips or fails when no server answers there."""
    url = os.environ.get("DSE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        import psycopg
    except ImportError:
        missing("psycopg is not installed (pip install -e '.[postgres]')")
    try:
        psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        text = str(exc)
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        if any(sign in text for sign in REFUSALS):
            pytest.fail(f"PostgreSQL at {url} answers but refuses the test role or database: {first}", pytrace=False)
        missing(f"no PostgreSQL server reachable at {url} ({first}); scripts/test-services.sh starts one")
    return url


def require_tool(*names: str) -> None:
    """Skip or fail unless every named program (iverilog, vvp, yosys, ...) is on PATH."""
    absent = [name for name in names if shutil.which(name) is None]
    if absent:
        missing(f"{', '.join(absent)} not installed (scripts/test-services.sh installs the Debian packages)")
