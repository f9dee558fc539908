"""Export text of `lwbench profile`: per-layer rows and per-network summaries, each carrying the machine block
(schema.md: CSV `# machine: {json}` line, JSON "machine" key, Markdown `<!-- machine: {json} -->`)."""

from __future__ import annotations

from dataclasses import asdict

from lwbench.report.write import machine_comment, to_csv, to_json, to_markdown


def layers_text(profiles, kind: str, machine: dict) -> str:
    """CSV (the rows of every network), JSON (a profile object with a "machine" key, or a list of them) or
    Markdown (a table per network under `### model`)."""
    if kind == "json":
        docs = [{"machine": machine, **p.to_dict()} for p in profiles]
        return to_json(docs[0] if len(docs) == 1 else docs)
    if kind == "csv":
        return to_csv([asdict(r) for p in profiles for r in p.layers], comments={"machine": machine})
    if kind == "md":
        return machine_comment(machine) + "\n" + "\n".join(to_markdown([asdict(r) for r in p.layers], p.model)
                                                           for p in profiles)
    raise ValueError(f"layers_text: no export format {kind!r}")


def summary_text(rows: list[dict], kind: str, machine: dict) -> str:
    """One row per network: CSV, JSON `{machine, rows}` or Markdown."""
    if kind == "json":
        return to_json({"machine": machine, "rows": rows})
    if kind == "csv":
        return to_csv(rows, comments={"machine": machine})
    if kind == "md":
        return machine_comment(machine) + "\n" + to_markdown(rows)
    raise ValueError(f"summary_text: no export format {kind!r}")
