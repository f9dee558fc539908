"""A real OpenSSH server on loopback for the remote-target tests (no mock of the transport).

`sshd` fixture (session scope): /usr/sbin/sshd on a free 127.0.0.1 port with a generated ed25519 host key, a
generated client key in its authorized_keys, a known_hosts holding the host key, and an ssh config file
(IdentityFile, IdentitiesOnly, UserKnownHostsFile, StrictHostKeyChecking yes, alias `lwbench-test`) that the
tests hand to lwbench with LWBENCH_SSH_CONFIG, so the user's ~/.ssh is never read or written. Skipped, with the
reason, where sshd or ssh is missing (`.ci/run` installs openssh-server).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    dir: Path
    config: Path          # the client ssh config (LWBENCH_SSH_CONFIG)
    proc: subprocess.Popen
    user: str

    @property
    def url(self) -> str:
        return f"ssh://127.0.0.1:{self.port}?python={sys.executable}"

    def client_config(self, known_hosts: Path, name: str) -> Path:
        """Another client config, identical but for its known_hosts file."""
        p = self.dir / name
        p.write_text(self.config.read_text().replace(str(self.dir / "known_hosts"), str(known_hosts)))
        return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lwbench-test", "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()


def _wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}: {proc.stderr.read().decode()[-500:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("sshd did not listen within 10 s")


def _server_config(d: Path, port: int) -> Path:
    cfg = d / "sshd_config"
    cfg.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_key'}", f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}", "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
        "MaxSessions 64", "MaxStartups 64", "LogLevel ERROR", "PrintMotd no", "",
    ]))
    return cfg


def _client_config(d: Path, port: int, user: str) -> Path:
    cfg = d / "ssh_config"
    cfg.write_text("\n".join([
        "Host lwbench-test", "    HostName 127.0.0.1", f"    Port {port}", "",
        "Host *", f"    User {user}", f"    IdentityFile {d / 'client_key'}", "    IdentitiesOnly yes",
        "    IdentityAgent none", f"    UserKnownHostsFile {d / 'known_hosts'}", "    GlobalKnownHostsFile /dev/null",
        "    StrictHostKeyChecking yes", "    PasswordAuthentication no", "",
    ]))
    return cfg


def start(d: Path) -> Sshd:
    """Keys, configs and a running sshd under the directory `d` (also used by benchmarks/remote_vs_local.py)."""
    host_pub = _keygen(d / "host_key")
    (d / "authorized_keys").write_text(_keygen(d / "client_key") + "\n")
    port, user = _free_port(), getpass.getuser()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub}\n")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)   # sshd's privilege-separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(_server_config(d, port))], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_port(port, proc)
    except RuntimeError:
        stop(proc)
        raise
    return Sshd(port, d, _client_config(d, port, user), proc, user)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def missing() -> str | None:
    """Why sshd cannot be started here, or None."""
    if not os.path.exists(SSHD):
        return f"{SSHD} is not installed (apt-get install openssh-server; .ci/run does it)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "the OpenSSH client (ssh, ssh-keygen) is not installed"
    return None


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    why = missing()
    if why:
        pytest.skip(why)
    server = start(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        stop(server.proc)


@pytest.fixture
def ssh_env(sshd, monkeypatch):
    """The sshd, with LWBENCH_SSH_CONFIG naming its client config (host key pinned, the test's own key)."""
    monkeypatch.setenv("LWBENCH_SSH_CONFIG", str(sshd.config))
    return sshd


def cli(argv, capsys) -> tuple[int, str, str]:
    """lwbench's main in this process: (exit code, stdout, stderr)."""
    from lwbench.cli import main

    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc)."""
    out = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                out[int(p.name)] = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


def chain_to(pid: int, ancestor: int, parents: dict[int, int]) -> list[int] | None:
    """[pid, its parent, ...] up to the child of `ancestor`, or None when `ancestor` is not an ancestor."""
    chain = [pid]
    while parents.get(chain[-1], 0) > 1:
        if parents[chain[-1]] == ancestor:
            return chain
        chain.append(parents[chain[-1]])
    return None


def kill_serving(sshd_pid: int, words: tuple[str, ...], stop, killed: list, ready=lambda: True,
                 settle_s: float = 0.0) -> None:
    """Once `ready()` holds, wait for a runner process (a descendant of the test's sshd, never the local ssh
    client) whose command line has every one of `words`, then SIGKILL the sshd process serving its
    connection: the link dies mid-measurement, the runner must notice by itself. `killed` gets the runner's
    pid. `stop` (a threading.Event) ends the wait."""
    import signal

    while not stop.is_set():
        if ready():
            for pid_dir in Path("/proc").iterdir():
                try:
                    cmd = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                if not all(w in cmd for w in words):
                    continue
                chain = chain_to(int(pid_dir.name), sshd_pid, parents())
                if not chain:
                    continue
                try:
                    if not Path(f"/proc/{chain[-1]}/cmdline").read_bytes().startswith(b"sshd"):
                        continue
                except OSError:
                    continue
                time.sleep(settle_s)
                try:
                    os.kill(chain[-1], signal.SIGKILL)
                    killed.append(chain[0])
                except ProcessLookupError:
                    continue
                return
        time.sleep(0.03)
