// The keras-stylegan style explorer: plain JavaScript over the server's public endpoints
// (GET /v1/models, .../image and .../mix). Every failure is shown on the page.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  models: [],        // what GET /v1/models describes
  model: null,       // the selected one
  maxBatch: 32,      // the server's --max-batch: images per view
  runs: {},          // section -> its latest update {id, controller}
  timers: {},        // section -> debounce timer
  blobs: {},         // section -> object URLs to release on the next update
};
const NOISE_LABELS = {const: "constant (stored maps)", seed: "random, from each seed"};
const SECTIONS = {images: updateImages, mix: updateMix};

// Errors ------------------------------------------------------------------------------------

function showError(id, message) {
  const box = $(id);
  box.textContent = message || "";
  box.hidden = !message;
}

async function errorText(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") detail = body.error;
  } catch (e) { /* not JSON: keep the status text */ }
  return `Server error ${response.status}: ${detail}`;
}

async function fetchOk(url, signal) {
  let response;
  try {
    response = await fetch(url, {signal, cache: "no-store"});
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new Error(`Could not reach the server (${e.message}); is keras-stylegan serve running?`);
  }
  if (!response.ok) throw new Error(await errorText(response));
  return response;
}

// Parameters --------------------------------------------------------------------------------

// '0-3,7' -> ['0','1','2','3','7'] (text, so that the server judges huge numbers itself);
// counted before anything is expanded.
function expandRanges(text, what, limit) {
  const ranges = [];
  let count = 0;
  for (const raw of text.split(",")) {
    const part = raw.trim();
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(part);
    if (!m) throw new Error(`Bad ${what} range "${part}": use e.g. 0-7,12 (digits 0-9)`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`Bad ${what} range "${part}": the end is below the start`);
    ranges.push([m[1], lo, hi]);
    count += hi - lo + 1;
  }
  if (count > limit) {
    throw new Error(`${count} ${what}s: this server takes at most ${limit} images per ` +
                    "request (--max-batch)");
  }
  const out = [];
  for (const [first, lo, hi] of ranges) {
    if (lo === hi) out.push(first);
    else for (let v = lo; v <= hi; v++) out.push(String(v));
  }
  return out;
}

function commonParams() {
  const psi = $("psi").value.trim();
  if (psi === "" || !Number.isFinite(Number(psi))) {
    throw new Error("Truncation psi must be a number, e.g. 0.7");
  }
  const params = {psi, noise: $("noise").value};
  if (state.model.label_size) params["class"] = $("class").value.trim();
  return params;
}

function modelUrl(kind, params) {
  const query = new URLSearchParams(params).toString();
  return `/v1/models/${encodeURIComponent(state.model.name)}/${kind}?${query}`;
}

// Updates: the latest one per section wins; older ones are aborted ---------------------------

function begin(section) {
  const previous = state.runs[section];
  if (previous) previous.controller.abort();
  const run = {id: (previous ? previous.id : 0) + 1, controller: new AbortController()};
  state.runs[section] = run;
  $(`${section}-section`).dataset.state = "loading";
  for (const url of state.blobs[section] || []) URL.revokeObjectURL(url);
  state.blobs[section] = [];
  return run;
}

function finish(section, run, error) {
  if (state.runs[section] !== run) return;  // a newer update owns the section
  const box = $(`${section}-section`);
  showError(`${section}-error`, error ? error.message : "");
  box.dataset.state = error ? "error" : "ready";
  box.dataset.renders = String(Number(box.dataset.renders) + 1);
}

function schedule(section, delay) {
  clearTimeout(state.timers[section]);
  state.timers[section] = setTimeout(() => SECTIONS[section](), delay);
}

function scheduleAll(delay) {
  for (const section of Object.keys(SECTIONS)) schedule(section, delay);
}

async function showPng(section, img, url, run) {
  const response = await fetchOk(url, run.controller.signal);
  const blob = await response.blob();
  const objectUrl = URL.createObjectURL(blob);
  state.blobs[section].push(objectUrl);
  img.src = objectUrl;
  await img.decode();
}

async function updateImages() {
  const run = begin("images");
  const box = $("images");
  let seeds, params;
  try {
    params = commonParams();
    seeds = expandRanges($("seeds").value, "seed", state.maxBatch);
  } catch (e) {
    box.replaceChildren();
    return finish("images", run, e);
  }
  const jobs = seeds.map((seed) => {
    const url = modelUrl("image", {...params, seeds: seed});
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.alt = `seed ${seed}`;
    img.dataset.seed = seed;
    const caption = document.createElement("figcaption");
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "PNG";
    caption.append(`seed ${seed} `, link);
    figure.append(img, caption);
    return {figure, img, url};
  });
  box.replaceChildren(...jobs.map((job) => job.figure));
  const results = await Promise.allSettled(
    jobs.map((job) => showPng("images", job.img, job.url, run)));
  let error = null;
  results.forEach((result, i) => {
    if (result.status === "rejected") {
      jobs[i].figure.classList.add("failed");
      if (!error && result.reason.name !== "AbortError") {
        error = new Error(`seed ${seeds[i]}: ${result.reason.message}`);
      }
    }
  });
  finish("images", run, error);
}

function stylesParam() {
  const preset = $("styles-preset").value;
  return preset === "custom" ? $("styles").value.trim() : preset;
}

async function updateMix() {
  const run = begin("mix");
  const figure = $("mix-figure");
  if (!state.model.num_ws) {
    figure.hidden = true;
    return finish("mix", run, new Error(
      `Style mixing needs the mapping and synthesis signatures, which this ` +
      `${state.model.kind} model lacks: serve a SavedModel from keras-stylegan export, ` +
      "or explore the original network (.pkl, .keras, run directory) with " +
      "keras-stylegan explore"));
  }
  let rows, cols, params;
  try {
    params = {...commonParams(), styles: stylesParam()};
    rows = expandRanges($("rows").value, "row seed", state.maxBatch);
    cols = expandRanges($("cols").value, "column seed", state.maxBatch);
  } catch (e) {
    figure.hidden = true;
    return finish("mix", run, e);
  }
  const url = modelUrl("mix", {...params, rows: $("rows").value.trim(),
                               cols: $("cols").value.trim()});
  $("mix-link").href = url;
  const cells = [];
  for (const r of rows) {
    for (const c of cols) {
      const link = document.createElement("a");
      link.href = modelUrl("mix", {...params, rows: r, cols: c, layout: "grid"});
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = `${r}\u00d7${c}`;
      cells.push(link);
    }
  }
  $("mix-cells").replaceChildren(...cells);
  try {
    await showPng("mix", $("mix-img"), url, run);
    figure.hidden = false;
    finish("mix", run, null);
  } catch (e) {
    if (e.name === "AbortError") return;
    figure.hidden = true;
    finish("mix", run, e);
  }
}

// Models ------------------------------------------------------------------------------------

function describeModel(m) {
  const size = m.resolution ? `${m.resolution}\u00d7${m.resolution}` : "unknown size";
  const labels = m.label_size ? `${m.label_size} classes` : "unconditional";
  const styles = m.num_ws ? `${m.num_ws} style layers` : "no style mixing";
  return `${m.name} version ${m.version} (${m.kind}): ${size}, ${labels}, ${styles}`;
}

function selectModel(name) {
  const m = state.models.find((x) => x.name === name);
  state.model = m;
  $("model-info").textContent = describeModel(m);
  const noise = $("noise");
  const previous = noise.value;
  noise.replaceChildren(...m.noise_modes.map((mode) => new Option(NOISE_LABELS[mode] || mode, mode)));
  if (m.noise_modes.includes(previous)) noise.value = previous;
  $("class-label").hidden = !m.label_size;
  $("class").max = String(Math.max(m.label_size - 1, 0));
  const presets = m.style_presets || {};
  for (const option of $("styles-preset").options) {
    if (option.value === "custom") continue;
    const layers = presets[option.value];
    option.disabled = !layers;
    option.textContent = `${option.value} (${layers ? "layers " + layers : "none at this size"})`;
  }
  const preset = $("styles-preset");
  if (preset.selectedOptions[0] && preset.selectedOptions[0].disabled) preset.value = "coarse";
  if (preset.value !== "custom") $("styles").value = presets[preset.value] || "";
  scheduleAll(0);
}

function bindControls() {
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", (event) => { event.preventDefault(); scheduleAll(0); });
  }
  $("model").addEventListener("change", () => selectModel($("model").value));
  $("psi").addEventListener("input", () => {
    $("psi-range").value = $("psi").value;
    scheduleAll(300);
  });
  $("psi-range").addEventListener("input", () => {
    $("psi").value = $("psi-range").value;
    scheduleAll(300);
  });
  for (const id of ["noise", "class"]) $(id).addEventListener("change", () => scheduleAll(0));
  $("class").addEventListener("input", () => scheduleAll(300));
  $("seeds").addEventListener("input", () => schedule("images", 300));
  for (const id of ["rows", "cols"]) $(id).addEventListener("input", () => schedule("mix", 300));
  $("styles-preset").addEventListener("change", () => {
    const preset = $("styles-preset").value;
    if (preset !== "custom") $("styles").value = (state.model.style_presets || {})[preset] || "";
    schedule("mix", 0);
  });
  $("styles").addEventListener("input", () => {
    $("styles-preset").value = "custom";
    schedule("mix", 300);
  });
}

async function init() {
  let listing;
  try {
    listing = await (await fetchOk("/v1/models")).json();
  } catch (e) {
    $("model-info").textContent = "";
    return showError("error", `Could not list the models: ${e.message}`);
  }
  state.models = listing.models || [];
  state.maxBatch = (listing.limits && listing.limits.max_batch) || state.maxBatch;
  const failed = Object.entries(listing.failed || {}).map(
    ([name, versions]) => `${name}: ` + Object.entries(versions).map(
      ([v, error]) => `version ${v}: ${error}`).join("; "));
  if (failed.length) showError("error", `Some models failed to load. ${failed.join(". ")}`);
  if (!state.models.length) {
    $("model-info").textContent = "No model is being served.";
    return;
  }
  $("model").replaceChildren(...state.models.map((m) => new Option(m.name, m.name)));
  bindControls();
  selectModel(state.models[0].name);
}

document.addEventListener("DOMContentLoaded", init);
