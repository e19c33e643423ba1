// Top combos pages: poll a background job until its combos are ready, and let the deep-dive
// slider move to a rank. Charts are drawn by charts.js from the same `chart-data` payload.
// Without this file everything still works: the job block has a Refresh link, the slider a Go button.

(function () {
  "use strict";

  const POLL_MS = 1500;

  function pollJob(box) {
    const url = box.dataset.url;
    const bar = box.querySelector("[data-job-progress]");
    const percent = box.querySelector("[data-job-percent]");
    const step = box.querySelector("[data-job-step]");
    const error = box.querySelector("[data-job-error]");
    async function tick() {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        const job = await response.json();
        if (bar) bar.value = job.percent;
        if (percent) percent.textContent = String(job.percent);
        if (step) step.textContent = job.step || "";
        box.dataset.status = job.status;
        if (job.done) {
          window.location.reload();
          return;
        }
        if (job.failed) {
          if (error) {
            error.textContent = job.error || "The combos could not be computed.";
            error.hidden = false;
          }
          return;
        }
      } catch (exc) {
        if (error) {
          error.textContent = "Lost contact with the server; retrying.";
          error.hidden = false;
        }
      }
      window.setTimeout(tick, POLL_MS);
    }
    window.setTimeout(tick, POLL_MS);
  }

  function initSlider(slider) {
    const output = document.querySelector("[data-rank-output]");
    slider.addEventListener("input", () => {
      if (output) output.textContent = slider.value;
    });
    slider.addEventListener("change", () => slider.form.submit());
  }

  // Conversion by matching to a buyers dataset excludes a conversion column: disable the column
  // inputs while a buyers dataset is chosen, and drop a pinned buyers version when the dataset changes.
  function initMatch(select) {
    const form = select.form;
    const columns = form.querySelectorAll("[data-combos-column]");
    const pinned = form.querySelector("[data-combos-match-version]");
    const initial = select.value;
    function sync() {
      columns.forEach((input) => {
        input.disabled = select.value !== "";
      });
      if (pinned) pinned.disabled = select.value !== initial;
    }
    select.addEventListener("change", sync);
    sync();
  }

  function init() {
    const match = document.querySelector("[data-combos-match]");
    if (match) initMatch(match);
    const box = document.querySelector("[data-combo-job]");
    if (box && !["done", "failed"].includes(box.dataset.status)) pollJob(box);
    const slider = document.querySelector("[data-rank-slider]");
    if (slider) initSlider(slider);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
