"""``/keys``: create, list and revoke API keys (``admin``)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, status

from omniclaude.api.deps import AdminKey, Pool, http_error
from omniclaude.api.errors import ERROR_RESPONSES
from omniclaude.api.schemas import ErrorResponse, KeyCreate, KeyCreated, KeyView
from omniclaude.storage.api_keys import ApiKeyStore

__all__ = ["router"]

router = APIRouter(tags=["keys"], responses=ERROR_RESPONSES)


@router.get("/keys", response_model=list[KeyView])
async def list_keys(pool: Pool, _: AdminKey) -> list[dict[str, Any]]:
    """Every key (never a secret), newest first. Needs ``admin``."""
    return [key.as_json() for key in await ApiKeyStore(pool).list()]


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=KeyCreated)
async def create_key(body: KeyCreate, pool: Pool, _: AdminKey) -> dict[str, Any]:
    """Create a key; the response holds the key itself, shown this once. Needs ``admin``."""
    try:
        record, key = await ApiKeyStore(pool).create(body.name, body.scopes)
    except ValueError as exc:  # the store's own checks; their message names the field
        field, _sep, message = str(exc).partition(": ")
        raise http_error(422, f"body.{field}", message or str(exc)) from exc
    return {**record.as_json(), "key": key}


@router.delete("/keys/{key_id}", response_model=KeyView, responses={404: {"model": ErrorResponse}})
async def revoke_key(key_id: uuid.UUID, pool: Pool, _: AdminKey) -> dict[str, Any]:
    """Revoke a key (it stops working at once). Needs ``admin``."""
    record = await ApiKeyStore(pool).revoke(str(key_id))
    if record is None:
        raise http_error(404, "key_id", f"no key {key_id}")
    return record.as_json()
