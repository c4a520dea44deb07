/* The WhatsApp page: open WhatsApp once, as the booker's tap on the share page meant.
   Not again when the booker comes back (Back, or a reload): the page then shows that the
   ticket is shared, and its button opens WhatsApp on demand. Without this script the button does it all. */
(function () {
  "use strict";

  var link = document.getElementById("open-whatsapp");
  var entries = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation") : [];
  if (!link || !entries.length || entries[0].type !== "navigate") return;
  window.location.assign(link.href);
})();
