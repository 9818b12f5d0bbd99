"""An append-only file of JSON records, one per line, each made durable before the call returns: the storage of
the simulated outside services (registry, tax authority), which keep their state across restarts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tierflow.services.external import ExternalServiceError


class JsonLines:
    """An append-only file of JSON objects, one per line, each made durable before returning."""

    def __init__(self, path: Path, error_code: str) -> None:
        self.path = path
        self.error_code = error_code

    def load(self) -> list[dict[str, Any]]:
        """The stored records; a torn last line (no newline, not JSON) is cut off the file."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        records: list[dict[str, Any]] = []
        good = 0
        for line in data.splitlines(keepends=True):
            try:
                record = json.loads(line)
            except ValueError:
                if line.endswith(b"\n"):
                    raise ExternalServiceError(
                        self.error_code, f"{self.path.name}: unreadable record at byte {good}"
                    ) from None
                break  # torn write at the end
            if not isinstance(record, dict):
                raise ExternalServiceError(self.error_code, f"{self.path.name}: record at byte {good} is not an object")
            records.append(record)
            good += len(line)
        if good < len(data):
            with self.path.open("r+b") as f:
                f.truncate(good)
                f.flush()
                os.fsync(f.fileno())
        return records

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
