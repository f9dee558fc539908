"""Latency prediction (issue 16): calibrate a device once on a designed grid of single layers and small blocks
(design, blocks, calibrate, fitcal), fit a per-kind model (features, model), predict any network's latency
per layer (predict) and score predictions against measured bench rows (validate). The calibration is plain
JSON (calfile)."""
