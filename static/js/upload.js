// The upload page: drag and drop, then a chunked, resumable upload (datasets/views.py upload_start,
// upload_chunk, upload_finish). Without this script the form posts the file in one request.
//
// Protocol: POST start (JSON) -> {id, received_bytes, chunk_bytes, chunk_url, finish_url, progress_url};
// PUT chunk_url?offset=N with the raw bytes -> {received_bytes}; 409 {expected} when the server holds a
// different offset; POST finish_url -> {status, url, duplicate_of_url}. The fingerprint
// (name + size + lastModified) lets the server hand back an unfinished upload after a page reload.

import { formatBytes, formatDuration } from "./datasets-format.js";

const MAX_ATTEMPTS = 10; // consecutive failures before giving up on a chunk
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const CHUNK_TIMEOUT_MS = 180000;
const RATE_WINDOW_MS = 8000;

const form = document.querySelector("form[data-uploader]");
const configElement = document.getElementById("uploader-config");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class FatalUploadError extends Error {}

// One PUT through XMLHttpRequest: fetch() cannot report upload progress within a chunk.
function putChunk(url, blob, csrfToken, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.timeout = CHUNK_TIMEOUT_MS;
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
    xhr.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}");
      } catch {
        body = {};
      }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener("error", () => reject(new Error("network")));
    xhr.addEventListener("timeout", () => reject(new Error("timeout")));
    xhr.addEventListener("abort", () => reject(new Error("abort")));
    xhr.send(blob);
  });
}

async function jsonRequest(method, url, csrfToken, payload) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  return { status: response.status, ok: response.ok, body };
}

function setUp() {
  if (!form || !configElement) return;
  const config = JSON.parse(configElement.textContent);
  const csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const input = form.querySelector("input[type=file]");
  const dropzone = form.querySelector("[data-dropzone]");
  const selected = form.querySelector("[data-selected-file]");
  const submit = form.querySelector("[data-submit]");
  const progress = form.querySelector("[data-progress]");
  const bar = form.querySelector("[data-progress-bar]");
  const duplicate = form.querySelector("[data-duplicate]");
  const errorBox = form.querySelector("[data-upload-error]");
  const nameInput = form.querySelector("input[name=dataset_name]");
  const text = (selector, value) => {
    form.querySelector(selector).textContent = value;
  };
  let file = null;
  let busy = false;

  form.classList.add("js-uploader");

  // --- new dataset vs. new version -----------------------------------------------------------
  function syncMode() {
    const mode = form.querySelector("input[name=mode]:checked")?.value || "new";
    for (const block of form.querySelectorAll("[data-when-mode]")) {
      block.hidden = (block.dataset.whenMode === "new") !== (mode === "new");
    }
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "mode") syncMode();
  });
  syncMode();

  // --- choosing a file -----------------------------------------------------------------------
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function choose(chosen) {
    file = chosen || null;
    showError("");
    duplicate.hidden = true;
    dropzone.hidden = Boolean(file);
    selected.hidden = !file;
    if (!file) return;
    text("[data-selected-name]", file.name);
    text("[data-selected-size]", formatBytes(file.size));
    if (nameInput && !nameInput.value) nameInput.placeholder = file.name.replace(/\.(csv|tsv|txt|tab|dat|gz|zip|xlsx|xls)$/gi, "");
    if (file.size > config.maxBytes) showError(`This file is ${formatBytes(file.size)}; the limit is ${formatBytes(config.maxBytes)}.`);
  }

  input.addEventListener("change", () => choose(input.files[0]));
  form.querySelector("[data-clear-file]").addEventListener("click", () => {
    input.value = "";
    choose(null);
    input.click();
  });
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("is-dragging");
    });
  }
  for (const type of ["dragleave", "dragend"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("is-dragging"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("is-dragging");
    const dropped = event.dataTransfer?.files;
    if (!dropped || !dropped.length) return;
    input.files = dropped;
    choose(dropped[0]);
  });
  // A file dropped outside the zone must not make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  // --- progress display ----------------------------------------------------------------------
  const samples = [];
  function report(sent) {
    const now = performance.now();
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > RATE_WINDOW_MS) samples.shift();
    const percent = file.size ? (sent / file.size) * 100 : 100;
    bar.value = percent;
    bar.textContent = `${percent.toFixed(0)}%`;
    text("[data-progress-percent]", `${percent.toFixed(percent < 10 ? 1 : 0)}%`);
    text("[data-progress-bytes]", `${formatBytes(sent)} of ${formatBytes(file.size)}`);
    const [t0, b0] = samples[0];
    const seconds = (now - t0) / 1000;
    if (seconds > 0.5 && sent > b0) {
      const rate = (sent - b0) / seconds;
      text("[data-progress-rate]", `${formatBytes(rate)}/s`);
      text("[data-progress-eta]", sent < file.size ? `about ${formatDuration((file.size - sent) / rate)} left` : "");
    }
  }
  function state(message) {
    text("[data-progress-state]", message);
  }

  function lock(locked) {
    busy = locked;
    submit.disabled = locked;
    submit.textContent = locked ? "Uploading…" : "Upload";
    for (const element of form.querySelectorAll("input, select, button[data-clear-file]")) {
      if (element.name !== "csrfmiddlewaretoken") element.disabled = locked;
    }
  }

  window.addEventListener("beforeunload", (event) => {
    if (busy) event.preventDefault();
  });

  // --- the protocol --------------------------------------------------------------------------
  function settings() {
    const data = new FormData(form);
    const value = (name) => (data.get(name) || "").toString();
    return {
      name: file.name,
      size: file.size,
      fingerprint: `${file.name}:${file.size}:${file.lastModified}`,
      kind: value("kind"),
      mode: value("mode") || "new",
      dataset: value("dataset"),
      dataset_name: value("dataset_name"),
      options: {
        encoding: value("encoding"),
        delimiter: value("delimiter"),
        has_header: value("has_header"),
        date_order: value("date_order"),
        keep_duplicates: data.get("keep_duplicates") === "on",
      },
    };
  }

  // After a failure: wait (backoff, or until the network is back), then ask where the server is.
  async function recover(upload, attempt, offset) {
    if (attempt > MAX_ATTEMPTS) {
      throw new FatalUploadError("The connection keeps failing. Choose the same file again later to resume.");
    }
    if (!navigator.onLine) {
      state("You are offline. The upload continues when the connection is back…");
      await new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
    const until = performance.now() + delay;
    while (performance.now() < until) {
      state(`Connection problem. Retrying in ${Math.ceil((until - performance.now()) / 1000)} s…`);
      await sleep(Math.min(1000, until - performance.now()));
    }
    state("Reconnecting…");
    try {
      const response = await fetch(upload.progress_url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) return (await response.json()).received_bytes;
    } catch {
      // Still down: the caller retries the chunk from the offset it had.
    }
    return offset;
  }

  async function send(upload) {
    let offset = upload.received_bytes;
    let attempt = 0;
    const chunkBytes = upload.chunk_bytes;
    if (offset > 0) state(`Resuming: ${formatBytes(offset)} were already here.`);
    report(offset);
    while (offset < file.size) {
      const end = Math.min(offset + chunkBytes, file.size);
      let result;
      try {
        const base = offset;
        result = await putChunk(`${upload.chunk_url}?offset=${offset}`, file.slice(offset, end), csrfToken, (loaded) =>
          report(base + loaded),
        );
      } catch {
        attempt += 1;
        offset = await recover(upload, attempt, offset);
        continue;
      }
      if (result.status === 200) {
        offset = result.body.received_bytes;
        attempt = 0;
        state("Uploading…");
        report(offset);
      } else if (result.status === 409 && Number.isInteger(result.body.expected)) {
        offset = result.body.expected; // the server holds a different offset: carry on from there
      } else if (result.status >= 500 || result.status === 408 || result.status === 429 || result.status === 0) {
        attempt += 1;
        offset = await recover(upload, attempt, offset);
      } else {
        throw new FatalUploadError(result.body.error || `The server refused the file (HTTP ${result.status}).`);
      }
    }
  }

  async function finish(upload) {
    for (let attempt = 1; ; attempt += 1) {
      state("Checking the file…");
      let result;
      try {
        result = await jsonRequest("POST", upload.finish_url, csrfToken);
      } catch {
        await recover(upload, attempt, file.size);
        continue;
      }
      if (result.ok) return result.body;
      if (result.status === 400 && result.body.received_bytes < file.size) {
        upload.received_bytes = result.body.received_bytes; // bytes went missing: send the rest again
        await send(upload);
        continue;
      }
      if (result.status < 500) throw new FatalUploadError(result.body.error || "The upload could not be finished.");
      await recover(upload, attempt, file.size);
    }
  }

  async function run(payload) {
    const started = await jsonRequest("POST", config.startUrl, csrfToken, payload);
    if (!started.ok) throw new FatalUploadError(started.body.error || "The upload could not be started.");
    const upload = started.body;
    text("[data-progress-name]", file.name);
    progress.hidden = false;
    await send(upload);
    const done = await finish(upload);
    if (done.duplicate_of_url) {
      progress.hidden = true;
      const link = form.querySelector("[data-duplicate-link]");
      link.href = done.duplicate_of_url;
      link.textContent = done.duplicate_of_name || "an existing dataset";
      duplicate.hidden = false;
      return;
    }
    state("Received. Opening the upload…");
    busy = false;
    window.location.assign(done.url);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    if (!file) {
      showError("Choose a file to upload.");
      return;
    }
    showError("");
    duplicate.hidden = true;
    samples.length = 0;
    const payload = settings(); // before lock(): disabled fields are left out of FormData
    lock(true);
    try {
      await run(payload);
    } catch (error) {
      showError(error instanceof FatalUploadError ? error.message : "The upload stopped unexpectedly. Choose the same file again to resume.");
      progress.hidden = true;
    } finally {
      lock(false);
    }
  });
}

setUp();
