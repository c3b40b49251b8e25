"""Django's database session store, keyed by the SHA-256 of the cookie value.

A copy of the session table therefore holds no usable cookie: the token exists only in the
browser. SESSION_ENGINE points here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from apps.accounts.models import UserSession


def session_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls) -> type[UserSession]:
        return UserSession

    def _get_session_from_db(self) -> UserSession | None:
        session = UserSession.objects.filter(
            session_key=session_token_hash(self.session_key or ""),
            expire_date__gt=timezone.now(),
        ).first()
        if session is None:
            self._session_key = None
        return session

    async def _aget_session_from_db(self) -> UserSession | None:
        return await sync_to_async(self._get_session_from_db)()

    def exists(self, session_key: str) -> bool:
        return UserSession.objects.filter(session_key=session_token_hash(session_key)).exists()

    async def aexists(self, session_key: str) -> bool:
        return await sync_to_async(self.exists)(session_key)

    def create_model_instance(self, data: dict[str, Any]) -> UserSession:
        return UserSession(
            session_key=session_token_hash(self._get_or_create_session_key()),  # type: ignore[attr-defined]
            user_id=data.get("_auth_user_id"),
            session_data=self.encode(data),
            expire_date=self.get_expiry_date(),
        )

    async def acreate_model_instance(self, data: dict[str, Any]) -> UserSession:
        return await sync_to_async(self.create_model_instance)(data)

    def delete(self, session_key: str | None = None) -> None:
        session_key = session_key or self.session_key
        if session_key:
            UserSession.objects.filter(session_key=session_token_hash(session_key)).delete()

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)
