"""The OpenAPI schema says every error an operation can answer, in the shape errors leave in.

FastAPI documents only the success and its own 422 (in a shape Tether never sends). Rather than
list the errors endpoint by endpoint, they follow from what each operation has: a member behind
it can be refused (401, 403); an id in the path, the query or the body may name nothing (404); a
write may conflict (409); a body may be malformed or too large (400, 413); any input may be out
of bounds (422); an operation that talks to a provider may find it failing (502). A route adds
what is its own alone (a link's 410) through its `responses`.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from tether.deps import ActorApart, CurrentActor, RegistryDep

_ERROR = "Error"
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MEANINGS = {
    400: "The request is malformed: its JSON, a cursor or a choice Tether cannot read.",
    401: "No API token, or one that is not valid.",
    403: "The member's role or client access does not allow this.",
    404: "Nothing of that id is visible to the member.",
    409: "This conflicts with the current state of things.",
    410: "This has expired; the message says what to do instead.",
    413: "The request body is larger than Tether accepts.",
    422: "A field or parameter is out of bounds; the message names it.",
    429: "Too many requests; try again after `Retry-After` seconds.",
    502: "The provider failed to answer; its own message is kept.",
}


class ErrorProblem(BaseModel):
    field: str = Field(description="Where the problem is: a parameter or a dotted body path.")
    problem: str


class ErrorInfo(BaseModel):
    code: str = Field(description="A stable code, such as `not_found` or `invalid`.")
    message: str = Field(description="What went wrong, for a person.")
    details: list[ErrorProblem] | None = Field(
        default=None, description="Each field that is not valid (422 only)."
    )


class Error(BaseModel):
    """Every error Tether answers, whatever its status."""

    error: ErrorInfo


def install(app: FastAPI) -> None:
    """Have app.openapi() add the error answers of every JSON API operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _add_errors(schema, app.routes)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def statuses(route: APIRoute, method: str) -> set[int]:
    """The error statuses an operation can answer, from what it depends on and takes."""
    every = list(_walk(route.dependant))
    calls = {d.call for d in every if d.call is not None}
    path = any(d.path_params for d in every)
    body = any(d.body_params for d in every)
    names_by_query = any(q.name.endswith("_id") for d in every for q in d.query_params)
    has_input = path or body or any(d.query_params for d in every)
    # What the route itself declares, such as a link's 410.
    found = {int(code) for code in route.responses if int(code) in _MEANINGS}
    if calls & {_call_of(CurrentActor), _call_of(ActorApart)}:
        found |= {401, 403}
    if path or body or names_by_query:
        found.add(404)
    if method in _WRITES:
        found.add(409)
    if body:
        found |= {400, 413}
    if has_input:
        found |= {400, 422}
    if _call_of(RegistryDep) in calls:
        found.add(502)
    return found


def _add_errors(schema: dict[str, Any], routes: Iterable[Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    model = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(model.pop("$defs", {}))
    components[_ERROR] = model
    reference = {"$ref": f"#/components/schemas/{_ERROR}"}
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format is None:
            continue
        for method in route.methods or ():
            operation = schema["paths"].get(context.path_format, {}).get(method.lower())
            if operation is None:
                continue
            answers = operation.setdefault("responses", {})
            for status in sorted(statuses(route, method)):
                # Replaces FastAPI's own 422, whose shape Tether never sends.
                answers[str(status)] = {
                    "description": _MEANINGS[status],
                    "content": {"application/json": {"schema": reference}},
                }
    for name in _FASTAPI_VALIDATION:
        components.pop(name, None)


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    """The operation and everything it depends on, however deep."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _call_of(alias: Any) -> Any:
    """The function behind a typed dependency such as `CurrentActor`."""
    return alias.__metadata__[0].dependency
