"""The Target interface (see lwbench.targets)."""

from __future__ import annotations

from lwbench.measure.protocol import Job, Result


class Target:
    """Where jobs run. Subclasses set `name` and implement run; machine and close have local defaults."""

    name: str = "target"

    def run(self, job: Job, timeout_s: float) -> Result:
        raise NotImplementedError

    def machine(self) -> dict:
        from lwbench.measure.machine import machine_info

        return machine_info()

    def close(self) -> None:
        return None

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
