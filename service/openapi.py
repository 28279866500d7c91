"""The OpenAPI 3 document, built from the same endpoint declarations and marshmallow schemas
that route and validate requests (service/http.py)."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from service.errors import ErrorCode
from service.http import Endpoint
from service.schemas.common import Either, ErrorBody
from service.vocabulary import MAX_ID
from service.xlsxbook import XLSX

_PARAM = re.compile(r"{(\w+)}")


def build_spec(endpoints: list[Endpoint]) -> dict[str, Any]:
    spec = APISpec(
        # ASCII: generators make package names of the title (openapi-python-client would
        # make `春暖槐荫消费节_voucher_api_client`, which pip refuses); the Chinese name is in
        # the description and in x-name-zh.
        title="Huaiyin Festival Voucher API",
        version="1",
        openapi_version="3.0.3",
        info={
            "description": "春暖槐荫消费节: vouchers of the Spring Warmth Huaiyin Consumption "
            "Festival. Money is integer fen; times are ISO 8601 with offset; business days are "
            "Asia/Shanghai.",
            "x-name-zh": "春暖槐荫消费节",
        },
        plugins=[MarshmallowPlugin()],
    )
    spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    spec.components.schema("Error", schema=ErrorBody)
    by_path: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        if ep.extra.get("hidden"):
            continue
        by_path.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep)
    for path, operations in sorted(by_path.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _path_schema(name: str) -> dict[str, Any]:
    # `{id}` is a row id (Call.path_id: anything else is 404): generated clients take an int.
    if name == "id":
        return {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    return {"type": "string"}


def _operation(ep: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": ep.summary,
        "tags": [ep.tag],
        "operationId": ep.handler.__name__,
    }
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True, "schema": _path_schema(name)}
        for name in _PARAM.findall(ep.path)
    ]
    if ep.query is not None:
        parameters.append({"in": "query", "schema": ep.query})
    for header in ep.extra.get("headers", ()):
        parameters.append(header)
    if parameters:
        op["parameters"] = parameters
    if ep.body is not None:
        op["requestBody"] = {
            "required": not ep.body_optional,
            "content": {"application/json": {"schema": ep.body}},
        }
    elif ep.raw_body is not None:
        op["requestBody"] = {
            "required": True,
            # A file's bytes (UTF-8 CSV): generators send `format: binary` as given.
            "content": {ep.raw_body: {"schema": {"type": "string", "format": "binary"}}},
        }
    content: dict[str, Any] = {}
    if isinstance(ep.response, Either):
        content["application/json"] = {"schema": {"oneOf": list(ep.response.shapes)}}
    elif ep.response is not None:
        content["application/json"] = {"schema": ep.response}
    if ep.produces_csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    if ep.produces_xlsx:
        content[XLSX] = {"schema": {"type": "string", "format": "binary"}}
    responses: dict[str, Any] = {}
    for status in (ep.status, *ep.also):
        responses[str(status)] = {"description": "success"}
        if content:
            responses[str(status)]["content"] = content
    codes = set(ep.errors)
    if ep.body is not None or ep.query is not None:
        codes.add(ErrorCode.INVALID_REQUEST)
    if ep.roles is not None:
        codes.update({ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN})
        op["security"] = [{"bearer": []}]
        op["description"] = "Roles: " + ", ".join(sorted(ep.roles)) + "."
    by_status: dict[int, list[str]] = {}
    for code in sorted(codes):
        by_status.setdefault(code.status, []).append(code)
    for status, status_codes in sorted(by_status.items()):
        responses[str(status)] = {
            "description": "error codes: " + ", ".join(status_codes),
            "content": {"application/json": {"schema": "Error"}},
        }
    op["responses"] = responses
    return op
