// Accessible names where the admin's widgets leave them out (axe-core, issue 18):
// autocomplete (select2) boxes and their search fields take their field's label; inputs of
// tabular inlines (the fallback chain) take their column's header and row; select2's choice
// lists, which hold more than list items, lose their list role.
(function () {
  "use strict";
  function labelFor(select) {
    const label = select && select.id ? document.querySelector('label[for="' + select.id + '"]') : null;
    return label ? label.textContent.replace(/[:*]\s*$/, "").trim() : "";
  }
  function nameSelect2() {
    document.querySelectorAll("span.select2").forEach(function (box) {
      const select = box.previousElementSibling;
      const name = labelFor(select) || (select && select.getAttribute("aria-label")) || "";
      if (!name) { return; }
      box.querySelectorAll(".select2-selection, .select2-search__field, [role=textbox]").forEach(function (node) {
        node.setAttribute("aria-label", name);
      });
      box.querySelectorAll("ul.select2-selection__rendered").forEach(function (list) { list.setAttribute("role", "none"); });
    });
    document.querySelectorAll(".select2-dropdown .select2-search__field").forEach(function (node) {
      if (!node.getAttribute("aria-label")) { node.setAttribute("aria-label", "Search"); }
    });
  }
  function nameInlineInputs() {
    document.querySelectorAll(".inline-group .tabular table").forEach(function (table) {
      const headers = Array.from(table.querySelectorAll("thead th")).map(function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr").forEach(function (row, rowIndex) {
        Array.from(row.children).forEach(function (cell, column) {
          cell.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (input) {
            const labelled = input.id && document.querySelector('label[for="' + input.id + '"]');
            if (!labelled && !input.getAttribute("aria-label") && headers[column]) {
              input.setAttribute("aria-label", headers[column] + " (row " + (rowIndex + 1) + ")");
            }
          });
        });
      });
    });
  }
  function run() { nameInlineInputs(); nameSelect2(); }
  function start() {
    run();
    new MutationObserver(run).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
