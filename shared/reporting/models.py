"""Reporting's tables: exports of a report (XLSX, PDF, CSV) prepared by the worker, and the
monthly activity of each tandem that series and reports read instead of every check-in and
meeting."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import TenantBase
from shared.models import now_column as _now
from shared.models import tenant_fk as _fk

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


class ActivityMonth(TenantBase):
    """What one tandem did in one calendar month: its check-ins (by rating, flagged for follow-up)
    and meetings with their minutes. Kept by statement-level triggers on ``match_checkins`` and
    ``match_meetings`` in the writing transaction (migration 0025), adding each statement's
    difference, so concurrent writers never overwrite each other; a row that falls to zero goes.
    """

    __tablename__ = "report_activity_months"
    __table_args__ = (
        _fk(["match_id"], "matches", "fk_report_activity_months_match"),
        UniqueConstraint("organization_id", "match_id", "month"),
        CheckConstraint("extract(day from month) = 1", name="month"),
        Index("ix_report_activity_months_month", "organization_id", "month"),
    )

    match_id: Mapped[uuid.UUID] = mapped_column()
    # The month's first day.
    month: Mapped[date] = mapped_column(Date)
    checkins: Mapped[int] = mapped_column(Integer, server_default="0")
    rating_1: Mapped[int] = mapped_column(Integer, server_default="0")
    rating_2: Mapped[int] = mapped_column(Integer, server_default="0")
    rating_3: Mapped[int] = mapped_column(Integer, server_default="0")
    rating_4: Mapped[int] = mapped_column(Integer, server_default="0")
    rating_5: Mapped[int] = mapped_column(Integer, server_default="0")
    # Check-ins that asked for a follow-up.
    follow_ups: Mapped[int] = mapped_column(Integer, server_default="0")
    meetings: Mapped[int] = mapped_column(Integer, server_default="0")
    meeting_minutes: Mapped[int] = mapped_column(BigInteger, server_default="0")
    volunteer_minutes: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Change(TenantBase):
    """A transaction that wrote to a table the dashboard's charts are drawn from (tandems, their
    status log, check-ins, the check-in interval): one row per transaction and organisation,
    written by statement-level triggers (migration 0031), so writers never wait for each other.
    """

    __tablename__ = "report_changes"
    __table_args__ = (UniqueConstraint("organization_id", "xid"),)

    # The writing transaction's id (pg_current_xact_id()).
    xid: Mapped[int] = mapped_column(BigInteger)
    # The earliest day its writes can have changed in the dashboard's charts (migration 0039):
    # 'infinity' until the transaction's triggers lower it, '-infinity' for any day.
    since: Mapped[date] = mapped_column(Date, server_default=text("'infinity'"))


class DashboardCharts(TenantBase):
    """The dashboard's charts of one day, current while no change is visible that ``snapshot``
    could not see (shared.reporting.dashboard.charts)."""

    __tablename__ = "report_dashboard_charts"
    __table_args__ = (UniqueConstraint("organization_id"),)

    day: Mapped[date] = mapped_column(Date)
    # pg_current_snapshot(), taken before the charts were computed.
    snapshot: Mapped[str] = mapped_column(Text)
    # The active and overdue tandems and the charts as msgspec JSON, before any small-number
    # suppression (shared.reporting.dashboard._Kept).
    content: Mapped[bytes] = mapped_column(LargeBinary)
