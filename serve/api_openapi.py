"""``GET /api/openapi.json``: the OpenAPI 3.1 document of the API, built from the route table.

Every ``api_http.Endpoint`` becomes one operation: its path and query parameters (from
the query model's JSON Schema), ``If-Match`` where it takes one, the request body's
JSON Schema (pydantic's ``model_json_schema``, so the enumerations and limits are those
of the project's models: ``ExternalMessage``, ``InternalMessage``, ``WorkflowState``…),
and the answers: its success status (with ``ETag`` where it sends one) and problem
documents (``problems``) for errors. Nothing is listed by hand, so the document cannot
drift from the routes.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from pydantic import TypeAdapter

from gitstore_serve.api_http import Endpoint, Precondition

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document (application/problem+json).",
    "properties": {
        "type": {"type": "string", "description": "urn:gitstore:error:<ErrorClass>, or about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "the one line the CLI prints after 'Error:'"},
        "current_version": {"type": "string", "description": "412/409 on a conflict: the ticket's current version"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "every problem of an invalid request"},
    },
    "required": ["type", "title", "status", "detail"],
}

ERRORS = {
    "400": "Invalid query parameter, cursor, date or option",
    "401": "No token, an unknown token or a revoked one",
    "403": "The actor's role refuses it",
    "404": "No such ticket, revision, decision or turn",
    "409": "The ticket's state refuses it (archived, exists, an open turn, a conflict)",
    "422": "Invalid request body, or data the store's rules refuse",
    "500": "Server error (no traceback in the body)",
}


def _schema_of(schema: Any, components: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a model or TypeAdapter, its definitions moved to components."""
    template = "#/components/schemas/{model}"
    if isinstance(schema, TypeAdapter):
        found = schema.json_schema(ref_template=template)
    else:
        found = schema.model_json_schema(ref_template=template)
    for name, definition in found.pop("$defs", {}).items():
        components[name] = definition
    title = found.get("title")
    if title and "properties" in found:
        components[title] = found
        return {"$ref": template.format(model=title)}
    return found


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema(by_alias=True)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            description = prop.pop("description", None)
            entry: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description:
                entry["description"] = description
            params.append(entry)
    if endpoint.precondition is not Precondition.NONE:
        params.append({
            "name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "the ETag (ticket version) of a read: the write is refused with 412 if the ticket changed since",
        })
    if endpoint.raw is not None and endpoint.path == "/events":
        params.append({"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "resume after this event id (a commit id)"})
    return params


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    name = endpoint.run.__name__ if endpoint.run is not None else getattr(endpoint.raw, "__name__", "operation")
    operation: dict[str, Any] = {
        "operationId": f"{name}_{endpoint.method.lower()}",
        "summary": endpoint.summary,
        "tags": list(endpoint.tags),
        "parameters": _parameters(endpoint),
    }
    if endpoint.cli:
        operation["description"] = f"Answers like `gitstore {endpoint.cli}` (docs/http.md)."
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True, "content": {"application/json": {"schema": _schema_of(endpoint.body, components)}},
        }
    success: dict[str, Any] = {"description": "OK" if endpoint.status == 200 else "Created",
                               "content": {endpoint.produces: {"schema": {}}}}
    if endpoint.etag:
        success["headers"] = {"ETag": {"description": "the ticket's version (a commit id), quoted",
                                       "schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(endpoint.status): success}
    for status, description in ERRORS.items():
        if status == "401" and not endpoint.auth:
            continue
        responses[status] = {"description": description, "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}}
    if endpoint.precondition is not Precondition.NONE:
        responses["412"] = {"description": "If-Match names a version the ticket has changed since; nothing written",
                            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    operation["responses"] = responses
    if not endpoint.auth:
        operation["security"] = []
    return operation


def openapi_document(endpoints: Iterable[Endpoint], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``.

    Args:
        endpoints: the route table.
        version: the API's version (gitstore's).
    """
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gitstore HTTP API",
            "version": version,
            "description": "Tickets in git over HTTP: every write is one commit, every read is for the token's actor's role.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "gitstore token create ACTOR"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "gitstore_token"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }


__all__ = ["openapi_document", "PROBLEM_SCHEMA"]
