"""Targets: where a worker runs a Job. `resolve(spec)` turns a --target value into a Target.

    class Target:                      # lwbench.targets.base
        name: str
        run(job: Job, timeout_s: float) -> Result   # never raises for a failing job (error_kind "transport"
                                                    # when the target itself failed, "timeout" past timeout_s)
        machine() -> dict                           # the machine block of where jobs run
        close() -> None

"local" is LocalTarget: a fresh `python -m lwbench.measure.worker JOB.json RESULT.json` per job, or
in-process. A new kind of target registers a factory under its scheme in TARGETS ("ssh" for `ssh://host` and,
as `SCHEMELESS`, for a bare host alias): `TARGETS["ssh"] = "lwbench.targets.ssh:SshTarget"`, a class (or
function) taking the spec string. Factories are imported only when a job names them.
"""

from __future__ import annotations

import importlib

from lwbench.errors import InputError
from lwbench.targets.base import Target
from lwbench.targets.local import LocalTarget

TARGETS: dict[str, str] = {
    "local": "lwbench.targets.local:LocalTarget",
    "ssh": "lwbench.targets.remote:SshTarget",      # ssh://[user@]host[:port][?python=PATH]
}
SCHEMELESS: str | None = "ssh"  # the scheme a spec without "://" (other than "local") goes to: an ssh alias


def scheme_of(spec: str) -> str | None:
    """The registered scheme `spec` belongs to, or None."""
    if spec in TARGETS:
        return spec
    if "://" in spec:
        scheme = spec.split("://", 1)[0]
        return scheme if scheme in TARGETS else None
    return SCHEMELESS


def check_target_spec(spec: str, option: str = "--target") -> str:
    """`spec` if some registered target takes it, else one line naming the kinds there are."""
    if not spec or scheme_of(spec) is None:
        kinds = ", ".join(k if k == "local" else f"{k}://..." for k in TARGETS)
        raise InputError(f"{option} {spec}: unknown target; expected one of {kinds}")
    return spec


def resolve(spec: str = "local") -> Target:
    """The Target for `spec` ("local", or a spec a registered scheme takes); unknown: InputError, one line."""
    scheme = scheme_of(check_target_spec(spec, "target"))
    mod, _, attr = TARGETS[scheme].partition(":")
    factory = getattr(importlib.import_module(mod), attr)
    return factory() if scheme == "local" and spec == "local" else factory(spec)


__all__ = ["TARGETS", "SCHEMELESS", "Target", "LocalTarget", "resolve", "check_target_spec", "scheme_of"]
