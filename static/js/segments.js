// Segment builder: live metrics and preview without a page reload, by fetching the builder URL
// with ?format=json (segments/views.py answers with the same numbers the page shows).
//
// Progressive enhancement: without this file the filter form is a plain GET form and the save
// form posts the filters the page was rendered with. Server text goes in through textContent only.

import { applyPageJson, formParams, updateBadges } from "./live-query.js";

function updateMetrics(metrics) {
  for (const metric of metrics) {
    const card = document.querySelector(`[data-metric="${CSS.escape(metric.key)}"]`);
    if (!card) continue;
    card.querySelector("[data-metric-value]").textContent = metric.display;
    card.classList.toggle("kpi-missing", Boolean(metric.missing));
  }
}

function cellRow(cells, tag) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const cell = document.createElement(tag);
    if (tag === "th") cell.scope = "col";
    cell.textContent = text;
    tr.append(cell);
  }
  return tr;
}

function updatePreview(preview) {
  const table = document.querySelector("[data-preview] table");
  if (!table || !preview) return;
  const head = document.createElement("thead");
  head.append(cellRow(preview.columns, "th"));
  const body = document.createElement("tbody");
  if (!preview.rows.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = Math.max(preview.columns.length, 1);
    td.className = "muted";
    td.textContent = "No row matches these filters.";
    tr.append(td);
    body.append(tr);
  }
  for (const row of preview.rows) body.append(cellRow(row, "td"));
  table.replaceChildren(head, body);
}

function load(form, params) {
  const error = document.querySelector("[data-builder-error]");
  return applyPageJson(params, error, {
    failMessage: "The numbers could not be updated. Reload the page to try again.",
    apply(data) {
      updateMetrics(data.metrics);
      updateBadges(data.filters.active);
      updatePreview(data.preview);
      const query = document.querySelector("[data-save-form] input[name='query']");
      if (query) query.value = data.filters.query;
      window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
      document.body.dataset.builderState = data.filters.query;
    },
  });
}

function init() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  const form = document.querySelector("[data-builder-form]");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(form, formParams(form));
  });
  form.addEventListener("change", () => load(form, formParams(form)));
  document.body.dataset.builderReady = "1";
}

init();
