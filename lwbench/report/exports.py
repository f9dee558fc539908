"""How `lwbench profile` exports: per-layer rows and per-network summaries, as keywords of report.emit.render
(schema.md: CSV `# machine: {json}` line, JSON "machine" key, Markdown `<!-- machine: {json} -->`)."""

from __future__ import annotations

from dataclasses import asdict


def layers_how(profiles, machine: dict | None) -> dict:
    """CSV: the rows of every network; JSON: a profile object with a "machine" key (a list for several);
    Markdown: a table per network under `### model`; table: a profile table per network."""
    from lwbench.report.tables.profile import profile_table

    docs = [{"machine": machine, **p.to_dict()} for p in profiles]
    return {"machine": machine, "sections": [(p.model, [asdict(r) for r in p.layers]) for p in profiles],
            "document": docs[0] if len(docs) == 1 else docs,
            "table": lambda rows: [profile_table(p) for p in profiles]}


def summary_how(machine: dict | None, title: str) -> dict:
    """One row per network: CSV, JSON `{machine, rows}`, Markdown, or the summary table titled `title`."""
    from lwbench.report.tables.summary import summary_table

    return {"machine": machine, "table": lambda rows: summary_table(rows, title)}


def timing_doc(res: dict) -> dict:
    """The end-to-end block of one `profile --time` result (with its samples)."""
    e2e = res["end_to_end"]
    return {"model": res["layers"][0]["model"] if res["layers"] else "", "device": res["device"],
            "batch": res["batch"], "dtype": res["dtype"], **res["threads"], **e2e.stats(),
            "images_per_s": e2e.images_per_s(res["batch"]), "layer_sum_ms": res["layer_sum_ms"],
            "hooked_median_ms": res["hooked"].median_ms, "samples_ms": e2e.samples_ms}


def layer_time_how(results: list[dict], machine: dict, timer: dict) -> dict:
    """`profile --time`: CSV the layer rows, with `# timer:`, `# end_to_end MODEL:` and `# by_category MODEL:`
    lines; JSON `{machine, timer, end_to_end, layers, by_category}` (a list for several networks); Markdown the
    same metadata as comments, then per network its layer table and its by-category table."""
    from lwbench.report.tables.layer_time import category_table, layer_time_table

    meta: dict = {"timer": timer}
    sections = []
    for r in results:
        doc = {k: v for k, v in timing_doc(r).items() if k != "samples_ms"}
        meta[f"end_to_end {doc['model']}"] = doc
        meta[f"by_category {doc['model']}"] = r["by_category"]
        sections += [(f"{doc['model']}: end-to-end median {doc['median_ms']:.3f} ms, threads {doc['threads']}, "
                      f"batch {r['batch']}", r["layers"]), (f"{doc['model']} by op category", r["by_category"])]
    docs = [{"machine": machine, "timer": timer, "end_to_end": timing_doc(r), "layers": r["layers"],
             "by_category": r["by_category"]} for r in results]
    return {"rows": [row for r in results for row in r["layers"]], "machine": machine, "meta": meta,
            "sections": sections, "document": docs[0] if len(docs) == 1 else docs,
            "table": lambda rows: [t for r in results for t in (layer_time_table(r), category_table(r))]}
