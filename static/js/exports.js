// An export job's page: polls its progress JSON and reloads when the status changes, so the server
// renders the download link (the page works without JavaScript too, with a Refresh link).
(function () {
  "use strict";
  const configElement = document.getElementById("export-progress-config");
  if (!configElement) return;
  const config = JSON.parse(configElement.textContent);
  const WORKING = new Set(["queued", "running"]);
  if (!WORKING.has(config.status)) return;
  for (const link of document.querySelectorAll("[data-refresh-link]")) link.hidden = true;
  let failures = 0;

  function setText(name, value) {
    for (const element of document.querySelectorAll(`[data-live="${name}"]`)) element.textContent = value;
  }

  async function poll() {
    let delay = 1000;
    try {
      const response = await fetch(config.url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const progress = await response.json();
      failures = 0;
      if (progress.status !== config.status) {
        window.location.reload();
        return;
      }
      setText("status_label", progress.status_label);
      setText("rows_written", Number(progress.rows_written).toLocaleString());
      const bar = document.querySelector("[data-live-bar]");
      if (bar) bar.value = progress.progress;
    } catch {
      failures += 1;
      delay = Math.min(30000, 1000 * 2 ** failures);
    }
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, 1000);
})();
