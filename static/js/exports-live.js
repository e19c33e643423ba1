// Export menus on the dashboards (templates/exports/_buttons.html with export_what).
// static/js/charts.js applies filters without a reload and keeps them in the address bar; the
// server rendered the export forms with the filters of the first load. So on submit, the form's
// action takes the page's current query string, keeping the dataset/version the server named when
// the address bar does not name one. Without JavaScript there are no in-place filters to miss.

const NOT_STATE = new Set(["format", "reset"]);

function liveAction(action) {
  const url = new URL(action, window.location.href);
  const current = new URLSearchParams(window.location.search);
  const params = new URLSearchParams();
  for (const [key, value] of current) {
    if (!NOT_STATE.has(key)) params.append(key, value);
  }
  for (const key of ["dataset", "version"]) {
    const named = url.searchParams.get(key);
    if (named && !params.has(key)) params.set(key, named);
  }
  return `${url.pathname}?${params}`;
}

for (const form of document.querySelectorAll("form[data-export-live]")) {
  form.addEventListener("submit", () => {
    if (window.location.search) form.action = liveAction(form.getAttribute("action"));
  });
}
