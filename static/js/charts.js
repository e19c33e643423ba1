// Dashboards: draw the Plotly figures the server built (analytics/charts.py), and apply filters
// without a page reload by fetching the same URL with ?format=json.
//
// Progressive enhancement: without this file the filter form is a plain GET form and every link
// works. All text from the server goes in through textContent / attribute setters, never HTML.
// Plotly (window.Plotly) comes from our own static files: vendor/plotly.min.js.

import { applyPageJson, formParams, updateBadges } from "./live-query.js";

const Plotly = window.Plotly;

function readPayload() {
  const node = document.getElementById("chart-data");
  return node ? JSON.parse(node.textContent) : { figures: {}, config: {} };
}

const payload = readPayload();
const config = payload.config || {};

function draw(key, figure) {
  const el = document.querySelector(`[data-chart="${CSS.escape(key)}"]`);
  if (!el) return;
  const card = el.closest("[data-chart-card]");
  if (!figure) {
    if (el.dataset.drawn) Plotly.purge(el);
    delete el.dataset.drawn;
    el.hidden = true;
    return;
  }
  el.hidden = false;
  if (el.dataset.drawn) {
    Plotly.react(el, figure.data, figure.layout, config);
  } else {
    Plotly.newPlot(el, figure.data, figure.layout, config);
    el.dataset.drawn = "1";
  }
  if (card) card.dataset.revision = String(Number(card.dataset.revision || 0) + 1);
}

function drawAll(figures) {
  for (const [key, figure] of Object.entries(figures)) draw(key, figure);
}

function updateKpis(kpis) {
  for (const kpi of kpis) {
    const card = document.querySelector(`[data-kpi="${CSS.escape(kpi.key)}"]`);
    if (!card) continue;
    card.querySelector("[data-kpi-value]").textContent = kpi.display;
    card.querySelector("[data-kpi-note]").textContent = kpi.note || "";
    card.classList.toggle("kpi-missing", Boolean(kpi.missing));
  }
}

function updateCharts(chartList) {
  for (const chart of chartList) {
    draw(chart.key, chart.figure);
    const card = document.querySelector(`[data-chart-card="${CSS.escape(chart.key)}"]`);
    if (!card) continue;
    const note = card.querySelector("[data-chart-missing]");
    note.textContent = chart.missing || "";
    note.hidden = !chart.missing;
  }
}

// Make the form show the state of `params` (after a badge removal, a reset or back/forward).
function syncForm(form, params) {
  for (const el of form.elements) {
    if (!el.name || el.type === "hidden") continue;
    if (el.tagName === "SELECT" && el.multiple) {
      const chosen = new Set(params.getAll(el.name));
      for (const option of el.options) option.selected = chosen.has(option.value);
    } else if (el.name === "grain") {
      el.value = params.get("grain") || "day";
    } else if (el.tagName === "INPUT") {
      el.value = params.get(el.name) || "";
    }
  }
}

function load(query, { push = true } = {}) {
  const form = document.querySelector("[data-dashboard-form]");
  const error = document.querySelector("[data-dashboard-error]");
  const params = new URLSearchParams(query);
  params.delete("format");
  return applyPageJson(params, error, {
    failMessage: "The dashboard could not be updated. Reload the page to try again.",
    apply(data) {
      updateKpis(data.kpis);
      updateCharts(data.charts);
      updateBadges(data.filters.active);
      const reset = document.querySelector("a[data-reset]");
      if (reset && data.filters.reset.startsWith("?")) reset.href = data.filters.reset;
      syncForm(form, params);
      const url = `${window.location.pathname}?${params}`;
      if (push) window.history.pushState({ query: params.toString() }, "", url);
      document.body.dataset.dashboardState = params.toString();
    },
  });
}

function init() {
  drawAll(payload.figures || {});
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
  const form = document.querySelector("[data-dashboard-form]");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(formParams(form).toString());
  });
  form.addEventListener("change", () => load(formParams(form).toString()));
  // Badge removal and reset links carry the whole target state in their query string.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.filter-badge, a[data-reset]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    load(new URL(link.href).search);
  });
  window.addEventListener("popstate", () => load(window.location.search, { push: false }));
  document.body.dataset.dashboardReady = "1";
}

init();
