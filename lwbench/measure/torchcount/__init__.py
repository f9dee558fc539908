"""A second, independent count: run any `nn.Module` once and cost the aten ops that actually execute.

How: the module runs under a `TorchDispatchMode` that sees every aten op (after autograd, so `F.linear`
appears as `t` + `addmm`, `nn.Flatten` as `view`). Forward pre/post hooks on every named module keep a
stack of the modules running, and each op is attributed to the innermost one:

- ops inside a leaf module (no children) make that module's row, named by its `named_modules()` name, so
  a module built by `lwbench.build` gives rows that join 1:1 with the analytic rows of `lwbench.count`;
- ops a container runs in its own `forward` (a residual `x + y`, `torch.cat`, a channel shuffle written as
  view/transpose/contiguous) make rows named `container:op` (`<root>:op` for the top module).

By default the module runs on the meta device (its parameters and buffers swapped for meta tensors with
`torch.func.functional_call`, so nothing is computed, nothing allocated and the module is left untouched);
a model that does not run on meta (data-dependent control flow, `.item()`) is run again for real, on zeros
on its own device.

Package: rules.py (the aten cost rules: add an op there), recorder.py (the dispatch mode and the hooked
run), counter.py (count_module -> Profile), userload.py (`--module` factories).

Cost rules are the analytic ones (lwbench/ops/defs.py):
- madds: multiply-adds of convolution and matrix products only (`convolution`: out·(Cin/g)·kh·kw;
  `mm`/`addmm`: n·k·m; `bmm`: b·n·k·m); bias adds, norms, activations and pooling are 0 madds.
- mac (ShuffleNet V2, Sec. 2): feature-map elements read + written by every op that is not a view, plus the
  parameters and buffers read (once per call of the layer). Views and no-ops (view, reshape, flatten,
  transpose, expand, slice, dropout at inference, identity) are free. Channel split (`split`, `chunk`,
  `unbind`) counts read + write as the analytic `split` rule does, although torch makes views.
- Ops with no rule are never counted as zero silently: they are listed by name in
  `profile.extra["unsupported"]` ({op: calls}) and in the row's note.
"""


from __future__ import annotations

from lwbench.count import Profile
from lwbench.errors import InputError
from lwbench.measure.torchcount.counter import _parse_shape, count_module
from lwbench.measure.torchcount.rules import KNOWN_MODULES, ROOT, known_modules
from lwbench.measure.torchcount.userload import load_factory

__all__ = ["count_module", "profile_factory", "load_factory", "warnings_of", "KNOWN_MODULES", "known_modules"]


def profile_factory(spec: str, input_shape: str | None, batch: int = 1, dtype: str = "float32") -> Profile:
    """`lwbench profile --module spec --input 3x224x224`: build with the factory, count with `count_module`.
    What the count could not cover is in the profile (`warnings_of`); the caller says it."""
    shapes = _parse_cli_shape(input_shape)  # a malformed --input fails before the import
    model = load_factory(spec)
    return count_module(model, shapes, batch=batch, dtype=dtype, name=spec)


def _parse_cli_shape(text: str | None) -> list[tuple[int, ...]]:
    """--input as typed: '' is refused (not the default in disguise); each input is CxHxW (an image) or one size
    (a vector): '3x224' is the typo of 3x224x224 that torch would read as one channel. (The Python API,
    count_module, takes any shape.)"""
    if text is None:
        return _parse_shape("3x224x224")
    if not text.strip():
        raise InputError("--input: an empty shape; give one like 3x224x224 (or leave --input out for that default)")
    shapes = _parse_shape(text)
    for s in shapes:
        if len(s) not in (1, 3):
            raise InputError(f"--input {text}: {'x'.join(map(str, s))} has {len(s)} sizes; each input is CxHxW "
                             "(3x224x224) or one size (a vector, 10); several inputs: 3x224x224,10")
    return shapes


def warnings_of(prof: Profile) -> list[str]:
    """Ops without a rule and parameters no op read, as lines to say out loud: never dropped silently."""
    out = []
    un = prof.extra.get("unsupported") or {}
    if un:
        ops = ", ".join(f"{k}×{v}" for k, v in un.items())
        out.append(f"{prof.model}: no cost rule for aten ops {ops}; not counted (rows say where)")
    idle = prof.extra.get("params_not_run") or {}
    if idle:
        out.append(f"{prof.model}: parameters of modules that never ran are not in the rows: "
                   + ", ".join(f"{k or ROOT} {v:,}" for k, v in idle.items()))
    return out
