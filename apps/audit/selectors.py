from __future__ import annotations

from apps.audit.models import AuditEntry


def audit_page(
    *, project_id: str | None, action: str = "", before: int | None = None, limit: int
) -> tuple[list[AuditEntry], int | None]:
    """Up to `limit` entries newest first (of one project, or all with None), older than the
    cursor `before`; and the cursor of the next page, None on the last."""
    entries = AuditEntry.objects.select_related("actor").order_by("-id")
    if project_id is not None:
        entries = entries.filter(project_id=project_id)
    if action:
        entries = entries.filter(action=action)
    if before is not None:
        entries = entries.filter(id__lt=before)
    page = list(entries[: limit + 1])
    if len(page) > limit:
        return page[:limit], page[limit - 1].id
    return page, None
