"""Pages of tasks: my day, the task list, a task, the rules, the calendar and the notifications."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from services.api.tasks import appointment_pages
from services.api.tasks.acting import now_utc
from services.api.tasks.page_kit import (
    PRESET_RULES,
    Fmt,
    Refusal,
    day_of,
    local_redirect,
    member_choices,
    page_actor,
    render,
    tandem_choices,
    tandem_name,
    translator,
    uuid_or_none,
)
from services.api.web import i18n
from services.api.web.context import PageContext, PageController
from shared.errors import Conflict, DomainError, NotFound, ValidationFailed
from shared.permissions import Permission
from shared.tasks import agenda, calendar_feed, choices, notify, recurrence, rules
from shared.tasks import tasks as service
from shared.tasks.models import DEFAULT_TIMEZONE
from shared.tasks.schemas import Channels, RuleIn, TaskCreate, TaskPatch
from shared.tasks.tasks import TaskDetail, TaskFilter, week_bounds

PRIORITIES = ("low", "normal", "high")


async def _unread(page: PageContext) -> int:
    return await notify.unread_count(page.session, page.membership_id)


def _form_task(form: dict[str, str], page: PageContext) -> TaskCreate:
    try:
        due = date.fromisoformat(form.get("due_date", ""))
    except ValueError:
        raise ValidationFailed("choose a due date", field="due_date") from None
    assignee = form.get("assignee_id") or None
    try:
        assignee_id = uuid.UUID(assignee) if assignee else page.membership_id
    except ValueError:
        raise ValidationFailed("no such member", field="assignee_id") from None
    return TaskCreate(
        title=form.get("title", ""),
        due_date=due,
        due_time=form.get("due_time") or None,
        assignee_id=assignee_id,
        recurrence=form.get("recurrence") or None,
        contact_id=uuid_or_none(form.get("contact_id"), "contact_id", "no such contact in this organisation"),
        match_id=uuid_or_none(form.get("match_id"), "match_id", "no such match in this organisation"),
    )


def _priorities(page: PageContext) -> list[tuple[str, str]]:
    _ = translator(page.locale)
    return [("low", _("low")), ("normal", _("normal")), ("high", _("high"))]


def _task_form_values(task: TaskDetail) -> dict[str, str]:
    return {
        "title": task.title,
        "description": task.description,
        "due_date": task.due_date.isoformat(),
        "due_time": task.due_time or "",
        "assignee_id": str(task.assignee_id or ""),
        "priority": task.priority,
        "status": task.status,
        "recurrence": Fmt("de").repeat_choice(task.recurrence),
        "contact_id": str(task.contact_id or ""),
        "match_id": str(task.match_id or ""),
    }


def _task_patch(form: dict[str, str], task: TaskDetail) -> TaskPatch:
    """The edit form as the API's change: every field it shows, the repetition only when it changed."""
    priority = form.get("priority", task.priority)
    if priority not in PRIORITIES:
        raise ValidationFailed("choose a priority", field="priority")
    status = form.get("status", task.status)
    if status not in ("open", "cancelled") and status != task.status:
        raise ValidationFailed("choose a status", field="status")
    patch = TaskPatch(
        title=form.get("title", ""),
        description=form.get("description", ""),
        due_date=day_of(form.get("due_date"), "due_date"),
        due_time=form.get("due_time") or None,
        assignee_id=uuid_or_none(form.get("assignee_id"), "assignee_id", "no such member"),
        priority=priority,  # type: ignore[arg-type]
        contact_id=uuid_or_none(form.get("contact_id"), "contact_id", "no such contact in this organisation"),
        match_id=uuid_or_none(form.get("match_id"), "match_id", "no such match in this organisation"),
    )
    if status != task.status:
        patch.status = status  # type: ignore[assignment]
    chosen = form.get("recurrence", "")
    rule = PRESET_RULES.get(chosen, chosen) or None
    if rule != task.recurrence:
        patch.recurrence = rule
    return patch


class TaskPages(PageController):
    path = "/o/{slug:str}"

    async def _my_day(
        self,
        page: PageContext,
        *,
        status_code: int = 200,
        error: str | None = None,
        form: dict[str, str] | None = None,
        message: str | None = None,
    ) -> Template:
        plan = await agenda.my_day(page.session, page.membership_id, now_utc())
        return render(
            page,
            "tasks/my_day.html",
            sub="my-day",
            status_code=status_code,
            plan=plan,
            back=f"/o/{page.org.slug}/my-day",
            members=[],
            form=form or {},
            error=error,
            message=message,
            unread=await _unread(page),
        )

    @get("/my-day")
    async def my_day(
        self,
        page: NamedDependency[PageContext],
        done: FromQuery[str | None] = None,
        following: Annotated[date | None, QueryParameter(name="next")] = None,
    ) -> Template:
        page.require(Permission.DATA_READ)
        return await self._my_day(page, message=_done_message(page, done, following))

    @get("/tasks")
    async def task_list(
        self,
        page: NamedDependency[PageContext],
        view: FromQuery[str | None] = None,
        status: FromQuery[str | None] = "open",
        assignee_id: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        contact_id: FromQuery[uuid.UUID | None] = None,
        match_id: FromQuery[uuid.UUID | None] = None,
        cursor: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
        following: Annotated[date | None, QueryParameter(name="next")] = None,
        deleted: FromQuery[str | None] = None,
    ) -> Template:
        page.require(Permission.DATA_READ)
        _ = translator(page.locale)
        message = _done_message(page, done, following)
        if deleted:
            message = _("“%(title)s” was deleted.", title=deleted[:300])
        try:
            who = uuid.UUID(assignee_id) if assignee_id else None
        except ValueError:
            who = None
        filters = TaskFilter(
            status=status or None,
            assignee_id=who,
            view=view or None,
            q=q or None,
            contact_id=contact_id,
            match_id=match_id,
        )
        listed = await service.list_tasks(page.session, filters, now=now_utc(), limit=100, cursor=cursor)
        members = await member_choices(page)
        query = {
            k: str(v)
            for k, v in {
                "view": view,
                "status": status,
                "assignee_id": assignee_id,
                "q": q,
                "contact_id": contact_id,
                "match_id": match_id,
            }.items()
            if v
        }
        return render(
            page,
            "tasks/list.html",
            sub="tasks",
            page_items=listed.items,
            next_cursor=listed.next_cursor,
            more_query=urlencode({**query, "cursor": listed.next_cursor or ""}),
            filters=filters,
            members=members,
            names={m.id: m.display_name or m.email for m in members},
            back=f"/o/{page.org.slug}/tasks" + (f"?{urlencode(query)}" if query else ""),
            form={},
            views=[
                ("", _("all")),
                ("today", _("due today")),
                ("overdue", _("overdue")),
                ("week", _("due this week")),
            ],
            statuses=[
                ("open", _("open")),
                ("done", _("done")),
                ("cancelled", _("cancelled")),
                ("", _("any")),
            ],
            status_names={"open": _("open"), "done": _("done"), "cancelled": _("cancelled")},
            message=message,
            unread=await _unread(page),
        )

    @post("/tasks", status_code=303)
    async def create(self, page: NamedDependency[PageContext]) -> Redirect | Template:
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        back = local_redirect(form.get("next"), f"/o/{page.org.slug}/my-day")
        try:
            await service.create_task(page.session, page_actor(page), _form_task(form, page), now_utc())
        except DomainError as exc:
            # Validation happens before anything is written; the form comes back with what was typed.
            return await self._my_day(
                page, status_code=exc.status, error=i18n.message(page.locale, exc, domain="tasks"), form=form
            )
        return Redirect(back, status_code=303)

    @post("/tasks/{task_id:uuid}/complete", status_code=303)
    async def complete(self, page: NamedDependency[PageContext], task_id: FromPath[uuid.UUID]) -> Redirect:
        await service.get_task(page.session, task_id, now_utc())
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        back = local_redirect(form.get("next"), f"/o/{page.org.slug}/my-day")
        try:
            result = await service.complete_task(page.session, page_actor(page), task_id, now_utc())
        except Conflict:
            return Redirect(back, status_code=303)
        extra = {"done": result.task.title}
        if result.next is not None:
            extra["next"] = result.next.due_date.isoformat()
        return Redirect(back + ("&" if "?" in back else "?") + urlencode(extra), status_code=303)

    @post("/tasks/bulk", status_code=303)
    async def bulk(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_WRITE)
        raw = await page.request.form()
        back = local_redirect(str(raw.get("next") or ""), f"/o/{page.org.slug}/tasks")
        try:
            ids = [uuid.UUID(str(v)) for v in raw.getall("ids")] if "ids" in raw else []
        except ValueError:
            raise ValidationFailed("no such task", field="ids") from None
        if not ids:
            return Redirect(back, status_code=303)
        if raw.get("action") == "reassign":
            assignee = str(raw.get("assignee_id") or "")
            await service.bulk_reassign(
                page.session, page_actor(page), ids, uuid.UUID(assignee) if assignee else None, now_utc()
            )
        else:
            await service.bulk_complete(page.session, page_actor(page), ids, now_utc())
        return Redirect(back, status_code=303)

    async def _task_page(
        self,
        page: PageContext,
        task_id: uuid.UUID,
        *,
        form: dict[str, str] | None = None,
        refused: Refusal | None = None,
        message: str | None = None,
    ) -> Template:
        task = await service.get_task(page.session, task_id, now_utc())
        page.require(Permission.DATA_READ)
        members = await member_choices(page)
        names = {m.id: m.display_name or m.email for m in members}
        editing = page.can(Permission.DATA_WRITE) and task.status != "done"
        values = form or _task_form_values(task)
        linked = [c for c in [task.contact_id] if c]
        with contextlib.suppress(DomainError):
            # What the refused form had chosen stays chosen.
            linked = [c for c in [uuid_or_none(values.get("contact_id"), "contact_id", "")] if c]
        contact = await choices.contacts_by_id(page.session, [task.contact_id] if task.contact_id else [])
        picked, others, more = (
            await choices.contact_choices(page.session, None, linked) if editing else ([], [], False)
        )
        tandem = await tandem_name(page, task.match_id)
        return render(
            page,
            "tasks/task.html",
            sub="tasks",
            status_code=refused.status if refused else 200,
            t=task,
            names=names,
            members=members,
            editing=editing,
            form=values,
            refused=refused,
            message=message,
            contact_name=contact[0].name if contact else None,
            tandem_name=tandem,
            picker={
                "name": "contact_id",
                "multiple": False,
                "picked": picked,
                "others": others,
                "more": more,
            },
            tandems=await tandem_choices(page, task.match_id) if editing else [],
            priorities=_priorities(page),
            back=f"/o/{page.org.slug}/tasks/{task.id}",
            comment_count=len(task.comments),
            unread=await _unread(page),
        )

    @get("/tasks/{task_id:uuid}")
    async def task_page(
        self,
        page: NamedDependency[PageContext],
        task_id: FromPath[uuid.UUID],
        saved: FromQuery[str | None] = None,
    ) -> Template:
        _ = translator(page.locale)
        message = {
            "1": _("Saved."),
            "repeat-stopped": _("The task no longer repeats; this occurrence stays."),
        }.get(saved or "")
        return await self._task_page(page, task_id, message=message)

    @post("/tasks/{task_id:uuid}", status_code=303)
    async def edit_task(
        self, page: NamedDependency[PageContext], task_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        task = await service.get_task(page.session, task_id, now_utc())
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        try:
            patch = _task_patch(form, task)
            async with page.session.begin_nested():
                # A refused change writes nothing, not even the fields checked before the refusal.
                await service.update_task(page.session, page_actor(page), task_id, patch, now_utc())
        except DomainError as exc:
            return await self._task_page(page, task_id, form=form, refused=Refusal.of(page, exc))
        return Redirect(f"/o/{page.org.slug}/tasks/{task_id}?saved=1", status_code=303)

    @post("/tasks/{task_id:uuid}/stop-repeating", status_code=303)
    async def stop_repeating(
        self, page: NamedDependency[PageContext], task_id: FromPath[uuid.UUID]
    ) -> Redirect:
        await service.get_task(page.session, task_id, now_utc())
        page.require(Permission.DATA_WRITE)
        await service.update_task(
            page.session, page_actor(page), task_id, TaskPatch(recurrence=None), now_utc()
        )
        return Redirect(f"/o/{page.org.slug}/tasks/{task_id}?saved=repeat-stopped", status_code=303)

    @post("/tasks/{task_id:uuid}/delete", status_code=303)
    async def delete_task(self, page: NamedDependency[PageContext], task_id: FromPath[uuid.UUID]) -> Redirect:
        task = await service.get_task(page.session, task_id, now_utc())
        page.require(Permission.DATA_WRITE)
        await service.delete_task(page.session, task_id)
        return Redirect(
            f"/o/{page.org.slug}/tasks?" + urlencode({"deleted": task.title[:300]}), status_code=303
        )

    @post("/tasks/{task_id:uuid}/comments", status_code=303)
    async def comment(self, page: NamedDependency[PageContext], task_id: FromPath[uuid.UUID]) -> Redirect:
        await service.get_task(page.session, task_id, now_utc())
        page.require(Permission.DATA_WRITE)
        form = await page.form()
        await service.add_comment(page.session, page_actor(page), task_id, form.get("body", ""))
        return Redirect(f"/o/{page.org.slug}/tasks/{task_id}", status_code=303)

    @get("/contact-options")
    async def contact_options(
        self,
        page: NamedDependency[PageContext],
        name: FromQuery[str] = "contact_ids",
        q: FromQuery[str | None] = None,
    ) -> Template:
        """The contact picker's choices for a search (htmx swaps them into the form)."""
        page.require(Permission.DATA_READ)
        if name not in ("contact_ids", "contact_id"):
            raise ValidationFailed("no such field", field="name")
        raw = page.request.query_params.getall(name, [])
        selected = [uuid_or_none(v, name, "no such contact") for v in raw]
        picked, others, more = await choices.contact_choices(
            page.session, q, [c for c in selected if c is not None]
        )
        return render(
            page,
            "tasks/_contact_options.html",
            sub="",
            picker={
                "name": name,
                "multiple": name == "contact_ids",
                "picked": picked,
                "others": others,
                "more": more,
            },
        )

    @get("/task-rules")
    async def rules_page(
        self, page: NamedDependency[PageContext], saved: FromQuery[bool] = False
    ) -> Template:
        page.require(Permission.DATA_READ)
        labels, param_labels = _rule_labels(page)
        return render(
            page,
            "tasks/rules.html",
            sub="rules",
            rule_list=await rules.list_rules(page.session),
            labels=labels,
            param_labels=param_labels,
            members=await member_choices(page),
            editable=page.can(Permission.SETTINGS_MANAGE),
            message=translator(page.locale)("Saved.") if saved else None,
            unread=await _unread(page),
        )

    @post("/task-rules", status_code=303)
    async def save_rules(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.SETTINGS_MANAGE)
        form = await page.form()
        for name, defaults in rules.RULES.items():
            params: dict[str, int] = {}
            for key in defaults:
                raw = form.get(f"{name}:{key}", "").strip()
                if raw:
                    try:
                        params[key] = int(raw)
                    except ValueError:
                        raise ValidationFailed(
                            "%(key)s must be a whole number", field="params", key=key
                        ) from None
            assignee = form.get(f"{name}:assignee_id") or None
            try:
                assignee_id = uuid.UUID(assignee) if assignee else None
            except ValueError:
                raise ValidationFailed("no such member", field="assignee_id") from None
            await rules.set_rule(
                page.session,
                page.org.id,
                name,
                RuleIn(enabled=f"{name}:enabled" in form, params=params, assignee_id=assignee_id),
                now_utc(),
            )
        return Redirect(f"/o/{page.org.slug}/task-rules?saved=1", status_code=303)

    @get("/calendar")
    async def calendar_page(
        self,
        page: NamedDependency[PageContext],
        view: FromQuery[str] = "week",
        start: FromQuery[date | None] = None,
        everyone: FromQuery[bool] = False,
    ) -> Template:
        page.require(Permission.DATA_READ)
        view = "month" if view == "month" else "week"
        today = recurrence.local_now(now_utc(), DEFAULT_TIMEZONE).date()
        anchor = start or today
        if view == "week":
            first, end = week_bounds(anchor)
            prev_start, next_start = first - timedelta(days=7), end
            inside_from, inside_to = first, end
        else:
            month_first = anchor.replace(day=1)
            month_end = (month_first + timedelta(days=32)).replace(day=1)
            first = week_bounds(month_first)[0]
            end = week_bounds(month_end - timedelta(days=1))[1]
            prev_start = (month_first - timedelta(days=1)).replace(day=1)
            next_start = month_end
            inside_from, inside_to = month_first, month_end
        cal = await agenda.calendar(
            page.session, first, end, now_utc(), member_id=None if everyone else page.membership_id
        )
        days = []
        cursor_day = first
        while cursor_day < end:
            days.append(
                {
                    "date": cursor_day,
                    "inside": inside_from <= cursor_day < inside_to,
                    "tasks": [t for t in cal.tasks if t.due_date == cursor_day],
                    "appointments": [
                        a
                        for a in cal.appointments
                        if a.starts_at.astimezone(recurrence.zone(a.timezone)).date() == cursor_day
                    ],
                }
            )
            cursor_day += timedelta(days=1)
        return render(
            page,
            "tasks/calendar.html",
            sub="calendar",
            view=view,
            cal=cal,
            last_day=end - timedelta(days=1),
            weeks=[days[i : i + 7] for i in range(0, len(days), 7)],
            prev_start=prev_start.isoformat(),
            next_start=next_start.isoformat(),
            everyone=everyone,
            who_query="&everyone=1" if everyone else "",
            members=await member_choices(page),
            unread=await _unread(page),
        )


def _rule_labels(page: PageContext) -> tuple[dict[str, str], dict[str, str]]:
    _ = translator(page.locale)
    return (
        {
            "checkin_due": _(
                "Check-in due: the match's last check-in is older than its programme's interval"
            ),
            "waiting_followup": _("Follow-up: a mentee has been waiting for a match"),
            "consent_expiry": _("Consent: a given consent is about to expire"),
            "match_wrap_up": _("Wrap-up: a match's planned end is near"),
        },
        {
            "days": _("after how many days (and again every so many)"),
            "valid_months": _("a consent is valid for months"),
            "lead_days": _("days ahead"),
            "duration_months": _("planned length of a match in months"),
        },
    )


def _done_message(page: PageContext, done: str | None, following: date | None) -> str | None:
    if not done:
        return None
    _ = translator(page.locale)
    text = _("“%(title)s” is done.", title=done[:300])
    if following is not None:
        text += " " + _("Next time: %(day)s.", day=Fmt(page.locale).day(following))
    return text


class NotificationPages(PageController):
    path = "/o/{slug:str}"

    async def _page(
        self, page: PageContext, *, message: str | None = None, feed_url: str | None = None
    ) -> Template:
        _ = translator(page.locale)
        inbox = await notify.list_notifications(
            page.session, page.membership_id, unread_only=False, limit=50, cursor=None
        )
        return render(
            page,
            "tasks/notifications.html",
            sub="notifications",
            inbox=inbox,
            unread=inbox.unread_count,
            prefs=await notify.get_preferences(page.session, page.membership_id),
            kinds=[
                ("task_due", _("Tasks that fall due")),
                ("appointment", _("Upcoming appointments")),
                ("assignment", _("Tasks given to me")),
                ("digest", _("Daily overview at 7 o'clock")),
            ],
            message=message,
            feed_url=feed_url,
            has_feed=await calendar_feed.active(page.session, page.membership_id),
        )

    @get("/notifications")
    async def notifications_page(
        self, page: NamedDependency[PageContext], saved: FromQuery[bool] = False
    ) -> Template:
        page.require(Permission.DATA_READ)
        return await self._page(page, message=translator(page.locale)("Saved.") if saved else None)

    @post("/notifications/read-all", status_code=303)
    async def read_all(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_READ)
        await notify.mark_read(page.session, page.membership_id, None, datetime.now(UTC))
        return Redirect(f"/o/{page.org.slug}/notifications", status_code=303)

    @post("/notifications/{notification_id:uuid}/read", status_code=303)
    async def read_one(
        self, page: NamedDependency[PageContext], notification_id: FromPath[uuid.UUID]
    ) -> Redirect:
        page.require(Permission.DATA_READ)
        await notify.mark_read(page.session, page.membership_id, notification_id, datetime.now(UTC))
        return Redirect(f"/o/{page.org.slug}/notifications", status_code=303)

    @post("/notification-settings", status_code=303)
    async def save_settings(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_READ)
        form = await page.form()
        kinds = {
            kind: Channels(email=f"{kind}:email" in form, in_app=f"{kind}:in_app" in form)
            for kind in notify.KINDS
        }
        await notify.set_preferences(page.session, page.org.id, page.membership_id, kinds)
        return Redirect(f"/o/{page.org.slug}/notifications?saved=1", status_code=303)

    @post("/calendar-feed", status_code=200)
    async def new_feed(self, page: NamedDependency[PageContext]) -> Template:
        page.require(Permission.DATA_READ)
        feed = await calendar_feed.create_or_rotate(
            page.session, page.org.id, page.membership_id, page.settings.public_url
        )
        # The address exists only in this answer: its secret is stored hashed.
        return await self._page(page, feed_url=feed.url)

    @post("/calendar-feed/revoke", status_code=303)
    async def revoke_feed(self, page: NamedDependency[PageContext]) -> Redirect:
        page.require(Permission.DATA_READ)
        with contextlib.suppress(NotFound):  # already off
            await calendar_feed.revoke(page.session, page.membership_id)
        return Redirect(f"/o/{page.org.slug}/notifications?saved=1", status_code=303)


ROUTES = [TaskPages, NotificationPages, *appointment_pages.ROUTES]
