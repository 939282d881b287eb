"""Telling "not here yet" from "does not exist".

A service knows other services' aggregates only from their events, so an id registered in
registry a moment ago (or a whole bulk import) is unknown here until its events have been
applied. When a request names something this service has not seen, or the caller may not
see, ``References.unknown`` gives the answer:

- 409 ``not_yet_known`` with ``Retry-After`` while the service may still be catching up on
  a topic whose events would bring it (``EventConsumer.catching_up``, read from memory: a
  batch of it being applied, this replica's consumer short of the highwater mark of its
  last fetch, or another replica's partition behind at the last lag measurement);
- 422 ``unknown_reference`` once it has caught up: then the id does not exist (for this
  caller).

An id out of the caller's scope answers exactly as an absent one, in both cases, so
neither tells an officer anything about another ward's records.
"""

from collections.abc import Callable, Sequence
from functools import partial

from shared.bus import EventConsumer
from shared.errors import DomainError, NotYetKnownError, UnknownReferenceError

RETRY_AFTER_SECONDS = 2


class References:
    def __init__(self, consumer: EventConsumer, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.consumer = consumer
        self.retry_after = retry_after

    def unknown(
        self, what: str, ref: object, loc: Sequence[str | int], *topics: str
    ) -> DomainError:
        """The error for ``what`` ``ref`` that this service does not know (or the caller
        may not see), ``topics`` being those whose events would bring it here."""
        behind = [topic for topic in topics if self.consumer.catching_up(topic)]
        if not behind:
            return UnknownReferenceError(f"unknown {what} {ref}", loc)
        senders = " and ".join(sorted({topic.split(".")[0] for topic in behind}))
        return NotYetKnownError(
            f"{what} {ref} is not known here yet: {senders}'s events have not all reached "
            "this service yet (it is catching up); ask again shortly",
            loc,
            retry_after=self.retry_after,
        )

    def when_unknown(
        self, what: str, ref: object, loc: Sequence[str | int], *topics: str
    ) -> Callable[[], DomainError]:
        """``unknown``, built when it is raised (whether the service is catching up is read
        then): the ``error`` of a scoped lookup (``shared.scope``)."""
        return partial(self.unknown, what, ref, loc, *topics)
