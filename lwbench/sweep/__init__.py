"""`lwbench sweep`: design-space grids (grid), jobs with identity (jobs), the append-only store (store), the
local runner (run), Ray (ray_exec), the plan (plan) and the latency-madds Pareto front (pareto)."""
