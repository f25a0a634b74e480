"""Dependencies of the routes, as ``Annotated`` aliases: the live state, the database,
and API-key authentication with scopes.

Keys come as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. No key, or a key that
is unknown, malformed or revoked: 401. A valid key without the scope the route needs: 403.
``admin`` implies every scope. Routes needing ``read`` also take the viewer's session cookie
(``omniclaude_viewer``, set by ``POST /viewer/login``): it grants ``read`` and nothing else,
so no route that changes anything can be reached with it (a cross-site request cannot make
the browser send it either: it is ``SameSite=Strict``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from omniclaude.api.state import ApiState
from omniclaude.storage.api_keys import ApiKey, Scope, scopes_allow

__all__ = [
    "SESSION_COOKIE",
    "AdminKey",
    "IngestKey",
    "Pool",
    "ReadKey",
    "State",
    "get_pool",
    "get_state",
    "http_error",
    "require_scope",
]

_bearer = HTTPBearer(auto_error=False, description="An OmniClaude API key: `Bearer oc_...`.")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An OmniClaude API key.")
SESSION_COOKIE = "omniclaude_viewer"
"""The viewer's session cookie (HttpOnly, SameSite=Strict; ``read`` scope only)."""
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The viewer's session, from POST /viewer/login (read scope only).",
)


def http_error(status_code: int, field: str, message: str, **headers: str) -> HTTPException:
    """An HTTP error whose message names the field at fault (``"<field>: <message>"``)."""
    return HTTPException(status_code, detail=f"{field}: {message}", headers=headers or None)


def get_state(request: Request) -> ApiState:
    """Return the live state (503 before startup finished)."""
    state = getattr(request.app.state, "omniclaude", None)
    if not isinstance(state, ApiState):
        raise http_error(503, "service", "starting up")
    return state


State = Annotated[ApiState, Depends(get_state)]


def get_pool(state: State) -> Any:
    """Return the database pool (503 when the API runs without a database)."""
    if state.pool is None:
        raise http_error(503, "database", "not configured (set OMNICLAUDE_DATABASE_URL)")
    return state.pool


Pool = Annotated[Any, Depends(get_pool)]


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def _check_key(state: ApiState, key: str) -> ApiKey:
    if state.keys is None:
        raise http_error(503, "authorization", "no key store (the API needs a database)")
    found = await state.keys.authenticate(key)
    if found is None:
        raise http_error(401, "authorization", "invalid or revoked API key", **_CHALLENGE)
    return found


def _missing() -> HTTPException:
    return http_error(
        401,
        "authorization",
        "missing API key (send Authorization: Bearer <key> or X-API-Key)",
        **_CHALLENGE,
    )


async def _authenticate(
    state: State,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiKey:
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise _missing()
    return await _check_key(state, key)


async def _authenticate_reader(
    state: State,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
    session: Annotated[str | None, Depends(_cookie)],
) -> ApiKey:
    key = bearer.credentials if bearer is not None else header
    if key:
        return await _check_key(state, key)
    if not session:
        raise _missing()
    if state.sessions is None:
        raise http_error(503, "authorization", "no session store (the API needs a database)")
    found = await state.sessions.authenticate(session)
    if found is None:
        raise http_error(401, "authorization", "the viewer session expired or was ended")
    return found


def require_scope(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """Return a dependency that authenticates and checks ``scope`` (``admin`` implies all);
    for ``read``, the viewer's session cookie is accepted too."""
    authenticate = _authenticate_reader if scope is Scope.READ else _authenticate

    # A default, not an annotation: annotations are strings here (postponed), and a string
    # naming the local ``authenticate`` would not resolve.
    async def dependency(key: ApiKey = Depends(authenticate)) -> ApiKey:  # noqa: B008
        if not scopes_allow(key.scopes, scope):
            have = ", ".join(key.scopes) or "none"
            raise http_error(
                403, "scope", f"this endpoint needs the {scope.value!r} scope (key has: {have})"
            )
        return key

    dependency.__name__ = f"require_{scope.value}"
    return dependency


ReadKey = Annotated[ApiKey, Depends(require_scope(Scope.READ))]
IngestKey = Annotated[ApiKey, Depends(require_scope(Scope.INGEST))]
AdminKey = Annotated[ApiKey, Depends(require_scope(Scope.ADMIN))]
