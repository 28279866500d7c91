"""Declaring endpoints: role, schemas and handler in one place.

Each handler module has a `Routes` table. An endpoint names who may call it (`roles`,
None = public), the marshmallow schemas that validate its query and body, and the schema
of its answer. The same declarations register the aiohttp routes and build the OpenAPI
document, so the docs cannot drift from validation or from authorisation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from marshmallow import Schema, ValidationError, fields

from service import keys
from service.auth import Principal
from service.clock import Clock
from service.db import Database
from service.domain import cashiers
from service.domain.audit import Actor
from service.domain.context import Context
from service.errors import DomainError, ErrorCode
from service.schemas.common import IDEMPOTENCY_KEY, Day, check_span
from service.schemas.dump import dump
from service.settings import Settings
from service.timefmt import business_day
from service.vocabulary import printable

API_PREFIX = "/api/v1"
JSON = "application/json"
PUBLIC: None = None


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None):
    return web.Response(
        text=dumps(data), status=status, content_type="application/json", headers=headers
    )


_PATH_DAY = Day()


@dataclass
class Call:
    """What a handler gets: the request, who is calling, and the validated input."""

    request: web.Request
    principal: Principal | None
    query: dict[str, Any]
    body: Any
    endpoint: Endpoint

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def db(self) -> Database:
        return self.request.app[keys.DB]

    @property
    def settings(self) -> Settings:
        return self.request.app[keys.SETTINGS]

    @property
    def clock(self) -> Clock:
        return self.request.app[keys.CLOCK]

    @property
    def actor(self) -> Actor:
        """Who writes, for the audit trail: the caller's account within this request."""
        return Actor(self.me.sub, self.request.get(keys.REQUEST_ID))

    @property
    def context(self) -> Context:
        """Who writes, when, in the festival's time zone: what the audited writes take."""
        return Context(db=self.db, actor=self.actor, now=self.clock.now(), tz=self.settings.tz)

    @property
    def me(self) -> Principal:
        assert self.principal is not None, "public endpoint asked for its caller"
        return self.principal

    async def csv_text(self) -> str:
        """The body of a CSV upload (an endpoint with raw_body="text/csv"), as UTF-8 text."""
        try:
            return (await self.request.read()).decode("utf-8")
        except UnicodeDecodeError:
            raise DomainError(
                ErrorCode.INVALID_REQUEST, "the CSV must be UTF-8", {"lines": {}}
            ) from None

    def path_day(self, name: str = "date") -> date:
        """A YYYY-MM-DD day in the path, as a query's `Day` field reads one."""
        try:
            return _PATH_DAY.deserialize(self.request.match_info[name])  # type: ignore[no-any-return]
        except ValidationError as err:
            raise DomainError(
                ErrorCode.INVALID_REQUEST, "the path's day is not valid", {name: err.messages}
            ) from None

    def day_range(self, days: int) -> tuple[date, date]:
        """The query's `from` and `to` (a DayRangeQuery), by default the last `days` business
        days up to today; never longer than a request may span."""
        to = self.query.get("to") or business_day(self.clock.now(), self.settings.tz)
        start = self.query.get("from_") or to - timedelta(days=days - 1)
        check_span(start, to)
        return start, to

    def answer(
        self, value: Any, status: int | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        """`value` (rows, dicts, dataclasses of the domain) as the endpoint's declared
        `response` schema writes it: the one declaration of the answer's fields."""
        return json_response(
            self.dump(value), self.endpoint.status if status is None else status, headers
        )

    def dump(self, value: Any, schema: Schema | None = None) -> Any:
        """`value` as `schema` (by default the endpoint's `response`) declares it."""
        schema = self.endpoint.response if schema is None else schema
        assert schema is not None, f"{self.endpoint.path} declares no response schema"
        return dump(schema, value, self.settings.tz)

    def path_id(self, name: str = "id") -> int:
        """A numeric path id; anything else is simply not found."""
        value = parse_path_id(self.request.match_info[name])
        if value is None:
            raise DomainError(ErrorCode.NOT_FOUND, "not found")
        return value


def idempotency_header(*, required: bool, description: str) -> dict[str, Any]:
    """The Idempotency-Key header as the OpenAPI document describes it."""
    return {
        "in": "header",
        "name": "Idempotency-Key",
        "required": required,
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "pattern": IDEMPOTENCY_KEY.regex.pattern,
        },
        "description": description,
    }


def idempotency_key(call: Call, *, required: bool) -> str | None:
    """The request's Idempotency-Key (Stripe's rules: 1 to 64 visible ASCII characters)."""
    key = call.request.headers.get("Idempotency-Key")
    if key is None and not required:
        return None
    if key is None or IDEMPOTENCY_KEY.regex.fullmatch(key) is None:
        raise DomainError(
            ErrorCode.INVALID_REQUEST,
            "an Idempotency-Key header of 1 to 64 visible characters is "
            + ("required" if required else "allowed"),
            {"Idempotency-Key": ["1 to 64 visible ASCII characters."]},
        )
    return key


def parse_path_id(raw: str) -> int | None:
    """A row id written in a path, or None. ASCII digits only: str.isdigit() is true for "²"
    and "١٢", and int("١٢") is 12."""
    if 0 < len(raw) <= 18 and raw.isascii() and raw.isdigit() and raw != "0" * len(raw):
        return int(raw)
    return None


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str] | None
    summary: str
    tag: str
    query: Schema | None = None
    body: Schema | None = None
    response: Schema | None = None
    status: int = 200
    # Other success statuses with the same body (an entry already made answers 200, not 201).
    also: tuple[int, ...] = ()
    # The error codes it may answer besides those every endpoint may (a typo fails at import).
    errors: tuple[ErrorCode, ...] = ()
    # For bodies that are not JSON (CSV uploads): the media type, documented as a string.
    raw_body: str | None = None
    # An absent body is read as {} (every field of the body schema is optional).
    body_optional: bool = False
    produces_csv: bool = False
    # Also answers an Excel workbook (service/csvout.py: ?format=xlsx).
    produces_xlsx: bool = False
    # A list the bureau may download: the answer is {"items": [rows]}, or CSV or an Excel
    # workbook whose columns are this row schema's fields. Set through Routes(table=...),
    # which sets the rest.
    table: Schema | None = None
    # An endpoint that exists only under some settings (the drill clock's): otherwise it is
    # 404 not_found to a caller its roles allow, before its input is read.
    enabled_if: Callable[[Settings], bool] | None = None
    # A resident endpoint that checks the account's binding to its person itself, inside its
    # own transaction (claims, entries); every other is checked before its handler runs.
    checks_binding: bool = False
    # A merchant endpoint a merchant's cashiers may call too (the checkout's: preview, redeem,
    # reverse, list). Every other merchant endpoint is the owner's alone: a cashier's token is
    # 403 there (bank details, statements, turnover, cashier accounts, whatever comes next).
    cashiers: bool = False
    # A cashier endpoint that checks the cashier is live itself, in a statement it runs anyway
    # (the redemption flush's context); every other is checked before its handler runs.
    checks_cashier: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        strays = [e for e in self.errors if not isinstance(e, ErrorCode)]
        if strays:
            raise TypeError(f"{self.method} {self.path}: errors are ErrorCodes, not {strays!r}")


_TABLE_ROLES: Any = object()


_ITEMS: dict[type[Schema], type[Schema]] = {}


def items_of(row: type[Schema]) -> type[Schema]:
    """The schema of `{"items": [row, ...]}` (one class per row schema, named after it)."""
    if row not in _ITEMS:
        name = row.__name__.removesuffix("Row") + "List"
        items = fields.List(fields.Nested(row), required=True)
        _ITEMS[row] = Schema.from_dict({"items": items}, name=name)
    return _ITEMS[row]


class Routes:
    """An area's endpoints. `roles` is who may call them unless an endpoint says otherwise
    (None: public); every endpoint states it, through its table or itself."""

    def __init__(
        self, tag: str, *, roles: tuple[str, ...] | None, prefix: str = API_PREFIX
    ) -> None:
        self.tag = tag
        self.roles = roles
        self.prefix = prefix
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: tuple[str, ...] | None = _TABLE_ROLES,
        **options: Any,
    ) -> Callable[[Handler], Handler]:
        if roles is _TABLE_ROLES:
            roles = self.roles
        if options.get("table") is not None:
            options.setdefault("response", items_of(type(options["table"]))())
            options["produces_csv"] = True
            options["produces_xlsx"] = True

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=self.prefix + path,
                    handler=handler,
                    roles=None if roles is None else frozenset(roles),
                    summary=summary,
                    tag=self.tag,
                    **options,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


def authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError(ErrorCode.UNAUTHORIZED, "a bearer token is required")
    return request.app[keys.VERIFIER].verify(token.strip())


async def _cashier_may_call(request: web.Request, principal: Principal, endpoint: Endpoint) -> None:
    """A cashier's token works while its cashier is live (a removed one's is 401 at once, in
    every process: one lookup by primary key, or the endpoint's own statement), and only on
    the endpoints open to cashiers (else 403)."""
    assert principal.merchant_id is not None  # a cashier token is a merchant token
    if not (endpoint.cashiers and endpoint.checks_cashier):
        await cashiers.check_live(
            request.app[keys.DB], principal.merchant_id, cashier_id=principal.cashier_id or 0
        )
    if not endpoint.cashiers:
        raise DomainError(
            ErrorCode.FORBIDDEN, "a cashier may not use this endpoint: the merchant's owner may"
        )


def _validation_error(err: ValidationError) -> DomainError:
    messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
    # Unknown fields are echoed by name: a name may hold anything a client sent.
    return DomainError(ErrorCode.INVALID_REQUEST, "the request is not valid", _echo_safe(messages))


def _echo_safe(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {_echo_safe(str(k)): _echo_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_echo_safe(v) for v in value]
    return value


MAX_JSON_DEPTH = 32


def _malformed(reason: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_REQUEST, "the body is not valid JSON", {"_body": [reason]})


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    raw = await request.read()
    if not raw:
        if optional:
            return {}
        raise DomainError(
            ErrorCode.INVALID_REQUEST, "a JSON body is required", {"_body": ["missing"]}
        )
    try:
        data = json.loads(raw, object_pairs_hook=_object_without_duplicates)
    except _DuplicateKey as dup:
        raise _malformed(f"the key {printable(str(dup))!r} appears twice") from None
    except RecursionError:  # nested deeper than the parser's stack (json.loads raises this)
        raise _malformed(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise _malformed("malformed JSON") from None
    _check_tree(data)
    return data


class _DuplicateKey(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json.loads would keep the last silently:
    `{"decision": "confirm", "decision": "dismiss"}` must not mean whichever came last)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


def _check_tree(data: Any) -> None:
    """No body is nested deeper than any schema needs, and no text in it, key or value, holds
    NUL or a lone surrogate (PostgreSQL cannot store them, UTF-8 cannot encode them)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _malformed(f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                raise _malformed("text may not contain NUL or unpaired surrogates")
        elif isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def load(schema: Schema, data: Any) -> Any:
    try:
        return schema.load(data)
    except ValidationError as err:
        raise _validation_error(err) from None


def as_aiohttp_handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[Any]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        principal = None
        if endpoint.roles is not None:
            principal = authenticate(request)
            if principal.role not in endpoint.roles:
                raise DomainError(
                    ErrorCode.FORBIDDEN, "this token's role may not use this endpoint"
                )
            if principal.pid is not None and not endpoint.checks_binding:
                app = request.app
                await app[keys.BINDINGS].person(app[keys.DB], principal.sub, principal.person)
            if principal.cashier_id is not None:
                await _cashier_may_call(request, principal, endpoint)
        if endpoint.enabled_if is not None and not endpoint.enabled_if(request.app[keys.SETTINGS]):
            raise DomainError(ErrorCode.NOT_FOUND, "no such resource")
        query: dict[str, Any] = {}
        if endpoint.query is not None:
            query = load(endpoint.query, {k: request.query.getone(k) for k in request.query})
        body = None
        if endpoint.body is not None:
            body = load(endpoint.body, await read_json(request, optional=endpoint.body_optional))
        return await endpoint.handler(Call(request, principal, query, body, endpoint))

    handle.__name__ = endpoint.handler.__name__
    return handle


def add_routes(app: web.Application, endpoints: list[Endpoint]) -> None:
    for endpoint in endpoints:
        handler = as_aiohttp_handler(endpoint)
        app.router.add_route(endpoint.method, endpoint.path, handler)
        if endpoint.method == "GET" and endpoint.extra.get("hidden"):
            # Pages and their files: uptime monitors and link checkers send HEAD (the
            # same answer without its body; aiohttp drops the body).
            app.router.add_route("HEAD", endpoint.path, handler)
