// The dashboards' "Saved filters" card (templates/segments/_dashboard_tools.html).
// static/js/charts.js changes the filters without a reload and keeps them in the address bar, so
// read the current filters from there when saving them, or when opening "Save as segment".

const NOT_FILTERS = new Set(["dataset", "version", "format", "reset"]);

function currentFilters() {
  const params = new URLSearchParams(window.location.search);
  const kept = new URLSearchParams();
  for (const [key, value] of params) {
    if (!NOT_FILTERS.has(key) && value !== "") kept.append(key, value);
  }
  return kept;
}

function init() {
  const box = document.querySelector("[data-segment-tools]");
  if (!box) return;
  const form = box.querySelector("[data-filter-set-form]");
  if (form) {
    form.addEventListener("submit", () => {
      if (window.location.search) form.querySelector("[data-filter-query]").value = currentFilters().toString();
    });
  }
  const link = box.querySelector("a[data-save-segment]");
  if (link) {
    link.addEventListener("click", () => {
      if (!window.location.search) return;
      const url = new URL(link.href, window.location.href);
      const params = currentFilters();
      params.delete("grain");
      const dataset = url.searchParams.get("dataset");
      if (dataset) params.set("dataset", dataset);
      link.href = `${url.pathname}?${params}`;
    });
  }
}

init();
