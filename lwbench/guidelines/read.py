"""Read a guideline YAML file (configs/guidelines/gN.yaml) into an Experiment: the same safe, line-aware
reader as network files (lwbench.spec.yamlio), every key checked — unknown keys refused with a suggestion,
every value typed and bounded, each error one line with the file, the line and the key path. After the
structure, every row is evaluated at every scale and setup (Experiment.check), so a bad expression is found
at load, before anything is counted or timed."""

from __future__ import annotations

from pathlib import Path

from lwbench.errors import InputError, suggest
from lwbench.guidelines.checks import MAX_BATCH, MAX_BLOCKS, MAX_CHANNELS, MAX_RESOLUTION, MAX_TABLE, Reader
from lwbench.guidelines.experiment import GUIDELINES, ROUNDINGS, SCALES, SETUPS, Experiment, GuidelineRow, ScaleRule

TOP_KEYS = ("guideline", "title", "table", "source", "notes", "setup", "scale", "scales", "reference", "claim",
            "blocks", "rows", "network")
ROW_KEYS = ("setting", "channels", "params", "paper", "input_channels", "layers", "deviation")
SETUP_KEYS = ("resolution", "blocks", "batch", "devices")
SCALE_KEYS = ("factor", "round", "multiple_of", "doc")
CLAIM_KEYS = ("text", "chains", "headline")
NETWORK_KEYS = ("input_channels", "params", "blocks", "layers")
DEVICE_KEYS = ("name", "unit")
UNITS = ("batches_per_s", "images_per_s")
RESERVED = ("in", "in_size", "width", "resolution")   # lwbench.spec's reserved parameter names


def guidelines_dir() -> Path:
    from lwbench.spec.zoo import configs_dir

    return configs_dir() / "guidelines"


def load_experiment(name_or_path: str) -> Experiment:
    """`G1` … `G4` (configs/guidelines/gN.yaml) or a path to a guideline YAML file -> Experiment."""
    from lwbench.spec.yamlio import read_yaml

    text = str(name_or_path)
    if text.upper() in GUIDELINES:
        path = guidelines_dir() / f"{text.lower()}.yaml"
    elif text.endswith((".yaml", ".yml")):
        path = Path(text)
    else:
        raise InputError(f"unknown guideline '{text}'{suggest(text.upper(), GUIDELINES)} (G1, G2, G3, G4 or a YAML path)")
    if not path.is_file():
        raise InputError(f"{path}: no such guideline file")
    exp = _Parser(str(path)).experiment(read_yaml(path))
    exp.check()
    return exp


def load_all(names: list[str] | None = None) -> list[Experiment]:
    return [load_experiment(n) for n in (names or GUIDELINES)]


class _Parser(Reader):
    def experiment(self, doc) -> Experiment:
        self.mapping(doc, "", TOP_KEYS, ("guideline", "setup", "rows", "reference", "claim"),
                     what="guideline, setup, rows, network, ...")
        if ("scale" in doc) == ("scales" in doc):
            self.fail("scale", "give exactly one of scale (a rule from the x1 channels) or scales (the channels per "
                      "scale)", holder=doc, sub="scale" if "scale" in doc else None)
        setup = self.mapping(doc["setup"], "setup", SETUP_KEYS, ("resolution", "batch"), doc, "setup")
        net = self.network(doc)
        block_keys = {k: f"blocks.{k}" for k in self.blocks(doc.get("blocks"), "blocks", doc)}
        block_keys.update({k: f"network.blocks.{k}" for k in self.blocks(net.get("blocks"), "network.blocks", net)})
        rule = self.scale_rule(doc) if "scale" in doc else None
        rows = [self.row(r, i, net, rule is not None) for i, r in
                enumerate(self.items(doc["rows"], "rows", "one mapping per table row", doc, "rows"))]
        exp = Experiment(
            guideline=self.text(doc["guideline"], "guideline", doc, "guideline", scalar=True),
            title=self.text(doc.get("title", ""), "title", doc, "title"),
            table=self.integer(doc.get("table", 0), "table", 0, MAX_TABLE, doc, "table"),
            file=self.file, source=self.text(doc.get("source", ""), "source", doc, "source"),
            notes=self.text(doc.get("notes", ""), "notes", doc, "notes"),
            resolution=self.integer(setup["resolution"], "setup.resolution", 1, MAX_RESOLUTION, setup, "resolution"),
            blocks=self.integer(setup.get("blocks", 10), "setup.blocks", 1, MAX_BLOCKS, setup, "blocks"),
            batch=self.batch(setup), devices=self.devices(setup),
            reference=self.text(doc["reference"], "reference", doc, "reference", scalar=True),
            claim=self.claim(doc), rows=rows, scale_rule=rule,
            scales=self.scales(doc) if "scales" in doc else None,
            net_blocks={**(doc.get("blocks") or {}), **(net.get("blocks") or {})},
            net_params=self.params(net.get("params"), "network.params", net), raw=doc, block_keys=block_keys)
        self.cross_check(exp)
        return exp

    # ------------------------------------------------------------------ setup
    def batch(self, setup: dict) -> dict[str, int]:
        b = self.mapping(setup["batch"], "setup.batch", SETUPS, SETUPS, setup, "batch", what="gpu: N, arm: N")
        return {s: self.integer(b[s], f"setup.batch.{s}", 1, MAX_BATCH, b, s) for s in SETUPS}

    def devices(self, setup: dict) -> dict[str, dict]:
        raw = setup.get("devices")
        if raw is None:
            return {}
        self.mapping(raw, "setup.devices", SETUPS, (), setup, "devices", what="gpu / arm: {name, unit}")
        out = {}
        for s, d in raw.items():
            key = f"setup.devices.{s}"
            self.mapping(d, key, DEVICE_KEYS, (), raw, s)
            out[s] = {"name": self.text(d.get("name", ""), f"{key}.name", d, "name")}
            if "unit" in d:
                out[s]["unit"] = self.choice(d["unit"], f"{key}.unit", UNITS, d, "unit")
        return out

    # ------------------------------------------------------------------ scales
    def scale_rule(self, doc: dict) -> dict[str, ScaleRule]:
        raw = self.mapping(doc["scale"], "scale", SCALES, SCALES, doc, "scale", what="x1, x2, x4: {factor, ...}")
        out = {}
        for s in SCALES:
            key = f"scale.{s}"
            r = self.mapping(raw[s], key, SCALE_KEYS, (), raw, s, what="factor, round, multiple_of")
            factor = r.get("factor", 1)
            if not isinstance(factor, str):
                self.number(factor, f"{key}.factor", 0, 64, r, "factor")
            multiple = r.get("multiple_of", 1)
            if not isinstance(multiple, str):
                self.integer(multiple, f"{key}.multiple_of", 1, MAX_CHANNELS, r, "multiple_of")
            if "doc" in r:
                self.text(r["doc"], f"{key}.doc", r, "doc")
            rounding = self.choice(r["round"], f"{key}.round", ROUNDINGS, r, "round") if "round" in r else "nearest"
            out[s] = ScaleRule(factor=factor, round=rounding, multiple_of=multiple)
        return out

    def channels(self, raw, key: str, holder, sub) -> dict[str, int]:
        """{name: channels}: names usable as $name, counts 1 to MAX_CHANNELS."""
        self.mapping(raw, key, list(raw) if isinstance(raw, dict) else (), (), holder, sub, what="name: channels")
        if not raw:
            self.fail(key, "expected at least one channel number (name: channels)", holder=holder, sub=sub)
        for k, v in raw.items():
            self.name(k, f"{key}.{k}", RESERVED, raw, k)
            self.integer(v, f"{key}.{k}", 1, MAX_CHANNELS, raw, k)
        return {k: int(v) for k, v in raw.items()}

    def per_setup(self, raw, key: str, holder, sub) -> dict[str, dict[str, int]]:
        self.mapping(raw, key, SETUPS, SETUPS, holder, sub, what="gpu: {name: channels}, arm: {name: channels}")
        return {s: self.channels(raw[s], f"{key}.{s}", raw, s) for s in SETUPS}

    def scales(self, doc: dict) -> dict:
        raw = self.mapping(doc["scales"], "scales", SCALES, SCALES, doc, "scales", what="x1, x2, x4: {gpu, arm}")
        return {s: self.per_setup(raw[s], f"scales.{s}", raw, s) for s in SCALES}

    # ------------------------------------------------------------------ rows
    def row(self, raw, i: int, net: dict, has_rule: bool) -> GuidelineRow:
        key = f"rows[{i}]"
        self.mapping(raw, key, ROW_KEYS, ("setting", "paper"), what="setting, channels, paper, ...")
        paper = self.mapping(raw["paper"], f"{key}.paper", SETUPS, SETUPS, raw, "paper", what="gpu: [x1, x2, x4], arm: [...]")
        for s in SETUPS:
            v = paper[s]
            if not isinstance(v, list) or len(v) != len(SCALES):
                self.fail(f"{key}.paper.{s}", "expected the paper's three speeds [x1, x2, x4]", v, paper, s)
            for j, x in enumerate(v):
                self.number(x, f"{key}.paper.{s}[{j}]", 0, 1e9, paper, s)
        if has_rule:
            if "channels" not in raw:
                self.fail(f"{key}.channels", "missing: the paper's x1 channels for gpu and arm (scale: derives the rest)",
                          holder=raw, sub="setting")
            channels = self.per_setup(raw["channels"], f"{key}.channels", raw, "channels")
        elif "channels" in raw:
            self.fail(f"{key}.channels", "not used with scales: (the channels per scale are given there)",
                      holder=raw, sub="channels")
        else:
            channels = {}
        own = "layers" in raw or "input_channels" in raw
        layers = raw.get("layers", net.get("layers"))
        cin = raw.get("input_channels", net.get("input_channels"))
        if layers is None or cin is None:
            self.fail(f"{key}.layers", "no network: give layers and input_channels (in the row or in network)",
                      holder=raw, sub="setting")
        where = key if own else "network"
        self.items(layers, f"{where}.layers", "the layers of the benchmark network", raw if own else net, "layers")
        self.expression_or(cin, f"{where}.input_channels", raw if own else net, "input_channels", kinds=(int,))
        return GuidelineRow(setting=self.text(raw["setting"], f"{key}.setting", raw, "setting", scalar=True),
                            paper={s: list(paper[s]) for s in SETUPS}, channels=channels,
                            params=self.params(raw.get("params"), f"{key}.params", raw), input_channels=cin,
                            layers=layers, deviation=self.deviation(raw, key, channels), index=i, raw=raw,
                            net_key=where)

    def params(self, raw, key: str, holder) -> dict:
        if raw is None:
            return {}
        self.mapping(raw, key, list(raw) if isinstance(raw, dict) else (), (), holder, key.rsplit(".", 1)[-1],
                     what="name: value or expression")
        for k, v in raw.items():
            self.name(k, f"{key}.{k}", RESERVED, raw, k)
            self.expression_or(v, f"{key}.{k}", raw, k)
        return dict(raw)

    def deviation(self, raw: dict, key: str, channels: dict) -> dict:
        """A row's stated departure from the paper's x1 channels: {setup: {name: value}}; needs a `note`."""
        if raw.get("deviation") is None:
            return {}
        dev = self.mapping(raw["deviation"], f"{key}.deviation", (*SETUPS, "note"), (), raw, "deviation",
                           what="gpu / arm: {channel: value}, note")
        if not isinstance(dev.get("note"), str) or not dev["note"].strip():
            self.fail(f"{key}.deviation", "needs a note saying why the paper's channels are not built",
                      holder=raw, sub="deviation")
        out = {}
        for s in SETUPS:
            if s not in dev:
                continue
            out[s] = self.channels(dev[s], f"{key}.deviation.{s}", dev, s)
            for k in out[s]:
                if k not in channels.get(s, {}):
                    self.fail(f"{key}.deviation.{s}.{k}", f"not one of the row's {s} channels "
                              f"({', '.join(channels.get(s, {})) or 'none'})", holder=dev[s], sub=k)
        if not out:
            self.fail(f"{key}.deviation", "expected the channels built instead (gpu: {...} or arm: {...}) beside "
                      "the note", holder=raw, sub="deviation")
        return out

    # ------------------------------------------------------------------ network, claim
    def network(self, doc: dict) -> dict:
        if doc.get("network") is None:
            return {}
        return self.mapping(doc["network"], "network", NETWORK_KEYS, (), doc, "network")

    def blocks(self, raw, key: str, holder) -> list[str]:
        """Block definitions: a mapping name -> definition (their contents are checked by lwbench.spec)."""
        if raw is None:
            return []
        self.mapping(raw, key, list(raw) if isinstance(raw, dict) else (), (), holder, key.rsplit(".", 1)[-1],
                     what="block name: {args, layers}")
        for k in raw:
            self.name(k, f"{key}.{k}", (), raw, k)
        return list(raw)

    def claim(self, doc: dict) -> dict:
        c = self.mapping(doc["claim"], "claim", CLAIM_KEYS, ("headline",), doc, "claim", what="text, chains, headline")
        out: dict = {"text": self.text(c.get("text", ""), "claim.text", c, "text")}
        chains = self.items(c.get("chains", []), "claim.chains", "lists of settings, fastest first", c, "chains", 0)
        out["chains"] = [[self.text(s, f"claim.chains[{i}][{j}]", c, "chains", scalar=True) for j, s in
                          enumerate(self.items(ch, f"claim.chains[{i}]", "at least two settings", c, "chains", 2))]
                         for i, ch in enumerate(chains)]
        head = c["headline"]
        if not isinstance(head, list) or len(head) != 2:
            self.fail("claim.headline", "expected [faster setting, slower setting]", head, c, "headline")
        out["headline"] = [self.text(s, f"claim.headline[{j}]", c, "headline", scalar=True) for j, s in enumerate(head)]
        return out

    def cross_check(self, exp: Experiment) -> None:
        names = [r.setting for r in exp.rows]
        doc = exp.raw
        if len(set(names)) != len(names):
            self.fail("rows", "settings must be unique", names, doc, "rows")
        claim = doc["claim"]
        for key, chain, sub in [("reference", [exp.reference], None), ("claim.headline", exp.claim["headline"], "headline"),
                                *[(f"claim.chains[{i}]", c, "chains") for i, c in enumerate(exp.claim["chains"])]]:
            for s in chain:
                if s not in names:
                    holder = doc if sub is None else claim
                    self.fail(key, f"unknown setting '{s}'{suggest(s, names)}", holder=holder, sub=sub or "reference")
        if exp.claim["headline"][0] == exp.claim["headline"][1]:
            self.fail("claim.headline", "expected two different settings", exp.claim["headline"], claim, "headline")
