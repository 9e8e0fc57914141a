"""Query parameters the screens share."""

from typing import Annotated

from fastapi import Query

from tether.kit.inputs import MAX_OFFSET, Cursor

__all__ = ["Cursor", "Position", "Text"]

# A short text: a filter, a tab, a sort or a search.
Text = Annotated[str | None, Query(max_length=200)]
# Where a shown list starts counting its rows (1 for its first page).
Position = Annotated[int, Query(ge=1, le=MAX_OFFSET)]
