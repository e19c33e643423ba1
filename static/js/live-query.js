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
export async function fetchPageJson(params) {
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
