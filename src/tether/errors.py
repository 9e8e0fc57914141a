"""One family of errors: each has a code, a message a person understands, and an HTTP status."""


class TetherError(Exception):
    """An expected failure, shown to the caller as `{"error": {"code", "message"}}`."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class BadRequest(TetherError):
    code = "bad_request"
    status = 400


class NotAuthenticated(TetherError):
    code = "not_authenticated"
    status = 401


class Forbidden(TetherError):
    code = "forbidden"
    status = 403


class NotFound(TetherError):
    code = "not_found"
    status = 404


class Conflict(TetherError):
    code = "conflict"
    status = 409


class Unprocessable(TetherError):
    code = "invalid"
    status = 422


class ProviderError(TetherError):
    """A provider answered with a failure; `reason` is Tether's classification of it."""

    code = "provider_error"
    status = 502

    def __init__(self, message: str, *, reason: str, status: int = 502) -> None:
        super().__init__(message, status=status)
        self.reason = reason
