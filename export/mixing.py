"""Style mixing for the server and the browser explorer: layer ranges and the mixed ws.

NVIDIA's `style_mixing.py` replaces, for every (row, column) pair of seeds,
the row image's styles in the chosen layers by the column image's: `w =
w_row.copy(); w[styles] = w_col[styles]`. The StyleGAN paper's presets
name the layers by the resolution they act on (two style layers per
resolution, 4x4 first): *coarse* 4-8 px, *middle* 16-32 px, *fine* 64 px
and up (Figure 3).

Example (a 32x32 network has 8 style layers, so no fine ones):

>>> style_layers("coarse", 8), style_layers("middle", 8), style_layers("1,5-6", 8)
([0, 1, 2, 3], [4, 5, 6, 7], [1, 5, 6])
>>> style_presets(8)
{'coarse': '0-3', 'middle': '4-7', 'fine': ''}
"""

from dataclasses import dataclass

import numpy as np

from keras_stylegan.export import rest
from keras_stylegan.export.rest import RestError, parse_ranges, range_count
from keras_stylegan.figures.layers import STYLE_PRESETS

# Preset -> (lowest, highest) resolution of its layers (None: up to the output): the
# figures' table, so the explorer and `keras-stylegan figures` agree.
PRESETS = STYLE_PRESETS


def layer_resolution(layer):
    """The resolution style layer `layer` acts on: two layers per resolution from 4x4.

    A SavedModel carries no blocks to read this from; for networks that have
    them, `keras_stylegan.figures.layers.style_resolutions` derives the same
    numbers from the blocks (both families; tests/export/test_explorer.py checks it)."""
    return 2 ** (2 + layer // 2)


def preset_layers(name, num_ws):
    """The style layers of preset `name` ('coarse', 'middle' or 'fine') among `num_ws`."""
    lo, hi = PRESETS[name]
    return [i for i in range(num_ws)
            if lo <= layer_resolution(i) and (hi is None or layer_resolution(i) <= hi)]


def style_presets(num_ws):
    """{preset: its layers as a range text ('' if the network has none)}."""
    out = {}
    for name in PRESETS:
        layers = preset_layers(name, num_ws)
        out[name] = f"{layers[0]}-{layers[-1]}" if layers else ""
    return out


def style_layers(text, num_ws):
    """A preset name or layer ranges ('0-3,8') -> sorted style layer indices.

    RestError(400) naming the problem if malformed, out of [0, num_ws) or empty.
    """
    text = text.strip()
    if text in PRESETS:
        layers = preset_layers(text, num_ws)
        if not layers:
            lo = PRESETS[text][0]
            raise RestError(400, f"This network ({layer_resolution(num_ws - 1)} px) has no "
                            f"{text} style layers ({lo} px and up); pick another range")
        return layers
    if not text:
        raise RestError(400, "styles is empty: pass coarse, middle, fine or layer ranges "
                        f"such as 0-3 (layers 0-{num_ws - 1})")
    ranges = parse_ranges(text, "style layer")
    top = max(hi for _, hi in ranges)
    if top >= num_ws:  # checked before expanding
        raise RestError(400, f"Style layers must be in [0, {num_ws - 1}] (this network has "
                        f"{num_ws}) or one of {sorted(PRESETS)}; received {top}")
    return sorted({v for lo, hi in ranges for v in range(lo, hi + 1)})


def mix_ws(ws_rows, ws_cols, layers):
    """[R, L, D] and [C, L, D] -> [R * C, L, D], row-major: row r's ws with column c's
    styles in `layers` (NVIDIA's `style_mixing.py`).

    >>> a, b = np.zeros([2, 4, 1]), np.ones([3, 4, 1])
    >>> mix_ws(a, b, [1, 2])[4, :, 0].tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    ws_rows, ws_cols = np.asarray(ws_rows), np.asarray(ws_cols)
    r, c = len(ws_rows), len(ws_cols)
    mixed = np.repeat(ws_rows, c, axis=0)
    idx = np.asarray(layers, np.int64)
    mixed[:, idx] = np.tile(ws_cols, [r, 1, 1])[:, idx]
    return mixed


def figure_layout(rows, cols, mixed):
    """uint8 sources and mixes -> the paper's Figure 3 layout (one uint8 HWC image):
    the column sources on the top row, the row sources in the left column, the
    mix of row r and column c at (r + 1, c + 1), and black in the corner.

    `rows` [R, H, W, C], `cols` [C, H, W, C], `mixed` [R * C, H, W, C].
    """
    r, c = len(rows), len(cols)
    h, w, ch = rows.shape[1:]
    canvas = np.zeros([(r + 1) * h, (c + 1) * w, ch], np.uint8)
    canvas[:h, w:] = np.concatenate(list(cols), axis=1)
    canvas[h:, :w] = np.concatenate(list(rows), axis=0)
    for i in range(r):
        canvas[(i + 1) * h:(i + 2) * h, w:] = np.concatenate(list(mixed[i * c:(i + 1) * c]),
                                                             axis=1)
    return canvas


# The server's GET .../mix -------------------------------------------------------------------

LAYOUTS = ("figure", "grid")


@dataclass(frozen=True)
class MixPlan:
    """What a `GET .../mix` request asks for (see `parse_mix_query`)."""
    rows: list
    cols: list
    layers: list
    psi: float
    label: np.ndarray  # one-hot [label_size], or None
    noise: str
    layout: str

    def num_images(self):
        return mix_image_count(len(self.rows), len(self.cols), self.layout)


def mix_image_count(num_rows, num_cols, layout):
    """Images a mix request synthesizes: the mixes, plus the sources in a figure."""
    return num_rows * num_cols + (num_rows + num_cols if layout == "figure" else 0)


def parse_mix_query(query, servable, max_batch):
    """Query parameters of `GET .../mix` -> a `MixPlan`; RestError(400) if bad.

    `rows` and `cols` are seed ranges ('0-3,7'), `styles` a preset (coarse,
    middle, fine; default coarse) or layer ranges, `psi` and `noise` as for
    `.../image`, `class` for conditional networks, `layout` 'figure' (the
    sources on the top row and left column, default) or 'grid' (the mixes
    only: one image for one row and one column). The images to synthesize
    are counted before anything is expanded: at most `max_batch`.
    """
    allowed = {"rows", "cols", "styles", "psi", "noise", "class", "layout"}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise RestError(400, f"Unknown query parameter(s) {unknown}; expected {sorted(allowed)}")
    num_ws = check_mixing(servable)
    ranges = {}
    for key in ("rows", "cols"):
        if key not in query:
            raise RestError(400, f"Pass {key}=SEEDS (e.g. rows=0-2&cols=3-5)")
        ranges[key] = parse_ranges(query[key], key[:-1] + " seed")
        if max(hi for _, hi in ranges[key]) >= rest.SEED_BOUND:
            raise RestError(400, "Seeds must be below 2**32 (NumPy's RandomState)")
    layout = query.get("layout", "figure")
    if layout not in LAYOUTS:
        raise RestError(400, f"layout must be one of {list(LAYOUTS)}; received "
                        f"{rest._clip(layout)!r}")
    n = mix_image_count(range_count(ranges["rows"]), range_count(ranges["cols"]), layout)
    if n > max_batch:  # before expanding
        raise RestError(400, f"{range_count(ranges['rows'])} rows x "
                        f"{range_count(ranges['cols'])} columns make {n} images (sources "
                        f"included), over this server's limit of {max_batch} per request "
                        "(--max-batch)")
    layers = style_layers(query.get("styles", "coarse"), num_ws)
    psi = rest.parse_float(query["psi"], "psi") if "psi" in query else 1.0
    noise = _noise_param(query, servable)
    return MixPlan(rest.expand_ranges(ranges["rows"]), rest.expand_ranges(ranges["cols"]),
                   layers, psi, _label_param(query, servable.label_size), noise, layout)


def check_mixing(servable):
    """The number of style layers of `servable`; RestError(400) if it cannot mix styles."""
    mapping = servable.signatures.get("mapping")
    if mapping is None or "ws" not in mapping.outputs or not any(
            s in servable.signatures for s in ("synthesis", "synthesis_const")):
        raise RestError(400, f"Style mixing needs the mapping and synthesis signatures, which "
                        f"this {servable.kind} model lacks: serve a SavedModel from "
                        "`keras-stylegan export`, or explore the original network (.pkl, "
                        ".keras, run directory) with `keras-stylegan explore`")
    return mapping.outputs["ws"].shape[1]


def _noise_param(query, servable):
    modes = [m for m, sig in (("seed", "synthesis"), ("const", "synthesis_const"))
             if sig in servable.signatures]
    noise = query.get("noise", modes[0])
    if noise not in modes:
        raise RestError(400, f"noise must be {' or '.join(repr(m) for m in modes)} for this "
                        f"model; received {rest._clip(noise)!r}")
    return noise


def _label_param(query, label_size):
    if not label_size:
        if "class" in query:
            raise RestError(400, "The model is not conditional: drop 'class'")
        return None
    if "class" not in query:
        raise RestError(400, f"The model is conditional ({label_size} classes): pass class=K")
    k = rest.parse_int(query["class"], "class", lo=0, hi=label_size - 1)
    return np.eye(label_size, dtype=np.float32)[k]


def mix_image(servable, plan):
    """Runs `plan` on `servable` (its mapping and synthesis signatures) -> uint8 HWC image.

    Row r, column c is row r's w with column c's styles in `plan.layers`; with
    seed noise it uses row r's noise (its seed), as the row's source image.
    """
    from keras_stylegan.generate import image_grid, latents_from_seeds

    seeds = plan.rows + plan.cols
    inputs = {"z": latents_from_seeds(seeds, servable.z_dim),
              "truncation_psi": np.full([len(seeds)], plan.psi, np.float32)}
    if plan.label is not None:
        inputs["labels"] = np.tile(plan.label[None], [len(seeds), 1])
    ws = servable.predict("mapping", inputs)["ws"]
    r, c = len(plan.rows), len(plan.cols)
    mixed = mix_ws(ws[:r], ws[r:], plan.layers)
    cell_seeds = list(np.repeat(plan.rows, c))
    if plan.layout == "figure":
        ws, noise_seeds = np.concatenate([ws, mixed]), seeds + cell_seeds
    else:
        ws, noise_seeds = mixed, cell_seeds
    if plan.noise == "seed":
        images = servable.predict("synthesis", {"ws": ws, "seed": np.asarray(
            noise_seeds, np.int64)})["images"]
    else:
        images = servable.predict("synthesis_const", {"ws": ws})["images"]
    if plan.layout == "grid":
        return image_grid(images, cols=c)
    return figure_layout(images[:r], images[r:r + c], images[r + c:])
