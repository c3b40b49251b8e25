from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit.api.listing import audit_answer
from apps.audit.api.serializers import AuditPageSerializer, AuditQuerySerializer
from discobot.api.requests import AuthenticatedRequest
from discobot.api.schema import error_responses
from discobot.errors import PermissionDeniedError


class AuditListView(APIView):
    @extend_schema(
        summary="The audit log of every project, newest first (operators: staff users; "
        "anyone in anonymous mode, whose one user runs the server)",
        parameters=[AuditQuerySerializer],
        responses={200: AuditPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        if settings.AUTH_ENABLED and not request.user.is_staff:
            raise PermissionDeniedError("Operator access required")
        return audit_answer(request, project_id=None)
