"""Query parameters the screens share."""

from typing import Annotated

from fastapi import Query

# Where a keyset-paged list goes on from: the `next_cursor` of the page before.
Cursor = Annotated[str | None, Query(max_length=1000)]
# A short text: a filter, a tab, a sort or a search.
Text = Annotated[str | None, Query(max_length=200)]
