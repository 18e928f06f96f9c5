"""Log records redacted at birth: no handler, pytest's or the user's, can print a credential a library logged."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable


class RedactingRecords:
    """Wraps the logging record factory while installed: every record's message (formatted now) and traceback text
    pass through `redact`. Cheap when nothing logs: a record is only made for an enabled level."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self.redact = redact
        self._previous: Callable[..., logging.LogRecord] | None = None

    def install(self) -> None:
        if self._previous is not None:
            return
        self._previous = previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a record that cannot format itself: keep its bare message
                message = str(record.msg)
            record.msg, record.args = self.redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = self.redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
            return record

        logging.setLogRecordFactory(factory)

    def uninstall(self) -> None:
        if self._previous is not None:
            logging.setLogRecordFactory(self._previous)
            self._previous = None
