// Lead Navigator: small progressive enhancements shared by every page.
// Loaded as a module from base.html; the site works without it.

// <details data-dismissable> menus (the workspace switcher) close on Escape and on a click outside.
function setUpDismissableMenus() {
  const menus = document.querySelectorAll("details[data-dismissable]");
  if (!menus.length) return;
  document.addEventListener("click", (event) => {
    for (const menu of menus) {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of menus) {
      if (menu.open) {
        menu.open = false;
        menu.querySelector("summary")?.focus();
      }
    }
  });
}

// <form data-confirm="Are you sure?">: ask before a destructive POST.
function setUpConfirmations() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const message = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
    if (message && !window.confirm(message)) event.preventDefault();
  });
}

// Dismiss buttons on messages.
function setUpMessages() {
  for (const message of document.querySelectorAll(".messages .alert")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "alert-dismiss";
    button.setAttribute("aria-label", "Dismiss");
    button.textContent = "×";
    button.addEventListener("click", () => message.remove());
    message.append(button);
  }
}

setUpDismissableMenus();
setUpConfirmations();
setUpMessages();
