"""The latency-madds front, by hand: a variant is on it when no other has at least as many madds at no more
latency (one of the two strictly better)."""

from __future__ import annotations

from lwbench.sweep.pareto import front_rows, fronts


def _row(i, madds, ms, **kw):
    return {"id": str(i), "kind": "timing", "status": "ok", "network": "n", "width": None, "resolution": 8 * i,
            "batch": 1, "dtype": "float32", "target": "local", "runtime": "torch", "madds": madds, "median_ms": ms,
            **kw}


def test_front_by_hand():
    rows = [_row(1, 10, 1.0), _row(2, 30, 2.0), _row(3, 20, 2.5), _row(4, 40, 2.0), _row(5, 50, 4.0),
            _row(6, 45, 5.0), _row(7, 5, 1.0), _row(8, 60, 9.0, status="error")]
    (key, (pts, front)), = fronts(rows).items()
    # 3 (20 madds, 2.5 ms) is beaten by 4 (40, 2.0); 2 (30, 2.0) by 4 (40, 2.0); 6 by 5; 7 by 1; 8 failed
    assert [r["id"] for r in front] == ["1", "4", "5"] and len(pts) == 7
    assert [r["rank"] for r in front_rows(rows)] == [1, 2, 3]


def test_counts_come_from_the_analytic_row_when_missing():
    a = {"id": "a", "kind": "analytic", "status": "ok", "network": "n", "width": None, "resolution": 8, "batch": 1,
         "dtype": "float32", "madds": 7, "params": 3, "model": "n[resolution=8]"}
    t = _row(1, None, 1.5)
    (_, (pts, front)), = fronts([a, t]).items()
    assert front[0]["madds"] == 7 and front[0]["model"] == "n[resolution=8]"
