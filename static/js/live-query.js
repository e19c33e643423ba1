// Shared by the pages that apply filters without a reload (charts.js on the dashboards,
// segments.js in the segment builder): the form's filter state, and this page's numbers as JSON,
// one request at a time.

const PAGE_KEYS = new Set(["format"]);

// The form's non-empty fields as query parameters (without `format`).
export function formParams(form) {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) {
    if (value !== "" && !PAGE_KEYS.has(key)) params.append(key, value);
  }
  return params;
}

let pending = null;

// GET this page with `params` and ?format=json; a newer call aborts the one still in flight
// (whose promise then rejects with an AbortError). Resolves to { ok, data }.
async function fetchPageJson(params) {
  const jsonParams = new URLSearchParams(params);
  jsonParams.set("format", "json");
  if (pending) pending.abort();
  pending = new AbortController();
  const response = await fetch(`${window.location.pathname}?${jsonParams}`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
    signal: pending.signal,
  });
  return { ok: response.ok, data: await response.json() };
}

// Fetch this page's numbers for `params` and hand them to `apply(data)`. The page is marked busy
// meanwhile; a refusal shows the server's message (or "These filters could not be applied.") in
// `errorBox`, a failed request shows `failMessage`, and a request superseded by a newer one is dropped.
export async function applyPageJson(params, errorBox, { apply, failMessage }) {
  document.body.classList.add("is-loading");
  try {
    const { ok, data } = await fetchPageJson(params);
    if (!ok) {
      errorBox.textContent = data.error || "These filters could not be applied.";
      errorBox.hidden = false;
      return;
    }
    errorBox.hidden = true;
    apply(data);
  } catch (exc) {
    if (exc.name !== "AbortError") {
      errorBox.textContent = failMessage;
      errorBox.hidden = false;
    }
  } finally {
    document.body.classList.remove("is-loading");
  }
}

// Redraw the active-filter badges in [data-active-filters]. Each entry is a string (a plain badge)
// or { text, remove } (a link that removes that filter: `remove` is this page's query string).
export function updateBadges(active) {
  const box = document.querySelector("[data-active-filters]");
  box.replaceChildren();
  if (!active.length) {
    const none = document.createElement("span");
    none.className = "muted small";
    none.textContent = "No filters: every row of the dataset.";
    box.append(none);
    return;
  }
  for (const entry of active) {
    if (typeof entry === "string") {
      const badge = document.createElement("span");
      badge.className = "badge badge-primary";
      badge.textContent = entry;
      box.append(badge);
      continue;
    }
    const link = document.createElement("a");
    link.className = "badge badge-primary filter-badge";
    link.href = entry.remove.startsWith("?") ? entry.remove : "?";
    link.title = "Remove this filter";
    link.textContent = `${entry.text} `;
    const cross = document.createElement("span");
    cross.setAttribute("aria-hidden", "true");
    cross.textContent = "×";
    link.append(cross);
    box.append(link);
  }
}
