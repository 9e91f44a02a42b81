"""The tasks API: /api/v1/orgs/{slug}/tasks and /my-day, with the appointments, notifications
and calendar feed modules beside it."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from services.api.context import ApiController, OrgContext
from services.api.pagination import Cursor, Limit
from services.api.tasks import appointments as appointment_api
from services.api.tasks import calendar_feed as calendar_feed_api
from services.api.tasks import notifications as notification_api
from services.api.tasks.acting import acting_member, actor, now_utc
from shared.errors import NotFound
from shared.limits import Items, Text
from shared.pagination import check_limit
from shared.permissions import Permission
from shared.tasks import agenda, rules
from shared.tasks import tasks as service
from shared.tasks.schemas import (
    BulkResult,
    CommentOut,
    Completed,
    MyDay,
    RuleIn,
    RuleOut,
    TaskCreate,
    TaskOut,
    TaskPage,
    TaskPatch,
)
from shared.tasks.tasks import TaskDetail, TaskFilter


class BulkIds(msgspec.Struct, forbid_unknown_fields=True):
    ids: Items[uuid.UUID]


class BulkReassign(msgspec.Struct, forbid_unknown_fields=True):
    ids: Items[uuid.UUID]
    assignee_id: uuid.UUID | None


class CommentCreate(msgspec.Struct, forbid_unknown_fields=True):
    body: Text


class TaskController(ApiController):
    path = "/api/v1/orgs/{slug:str}"
    tags = ["tasks"]

    @get("/tasks", summary="Tasks by due time, with filters")
    async def list_tasks(
        self,
        ctx: NamedDependency[OrgContext],
        status: FromQuery[str | None] = None,
        assignee_id: FromQuery[uuid.UUID | None] = None,
        mine: Annotated[bool, QueryParameter(description="only the calling member's tasks")] = False,
        member_id: Annotated[
            uuid.UUID | None, QueryParameter(description="with mine, for API tokens")
        ] = None,
        due_before: FromQuery[date | None] = None,
        due_after: FromQuery[date | None] = None,
        view: Annotated[str | None, QueryParameter(description="today, overdue, week or upcoming")] = None,
        q: Annotated[str | None, QueryParameter(description="words in the title")] = None,
        contact_id: FromQuery[uuid.UUID | None] = None,
        match_id: FromQuery[uuid.UUID | None] = None,
        limit: int = Limit,
        cursor: str | None = Cursor,
    ) -> TaskPage:
        ctx.require(Permission.DATA_READ)
        if mine:
            assignee_id = await acting_member(ctx, member_id)
        return await service.list_tasks(
            ctx.session,
            TaskFilter(
                status=status,
                assignee_id=assignee_id,
                due_before=due_before,
                due_after=due_after,
                view=view,
                q=q,
                contact_id=contact_id,
                match_id=match_id,
            ),
            now=now_utc(),
            limit=check_limit(limit),
            cursor=cursor,
        )

    @post("/tasks", summary="Create a task (optionally recurring: an RRULE such as FREQ=WEEKLY;INTERVAL=2)")
    async def create_task(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[TaskCreate]
    ) -> TaskOut:
        ctx.require(Permission.DATA_WRITE)
        return await service.create_task(ctx.session, actor(request, ctx), data, now_utc())

    @post("/tasks/bulk-complete", summary="Complete several tasks at once", status_code=200)
    async def bulk_complete(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[BulkIds]
    ) -> BulkResult:
        ctx.require(Permission.DATA_WRITE)
        return await service.bulk_complete(ctx.session, actor(request, ctx), data.ids, now_utc())

    @post("/tasks/bulk-reassign", summary="Give several tasks to another member", status_code=200)
    async def bulk_reassign(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], data: JSONBody[BulkReassign]
    ) -> BulkResult:
        ctx.require(Permission.DATA_WRITE)
        return await service.bulk_reassign(
            ctx.session, actor(request, ctx), data.ids, data.assignee_id, now_utc()
        )

    @get("/tasks/{task_id:uuid}", summary="A task with its comments")
    async def get_task(self, ctx: NamedDependency[OrgContext], task_id: FromPath[uuid.UUID]) -> TaskDetail:
        ctx.require(Permission.DATA_READ)
        return await service.get_task(ctx.session, task_id, now_utc())

    @patch("/tasks/{task_id:uuid}", summary="Change a task (status: open or cancelled)")
    async def update_task(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        task_id: FromPath[uuid.UUID],
        data: JSONBody[TaskPatch],
    ) -> TaskOut:
        await service.get_task(ctx.session, task_id, now_utc())
        ctx.require(Permission.DATA_WRITE)
        return await service.update_task(ctx.session, actor(request, ctx), task_id, data, now_utc())

    @delete("/tasks/{task_id:uuid}", summary="Delete a task", status_code=204)
    async def delete_task(self, ctx: NamedDependency[OrgContext], task_id: FromPath[uuid.UUID]) -> None:
        await service.get_task(ctx.session, task_id, now_utc())
        ctx.require(Permission.DATA_WRITE)
        await service.delete_task(ctx.session, task_id)

    @post(
        "/tasks/{task_id:uuid}/complete",
        summary="Complete a task; a recurring one answers with its next occurrence",
        status_code=200,
    )
    async def complete_task(
        self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext], task_id: FromPath[uuid.UUID]
    ) -> Completed:
        await service.get_task(ctx.session, task_id, now_utc())
        ctx.require(Permission.DATA_WRITE)
        return await service.complete_task(ctx.session, actor(request, ctx), task_id, now_utc())

    @post("/tasks/{task_id:uuid}/comments", summary="Comment on a task")
    async def add_comment(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        task_id: FromPath[uuid.UUID],
        data: JSONBody[CommentCreate],
    ) -> CommentOut:
        await service.get_task(ctx.session, task_id, now_utc())
        ctx.require(Permission.DATA_WRITE)
        return await service.add_comment(ctx.session, actor(request, ctx), task_id, data.body)

    @get("/task-rules", summary="The automatic task rules, switched on or off, with their settings")
    async def list_rules(self, ctx: NamedDependency[OrgContext]) -> list[RuleOut]:
        ctx.require(Permission.DATA_READ)
        return await rules.list_rules(ctx.session)

    @put("/task-rules/{rule:str}", summary="Switch a rule on or off and tune it")
    async def set_rule(
        self, ctx: NamedDependency[OrgContext], rule: FromPath[str], data: JSONBody[RuleIn]
    ) -> RuleOut:
        if rule not in rules.RULES:
            raise NotFound("no rule %(rule)r", rule=rule)
        ctx.require(Permission.SETTINGS_MANAGE)
        return await rules.set_rule(ctx.session, ctx.org.id, rule, data, now_utc())

    @get("/my-day", summary="Today's open and overdue tasks and today's appointments of one member")
    async def my_day(
        self,
        ctx: NamedDependency[OrgContext],
        member_id: Annotated[uuid.UUID | None, QueryParameter(description="for API tokens")] = None,
        day: Annotated[date | None, QueryParameter(description="another day than today")] = None,
    ) -> MyDay:
        ctx.require(Permission.DATA_READ)
        member = await acting_member(ctx, member_id)
        return await agenda.my_day(ctx.session, member, now_utc(), day=day)


ROUTES = [
    TaskController,
    *appointment_api.ROUTES,
    *calendar_feed_api.ROUTES,
    *notification_api.ROUTES,
]
