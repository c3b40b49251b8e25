from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request

if TYPE_CHECKING:
    from apps.accounts.models import User

    class AuthenticatedRequest(Request):
        """A request that passed IsAuthenticated: `user` is a real User."""

        user: User

else:
    AuthenticatedRequest = Request
