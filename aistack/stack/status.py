"""What `aistack stack` reports: each service's health and URL, and the stack as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServiceStatus:
    """One service of the stack as last checked."""

    name: str
    url: str | None  # None: a compose service that publishes no port
    healthy: bool
    pid: int | None  # None in compose mode
    mode: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "url": self.url, "healthy": self.healthy,
            "pid": self.pid, "mode": self.mode,
        }  # fmt: skip


@dataclass(frozen=True)
class StackStatus:
    """The whole stack: which mode runs it (None when it is not up) and each service."""

    mode: str | None
    services: list[ServiceStatus]
    state_dir: Path
    notes: list[str] = field(default_factory=list)  # what `up` did: ports moved, already up

    @property
    def up(self) -> bool:
        return self.mode is not None

    @property
    def healthy(self) -> bool:
        return bool(self.services) and all(s.healthy for s in self.services)

    def url(self, name: str) -> str:
        """The URL of service `name`, e.g. `status.url("prometheus")`."""
        for service in self.services:
            if service.name == name and service.url is not None:
                return service.url
        known = ", ".join(s.name for s in self.services) or "none (the stack is not up)"
        raise KeyError(f"no URL for service {name!r}; services: {known}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "healthy": self.healthy, "state_dir": str(self.state_dir),
            "services": [s.to_dict() for s in self.services], "notes": list(self.notes),
        }  # fmt: skip
