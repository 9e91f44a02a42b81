"""Importing contacts from Excel and CSV: /api/v1/orgs/{slug}/imports."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody

from services.api.context import ApiController, OrgContext
from services.api.limits import UPLOAD_MAX_BYTES, check_json, refuse_nul
from shared.actor import display_name
from shared.contacts import imports
from shared.contacts.imports import ImportOut, ImportSummary, MappingOut
from shared.errors import ValidationFailed
from shared.limits import Fields, Text
from shared.permissions import Permission
from shared.settings import Settings

# The multipart form of an upload:
#   file             the .xlsx or .csv
#   mapping          JSON object: column header -> field ("" ignores a column), over the suggestion
#   mapping_name     a saved mapping to use instead
#   save_mapping_as  save the mapping used under this name
#   kind             comma-separated kinds for rows without a Rolle, e.g. "mentee"
#   atomicity        "batch" (default: each batch all or nothing) or "all" (the whole sheet)
#   batch_size       rows per batch (default 2000)
#   overwrite        comma-separated fields whose existing values the import may replace, or "all";
#                    without it an import only fills empty fields (lists gain entries, notes are
#                    appended below what is there)
FORM_FIELDS = ("mapping", "mapping_name", "save_mapping_as", "kind", "atomicity", "batch_size", "overwrite")


class MappingIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    columns: Fields[Text, Text]


def _mapping(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        check_json(raw.encode())
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message_id, field="mapping", **exc.params) from None
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValidationFailed("mapping must be a JSON object of header -> field", field="mapping") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationFailed("mapping must be a JSON object of header -> field", field="mapping")
    return value


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed("a whole number", field=name) from None


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class ImportController(ApiController):
    path = "/api/v1/orgs/{slug:str}/imports"
    tags = ["imports"]

    @post(
        "",
        summary="Upload .xlsx or .csv (multipart field 'file'): answers with the dry run",
        status_code=201,
        request_max_body_size=UPLOAD_MAX_BYTES,
    )
    async def upload(self, request: Request[Any, Any, Any], ctx: NamedDependency[OrgContext]) -> ImportOut:
        # The form is read only after the organisation and the role were checked, so a foreign
        # organisation answers 404 whatever the body.
        ctx.require(Permission.DATA_WRITE)
        try:
            form = await request.form()
        except HTTPException:
            raise
        except Exception:
            raise ValidationFailed(
                "send a multipart/form-data body with the field 'file'", field="file"
            ) from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed("send the spreadsheet as the multipart field 'file'", field="file")
        values = {name: form.get(name) for name in FORM_FIELDS}
        refuse_nul(values.items())
        text = {k: v if isinstance(v, str) and v.strip() else None for k, v in values.items()}
        content = await upload.read()
        who = await display_name(ctx.session, ctx.actor)
        imp = await imports.dry_run(
            ctx.session,
            ctx.org.id,
            content=content,
            filename=upload.filename or "upload",
            mapping=_mapping(text["mapping"]),
            mapping_name=text["mapping_name"],
            save_mapping_as=text["save_mapping_as"],
            default_kinds=text["kind"],
            atomicity=text["atomicity"] or "batch",
            batch_size=_int(text["batch_size"] or str(imports.BATCH_SIZE), "batch_size"),
            overwrite=[f.strip() for f in (text["overwrite"] or "").split(",") if f.strip()],
            created_by=who,
        )
        return imports.import_out(imp)

    @get("", summary="Recent imports")
    async def list_imports(self, ctx: NamedDependency[OrgContext]) -> list[ImportSummary]:
        ctx.require(Permission.DATA_READ)
        return await imports.list_imports(ctx.session)

    @get("/mappings", summary="Saved column mappings")
    async def list_mappings(self, ctx: NamedDependency[OrgContext]) -> list[MappingOut]:
        ctx.require(Permission.DATA_READ)
        return await imports.list_mappings(ctx.session)

    @post("/mappings", summary="Save a column mapping for the next sheet of the same shape")
    async def save_mapping(self, ctx: NamedDependency[OrgContext], data: JSONBody[MappingIn]) -> MappingOut:
        ctx.require(Permission.DATA_WRITE)
        saved = await imports.save_mapping(ctx.session, ctx.org.id, data.name, data.columns)
        return MappingOut(saved.id, saved.name, dict(saved.columns))

    @get("/{import_id:uuid}", summary="Status, progress and outcome of an import")
    async def get_import(
        self,
        ctx: NamedDependency[OrgContext],
        import_id: FromPath[uuid.UUID],
        rows: FromQuery[str] = "all",
    ) -> ImportOut:
        ctx.require(Permission.DATA_READ)
        if rows not in ("all", "rejected", "none"):
            raise ValidationFailed("rows is all, rejected or none", field="rows")
        return imports.import_out(await imports.get_import(ctx.session, import_id), rows=rows)

    @post("/{import_id:uuid}/commit", summary="Run the import in the worker (or resume it)", status_code=202)
    async def commit(
        self,
        request: Request[Any, Any, Any],
        ctx: NamedDependency[OrgContext],
        import_id: FromPath[uuid.UUID],
    ) -> Response[ImportOut]:
        await imports.get_import(ctx.session, import_id)
        ctx.require(Permission.DATA_WRITE)
        imp = await imports.start(ctx.session, import_id)
        return Response(imports.import_out(imp, rows="none"), status_code=202)

    @post("/{import_id:uuid}/undo", summary="Undo the whole import", status_code=200)
    async def undo(self, ctx: NamedDependency[OrgContext], import_id: FromPath[uuid.UUID]) -> ImportOut:
        await imports.get_import(ctx.session, import_id)
        ctx.require(Permission.DATA_WRITE)
        return imports.import_out(await imports.undo(ctx.session, import_id), rows="none")

    @get("/{import_id:uuid}/errors.csv", summary="The rejected rows and why, as CSV")
    async def errors(
        self, ctx: NamedDependency[OrgContext], import_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        ctx.require(Permission.DATA_READ)
        imp = await imports.get_import(ctx.session, import_id)
        return Response(
            imports.error_report(imp, "en").encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="import-{imp.id}-errors.csv"'},
        )


ROUTES = [ImportController]
