"""The task routes: ``/api/tasks`` (the caller's own tasks) and ``/api/org/tasks`` (the tasks
of the caller's active organization), CRUD with cursor pagination and ETags.

Both collections are one implementation, ``build_collection_router``: they differ only in
whose tasks a request works on (``task_scopes.py``: the verified ``sub``, or the active
organization's id), in the guards that decide it, and in the team answer's ``created_by``.
Every query is scoped to that owner. A task of another owner answers exactly like one that
does not exist.

Each route also has a fast path (strict_json.py): a plainly valid request (the common case)
is answered by the same code without FastAPI's dependency solving and per-parameter
validation; anything else returns None and goes the FastAPI way. This module avoids
``from __future__ import annotations`` so FastAPI sees the guard aliases built at
router-construction time.
"""

import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, NamedTuple

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, StringConstraints, ValidationError

from ..cursor import CURSOR_PATTERN, MAX_CURSOR_CHARS, CursorCodec, InvalidCursor
from ..dependencies import codec_of, store_of
from ..errors import ApiError, not_found
from ..etag import IF_MATCH_PATTERN, IfMatch, InvalidIfMatch, etag_for, parse_if_match
from ..models import PRIORITIES
from ..patterns import SEARCH_PATTERN, compiled, documented
from ..repository import (
    Owner,
    Sort,
    TaskRow,
    delete_task,
    get_task,
    insert_task,
    list_tasks,
    update_task,
)
from ..schemas import (
    ErrorBody,
    TaskCreate,
    TaskOut,
    TaskPage,
    TaskUpdate,
    TeamTaskOut,
    TeamTaskPage,
)
from ..store import Connection, Store
from ..strict_json import StrictJSONRoute, fast_path, loads_strict
from ..task_json import encode_page, encode_task, encode_team_page, encode_team_task
from .task_scopes import (
    TEAM_DELETE_ROLES,
    ScopeDependency,
    TaskScope,
    personal_scope,
    team_scope,
)

__all__ = [
    "TaskCollection",
    "build_collection_router",
    "build_org_tasks_router",
    "build_tasks_router",
    "task_out",
    "team_task_out",
]

_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_SEARCH_MAX: Final = 200
_SEARCH: Final = compiled(SEARCH_PATTERN)

# Where the queries run (store.py): each request hands it one function, read or write.
Tasks = Annotated[Store, Depends(store_of)]
Codec = Annotated[CursorCodec, Depends(codec_of)]
# No length limit here: every malformed id is the same 404 as an unknown one.
TaskId = Annotated[str, Path(description="The task's UUID.")]
_IF_MATCH_PARAMETER: Final = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": (
        "Write only if the task's current ETag is one of these strong tags, or if it exists at"
        " all (`*`). A value that is not `*` or a list of entity-tags is 400."
    ),
    "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
}
Cursor = Annotated[
    str,
    StringConstraints(max_length=MAX_CURSOR_CHARS),
    documented(CURSOR_PATTERN, maxLength=MAX_CURSOR_CHARS),
]
# Title text to look for: checked by _check_search, so that the answer names `q`.
Search = Annotated[
    str,
    StringConstraints(max_length=_SEARCH_MAX),
    documented(SEARCH_PATTERN, maxLength=_SEARCH_MAX),
]
_ETAG_HEADER: Final = {"ETag": {"description": "The task's version.", "schema": {"type": "string"}}}
_LOCATION_HEADER: Final = {
    "Location": {"description": "Path of the new task.", "schema": {"type": "string"}}
}


def _errors(*statuses: int, **success: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses``: error bodies, plus headers of the success answer."""
    answers: dict[int | str, dict[str, Any]] = {status: {"model": ErrorBody} for status in statuses}
    for status, headers in success.items():
        answers[int(status.removeprefix("s"))] = {"headers": headers}
    return answers


def parse_task_id(raw: str) -> uuid.UUID:
    """A malformed id is answered like an unknown one: 404, the same body."""
    if not _UUID.fullmatch(raw):
        raise not_found()
    return uuid.UUID(raw)


def _task_fields(row: TaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "completed": row.completed,
        "due_at": row.due_at,
        "priority": PRIORITIES[row.priority],
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def task_out(row: TaskRow) -> TaskOut:
    return TaskOut(**_task_fields(row))


def team_task_out(row: TaskRow) -> TeamTaskOut:
    return TeamTaskOut(**_task_fields(row), created_by=row.created_by)


def _precondition_failed() -> ApiError:
    return ApiError(412, "precondition_failed", "The task has changed; fetch it again.")


async def if_match_of(request: Request) -> IfMatch | None:
    """The parsed ``If-Match`` (declared in the OpenAPI document as ``_IF_MATCH_PARAMETER``).

    Read by hand because every field line counts (RFC 9110 §5.3) and a malformed value is a
    400 naming the header, which FastAPI's ``Header()`` validation would make a 422."""
    values = request.headers.getlist("if-match")
    if not values:
        return None
    try:
        return parse_if_match(values)
    except InvalidIfMatch:
        raise ApiError(
            400,
            "invalid_if_match",
            'If-Match: must be * or a comma-separated list of entity-tags ("..." or W/"...")',
        ) from None


# After the guard in each signature: a request without a valid token is a 401 first.
Precondition = Annotated[IfMatch | None, Depends(if_match_of)]


def _check_search(q: str | None) -> str | None:
    if q is None:
        return None
    if _SEARCH.fullmatch(q) is None:
        raise ApiError(422, "validation_error", "q: must not contain control characters")
    return q.strip() or None


async def single_valued_query(request: Request) -> None:
    """A query parameter sent more than once is 422, naming it: the OpenAPI document declares
    one value, and FastAPI would silently keep the last of several."""
    declared = {field.alias for field in request.scope["route"].dependant.query_params}
    counts = Counter(name for name, _ in request.query_params.multi_items() if name in declared)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        detail = "; ".join(f"{name}: must be given at most once" for name in repeated)
        raise ApiError(422, "validation_error", detail)


# After the guard in the signature: a request without a valid token is a 401 first.
SingleValued = Annotated[None, Depends(single_valued_query)]


def _query_fingerprint(owner: Owner, sort: str, completed: bool | None, q: str | None) -> str:
    """What a cursor is signed for besides the owner id. A team cursor also names the owner
    type, so that it never verifies for a user whose ``sub`` equals the organization's id;
    a personal one keeps the form it had before team tasks existed."""
    query = f"{sort}\x1f{completed}\x1f{q or ''}"
    return query if owner.type == "user" else f"{owner.type}\x1f{query}"


def _invalid_cursor() -> ApiError:
    return ApiError(422, "invalid_cursor", "cursor: is invalid or does not match this query")


SortName = Literal["created", "due", "priority"]
_LIST_PARAMETERS: Final = frozenset({"limit", "cursor", "completed", "q", "sort"})
_LIMIT_MAX: Final = 100
_PLAIN_LIMIT: Final = re.compile(r"[1-9][0-9]{0,2}")
_PLAIN_BOOLEANS: Final = {"true": True, "false": False}
_SORTS: Final[frozenset[str]] = frozenset({"created", "due", "priority"})


class ListQuery(NamedTuple):
    limit: int = 20
    cursor: str | None = None
    completed: bool | None = None
    q: str | None = None
    sort: SortName = "created"


def plain_list_query(request: Request) -> ListQuery | None:
    """The list route's query when every parameter is sent at most once and in its plain
    form (``limit`` digits 1-100, ``completed`` true/false, a listed ``sort``, strings within
    their lengths); FastAPI would validate it to the same values. None for anything else:
    FastAPI then validates it, and refuses it naming the field, as it always did."""
    if not request.scope["query_string"]:
        return _DEFAULT_QUERY
    given: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name in _LIST_PARAMETERS:
            if name in given:
                return None  # single_valued_query answers it
            given[name] = value
    limit, cursor, q = given.get("limit"), given.get("cursor"), given.get("q")
    completed, sort = given.get("completed"), given.get("sort", "created")
    if limit is not None and (_PLAIN_LIMIT.fullmatch(limit) is None or int(limit) > _LIMIT_MAX):
        return None
    if completed is not None and completed not in _PLAIN_BOOLEANS:
        return None
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        return None
    if (q is not None and len(q) > _SEARCH_MAX) or sort not in _SORTS:
        return None
    return ListQuery(
        20 if limit is None else int(limit),
        cursor,
        None if completed is None else _PLAIN_BOOLEANS[completed],
        q,
        sort,  # type: ignore[arg-type]  # one of _SORTS
    )


_DEFAULT_QUERY: Final = ListQuery()


async def plain_json_body(request: Request, model: type[BaseModel]) -> Any:
    """The body as ``model`` when it is ``application/json`` that parses strictly and
    validates; None otherwise (FastAPI then reads it and answers as it always did)."""
    if request.headers.get("content-type") != "application/json":
        return None
    try:
        return model.model_validate(loads_strict(await request.body()))
    except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
        return None


@dataclass(frozen=True)
class TaskCollection:
    """What sets one collection of tasks apart from the other; the routes are the same."""

    prefix: str
    tag: str
    whose: str  # for the operation descriptions: "your" / "your active organization's"
    # Route names, and so operation ids: list, create, read, patch, delete -> name.
    names: Mapping[str, str]
    reader: ScopeDependency  # the TaskScope, for reads
    writer: ScopeDependency  # ... for creates and updates
    deleter: ScopeDependency  # ... for deletes
    out_model: type[TaskOut]
    page_model: type[BaseModel]
    to_out: Callable[[TaskRow], TaskOut]
    encode: Callable[[Sequence[TaskRow], str | None], bytes]  # a page (task_json.py)
    encode_one: Callable[[TaskRow], bytes]  # one task, as ``to_out`` would answer it
    # The OpenAPI description of the 403 answers (None: FastAPI's "Forbidden").
    forbidden: str | None = None
    forbidden_delete: str | None = None


def build_tasks_router(
    *, require_scopes: bool, dependency_overrides_provider: Any = None
) -> APIRouter:
    """``/api/tasks``: the caller's own tasks."""
    return build_collection_router(
        TaskCollection(
            prefix="/api/tasks",
            tag="tasks",
            whose="your",
            # The names (and operation ids) the personal routes had before team tasks.
            names={
                "list": "list_my_tasks",
                "create": "create_task",
                "read": "read_task",
                "patch": "patch_task",
                "delete": "remove_task",
            },
            reader=personal_scope("tasks:read", enforce=require_scopes),
            writer=personal_scope("tasks:write", enforce=require_scopes),
            deleter=personal_scope("tasks:write", enforce=require_scopes),
            out_model=TaskOut,
            page_model=TaskPage,
            to_out=task_out,
            encode=encode_page,
            encode_one=encode_task,
        ),
        dependency_overrides_provider=dependency_overrides_provider,
    )


_TEAM_FORBIDDEN: Final = (
    "No active organization (`organization_required`), or the caller lacks the scope"
    " (`insufficient_scope`: an API key without the permission, or any caller when scopes"
    " are enforced)."
)


def build_org_tasks_router(
    *, require_scopes: bool, dependency_overrides_provider: Any = None
) -> APIRouter:
    """``/api/org/tasks``: the active organization's tasks. Any member lists, reads, creates
    and updates; only an ``owner`` or ``admin`` deletes."""
    return build_collection_router(
        TaskCollection(
            prefix="/api/org/tasks",
            tag="team tasks",
            whose="your active organization's",
            names={
                "list": "list_team_tasks",
                "create": "create_team_task",
                "read": "read_team_task",
                "patch": "patch_team_task",
                "delete": "delete_team_task",
            },
            reader=team_scope("tasks:read", enforce=require_scopes),
            writer=team_scope("tasks:write", enforce=require_scopes),
            deleter=team_scope("tasks:write", enforce=require_scopes, roles=TEAM_DELETE_ROLES),
            out_model=TeamTaskOut,
            page_model=TeamTaskPage,
            to_out=team_task_out,
            encode=encode_team_page,
            encode_one=encode_team_task,
            forbidden=_TEAM_FORBIDDEN,
            forbidden_delete=(
                f"{_TEAM_FORBIDDEN} Deleting also needs the organization role `owner` or"
                " `admin` (`insufficient_scope` otherwise)."
            ),
        ),
        dependency_overrides_provider=dependency_overrides_provider,
    )


def build_collection_router(
    collection: TaskCollection, *, dependency_overrides_provider: Any = None
) -> APIRouter:
    router = APIRouter(
        prefix=collection.prefix,
        tags=[collection.tag],
        route_class=StrictJSONRoute,
        dependency_overrides_provider=dependency_overrides_provider,
    )
    Reader = Annotated[TaskScope, collection.reader.depends]
    Writer = Annotated[TaskScope, collection.writer.depends]
    Deleter = Annotated[TaskScope, collection.deleter.depends]
    reader, writer, deleter = (
        collection.reader.resolve,
        collection.writer.resolve,
        collection.deleter.resolve,
    )
    encode_one, whose, name = collection.encode_one, collection.whose, collection.names

    def one_task(row: TaskRow, status: int = 200, **headers: str) -> Response:
        # Declared as ``out_model`` for the OpenAPI document; encoded directly (task_json.py).
        headers["ETag"] = etag_for(row.id, row.version)
        return Response(encode_one(row), status, headers, media_type="application/json")

    def answers(
        *statuses: int, deleting: bool = False, **success: dict[str, Any]
    ) -> dict[int | str, dict[str, Any]]:
        documented = _errors(*statuses, **success)
        forbidden = collection.forbidden_delete if deleting else collection.forbidden
        if forbidden is not None:
            documented[403]["description"] = forbidden
        return documented

    async def list_answer(
        scope: TaskScope, store: Store, codec: CursorCodec, query: ListQuery
    ) -> Response:
        owner = scope.owner
        limit, cursor, completed, q, sort = query
        search = _check_search(q)
        fingerprint = _query_fingerprint(owner, sort, completed, search)
        after = None
        if cursor is not None:
            try:
                after = codec.decode(owner.id, fingerprint, cursor)
            except InvalidCursor:
                raise _invalid_cursor() from None
        sort_key: Sort = sort
        try:
            page = await store.read(
                list_tasks,
                owner,
                sort=sort_key,
                limit=limit,
                completed=completed,
                search=search,
                after=after,
            )
        except InvalidCursor:
            raise _invalid_cursor() from None
        next_cursor = (
            codec.encode(owner.id, fingerprint, page.last_position)
            if page.last_position is not None
            else None
        )
        # The rows are typed by our own table: encoded directly (task_json.py), unvalidated.
        return Response(collection.encode(page.rows, next_cursor), media_type="application/json")

    async def list_fast(request: Request) -> Response | None:
        query = plain_list_query(request)
        if query is None:
            return None
        scope = await reader(request)  # the guard first, as in the signature below
        return await list_answer(scope, await store_of(request), await codec_of(request), query)

    @router.get(
        "",
        name=name["list"],
        response_model=collection.page_model,
        responses=answers(400, 401, 403, 422),
        description=f"{whose.capitalize()} tasks, newest first (or by due date, or by priority).",
    )
    @fast_path(list_fast)
    async def list_tasks_route(
        scope: Reader,
        _once: SingleValued,
        store: Tasks,
        codec: Codec,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[Cursor | None, Query()] = None,
        completed: bool | None = None,
        q: Annotated[Search | None, Query()] = None,
        sort: SortName = "created",
    ) -> Response:
        query = ListQuery(limit, cursor, completed, q, sort)
        return await list_answer(scope, store, codec, query)

    async def create_answer(
        body: TaskCreate, scope: TaskScope, store: Store, request: Request
    ) -> Response:
        row = await store.write(insert_task, scope.owner, scope.actor, body.model_dump())
        root = request.scope.get("root_path", "")
        return one_task(row, 201, Location=f"{root}{collection.prefix}/{row.id}")

    async def create_fast(request: Request) -> Response | None:
        body = await plain_json_body(request, TaskCreate)
        if body is None:
            return None
        return await create_answer(body, await writer(request), await store_of(request), request)

    @router.post(
        "",
        name=name["create"],
        status_code=201,
        response_model=collection.out_model,
        responses=answers(400, 401, 403, 413, 422, s201={**_ETAG_HEADER, **_LOCATION_HEADER}),
        description=(f"Create one of {whose} tasks. Answers 201 with `Location` and `ETag`."),
    )
    @fast_path(create_fast)
    async def create_task_route(
        body: TaskCreate, scope: Writer, store: Tasks, request: Request
    ) -> Response:
        return await create_answer(body, scope, store, request)

    async def read_answer(task_id: str, scope: TaskScope, store: Store) -> Response:
        ident = parse_task_id(task_id)
        row = await store.read(get_task, scope.owner, ident)
        if row is None:
            raise not_found()
        return one_task(row)

    async def read_fast(request: Request) -> Response | None:
        scope = await reader(request)
        return await read_answer(request.path_params["task_id"], scope, await store_of(request))

    @router.get(
        "/{task_id}",
        name=name["read"],
        response_model=collection.out_model,
        responses=answers(400, 401, 403, 404, s200=_ETAG_HEADER),
        description=f"One of {whose} tasks, with its `ETag`.",
    )
    @fast_path(read_fast)
    async def read_task_route(task_id: TaskId, scope: Reader, store: Tasks) -> Response:
        return await read_answer(task_id, scope, store)

    async def patch_answer(
        task_id: str, body: TaskUpdate, scope: TaskScope, store: Store, condition: IfMatch | None
    ) -> Response:
        ident = parse_task_id(task_id)
        owner = scope.owner
        changes = body.changes()

        async def patch(conn: Connection) -> TaskRow | None:  # one transaction
            if condition is None and changes:
                return await update_task(conn, owner, ident, changes)
            current = await get_task(conn, owner, ident)
            if current is None:
                raise not_found()
            if condition is not None and not condition.allows(
                etag_for(current.id, current.version)
            ):
                raise _precondition_failed()
            if not changes:
                return current
            row = await update_task(conn, owner, ident, changes, expected_version=current.version)
            if row is None:  # changed (or deleted) since we read it
                raise _precondition_failed()
            return row

        row = await store.write(patch)
        if row is None:
            raise not_found()
        return one_task(row)

    async def patch_fast(request: Request) -> Response | None:
        body = await plain_json_body(request, TaskUpdate)
        if body is None:
            return None
        scope = await writer(request)  # then the store and If-Match, as in the signature
        store, condition = await store_of(request), await if_match_of(request)
        return await patch_answer(request.path_params["task_id"], body, scope, store, condition)

    @router.patch(
        "/{task_id}",
        name=name["patch"],
        response_model=collection.out_model,
        responses=answers(400, 401, 403, 404, 412, 413, 422, s200=_ETAG_HEADER),
        openapi_extra={"parameters": [_IF_MATCH_PARAMETER]},
        description=(
            f"Change some fields of one of {whose} tasks. With `If-Match`, only if the task"
            " is still at that ETag."
        ),
    )
    @fast_path(patch_fast)
    async def patch_task_route(
        task_id: TaskId,
        body: TaskUpdate,
        scope: Writer,
        store: Tasks,
        condition: Precondition,
    ) -> Response:
        return await patch_answer(task_id, body, scope, store, condition)

    async def delete_answer(
        task_id: str, scope: TaskScope, store: Store, condition: IfMatch | None
    ) -> Response:
        ident = parse_task_id(task_id)
        owner = scope.owner

        async def remove(conn: Connection) -> tuple[bool, int | None]:  # one transaction
            expected = None
            if condition is not None:
                current = await get_task(conn, owner, ident)
                if current is None:
                    raise not_found()
                if not condition.allows(etag_for(current.id, current.version)):
                    raise _precondition_failed()
                expected = current.version
            deleted = await delete_task(conn, owner, ident, expected_version=expected)
            return deleted, expected

        deleted, expected = await store.write(remove)
        if not deleted:
            raise _precondition_failed() if expected is not None else not_found()
        return Response(status_code=204)

    async def delete_fast(request: Request) -> Response | None:
        scope = await deleter(request)  # then the store and If-Match, as in the signature
        store, condition = await store_of(request), await if_match_of(request)
        return await delete_answer(request.path_params["task_id"], scope, store, condition)

    @router.delete(
        "/{task_id}",
        name=name["delete"],
        status_code=204,
        response_class=Response,
        responses=answers(400, 401, 403, 404, 412, deleting=True),
        openapi_extra={"parameters": [_IF_MATCH_PARAMETER]},
        description=(
            f"Delete one of {whose} tasks. With `If-Match`, only if the task is still at that ETag."
        ),
    )
    @fast_path(delete_fast)
    async def delete_task_route(
        task_id: TaskId, scope: Deleter, store: Tasks, condition: Precondition
    ) -> Response:
        return await delete_answer(task_id, scope, store, condition)

    return router
