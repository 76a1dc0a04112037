"""DSE_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing service from a skip into a failure;
a PostgreSQL server that answers but refuses the test role or database fails in both modes."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

from _services import postgres_url, require_tool, services_required

NOBODY_LISTENS = "postgresql://dse:dse@127.0.0.1:1/dse_test"  # port 1: nothing answers
PRESENT = sys.executable  # a program that exists whatever PATH holds (shutil.which takes a path)


@pytest.fixture(params=["unset", "0"])
def lenient(request, monkeypatch):
    if request.param == "unset":
        monkeypatch.delenv("DSE_REQUIRE_SERVICES", raising=False)
    else:
        monkeypatch.setenv("DSE_REQUIRE_SERVICES", request.param)


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv("DSE_REQUIRE_SERVICES", "1")


def test_services_required_reads_the_variable(monkeypatch):
    for value, required in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv("DSE_REQUIRE_SERVICES", value)
        assert services_required() is required, value
    monkeypatch.delenv("DSE_REQUIRE_SERVICES")
    assert services_required() is False


def test_missing_postgres_fails_when_required(strict, monkeypatch):
    monkeypatch.setenv("DSE_TEST_POSTGRES_URL", NOBODY_LISTENS)
    with pytest.raises(pytest.fail.Exception) as err:
        postgres_url()
    assert "DSE_REQUIRE_SERVICES=1" in str(err.value)
    assert "127.0.0.1:1" in str(err.value) or "psycopg is not installed" in str(err.value)


def test_missing_postgres_skips_otherwise(lenient, monkeypatch):
    monkeypatch.setenv("DSE_TEST_POSTGRES_URL", NOBODY_LISTENS)
    with pytest.raises(pytest.skip.Exception) as err:
        postgres_url()
    assert "127.0.0.1:1" in str(err.value) or "psycopg is not installed" in str(err.value)


def test_missing_tool_fails_when_required(strict):
    with pytest.raises(pytest.fail.Exception) as err:
        require_tool(PRESENT, "no-such-tool-xyz")
    assert str(err.value).startswith("no-such-tool-xyz not installed")  # names only what is missing
    require_tool(PRESENT)  # present tools pass


def test_missing_tool_skips_otherwise(lenient):
    with pytest.raises(pytest.skip.Exception) as err:
        require_tool("no-such-tool-xyz")
    assert str(err.value).startswith("no-such-tool-xyz not installed")
    require_tool(PRESENT)


def _with(url: str, *, password: str | None = None, database: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        host = netloc.rpartition("@")[2]
        user = netloc.rpartition("@")[0].partition(":")[0] or "dse"
        netloc = f"{user}:{password}@{host}"
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


@pytest.mark.postgres
@pytest.mark.parametrize("required", ["0", "1"])
@pytest.mark.parametrize("wrong", ["password", "database"])
def test_a_server_that_refuses_the_credentials_fails_in_both_modes(monkeypatch, required, wrong):
    url = postgres_url()  # a server answers here (else this skips, or fails under DSE_REQUIRE_SERVICES=1)
    bad = _with(url, password="wrong-password-xyz") if wrong == "password" else _with(url, database="no_such_db_xyz")
    monkeypatch.setenv("DSE_REQUIRE_SERVICES", required)
    monkeypatch.setenv("DSE_TEST_POSTGRES_URL", bad)
    with pytest.raises(pytest.fail.Exception, match="answers but refuses the test role or database"):
        postgres_url()


# which helper call guards which service, and the marker a test calling it must carry
