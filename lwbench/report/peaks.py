"""The device's peak compute and memory bandwidth, measured by two micro-benchmarks, for the roofline.

Compute: square matmuls C = A·B of sizes 256, 512 and 1024 (2·n³ floating-point operations per call) in the
dtype the layers ran in (float32 by default; bfloat16 and float16 peaks differ a lot by CPU); the best
(minimum-time) run of the best size gives the peak GFLOP/s. Bandwidth: a copy of a 64 MiB
float32 buffer, far beyond the caches (read once, written once: 2 × its bytes per call); the best run gives the
memory GB/s. A 1 MiB copy gives the cache bandwidth, drawn as a second, dashed roof: layers whose
activations stay in cache can sit above the memory roof. These are attainable peaks of this software stack
(BLAS / oneDNN / cuBLAS and the copy kernel), not datasheet figures, which is what a roofline of measured
layers should be drawn against (Williams et al., "Roofline", CACM 2009).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Peaks:
    peak_gflops: float  # GFLOP/s (1 multiply-add = 2 FLOP)
    peak_gbs: float  # GB/s (1e9 bytes per second), read + write
    device: str
    threads: int | None
    matmul_n: int
    copy_mib: int
    cache_gbs: float | None = None  # GB/s of a 1 MiB copy (cache-resident)
    dtype: str = "float32"  # of the matmuls (the copies move bytes: their GB/s does not depend on it)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def ridge(self) -> float:
        """Arithmetic intensity (FLOP/byte) where the roofline turns: peak_gflops / peak_gbs."""
        return self.peak_gflops / self.peak_gbs


def measure_peaks(device: str = "cpu", threads: int | None = None, sizes: tuple[int, ...] = (256, 512, 1024),
                  copy_mib: int = 64, min_time_s: float = 0.2, dtype: str = "float32") -> Peaks:
    """Best-of-runs matmul GFLOP/s (in `dtype`) and copy GB/s on `device` with `threads` intra-op threads."""
    import torch

    from lwbench.measure.timer import TimerConfig, check_device, check_dtype, set_threads, time_callable

    check_dtype(dtype)
    check_device(device)
    td = getattr(torch, dtype)
    info = set_threads(threads) if threads else {}
    cfg = TimerConfig(warmup_runs=2, warmup_s=0.1, min_runs=5, min_time_s=min_time_s,
                      max_time_s=max(2.0, min_time_s))
    cuda = str(device).startswith("cuda")
    sync = torch.cuda.synchronize if cuda else None
    best_gflops, best_n = 0.0, sizes[0]
    with torch.inference_mode():
        for n in sizes:
            a, b = torch.randn(n, n, device=device, dtype=td), torch.randn(n, n, device=device, dtype=td)
            out = torch.empty(n, n, device=device, dtype=td)
            mm = time_callable(lambda: torch.mm(a, b, out=out), cfg, sync=sync)  # noqa: B023 - called at once
            g = 2.0 * n**3 / (mm.min_ms * 1e-3) / 1e9
            if g > best_gflops:
                best_gflops, best_n = g, n
        gbs = {}
        for mib in (copy_mib, 1):
            src = torch.randn(mib * 2**20 // 4, device=device)
            dst = torch.empty_like(src)
            cp = time_callable(lambda: dst.copy_(src), cfg, sync=sync)  # noqa: B023
            gbs[mib] = 2.0 * src.numel() * 4 / (cp.min_ms * 1e-3) / 1e9
    return Peaks(peak_gflops=best_gflops, peak_gbs=gbs[copy_mib], device=device,
                 threads=info.get("threads", torch.get_num_threads()) if not cuda else None,
                 matmul_n=best_n, copy_mib=copy_mib, cache_gbs=gbs[1] if not cuda else None, dtype=dtype)
