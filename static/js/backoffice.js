/* Backoffice ⋯ menus. Without this script every menu stays open, so each action is still reachable.
   Loaded in <head> without defer: the "js-menus" class folds the menus away before the first paint,
   so the page does not jump when they close (and if this script never loads, they stay open). */
document.documentElement.classList.add("js-menus");

function setUpMenus() {
  "use strict";

  function setOpen(button, list, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    list.hidden = !open;
  }

  function closeAll(except) {
    document.querySelectorAll("[data-menu-button]").forEach(function (button) {
      var list = document.getElementById(button.getAttribute("aria-controls"));
      if (list && button !== except) setOpen(button, list, false);
    });
  }

  document.querySelectorAll("[data-menu-button]").forEach(function (button) {
    var list = document.getElementById(button.getAttribute("aria-controls"));
    if (!list) return;
    list.classList.add("bo-menu-popup");
    setOpen(button, list, false);
    button.addEventListener("click", function (event) {
      event.stopPropagation();
      var open = button.getAttribute("aria-expanded") !== "true";
      closeAll(button);
      setOpen(button, list, open);
      if (open) {
        var first = list.querySelector("a, button:not([disabled])");
        if (first) first.focus();
      }
    });
    list.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        setOpen(button, list, false);
        button.focus();
      }
    });
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-menu]")) closeAll(null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeAll(null);
  });
}

/* The orders import's upload. A file over the upload limit is refused before it is sent (the
   server refuses it too, but only once it arrives, which can take minutes on a slow line). While
   a large file is sent, the button says so and cannot be pressed twice. Without this script the
   server does both jobs. */
function setUpImport() {
  "use strict";
  var input = document.querySelector("input[type=file][data-max-bytes]");
  if (!input) return;
  var button = input.form.querySelector("button[type=submit]");
  var label = button.textContent;

  function showError(message) {
    var error = document.getElementById(input.id + "-error");
    if (!error) {
      error = document.createElement("p");
      error.className = "error";
      error.id = input.id + "-error";
      input.insertAdjacentElement("afterend", error);
    }
    error.textContent = message;
    input.parentNode.classList.add("field-error");
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", error.id);
  }

  input.form.addEventListener("submit", function (event) {
    var file = input.files[0];
    if (file && file.size > Number(input.getAttribute("data-max-bytes"))) {
      event.preventDefault();
      showError(input.getAttribute("data-too-large"));
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = button.getAttribute("data-busy-label");
  });
  // Back to this page from the browser's cache: the button works again.
  window.addEventListener("pageshow", function () {
    button.disabled = false;
    button.textContent = label;
  });
}

/* An import's page: the progress bar follows the import by itself, asking the server every second,
   and the page reloads once the import is finished to show its result. Without this script the
   page shows where the import stood when it was loaded, with a link to load it again. */
function setUpImportProgress() {
  "use strict";
  var section = document.querySelector("[data-import-progress]");
  if (!section) return;
  var url = section.getAttribute("data-import-progress");
  var bar = section.querySelector("progress");
  var text = section.querySelector("[data-import-text]");
  var waiting = false;

  function update(standing) {
    if (standing.finished) {
      window.location.reload();
      return;
    }
    bar.max = standing.total || 1;
    bar.value = standing.done;
    bar.textContent = standing.percent + " %";
    text.textContent = standing.text;
  }

  window.setInterval(function () {
    if (waiting || document.hidden) return;
    waiting = true;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (standing) { if (standing) update(standing); })
      .catch(function () { /* the server is away for a moment: try again at the next tick */ })
      .then(function () { waiting = false; });
  }, 1000);
}

function whenReady(setUp) {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
}

whenReady(setUpMenus);
whenReady(setUpImport);
whenReady(setUpImportProgress);
