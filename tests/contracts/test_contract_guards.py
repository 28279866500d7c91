"""Guards that keep the code honest as it grows: every route declares who may call it, every
admin route refuses the other roles, and every named query exists and is valid SQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from marshmallow import Schema, fields

from service.app import all_endpoints
from service.db import QUERIES
from service.domain import risk
from service.schemas.common import String
from service.vocabulary import RISK_RULES
from tests.conftest import Api, assert_error

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_PATHS = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/init.js"),
    ("GET", "/favicon.ico"),
    ("GET", "/api/v1/categories"),
    ("GET", "/api/v1/about"),
    ("GET", "/"),
    ("GET", "/cashier"),
    ("GET", "/draw"),  # the page only: the draw record is public (GET /batches/{id}/draw)
    ("GET", "/join"),
    ("GET", "/bureau"),
    ("GET", "/bureau/money"),  # the page only: its data come from bureau-only endpoints
    ("GET", "/bureau/bulletin"),  # likewise
    ("GET", "/static/vendor/{name}"),
    ("GET", "/api/v1/batches"),
    ("GET", "/api/v1/batches/{id}"),
    ("GET", "/api/v1/batches/{id}/draw"),
    ("POST", "/api/v1/auth/merchant"),
    ("POST", "/api/v1/auth/bureau"),
    ("POST", "/api/v1/auth/otp"),
    ("POST", "/api/v1/auth/resident"),
    ("POST", "/api/v1/auth/merchant-key"),  # an SMS code to the merchant's contact phone
    ("POST", "/api/v1/auth/cashier-pairing"),  # a code its merchant's owner made, one use
    ("GET", "/api/v1/merchants"),  # the directory: nothing personal in it
    ("POST", "/api/v1/merchant-applications"),  # an SMS code to the applicant's phone
}
BUREAU_ONLY = [
    ep for ep in all_endpoints() if ep.path.startswith(("/api/v1/admin", "/api/v1/stats"))
]


def test_public_endpoints_are_exactly_the_intended_ones() -> None:
    public = {(ep.method, ep.path) for ep in all_endpoints() if ep.roles is None}
    assert public == PUBLIC_PATHS


def _fields(schema: Schema, where: str) -> Iterator[tuple[str, fields.Field]]:
    for name, field in schema.fields.items():
        yield f"{where}.{name}", field
        inner = getattr(field, "inner", None)  # List
        if inner is not None:
            yield f"{where}.{name}[]", inner
        nested = getattr(field, "schema", None)  # Nested
        if isinstance(field, fields.Nested) and isinstance(nested, Schema):
            yield from _fields(nested, f"{where}.{name}")


def test_every_text_field_of_a_request_refuses_control_characters() -> None:
    """Every string a client sends is read by the project's String field (API.md, "Input
    rules"), so a new schema cannot quietly let NUL or a lone surrogate through."""
    checked = 0
    for ep in all_endpoints():
        for schema, part in ((ep.query, "query"), (ep.body, "body")):
            if schema is None:
                continue
            for where, field in _fields(schema, f"{ep.method} {ep.path} {part}"):
                if isinstance(field, fields.String):
                    assert isinstance(field, String), where
                    checked += 1
    assert checked > 20


def test_admin_and_stats_endpoints_are_bureau_only() -> None:
    assert BUREAU_ONLY, "no admin endpoints found"
    for ep in BUREAU_ONLY:
        assert ep.roles == frozenset({"bureau"}), ep.path


@pytest.mark.parametrize("endpoint", BUREAU_ONLY, ids=lambda ep: f"{ep.method} {ep.path}")
async def test_admin_routes_refuse_other_roles(api: Api, endpoint: object) -> None:
    path = re.sub(r"{\w+}", "1", endpoint.path)  # type: ignore[attr-defined]
    method = endpoint.method  # type: ignore[attr-defined]
    status, body = await api.call(method, path)
    assert_error(status, body, 401, "unauthorized")
    for role, mid in (("resident", None), ("merchant", 1)):
        status, body = await api.call(method, path, headers=api.auth(role, mid=mid))
        assert_error(status, body, 403, "forbidden")


def query_callers() -> dict[str, set[str]]:
    """Each query name the code calls, with the files (from the repository's root) calling it."""
    pattern = re.compile(
        r"\.(?:fetch|fetchrow|fetchval|execute|executemany)\(\s*\"([a-z_][a-z0-9_]*)\"",
        re.MULTILINE,
    )
    callers: dict[str, set[str]] = {}
    for folder in ("service", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in pattern.findall(path.read_text()):
                callers.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    # The risk rules' finding queries are named by their registry.
    for rule in risk.RULES:
        callers.setdefault(f"risk_find_{rule.name}", set()).add("service/domain/risk.py")
    return callers


def test_every_query_the_code_names_exists_and_every_query_is_used() -> None:
    used = set(query_callers())
    assert used - set(QUERIES) == set(), "queries named in code but missing from sql/queries"
    assert set(QUERIES) - used == set(), "queries in sql/queries that no code uses"


def test_only_its_owner_calls_a_query() -> None:
    """Each sql/queries file names one owner (`-- owner: service/domain/ledger.py`, or a
    package ending in /); another area calls the owner's functions, never its queries."""
    strangers = {
        name: sorted(
            f
            for f in files
            if f != QUERIES[name].owner
            and not (QUERIES[name].owner.endswith("/") and f.startswith(QUERIES[name].owner))
        )
        for name, files in query_callers().items()
        if name in QUERIES
    }
    assert {name: files for name, files in strangers.items() if files} == {}
    for path in (ROOT / "sql" / "queries").glob("*.sql"):
        owner = path.read_text().splitlines()[0].removeprefix("-- owner: ")
        assert (ROOT / owner).exists(), f"{path.name}: its owner {owner} does not exist"
        # Named for what it holds: the file and its owner module share a name.
        assert Path(owner.rstrip("/")).stem == path.stem, (path.name, owner)


def test_named_parameters_become_positional_once_and_calls_must_name_them_all() -> None:
    from service.db import parse_query

    q = parse_query(
        "t",
        "SELECT :a::int, ':b', x::text -- :c\nFROM t WHERE y = :a AND z = ANY(:d::text[])",
    )
    assert (
        q.text == "SELECT $1::int, ':b', x::text -- :c\nFROM t WHERE y = $1 AND z = ANY($2::text[])"
    )
    assert q.params == ("a", "d")
    assert q.args({"d": [], "a": 1}) == [1, []]
    with pytest.raises(TypeError, match="missing \\['d'\\]"):
        q.args({"a": 1})
    with pytest.raises(TypeError, match="unexpected \\['e'\\]"):
        q.args({"a": 1, "d": [], "e": 2})


def test_no_query_uses_positional_parameters() -> None:
    for path in (ROOT / "sql" / "queries").glob("*.sql"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("--", 1)[0]
            assert not re.search(r"\$\d", code), f"{path.name}:{number}: {line}"


async def test_every_query_is_valid_sql_against_the_migrated_schema(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        for name, query in QUERIES.items():
            try:
                await conn.prepare(query.text)
            except asyncpg.PostgresError as err:
                pytest.fail(f"query {name}: {err}")
    finally:
        await conn.close()


def test_the_pages_name_every_risk_rule_and_only_those() -> None:
    """The bureau's pages show a rule by its Chinese name from common.js: a rule added to the
    vocabulary without a name there would show as its code."""
    common = (ROOT / "service" / "web" / "common.js").read_text()
    block = re.search(r"export const RULE_NAMES = \{(.*?)\};", common, re.S)
    assert block is not None
    named = re.findall(r"^\s*(\w+): \"", block.group(1), re.M)
    assert sorted(named) == sorted(RISK_RULES)
