/* Tables that reflow on a tablet: each cell of a list table gets the text of its column
   heading as data-label, and the table the class "reflow"; popreg.css then shows each row
   as a card of "heading: value" lines below 960 px.  Without this script the tables keep
   their columns (and scroll sideways).  No library, nothing loaded from elsewhere. */
(function () {
  "use strict";
  function label(table) {
    var heads = table.tHead ? table.tHead.rows[0] : null;
    if (!heads) { return; }
    var names = [];
    for (var i = 0; i < heads.cells.length; i++) {
      var span = heads.cells[i].colSpan || 1;
      for (var s = 0; s < span; s++) { names.push(heads.cells[i].textContent.trim()); }
    }
    for (var b = 0; b < table.tBodies.length; b++) {
      var rows = table.tBodies[b].rows;
      for (var r = 0; r < rows.length; r++) {
        var col = 0;
        for (var c = 0; c < rows[r].cells.length; c++) {
          var cell = rows[r].cells[c];
          if (!cell.hasAttribute("data-label") && names[col] && (cell.colSpan || 1) === 1) {
            cell.setAttribute("data-label", names[col]);
          }
          col += cell.colSpan || 1;
        }
      }
    }
    table.classList.add("reflow");
  }
  function run() {
    var tables = document.querySelectorAll("table.list, table.data, main table");
    for (var t = 0; t < tables.length; t++) {
      if (!tables[t].classList.contains("no-reflow")) { label(tables[t]); }
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", run); } else { run(); }
})();
