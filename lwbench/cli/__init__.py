"""The `lwbench` command. One module per command under lwbench/cli/, each with `register(app)`.

Start-up stays fast: no torch, pandas or fvcore import here or at the top of any command module.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

COMMANDS = ("list_cmd", "profile", "verify", "bench", "guidelines", "compare", "schema", "plot",
            "predict",  # calibrate + predict (issue 16)
            "target",   # target check (issue 14)
            "sweep",  # design-space grids (issue 15)
            )

app = typer.Typer(
    name="lwbench",
    help="Exact params, madds (multiply-adds) and mac (memory access cost) of lightweight CNNs, per layer, "
    "beside measured latency on CPU, GPU and ARM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"lwbench.cli.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"lwbench.cli.{name}":
                continue  # command not part of this build
            raise
        mod.register(app)


def _print_version(value: bool) -> None:
    """An eager option's callback runs while the options are parsed, before click asks for a command."""
    if value:
        from lwbench import __version__

        typer.echo(f"lwbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True,
                                 callback=_print_version),
) -> None:
    pass


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point: known errors become one line on stderr and exit code 2 (LWBENCH_DEBUG=1: traceback)."""
    from lwbench.errors import LwbenchError, Terminated, debug_enabled, one_line

    previous = _on_sigterm()
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="lwbench")
        if _SIGNALLED or rv == 130:  # typer turns Ctrl-C (so our SIGTERM too) into a return of 130: say which
            raise Terminated() if _SIGNALLED else KeyboardInterrupt()
        return rv if isinstance(rv, int) else 0
    except LwbenchError as e:
        if debug_enabled():
            raise
        print(f"lwbench: error: {one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _broken_pipe()
    except SystemExit as e:  # raised by user code (a --module factory): not lwbench's exit, say where it came from
        if isinstance(e.__context__, BrokenPipeError):      # rich's Console.on_broken_pipe: `lwbench … | head`
            return _broken_pipe()
        if debug_enabled():
            raise
        print(f"lwbench: error: {_system_exit(e)}", file=sys.stderr)
        return 2
    except Terminated:
        print("lwbench: terminated (rows already written are kept)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("lwbench: interrupted (rows already written are kept)", file=sys.stderr)
        return 130
    except Exception as e:  # typer's/click's own: usage errors, Exit, Abort (typer may vendor click)
        kind = type(e).__name__
        if kind == "Exit":
            return int(getattr(e, "exit_code", 0))
        if kind == "Abort":
            print("lwbench: aborted", file=sys.stderr)
            return 130
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # a usage error: one line, like ours
            if debug_enabled():
                raise
            ctx = getattr(e, "ctx", None)
            where = ctx.command_path if ctx is not None else "lwbench"
            msg = " ".join(e.format_message().split())
            print(f"{where}: error: {msg} (see '{where} -h')", file=sys.stderr)
            return int(e.exit_code)
        raise
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


_SIGNALLED: list[int] = []  # SIGTERM seen during this main() (typer hides the exception it raised)


def _on_sigterm():
    """SIGTERM becomes lwbench.errors.Terminated in the main thread (the default would end the process without
    any cleanup: a measuring worker child left running, a temp folder left behind). Returns the previous
    handler, or None when not in the main thread (handlers can only be set there)."""
    import signal
    import threading

    from lwbench.errors import Terminated

    if threading.current_thread() is not threading.main_thread():
        return None
    _SIGNALLED.clear()

    def handler(signum, frame):
        _SIGNALLED.append(signum)
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)


def _broken_pipe() -> int:
    """stdout's reader went away (`lwbench list | head`): no message, like any Unix filter, and the exit status of
    a process ended by SIGPIPE (128 + 13). Later writes (interpreter shutdown flushing stdout) go to devnull."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def _system_exit(e: SystemExit) -> str:
    """'code called sys.exit(3) at model.py:12': the last frame of the traceback outside lwbench itself."""
    import traceback

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frames = [f for f in traceback.extract_tb(e.__traceback__) if not os.path.abspath(f.filename).startswith(here)]
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"the code being run called sys.exit({e.code!r}){where}; lwbench stopped (exit 2)"


def run() -> None:
    sys.exit(main())
