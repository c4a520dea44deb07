/* Share page: the phone's share sheet (Web Share API) and a copy-link button.
   Without this script the page offers WhatsApp and email only, and both work. Each button first
   asks the server for a fresh share link (recorded as a share, like the WhatsApp button). */
(function () {
  "use strict";

  var section = document.querySelector("[data-share-link]");
  var tokenField = document.querySelector("input[name=csrf_token]");
  var canShare = typeof navigator.share === "function";
  var canCopy = !!(navigator.clipboard && (navigator.clipboard.write || navigator.clipboard.writeText));
  if (!section || !tokenField || !window.fetch || !(canShare || canCopy)) return;

  var buttons = section.querySelector(".share-link-buttons");
  var status = section.querySelector(".share-link-status");

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("is-error", !!isError);
  }

  /* POST (with the page's CSRF token) for a fresh link: resolves to {url, title, text}. */
  function freshLink() {
    var body = new URLSearchParams();
    body.set("csrf_token", tokenField.value);
    return fetch(section.getAttribute("data-action"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": tokenField.value }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok || !data.url) throw new Error(data.error || section.getAttribute("data-label-failed"));
        return data;
      });
    });
  }

  function addButton(label, onClick) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-secondary button-wide";
    button.textContent = label;
    button.addEventListener("click", function () {
      say("");
      button.disabled = true;
      onClick().catch(function (error) {
        if (error && error.name === "AbortError") return; /* the person closed the share sheet */
        say(error && error.message ? error.message : section.getAttribute("data-label-failed"), true);
      }).then(function () { button.disabled = false; });
    });
    buttons.appendChild(button);
  }

  if (canShare) {
    addButton(section.getAttribute("data-label-share"), function () {
      return freshLink().then(function (data) {
        return navigator.share({ title: data.title, text: data.text, url: data.url });
      });
    });
  }

  if (canCopy) {
    addButton(section.getAttribute("data-label-copy"), function () {
      var link = freshLink();
      var copied;
      if (window.ClipboardItem && navigator.clipboard.write) {
        /* Handing the clipboard a promise keeps the click's permission while the link is fetched (Safari). */
        copied = navigator.clipboard.write([
          new ClipboardItem({
            "text/plain": link.then(function (data) { return new Blob([data.url], { type: "text/plain" }); })
          })
        ]).catch(function () {
          return link.then(function (data) { return navigator.clipboard.writeText(data.url); });
        });
      } else {
        copied = link.then(function (data) { return navigator.clipboard.writeText(data.url); });
      }
      return copied.then(function () { say(section.getAttribute("data-label-copied")); });
    });
  }

  section.hidden = false;
})();
