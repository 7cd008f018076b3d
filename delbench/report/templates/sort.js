// Click a header to sort its table by that column; click again to reverse. A cell sorts by its
// data-sort number when it has one, else by its text; cells without a number go last.
(function () {
  function key(row, col) {
    var cell = row.cells[col];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-sort");
    return raw === null || raw === "" ? cell.textContent.trim() : Number(raw);
  }
  function compare(x, y) {
    var xn = typeof x === "number", yn = typeof y === "number";
    if (xn && yn) { return x - y; }
    if (xn) { return -1; }
    if (yn) { return 1; }
    return String(x).localeCompare(String(y));
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th) {
      th.addEventListener("click", function () {
        var col = th.cellIndex;
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var order = compare(key(a, col), key(b, col));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
