// viewcore web UI: sortable tables, a live filter, expand-all. No dependencies.
"use strict";

function cellValue(row, col, numeric) {
  const cell = row.cells[col];
  const raw = cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
  return numeric ? Number(raw) : raw.toLowerCase();
}

function sortTable(table, col, numeric, descending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = cellValue(a, col, numeric), y = cellValue(b, col, numeric);
    const c = x < y ? -1 : x > y ? 1 : 0;
    return descending ? -c : c;
  });
  body.append(...rows);
  table.querySelectorAll("thead th").forEach((th, i) => {
    if (i === col) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  });
}

document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("thead th").forEach((th, col) => {
    if (!th.dataset.sort) return;
    th.addEventListener("click", () => {
      const numeric = th.dataset.sort === "num";
      // numbers start largest first, text A to Z; a second click turns it round
      const now = th.getAttribute("aria-sort");
      const descending = now ? now === "ascending" : numeric;
      sortTable(table, col, numeric, descending);
    });
  });
});

document.querySelectorAll("input[data-filter]").forEach((input) => {
  const table = document.getElementById(input.dataset.filter);
  const shown = document.getElementById(input.dataset.filter + "-shown");
  if (!table) return;
  input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    let n = 0;
    for (const row of table.tBodies[0].rows) {
      const hit = !q || row.cells[0].textContent.toLowerCase().includes(q);
      row.classList.toggle("hidden", !hit);
      if (hit) n++;
    }
    if (shown) shown.textContent = n.toLocaleString("en");
  });
});

document.querySelectorAll("a.expand-all").forEach((a) => {
  a.addEventListener("click", (ev) => {
    ev.preventDefault();
    const all = document.querySelectorAll(a.dataset.target);
    const open = !Array.from(all).every((d) => d.open);
    all.forEach((d) => { d.open = open; });
    a.textContent = open ? "collapse all" : "expand all";
  });
});

// a wide graph scrolls: bring the object it is drawn around into view
const target = document.querySelector(".graph #target");
if (target) target.scrollIntoView({ block: "nearest", inline: "center" });
