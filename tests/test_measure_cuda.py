"""The CUDA path on a machine without a GPU: torch.cuda replaced by a fake that logs every call.

What is checked is the protocol, not a timing: cudnn.benchmark is on before the first call (so the warm-up
runs the autotuner), the device is synchronised before timing, every call is bracketed by
start.record(); fn(); end.record(); end.synchronize() and its sample is start.elapsed_time(end), the first
call and the warm-up calls stay out of the statistics; and the machine block's GPU entry is read from the
(fake) CUDA API.
"""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from lwbench.measure import timer  # noqa: E402
from lwbench.measure.timer import TimerConfig  # noqa: E402

SAMPLE = ["start.record", "fn", "end.record", "end.synchronize", "elapsed"]


class FakeCuda:
    """Stands in for torch.cuda: Event / synchronize / is_available, each call appended to `log`; the
    i-th elapsed_time() returns elapsed[i] (ms)."""

    def __init__(self, elapsed):
        self.log: list[str] = []
        self.elapsed = list(elapsed)
        self.events = 0

    def install(self, monkeypatch):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: self.log.append("sync"))
        monkeypatch.setattr(torch.cuda, "Event", self.event)
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)

    def event(self, enable_timing=False):
        assert enable_timing, "CUDA events must be created with enable_timing=True"
        name = ("start", "end")[self.events % 2]
        self.events += 1
        cuda = self

        class Event:
            def record(self, stream=None):
                cuda.log.append(f"{name}.record")

            def synchronize(self):
                cuda.log.append(f"{name}.synchronize")

            def elapsed_time(self, other):
                cuda.log.append("elapsed")
                return cuda.elapsed.pop(0)

        return Event()


class Recorder(torch.nn.Module):
    """Logs each forward into the fake CUDA log, with the state it ran in."""

    def __init__(self, log):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.log = log
        self.seen: list[tuple[bool, bool, bool]] = []

    def forward(self, x):
        self.log.append("fn")
        self.seen.append((torch.backends.cudnn.benchmark, self.training, torch.is_inference_mode_enabled()))
        return self.conv(x)


@pytest.fixture
def fake_cuda(monkeypatch):
    """A FakeCuda factory; prepare() is made to keep the model on the CPU (the fake has no memory)."""
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    real_prepare = timer.prepare
    devices = []

    def prepare_on_cpu(model, x, device="cpu", mode="eager", layout="nchw", dtype="float32"):
        devices.append((device, dtype))
        return real_prepare(model, x, "cpu", mode, layout, dtype)

    monkeypatch.setattr(timer, "prepare", prepare_on_cpu)

    def make(elapsed):
        cuda = FakeCuda(elapsed)
        cuda.install(monkeypatch)
        cuda.devices = devices
        return cuda

    return make


def test_cuda_samples_are_event_pairs_after_sync_and_warmup(fake_cuda):
    # first call 50 ms (autotuning), two warm-up calls 9 and 8 ms, then the 4 measured samples
    cuda = fake_cuda([50.0, 9.0, 8.0, 1.0, 2.0, 3.0, 4.0])
    model = Recorder(cuda.log).train()                 # left in training mode: the timer must switch it
    cfg = TimerConfig(warmup_runs=3, warmup_s=0.0, min_runs=4, min_time_s=0.0, max_time_s=60.0, max_runs=4)
    t = timer.time_module(model, torch.randn(1, 3, 8, 8), device="cuda", cfg=cfg)

    assert cuda.devices == [("cuda", "float32")]
    assert cuda.log == ["sync"] + SAMPLE * 7           # synchronised once before timing, then 7 bracketed calls
    assert t.first_run_ms == 50.0                      # the first call apart ...
    assert t.warmup_runs == 3                          # ... counted as one of the 3 warm-up calls
    assert t.samples_ms == [1.0, 2.0, 3.0, 4.0]        # samples are exactly the elapsed_time() values
    assert t.n == 4 and t.median_ms == 2.5 and t.max_ms == 4.0
    # cudnn autotuning on from the very first (untimed for the statistics) call; eval mode; inference mode
    assert model.seen == [(True, False, True)] * 7


def test_cuda_layer_hooks_synchronise_around_every_layer(fake_cuda):
    from lwbench.measure.layers import layer_samples

    cuda = fake_cuda([])
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).train()
    cfg = TimerConfig(warmup_runs=1, warmup_s=0.0, min_runs=3, min_time_s=0.0, max_time_s=60.0, max_runs=3)
    samples, t = layer_samples(model, torch.randn(1, 3, 8, 8), ["0", "1"], cfg, device="cuda")
    calls = 1 + 3                                       # the first call (also the warm-up) + 3 measured
    # per call: sync before and after the whole forward, and before and after each of the 2 hooked layers
    assert cuda.log == ["sync"] * (calls * (2 + 2 * 2))
    assert sorted(samples) == ["0", "1"] and all(len(v) == 3 for v in samples.values())
    assert not model.training


def test_gpu_info_reads_the_cuda_api(monkeypatch, tmp_path):
    from lwbench.measure.machine import gpu_info, machine_info

    props = SimpleNamespace(name="NVIDIA H200", major=9, minor=0, total_memory=150_000_000_000)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    monkeypatch.setattr(torch.version, "cuda", "12.6")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 90501)
    real_run = subprocess.run
    asked = []

    def fake_run(args, *a, **kw):
        if args and args[0] == "nvidia-smi":
            asked.append(args)
            return subprocess.CompletedProcess(args, 0, stdout="550.127.05\n550.127.05\n", stderr="")
        return real_run(args, *a, **kw)

    monkeypatch.setattr(subprocess, "run", fake_run)
    expect = {"name": "NVIDIA H200", "count": 2, "capability": "9.0",
              "memory_gib": round(150_000_000_000 / 2**30, 1), "cuda": "12.6", "cudnn": 90501,
              "driver": "550.127.05"}
    assert expect["memory_gib"] == 139.7
    assert gpu_info() == expect
    assert "--query-gpu=driver_version" in asked[0]
    m = machine_info(sysfs=str(tmp_path))               # an empty /sys: only the GPU entry matters here
    assert m["gpu"] == expect and m["torch"]["cuda"] == "12.6"


def test_gpu_info_is_none_without_cuda(monkeypatch):
    from lwbench.measure.machine import gpu_info

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_info() is None
