"""Reporting's one table: exports of a report (XLSX, PDF, CSV) prepared by the worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import TenantBase
from shared.models import now_column as _now

TZ = DateTime(timezone=True)
EXPORT_STATUSES = ("pending", "running", "done", "failed")
EXPORT_FORMATS = ("xlsx", "pdf", "csv")


class ReportExport(TenantBase):
    __tablename__ = "report_exports"

    status: Mapped[str] = mapped_column(String(10), server_default="pending")
    format: Mapped[str] = mapped_column(String(4))
    # What to export: {"kind": "report"|"series"|"breakdown", "from", "to", "programme", ...}
    query: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    locale: Mapped[str] = mapped_column(String(2), server_default="de")
    # Made for a reports-only member: small numbers hidden.
    suppressed: Mapped[bool] = mapped_column(Boolean, server_default="false")
    progress: Mapped[float] = mapped_column(Float, server_default="0")
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    created_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(TZ)
