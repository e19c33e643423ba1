// The one-click sign-in link (accounts.views.login_code_link): submit the prefilled
// confirm form once, on load. The visible button stays as the fallback, e.g. when
// scripts are blocked. No inline script: the page's CSP is script-src 'self'.
const form = document.querySelector("form[data-autosubmit]");
if (form && !form.dataset.submitted) {
  form.dataset.submitted = "1";
  const button = form.querySelector("button[type=submit]");
  if (button) {
    button.disabled = true;
    button.textContent = "Signing in…";
  }
  // requestSubmit keeps the browser's own validation; submit() is the old-browser path.
  if (typeof form.requestSubmit === "function") {
    form.requestSubmit();
  } else {
    form.submit();
  }
}
