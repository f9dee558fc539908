"""Loading a user's model: `package.module:factory` or `path/to/file.py:factory` (`profile --module`).

The current directory (and a .py file's own folder, for its sibling imports) is importable while the module is
imported and its factory runs, as with `python -m`; sys.path is restored afterwards."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

from lwbench.errors import InputError, suggest


@contextlib.contextmanager
def _importable(*folders: str):
    """`folders` at the front of sys.path for the duration, then sys.path as it was."""
    saved = list(sys.path)
    sys.path[:0] = [f for f in folders if f not in sys.path]
    try:
        yield
    finally:
        sys.path[:] = saved


def load_factory(spec: str):
    """`package.module:factory` or `path/to/file.py:factory` -> the module the factory returns (or the module
    object the name holds). Every failure is one InputError line."""
    modpath, sep, attr = str(spec).rpartition(":")
    if not sep or not modpath or not attr:
        raise InputError(f"--module: expected package.module:factory or file.py:factory (e.g. mynets:build), "
                         f"got {spec!r}")
    folders = [os.getcwd()] if "" not in sys.path else []
    if modpath.endswith(".py"):
        folders.insert(0, os.path.dirname(os.path.abspath(modpath)))
    with _importable(*folders):
        obj = _import(spec, modpath)
        obj = _attribute(spec, obj, modpath, attr)
        return _instance(spec, obj, attr)


def _import(spec: str, modpath: str):
    try:
        return _import_file(modpath) if modpath.endswith(".py") else importlib.import_module(modpath)
    except FileNotFoundError:
        raise InputError(f"--module {spec}: no such file '{modpath}'") from None
    except ImportError as e:
        raise InputError(f"--module {spec}: cannot import '{modpath}' ({e})") from e
    except Exception as e:  # noqa: BLE001 - a user's module can raise anything while importing
        raise InputError(f"--module {spec}: importing '{modpath}' raised {type(e).__name__}: {e}") from e


def _attribute(spec: str, obj, modpath: str, attr: str):
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise InputError(f"--module {spec}: '{getattr(obj, '__name__', modpath)}' has no attribute "
                             f"'{part}'{suggest(part, names)}")
        obj = getattr(obj, part)
    return obj


def _instance(spec: str, obj, attr: str):
    """The nn.Module itself, or what the factory returns (called with no arguments)."""
    from torch import nn

    if not isinstance(obj, nn.Module):
        if not callable(obj):
            raise InputError(f"--module {spec}: '{attr}' is a {type(obj).__name__}, not a factory or nn.Module")
        try:
            obj = obj()
        except Exception as e:  # noqa: BLE001
            msg = " ".join(str(e).split())[:300]
            raise InputError(f"--module {spec}: the factory raised {type(e).__name__}: {msg}") from e
    if not isinstance(obj, nn.Module):
        raise InputError(f"--module {spec}: the factory returned an object of type {type(obj).__name__}, "
                         "not a torch.nn.Module")
    return obj


def _import_file(path: str):
    """A Python file as a module (`lwbench_user_<stem>`), executed once per call."""
    import importlib.util

    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    name = "lwbench_user_" + "".join(c if c.isalnum() else "_" for c in os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name while it executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
