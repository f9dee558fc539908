"""What lwbench ships to a target runs there with nothing but the standard library (and the runtime), and
the target spec / ssh command line can never carry a shell word or an ssh option from the user."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tarfile
from io import BytesIO

import pytest

RUNTIMES = {"torch", "onnxruntime", "numpy"}


def _unpack(tmp_path):
    from lwbench.targets.bundle import bundle

    with tarfile.open(fileobj=BytesIO(bundle())) as t:
        t.extractall(tmp_path, filter="data")
    return tmp_path


def test_bundle_imports_only_the_standard_library_and_itself():
    """Every import in every shipped module is the standard library, a shipped module, or a runtime."""
    from lwbench.targets.bundle import files

    shipped = {p[:-3].replace("/", ".").removesuffix(".__init__") for p in files() if p.endswith(".py")}
    for path, data in files().items():
        for node in ast.walk(ast.parse(data)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                top = name.split(".")[0]
                assert (top in sys.stdlib_module_names or top == "__future__" or name in shipped
                        or top in RUNTIMES), f"{path} imports {name}, which the target does not have"


def test_runner_runs_without_site_packages(tmp_path):
    """`python -S` (no site-packages: no torch, no onnxruntime, no lwbench): info still gives the machine block
    and one install line per missing runtime."""
    d = _unpack(tmp_path)
    p = subprocess.run([sys.executable, "-S", str(d / "lwbench_run.py"), "info"], capture_output=True, text=True,
                       timeout=60, cwd="/")
    assert p.returncode == 0, p.stderr
    from lwbench.targets.runner import MARK

    doc = json.loads(p.stdout.strip().splitlines()[-1][len(MARK):])
    from lwbench.measure.machine import cpu_model

    assert doc["machine"]["cpu_model"] == cpu_model() and doc["machine"]["lwbench"]
    for name in ("torch", "onnxruntime", "numpy"):
        assert "missing" in doc["runtimes"][name] and "pip install" in doc["runtimes"][name]["how"]


def test_shipped_modules_are_the_local_ones():
    """Byte for byte: the timer, statistics and topology code on the target is this checkout's."""
    from lwbench.targets.bundle import PKG, files

    for rel in ("measure/timer.py", "measure/cpus.py", "measure/machine.py", "errors.py", "vocab.py"):
        assert files()[f"lwbench/{rel}"] == (PKG / rel).read_bytes()


@pytest.mark.parametrize("spec,why", [
    ("ssh://-oProxyCommand=touch%20x", "not a host name"),
    ("-oProxyCommand=x", "not a host alias"),
    ("ssh://host?python=python3;rm", "python= must be"),
    ("ssh://host?python=$(id)", "python= must be"),
    ("ssh://host?python=/a/../b", "python= must be"),
    ("ssh://host?shell=bash", "unknown query key shell"),
    ("ssh://host:99999", "port"),
    ("ssh://-l@host", "not a user name"),
    ("ssh://user:pw@host", "no password"),
    ("ssh://host/path", "no path"),
])
def test_bad_target_specs_are_one_line(spec, why):
    from lwbench.errors import InputError
    from lwbench.targets.ssh import parse_spec

    with pytest.raises(InputError) as e:
        parse_spec(spec)
    assert why in str(e.value) and "\n" not in str(e.value)


def test_ssh_argv_is_strict_and_quoted(monkeypatch):
    from lwbench.targets.ssh import SshTransport, parse_spec

    monkeypatch.delenv("LWBENCH_SSH_CONFIG", raising=False)
    s = parse_spec("ssh://pi@pi5:2222?python=~/lwb/bin/python")
    assert (s.host, s.user, s.port, s.python) == ("pi5", "pi", 2222, "~/lwb/bin/python")
    t = SshTransport(s)
    try:
        argv = t.argv(["/tmp/lwbench-x/lwbench_run.py", "measure"])
    finally:
        t.close()
    joined = " ".join(argv)
    assert "BatchMode=yes" in argv and "ControlMaster=auto" in argv and "StrictHostKeyChecking" not in joined
    assert "UserKnownHostsFile" not in joined and "-F" not in argv            # the user's own config and keys
    assert argv[argv.index("--") + 1] == "pi5"                                # nothing after -- is an option
    assert argv[-1] == "\"$HOME\"/lwb/bin/python /tmp/lwbench-x/lwbench_run.py measure"
    alias = parse_spec("pi5?python=/usr/bin/python3.11")
    assert (alias.host, alias.user, alias.port, alias.python) == ("pi5", None, None, "/usr/bin/python3.11")


def test_remote_rows_take_the_targets_own_cores_and_threads():
    """This machine's topology says nothing about a board: without --cores/--threads a remote job carries none
    (the target pins to its big cores and sizes threads itself); a core list passes through; little/all refused."""
    from lwbench.errors import InputError
    from lwbench.measure.bench import Sweep
    from lwbench.targets.remote import remote_placement

    assert remote_placement(None, None, ["pi5"]) == (None, [None])
    assert remote_placement("4-7", "1,2", ["pi5"]) == ([4, 5, 6, 7], None)
    assert remote_placement("big", None, []) == (None, None)
    with pytest.raises(InputError, match="give its core numbers"):
        remote_placement("little", None, ["pi5"])
    cores, threads = remote_placement(None, None, ["pi5"])
    sweep = Sweep(specs=["n"], devices=["cpu"], modes=["script"], layouts=["nchw"], dtypes=["float32"], threads=[2],
                  batches=[1], timer={}, cores=[0, 1], targets=["local", "pi5"], remote_cores=cores,
                  remote_threads=threads)
    got = {j.target: (j.cores, j.threads) for j in sweep.jobs()}
    assert got == {"local": ((0, 1), 2), "pi5": (None, None)}
