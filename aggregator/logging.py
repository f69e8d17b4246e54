"""One JSON object per log line, for `LOG_FORMAT=json` (log shippers parse it without rules)."""

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    # Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
    # `log_context` is the text formats' copy of the request or cycle id (aggregator.log_context).
    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "log_context"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
