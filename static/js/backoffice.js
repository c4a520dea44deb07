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

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpMenus);
else setUpMenus();
