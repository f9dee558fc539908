"""Which layer names a network may use. A layer's dotted name is the torch module's name (the builder registers
each layer at it and torch.fx writes the forward with it), so a name the loader accepts must also be a name
torch can hold and fx can write: not a Python keyword (`class`, `lambda`, `None`, `True`), not an attribute
every torch module already has (`forward`, `training`, `to`, ...) and not starting with `_` (torch's own).
tests/test_hardening_names.py checks this list against the installed torch, so it cannot fall behind it.
"""

from __future__ import annotations

import keyword
import re
from functools import lru_cache

NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")

# dir(torch.fx.GraphModule(...)) and dir(torch.nn.Module()) without the names starting with "_" (torch 2.x)
TORCH_ATTRS = frozenset("""
T_destination add_module add_submodule apply bfloat16 buffers call_super_init children code compile cpu cuda
delete_all_unused_submodules delete_submodule double dump_patches eval extra_repr float forward get_buffer
get_extra_state get_parameter get_submodule graph half ipu load_state_dict meta modules mtia named_buffers
named_children named_modules named_parameters parameters print_readable recompile register_backward_hook
register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook
register_module register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule shape_env share_memory state_dict to to_empty to_folder train training type xpu
zero_grad
""".split())


def name_problem(name: object) -> str | None:
    """Why `name` cannot be a layer name (one user-facing phrase), or None when it can."""
    if isinstance(name, bool) or name is None:
        return "expected a name (write it in quotes if it is yes/no/true/false/null)"
    if not isinstance(name, (str, int)):
        return "expected a name (letters, digits and _)"
    text = str(name)
    return _text_problem(text) if len(text) <= 128 else _problem(text)  # the memo holds short names only


def _problem(text: str) -> str | None:
    if not NAME_RE.match(text):
        return "expected letters, digits and _ only"
    if keyword.iskeyword(text) or text in ("None", "True", "False"):
        return "is a Python keyword (the name of a torch module must not be one)"
    if text.startswith("_"):
        return "must not start with _ (reserved for torch's own attributes)"
    if text in TORCH_ATTRS:
        return "is an attribute every torch module has; choose another name"
    return None


_text_problem = lru_cache(maxsize=8192)(_problem)
