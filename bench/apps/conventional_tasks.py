"""The Tasks API's list and create routes written the conventional way, for comparison.

As the FastAPI full-stack template writes them: an SQLAlchemy ``AsyncSession`` per request
(a dependency that opens and closes it), ORM objects, and pydantic response models that
FastAPI validates and serializes. The same table (the Tasks API's migrations create it), the
same authbridge guard, the same page size and order, so the difference is the data path.
Not shipped code: ``bench/http_bench.py`` measures it beside the Tasks API.

No ``from __future__ import annotations``: FastAPI must resolve the local dependencies.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from authbridge import Principal
from authbridge.fastapi import AuthBridge, get_principal
from tasks_api.migrate import upgrade_off_loop
from tasks_api.models import PRIORITIES, PRIORITY_RANK, tasks
from tasks_api.settings import load_service_settings

__all__ = ["create_conventional_app"]


class Base(DeclarativeBase):
    pass


class Task(Base):
    __table__ = tasks


class TaskCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    completed: bool = False
    due_at: datetime | None = None
    priority: str = "normal"


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    description: str | None
    completed: bool
    due_at: datetime | None
    priority: str
    created_at: datetime
    updated_at: datetime

    @field_validator("priority", mode="before")
    @classmethod
    def _priority_name(cls, value: Any) -> Any:
        return PRIORITIES[value] if isinstance(value, int) else value


class TaskPage(BaseModel):
    items: list[TaskOut]
    next_cursor: str | None = None


def _out(task: Task) -> TaskOut:
    return TaskOut.model_validate(task)


def create_conventional_app() -> FastAPI:
    settings = load_service_settings()
    kwargs = {}
    if settings.database_schema:
        kwargs["connect_args"] = {"server_settings": {"search_path": settings.database_schema}}
    engine = create_async_engine(settings.database_url, **kwargs)  # type: ignore[arg-type]
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await upgrade_off_loop(settings)
        yield
        await engine.dispose()

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    Session = Annotated[AsyncSession, Depends(get_session)]
    Caller = Annotated[Principal, Depends(get_principal)]
    app = FastAPI(lifespan=lifespan)
    AuthBridge.from_env().install(app)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/tasks", response_model=TaskPage)
    async def list_tasks(user: Caller, session: Session, limit: int = 20) -> TaskPage:
        query = (
            select(Task)
            .where(Task.owner_type == "user", Task.owner_id == user.sub)
            .order_by(Task.created_at.desc(), Task.id.desc())
            .limit(limit)
        )
        found = (await session.scalars(query)).all()
        return TaskPage(items=[_out(task) for task in found])

    @app.post("/api/tasks", response_model=TaskOut, status_code=201)
    async def create_task(body: TaskCreate, user: Caller, session: Session) -> TaskOut:
        now = datetime.now(UTC)
        fields = body.model_dump()
        fields["priority"] = PRIORITY_RANK.get(fields["priority"], 1)
        task = Task(
            id=uuid.uuid4(),
            owner_type="user",
            owner_id=user.sub,
            created_by=user.sub,
            version=1,
            created_at=now,
            updated_at=now,
            **fields,
        )
        session.add(task)
        await session.commit()
        return _out(task)

    return app
