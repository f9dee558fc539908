"""Timer statistics and auto-ranging, on synthetic samples and a fake clock (no timing is asserted)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lwbench.errors import InputError
from lwbench.measure.timer import TimerConfig, percentile, stats_from_samples, time_callable


class FakeClock:
    """A clock that only moves when the timed function says so: each call of fn() takes durations[i] s."""

    def __init__(self, durations):
        self.now = 0.0
        self.durations = list(durations)
        self.calls = 0
        self.syncs = 0

    def __call__(self) -> float:
        return self.now

    def fn(self):
        d = self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        self.now += d

    def sync(self):
        self.syncs += 1


def run(durations, **cfg):
    c = FakeClock(durations)
    t = time_callable(c.fn, TimerConfig(**cfg), clock=c, sync=c.sync)
    return c, t


# --- statistics -------------------------------------------------------------------------------------------

def test_statistics_by_hand():
    t = stats_from_samples([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], first_run_ms=50.0)
    # sorted 1..10, linear interpolation between closest ranks: rank = (n-1)·q
    assert t.n == 10
    assert t.median_ms == 5.5
    assert t.iqr_ms == pytest.approx(7.75 - 3.25)          # p75 at rank 6.75, p25 at rank 2.25
    assert t.p90_ms == pytest.approx(9.1) and t.p99_ms == pytest.approx(9.91)
    assert t.mean_ms == 5.5 and t.min_ms == 1 and t.max_ms == 10
    assert t.std_ms == pytest.approx(math.sqrt(sum((x - 5.5) ** 2 for x in range(1, 11)) / 9))
    assert t.first_run_ms == 50.0 and 50.0 not in t.samples_ms     # first run kept apart
    assert t.noisy                                               # IQR/median = 0.82
    assert t.images_per_s(8) == pytest.approx(8 / 5.5e-3) and t.batches_per_s() == pytest.approx(1 / 5.5e-3)


def test_statistics_match_numpy_on_skewed_samples():
    rng = np.random.default_rng(0)
    xs = list(10 + rng.lognormal(0, 0.5, size=257))
    t = stats_from_samples(xs)
    a = np.asarray(xs)
    assert t.median_ms == pytest.approx(np.median(a))
    assert t.iqr_ms == pytest.approx(np.percentile(a, 75) - np.percentile(a, 25))
    assert t.p90_ms == pytest.approx(np.percentile(a, 90)) and t.p99_ms == pytest.approx(np.percentile(a, 99))
    assert t.std_ms == pytest.approx(np.std(a, ddof=1)) and t.mean_ms == pytest.approx(a.mean())
    assert t.samples_ms == xs                                    # raw samples kept, in run order


def test_noise_flag_threshold():
    quiet = stats_from_samples([10.0, 10.1, 9.9, 10.2, 9.8, 10.05, 9.95])
    assert not quiet.noisy
    loud = stats_from_samples([10.0, 12.0, 8.0, 13.0, 7.0, 10.0])
    assert loud.iqr_ms / loud.median_ms > 0.10 and loud.noisy


def test_stats_row_columns_and_edge_cases():
    t = stats_from_samples([3.0])
    assert t.std_ms == 0.0 and t.iqr_ms == 0.0 and t.median_ms == 3.0 and t.p99_ms == 3.0
    assert list(t.stats()) == ["n", "median_ms", "mean_ms", "std_ms", "iqr_ms", "min_ms", "p90_ms", "p99_ms",
                               "max_ms", "noisy", "first_run_ms", "compile_s"]
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        stats_from_samples([])


# --- auto-ranging with a fake clock ---------------------------------------------------------------------

def test_min_time_governs_when_runs_are_fast():
    c, t = run([1 / 16], warmup_runs=2, warmup_s=0.5, min_runs=10, min_time_s=1.0, max_time_s=10.0)
    assert t.n == 16                       # 16 × 1/16 s reaches min_time; min_runs (10) alone would stop early
    assert t.warmup_runs == 8              # 8 × 1/16 s = warmup_s, more than the 2 runs asked for
    assert c.calls == t.warmup_runs + t.n and c.syncs == c.calls
    assert t.samples_ms == [62.5] * 16


def test_min_runs_governs_when_runs_are_slow():
    _, t = run([0.25], warmup_runs=2, warmup_s=0.0, min_runs=10, min_time_s=1.0, max_time_s=10.0)
    assert t.n == 10 and t.warmup_runs == 2   # 10 runs = 2.5 s > min_time; warm-up by count


def test_max_time_caps_the_measured_phase():
    _, t = run([0.5], warmup_runs=1, warmup_s=0.0, min_runs=100, min_time_s=1.0, max_time_s=2.0)
    assert t.n == 4                         # stops at max_time whatever min_runs says


def test_max_runs_caps_and_one_sample_minimum():
    _, t = run([1 / 64], warmup_runs=0, warmup_s=0.0, min_runs=10, min_time_s=5.0, max_time_s=10.0, max_runs=7)
    assert t.n == 7
    _, t = run([4.0], warmup_runs=0, warmup_s=0.0, min_runs=10, min_time_s=1.0, max_time_s=1.0)
    assert t.n == 1 and t.warmup_runs == 1   # one sample even past max_time; the first run is one warm-up run


def test_first_run_reported_apart():
    c, t = run([2.0, 0.125], warmup_runs=3, warmup_s=0.0, min_runs=5, min_time_s=0.0, max_time_s=10.0)
    assert t.first_run_ms == 2000.0
    assert t.samples_ms == [125.0] * 5 and t.max_ms == 125.0
    assert t.warmup_runs == 3 and c.calls == 8


def test_config_validation():
    with pytest.raises(InputError):
        TimerConfig(min_time_s=5.0, max_time_s=1.0)
    with pytest.raises(InputError):
        TimerConfig(warmup_s=-1)
    with pytest.raises(InputError):
        TimerConfig(max_runs=0)


# --- torch ------------------------------------------------------------------------------------------------

def test_time_module_eager_and_script():
    import torch

    from lwbench.measure.timer import time_module

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
    x = torch.randn(2, 3, 8, 8)
    cfg = TimerConfig(warmup_runs=2, warmup_s=0.0, min_runs=5, min_time_s=0.0, max_time_s=1.0)
    threads_before = torch.get_num_threads()
    try:
        t = time_module(model, x, threads=1, cfg=cfg)
        assert t.n >= 5 and t.compile_s is None and t.extra["threads"] == 1
        assert len(t.samples_ms) == t.n and t.warmup_runs >= 2
        s = time_module(model, x, threads=1, cfg=cfg, mode="script", layout="nhwc")
        assert s.compile_s is not None and s.compile_s > 0 and s.warmup_runs >= 5   # compiled: 5 warm-up runs
        with pytest.raises(InputError, match="--mode"):
            time_module(model, x, cfg=cfg, mode="jit")
        if not torch.cuda.is_available():
            with pytest.raises(InputError, match="CUDA is not available"):
                time_module(model, x, device="cuda", cfg=cfg)
    finally:
        torch.set_num_threads(threads_before)


def test_noise_flag_at_the_10_percent_boundary():
    """n = 5: p25, median, p75 are the 2nd, 3rd, 4th sorted samples (ranks 1, 2, 3: no interpolation)."""
    at = stats_from_samples([0.0, 95.0, 100.0, 105.0, 200.0])           # IQR 10 / median 100 = 0.10 exactly
    assert at.iqr_ms == 10.0 and at.median_ms == 100.0 and not at.noisy  # noisy means strictly above 10%
    above = stats_from_samples([0.0, 94.995, 100.0, 105.005, 200.0])     # IQR 10.01 / 100 = 0.1001
    assert above.iqr_ms == pytest.approx(10.01) and above.noisy


class ModeRecorder:
    """A torch module (built lazily: torch is imported inside tests) that records, at every forward, whether
    it was in training mode and whether inference mode was on."""

    @staticmethod
    def make():
        import torch

        class Rec(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 2)
                self.seen = []

            def forward(self, x):
                self.seen.append((self.training, torch.is_inference_mode_enabled(), torch.is_grad_enabled()))
                return self.fc(x)

        return Rec()


def test_timing_runs_in_eval_and_inference_mode():
    import torch

    from lwbench.measure.layers import layer_samples
    from lwbench.measure.timer import time_module

    cfg = TimerConfig(warmup_runs=2, warmup_s=0.0, min_runs=3, min_time_s=0.0, max_time_s=5.0, max_runs=3)
    threads_before = torch.get_num_threads()
    try:
        m = ModeRecorder.make().train()
        assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
        t = time_module(m, torch.randn(2, 4), threads=1, cfg=cfg)
        assert len(m.seen) == 1 + 1 + 3 == t.warmup_runs + t.n      # every call, warm-up included, was seen
        assert set(m.seen) == {(False, True, False)}                # eval, inference mode, no autograd
        m2 = ModeRecorder.make().train()
        layer_samples(m2, torch.randn(2, 4), ["fc"], cfg)            # the `profile --time` hooked runs
        assert m2.seen and set(m2.seen) == {(False, True, False)}
    finally:
        torch.set_num_threads(threads_before)


def test_failure_messages_are_one_line_with_a_hint():
    from lwbench.errors import LwbenchError
    from lwbench.measure.timer import failure_message, is_oom, run_failure

    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                       "you tried to allocate 602112000000 bytes. Error code 12 (Cannot allocate memory)")
    msg = failure_message(cpu, "profile --time mobilenet_v1", 1000000, "cpu")
    assert msg == ("profile --time mobilenet_v1 at batch 1000000 on cpu: out of memory (DefaultCPUAllocator: "
                   "can't allocate memory: you tried to allocate 602112000000 bytes. Error code 12 (Cannot "
                   "allocate memory)); try a smaller --batch")
    gpu = RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.15 GiB total capacity)\n"
                       "If reserved memory is >> allocated memory try setting max_split_size_mb")
    m = failure_message(gpu, "the run", 4096, "cuda")
    assert "\n" not in m and m.startswith("the run at batch 4096 on cuda: out of memory (CUDA out of memory.")
    assert m.endswith("try a smaller --batch or another GPU (CUDA_VISIBLE_DEVICES)")
    assert is_oom(MemoryError()) and not is_oom(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    other = run_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x3 and 4x2)"), "x", 1, "cpu")
    assert isinstance(other, LwbenchError)
    assert str(other) == ("x at batch 1 on cpu: the model failed at run time: RuntimeError: mat1 and mat2 shapes "
                          "cannot be multiplied (1x3 and 4x2) (LWBENCH_DEBUG=1 shows the traceback)")
