// Shows every <time class="local-time" datetime="..."> in the browser's own time zone.
// Without JavaScript the server's text stays: the same instant in UTC, labelled as such.
(function () {
  "use strict";
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  document.querySelectorAll("time.local-time[datetime]").forEach(function (node) {
    const when = new Date(node.getAttribute("datetime"));
    if (isNaN(when.getTime())) { return; }
    node.title = node.textContent.trim();
    node.textContent = format.format(when) + (zone ? " (" + zone.replace(/_/g, " ") + ")" : "");
  });
})();
