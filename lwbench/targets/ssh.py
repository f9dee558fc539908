"""The SSH transport of remote targets: the system OpenSSH client, nothing reimplemented.

Why OpenSSH and not a Python SSH library: users' `~/.ssh/config` (aliases, User, Port, IdentityFile, ProxyJump,
their ControlMaster and agent settings) and `known_hosts` work exactly as they do for `ssh`, with no new
dependency and no second implementation of host-key checking.

- Target spec: `ssh://[user@]host[:port][?python=PATH]` or a bare host alias of the ssh config (`pi5`,
  `pi5?python=~/lwb/bin/python`). The target's interpreter is `python3` unless `python=` says otherwise.
- Every call: `ssh -o BatchMode=yes` (never a password prompt; keys and ssh-agent only), a ConnectTimeout,
  ServerAlive probes (a dead link is noticed within ~15 s), and one ControlMaster connection per target,
  reused by every step of a sweep (`ControlPath` in a private temporary directory, `ControlPersist`).
- Host keys: checked as OpenSSH checks them. lwbench never passes StrictHostKeyChecking or
  UserKnownHostsFile; a changed or unknown key is refused with one line saying what to do.
- `LWBENCH_SSH_CONFIG=FILE` (or `ssh_config=` here) runs ssh with `-F FILE` instead of ~/.ssh/config (tests use
  it so the user's ~/.ssh is never touched; also handy for a lab's shared config).
- Commands: argument lists. The remote side of ssh is always a shell command line, so each word is
  `shlex.quote`d: the interpreter path (validated: no spaces or shell characters), lwbench's fixed code, and
  the run directory the target itself created (validated). Nothing the user typed is ever unquoted.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from lwbench.errors import InputError, LwbenchError

_HOST = re.compile(r"^(?!-)[A-Za-z0-9._%-]{1,253}$")
_USER = re.compile(r"^(?!-)[A-Za-z0-9._-]{1,64}$")
_PYTHON = re.compile(r"^(?!-)(~/|/)?[A-Za-z0-9._/+-]{1,400}$")
QUERY_KEYS = ("python",)
CONNECT_TIMEOUT_S = 10


class TransportError(LwbenchError):
    """The target could not be reached or the link died: names the target and the step."""

    def __init__(self, target: str, step: str, why: str):
        self.target, self.step, self.why = target, step, why
        super().__init__(f"{target}: {step}: {why}")


@dataclass(frozen=True)
class SshSpec:
    """A parsed target: `text` is what the user wrote (the row's `target` column)."""

    text: str
    host: str
    user: str | None = None
    port: int | None = None
    python: str = "python3"

    @property
    def name(self) -> str:
        return self.text


def _bad(spec: str, why: str) -> InputError:
    return InputError(f"--target {spec}: {why}; expected local, ssh://[user@]host[:port][?python=PATH] or a host "
                      "alias of your ssh config")


def _python(spec: str, query: str) -> str:
    if not query:
        return "python3"
    try:
        q = parse_qs(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise _bad(spec, f"cannot read the query {query!r}") from None
    unknown = sorted(set(q) - set(QUERY_KEYS))
    if unknown:
        raise _bad(spec, f"unknown query key {unknown[0]} (known: {', '.join(QUERY_KEYS)})")
    vals = q.get("python", ["python3"])
    if len(vals) != 1 or not _PYTHON.match(vals[0]) or ".." in vals[0].split("/"):
        raise _bad(spec, f"python= must be an interpreter name or path without spaces or shell characters, "
                   f"got {vals!r}")
    return vals[0]


def parse_spec(spec: str) -> SshSpec:
    """`ssh://[user@]host[:port][?python=...]` or `alias[?python=...]` -> SshSpec; InputError when malformed."""
    text = str(spec).strip()
    if not text or len(text) > 600:
        raise _bad(text[:60], "empty or too long")
    if text.startswith("ssh://"):
        u = urlsplit(text)
        if u.path not in ("", "/") or u.fragment or u.password is not None:
            raise _bad(text, "only [user@]host[:port] and ?python= may follow ssh:// (no path, no password)")
        try:
            port = u.port
        except ValueError:
            raise _bad(text, "the port must be a number from 1 to 65535") from None
        host = u.hostname or ""
        if not (_HOST.match(host) or re.fullmatch(r"[0-9a-fA-F:.]+", host)):
            raise _bad(text, f"not a host name: {host!r}")
        if u.username is not None and not _USER.match(u.username):
            raise _bad(text, f"not a user name: {u.username!r}")
        return SshSpec(text, host, u.username, port, _python(text, u.query))
    alias, _, query = text.partition("?")
    if not _HOST.match(alias):
        raise _bad(text, f"not a host alias: {alias!r}")
    return SshSpec(text, alias, None, None, _python(text, query))


def python_word(python: str) -> str:
    """The interpreter as a word of the remote command line: quoted, with a leading ~/ kept as $HOME."""
    if python.startswith("~/"):
        return '"$HOME"/' + shlex.quote(python[2:])
    return shlex.quote(python)


def remote_command(python: str, args: list[str]) -> str:
    """`python arg...` for the remote shell, every word quoted."""
    return " ".join([python_word(python), *(shlex.quote(a) for a in args)])


_HINTS = (
    ("REMOTE HOST IDENTIFICATION HAS CHANGED", "the host key does not match your known_hosts (REMOTE HOST "
     "IDENTIFICATION HAS CHANGED); refused as ssh refuses it. If the target was reinstalled, check the new key's "
     "fingerprint and remove the old one with `ssh-keygen -R {host}`"),
    ("host key is known", "the host is not in your known_hosts; connect once with `ssh {host}`, check the "
     "fingerprint, then rerun (lwbench never accepts host keys by itself)"),
    ("Host key verification failed", "host key verification failed (unknown or changed host key); connect once "
     "with `ssh {host}` to see why"),
    ("Permission denied", "authentication refused: lwbench uses your keys and ssh-agent only (BatchMode, no "
     "password prompts); install a key with `ssh-copy-id {host}`"),
    ("Could not resolve hostname", "the host name does not resolve (typo, or an alias missing from the ssh "
     "config?)"),
    ("Connection refused", "connection refused (is sshd running on that port?)"),
    ("timed out", "the connection timed out"),
    ("Connection closed", "the connection was lost"),
    ("Connection reset", "the connection was lost (reset)"),
    ("Broken pipe", "the connection was lost (broken pipe)"),
    ("closed by remote host", "the connection was lost"),
    ("Timeout, server", "the connection was lost (no answer to keep-alive probes)"),
)


def explain(stderr: str, host: str) -> str:
    """One line for an ssh failure (exit 255) from its stderr."""
    for mark, hint in _HINTS:
        if mark in stderr:
            return hint.replace("{host}", host)
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip() and not ln.startswith("@")]
    return f"ssh failed: {lines[-1][:300]}" if lines else "the connection was lost (ssh exit 255, no message)"


class SshTransport:
    """`ssh` calls to one target over one ControlMaster connection. `close()` stops the master."""

    def __init__(self, spec: SshSpec, ssh_config: str | None = None, persist_s: int = 300):
        self.spec = spec
        self.ssh = shutil.which("ssh")
        if self.ssh is None:
            raise InputError(f"--target {spec.text}: the OpenSSH client `ssh` is not on PATH (apt-get install "
                             "openssh-client)")
        self.config = ssh_config if ssh_config is not None else os.environ.get("LWBENCH_SSH_CONFIG") or None
        if self.config and not os.path.isfile(self.config):
            raise InputError(f"LWBENCH_SSH_CONFIG: {self.config}: no such file")
        self.persist_s = persist_s
        self._control_dir: str | None = None

    def _base(self) -> list[str]:
        if self._control_dir is None:
            # short: a socket path has ~100 characters at most (macOS's $TMPDIR alone is ~50)
            self._control_dir = tempfile.mkdtemp(prefix="lwb-ssh-", dir="/tmp" if os.path.isdir("/tmp") else None)
        argv = [self.ssh]
        if self.config:
            argv += ["-F", self.config]
        argv += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}", "-o", "ServerAliveInterval=5",
                 "-o", "ServerAliveCountMax=3", "-o", "ControlMaster=auto",
                 "-o", f"ControlPath={self._control_dir}/%C", "-o", f"ControlPersist={self.persist_s}"]
        if self.spec.port:
            argv += ["-p", str(self.spec.port)]
        if self.spec.user:
            argv += ["-l", self.spec.user]
        return argv

    def argv(self, args: list[str]) -> list[str]:
        """The full ssh argv running `python args...` on the target."""
        return [*self._base(), "--", self.spec.host, remote_command(self.spec.python, args)]

    def run(self, args: list[str], step: str, timeout_s: float, stdin: bytes | None = None,
            hold_stdin: bool = False) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of `python args...` on the target; TransportError when ssh itself fails
        (exit 255: unreachable, refused, host key, lost link) or the step outlives `timeout_s`.

        `hold_stdin`: `stdin` is written but the pipe stays open until the remote command ends, so the target's
        runner sees end-of-file when this side or the link goes away, and stops (no orphan measurement left
        running on the board to disturb the next row)."""
        try:
            rc, out_b, err_b = _call(self.argv(args), stdin or b"", timeout_s, hold_stdin)
        except subprocess.TimeoutExpired:
            raise TransportError(self.spec.text, step, f"no answer within {timeout_s:.0f} s (the step was "
                                 "stopped)") from None
        out, err = out_b.decode(errors="replace"), err_b.decode(errors="replace")
        if rc == 255:
            raise TransportError(self.spec.text, step, explain(err, self.spec.host))
        return rc, out, err

    def stream(self, args: list[str], step: str, timeout_s: float, stdin: bytes, on_line, prefix: str) -> \
            tuple[int, str, str]:
        """As run(..., hold_stdin=True), and every stdout line starting with `prefix` is handed to `on_line(text
        after prefix)` as soon as it arrives (the lines handed over are kept by the caller even when the link
        dies or the step times out afterwards); returns (exit code, the other stdout lines, stderr)."""
        try:
            rc, out_b, err_b = _stream(self.argv(args), stdin, timeout_s, on_line, prefix.encode())
        except subprocess.TimeoutExpired:
            raise TransportError(self.spec.text, step, f"no answer within {timeout_s:.0f} s (the step was "
                                 "stopped)") from None
        out, err = out_b.decode(errors="replace"), err_b.decode(errors="replace")
        if rc == 255:
            raise TransportError(self.spec.text, step, explain(err, self.spec.host))
        return rc, out, err

    def close(self) -> None:
        """Stop the ControlMaster (if one runs) and remove its socket directory."""
        if self._control_dir is None:
            return
        try:
            subprocess.run([*self._base(), "-O", "exit", "--", self.spec.host], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass
        shutil.rmtree(self._control_dir, ignore_errors=True)
        self._control_dir = None


def _call(argv: list[str], data: bytes, timeout_s: float, hold_stdin: bool) -> tuple[int, bytes, bytes]:
    """Run `argv` with `data` on stdin (closed after it, or held open until the process exits); kill it past
    `timeout_s` (subprocess.TimeoutExpired)."""
    if not hold_stdin:
        p = subprocess.run(argv, input=data, capture_output=True, timeout=timeout_s)
        return p.returncode, p.stdout, p.stderr
    return _stream(argv, data, timeout_s, None, b"")


def _stream(argv: list[str], data: bytes, timeout_s: float, on_line, prefix: bytes) -> tuple[int, bytes, bytes]:
    """Run `argv` with `data` on stdin, held open until it exits; stdout lines starting with `prefix` go to
    `on_line` (decoded, without the prefix) as they come, in this thread (`on_line` None: every line is kept
    and returned); kill it past `timeout_s`."""
    import queue
    import threading
    import time

    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: queue.Queue = queue.Queue()
    err: dict[str, bytes] = {}

    def read_out() -> None:
        for ln in proc.stdout:
            lines.put(ln)
        lines.put(None)

    readers = [threading.Thread(target=read_out, daemon=True),
               threading.Thread(target=lambda: err.__setitem__("err", proc.stderr.read()), daemon=True)]
    for r in readers:
        r.start()
    rest: list[bytes] = []
    end = time.monotonic() + timeout_s
    try:
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(argv, timeout_s)
            try:
                ln = lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if ln is None:
                break
            if on_line is not None and ln.startswith(prefix):
                on_line(ln[len(prefix):].decode(errors="replace"))
            else:
                rest.append(ln)
        proc.wait(timeout=max(1.0, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        try:
            proc.stdin.close()
        except OSError:
            pass
        if proc.poll() is None:       # on_line raised (Ctrl-C, a full disk): the runner sees end-of-file, stops
            proc.kill()
            proc.wait()
    readers[1].join(timeout=10)
    return proc.returncode, b"".join(rest), err.get("err", b"")
