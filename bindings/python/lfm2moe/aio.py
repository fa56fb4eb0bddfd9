"""asyncio streaming: `async for piece in session.agenerate(...)`.

The generation itself runs on its own thread (as Session.generate does); each
piece is awaited through the event loop's default executor, so the loop is
never blocked by the model.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .generation import Generation, GenerationResult

_END = object()


def _next_piece(gen: "Generation"):
    # StopIteration cannot cross an asyncio Future: turn it into a marker.
    try:
        return next(gen)
    except StopIteration:
        return _END


class AsyncGeneration:
    """Asynchronous iterator of the text pieces of a Generation.

    `async for piece in agen` streams the pieces; afterwards `.result` holds
    the GenerationResult.  `await agen.aclose()` (or leaving an
    `async with` block) stops the generation early.
    """

    def __init__(self, generation: "Generation"):
        self._gen = generation

    @property
    def generation(self) -> "Generation":
        """The underlying (blocking) Generation."""
        return self._gen

    @property
    def result(self) -> Optional["GenerationResult"]:
        """The GenerationResult once the stream has ended, else None."""
        return self._gen.result

    def __aiter__(self) -> "AsyncGeneration":
        return self

    async def __anext__(self) -> str:
        loop = asyncio.get_running_loop()
        piece = await loop.run_in_executor(None, _next_piece, self._gen)
        if piece is _END:
            raise StopAsyncIteration
        return piece

    async def text(self) -> str:
        """Run to the end and return all the text (including pieces already
        taken by iteration)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._gen.text)

    async def aclose(self) -> None:
        """Stop the generation (if still running) and wait for its thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._gen.close)

    async def __aenter__(self) -> "AsyncGeneration":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
