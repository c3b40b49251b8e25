"""The one way a page of the audit log is read and answered, for the project's route (in
apps.projects, which checks the project's roles) and the operators' route alike."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from apps.audit.api.serializers import AuditPageSerializer, AuditQuerySerializer
from apps.audit.selectors import audit_page


def audit_answer(request: Request, *, project_id: str | None) -> Response:
    query = AuditQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    entries, next_cursor = audit_page(
        project_id=project_id,
        action=query.validated_data.get("action", ""),
        before=query.validated_data.get("before"),
        limit=query.validated_data["limit"],
    )
    return Response(AuditPageSerializer({"entries": entries, "next": next_cursor}).data)
