"""Shapes every API answer shares."""

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ListOf(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


class Counted(BaseModel, Generic[T]):
    data: list[T]
    total: int
