// The upload detail page: polls progress.json about once a second and updates the numbers in place.
// When the status changes (ready, needs review, failed...), the page reloads so the server renders
// the new state (the same page works without JavaScript, with a Refresh link).

import { formatBytes, formatCount, formatDuration } from "./datasets-format.js";

const FAST_MS = 1000; // a worker is busy with the file
const SLOW_MS = 5000; // waiting for a person (review, resumed upload)
const MAX_BACKOFF_MS = 30000;
const WORKING = new Set(["pending", "queued", "sniffing", "loading"]);
const WAITING = new Set(["receiving", "needs_mapping"]);

const configElement = document.getElementById("upload-progress-config");

function setText(name, value) {
  for (const element of document.querySelectorAll(`[data-live="${name}"]`)) element.textContent = value;
}

function render(progress) {
  setText("step_label", progress.step_label);
  setText("status_label", progress.status_label);
  const bar = document.querySelector("[data-live-bar]");
  if (progress.percent === null) {
    bar?.removeAttribute("value");
    setText("percent", "");
  } else {
    if (bar) bar.value = progress.percent;
    setText("percent", `${Math.floor(progress.percent)}%`);
  }
  setText("bytes", `${formatBytes(progress.bytes_processed)} of ${formatBytes(progress.size_bytes)}`);
  setText("rows", formatCount(progress.rows_processed));
  setText("rate", progress.bytes_per_second ? `${formatBytes(progress.bytes_per_second)}/s` : "—");
  setText("eta", progress.eta_seconds === null ? "—" : `about ${formatDuration(progress.eta_seconds)}`);
}

function start() {
  if (!configElement) return;
  const config = JSON.parse(configElement.textContent);
  if (!WORKING.has(config.status) && !WAITING.has(config.status)) return; // finished: nothing to follow
  for (const link of document.querySelectorAll("[data-refresh-link]")) link.hidden = true;
  let failures = 0;

  async function poll() {
    let delay = WORKING.has(config.status) ? FAST_MS : SLOW_MS;
    try {
      const response = await fetch(config.url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const progress = await response.json();
      failures = 0;
      if (progress.status !== config.status) {
        window.location.reload();
        return;
      }
      render(progress);
    } catch {
      failures += 1;
      delay = Math.min(MAX_BACKOFF_MS, FAST_MS * 2 ** failures);
    }
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, FAST_MS);
}

start();
