"""Every failure leaves as `{"error": {"code", "message"}}` with the right status, never a trace."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException

from tether.errors import TetherError
from tether.kit import request_id as request_ids
from tether.web.errors import is_page_request, page_error

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "not_authenticated",
    403: "forbidden",
}


def error_response(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


async def _tether_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, TetherError)
    return _answer(request, error, error.status, error.code, error.message)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    if any(p.get("type") == "json_invalid" for p in problems):
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    details = [
        {
            "field": ".".join(str(part) for part in p.get("loc", ())[1:]) or "body",
            # Pydantic prefixes the message of a check of Tether's own; the person needs no prefix.
            "problem": p.get("msg", "").removeprefix("Value error, "),
        }
        for p in problems
    ]
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details)
    if is_page_request(request):
        message = f"Some fields are not valid. {summary}"
        return page_error(request, error, status=422, message=message)
    return error_response(422, "invalid", f"Some fields are not valid. {summary}", details=details)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    message = "No such page." if error.status_code == 404 else str(error.detail)
    if is_page_request(request):
        return page_error(request, error, status=error.status_code, message=message)
    return error_response(error.status_code, code, message)


async def _integrity_error(_: Request, error: Exception) -> JSONResponse:
    log.warning("Refused a write that broke a database constraint: %s", type(error).__name__)
    return error_response(409, "conflict", "This conflicts with something that already exists.")


def _answer(request: Request, error: Exception, status: int, code: str, message: str) -> Response:
    """A page's error page (or flash), or the API's error body."""
    if is_page_request(request):
        return page_error(request, error, status=status, message=message)
    return error_response(status, code, message)


async def _database_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DBAPIError)
    if not error.connection_invalidated:
        raise error  # answered by `_unexpected`, Starlette's last resort
    # The database dropped the connection (a restart, a failover): the transaction rolled back
    # and the pool replaces its connections, so the same request succeeds when sent again.
    log.warning("The database dropped a connection while serving a request; asked to retry")
    message = "Tether lost its connection to its database for a moment. Try again."
    response = _answer(request, error, 503, "database_unavailable", message)
    response.headers["Retry-After"] = "1"
    return response


async def _unexpected(request: Request, error: Exception) -> Response:
    log.error("Unexpected error while serving a request", exc_info=error)
    message = "Something went wrong on Tether's side; it was logged."
    response = _answer(request, error, 500, "internal", message)
    # Answered outside the middlewares (Starlette's last resort), so the id is set here: the
    # person who reports the error can quote the id its log lines carry.
    request_id = request_ids.of(request.scope)
    if request_id is not None:
        response.headers["X-Request-Id"] = request_id
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(TetherError, _tether_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
