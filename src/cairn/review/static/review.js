// cairn review grid: keyboard-first. Arrows move; Space reveals the selected picture (an audited POST) and
// hides it again; moving on re-blurs; the scheme's keys set the category; Delete clears it; Enter (or a click on
// a name) opens the file's detail page. Shift+arrows, Ctrl+click and `a` (Ctrl+A) mark several pictures: a
// category key then sets all of them with one request (Escape clears the marks).
(function () {
  "use strict";
  const grid = document.getElementById("grid");
  if (!grid) { return; }
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const canReview = grid.dataset.canReview === "yes";
  const tiles = Array.from(grid.querySelectorAll(".tile"));
  const status = document.getElementById("status");
  const keys = {};
  let selected = -1;
  let revealed = null; // {tile, url}
  const marked = new Set(); // indexes of the tiles in the multi-selection

  function say(text) { status.textContent = text; }

  function reblur() {
    if (!revealed) { return; }
    const img = revealed.tile.querySelector("img");
    if (img) { img.src = revealed.tile.dataset.thumb; img.alt = "blurred thumbnail"; }
    URL.revokeObjectURL(revealed.url);
    revealed.tile.classList.remove("revealed");
    revealed = null;
  }

  function mark(i, on) {
    if (on) { marked.add(i); } else { marked.delete(i); }
    tiles[i].classList.toggle("marked", on);
    tiles[i].setAttribute("aria-selected", on ? "true" : "false");
    const count = document.getElementById("marked-count");
    if (count) { count.textContent = marked.size > 1 ? marked.size + " marked" : ""; }
  }

  function unmarkAll() { Array.from(marked).forEach(function (i) { mark(i, false); }); }

  // mode: undefined/false moves (clearing the marks), true extends the marks to i, "keep" leaves them
  function select(i, mode) {
    if (i < 0 || i >= tiles.length) { return; }
    if (mode === true) {
      if (selected >= 0) { mark(selected, true); }
      mark(i, true);
    } else if (mode !== "keep") { unmarkAll(); }
    if (selected >= 0 && selected !== i) { tiles[selected].classList.remove("selected"); }
    if (revealed && revealed.tile !== tiles[i]) { reblur(); }
    if (selected !== i) { document.getElementById("history").hidden = true; }
    selected = i;
    tiles[i].classList.add("selected");
    tiles[i].focus();
  }

  async function post(url, body) {
    const init = { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init);
  }

  async function toggleReveal() {
    if (selected < 0 || !canReview) { return; }
    const tile = tiles[selected];
    if (revealed && revealed.tile === tile) { reblur(); say("blurred again"); return; }
    reblur();
    if (!tile.dataset.thumb) { say("no thumbnail to reveal"); return; }
    const res = await post("/api/files/" + tile.dataset.id + "/reveal");
    if (!res.ok) { say("reveal refused (" + res.status + ")"); return; }
    const url = URL.createObjectURL(await res.blob());
    tile.querySelector("img").src = url;
    tile.querySelector("img").alt = "revealed thumbnail";
    tile.classList.add("revealed");
    revealed = { tile: tile, url: url };
    say("revealed (recorded in the audit log)");
  }

  // the server's rule (cairn.store.review.precategories): two hash-set categories of one scheme differ, or the
  // reviewer's category differs from a set's of the same scheme
  function conflicted(tile, cat) {
    const pre = Array.from(tile.querySelectorAll(".precategory")).map(function (p) { return [p.dataset.scheme, p.dataset.value]; });
    const between = pre.some(function (a) { return pre.some(function (b) { return a[0] === b[0] && a[1] !== b[1]; }); });
    return between || (cat !== null && cat !== undefined &&
      pre.some(function (a) { return a[0] === cat.scheme && a[1] !== String(cat.value); }));
  }

  function show(fileId, cat) {
    const tile = grid.querySelector('.tile[data-id="' + fileId + '"]');
    if (!tile) { return; }
    tile.querySelector(".category").textContent = cat ? cat.value + " " + cat.label : "uncategorised";
    tile.querySelector(".conflict").hidden = !conflicted(tile, cat);
  }

  async function categoriseMarked(value) {
    const ids = Array.from(marked).sort(function (a, b) { return a - b; }).map(function (i) { return Number(tiles[i].dataset.id); });
    const res = await post("/api/categorise", { file_ids: ids, value: value });
    if (!res.ok) { say("categorisation refused (" + res.status + ")"); return; }
    const result = await res.json();
    result.results.forEach(function (r) { show(r.file_id, r.category); });
    say(result.files + " marked pictures: " + result.changed + " changed");
  }

  async function categorise(value, wholeGroup) {
    if (selected < 0 || !canReview) { return; }
    if (!wholeGroup && marked.size > 1) { return categoriseMarked(value); }
    const tile = tiles[selected];
    if (wholeGroup && !tile.dataset.group) { say("this picture is in no near-duplicate group"); return; }
    const body = { value: value, scope: wholeGroup ? "group" : "file" };
    const res = await post("/api/files/" + tile.dataset.id + "/category", body);
    if (!res.ok) { say("categorisation refused (" + res.status + ")"); return; }
    const result = await res.json();
    if (wholeGroup) {
      result.results.forEach(function (r) { show(r.file_id, r.category); });
      say("group " + result.group + ": " + result.changed + " of " + result.files + " files changed");
    } else {
      show(result.file_id, result.category);
      say(result.changed ? "category set" : "category unchanged");
    }
  }

  async function showHistory() {
    if (selected < 0) { return; }
    const panel = document.getElementById("history");
    const res = await fetch("/api/files/" + tiles[selected].dataset.id + "/history", { credentials: "same-origin" });
    if (!res.ok) { say("history refused (" + res.status + ")"); return; }
    const list = panel.querySelector("ol");
    list.replaceChildren();
    const label = function (c) { return c ? c.value + " " + c.label : "uncategorised"; };
    (await res.json()).forEach(function (h) {
      const li = document.createElement("li");
      li.textContent = h.at + " " + h.user + ": " + label(h.previous) + " \u2192 " + label(h.category);
      list.appendChild(li);
    });
    if (!list.children.length) {
      const li = document.createElement("li");
      li.textContent = "never categorised";
      list.appendChild(li);
    }
    panel.hidden = false;
  }

  document.querySelectorAll(".legend kbd[data-value]").forEach(function (k) { keys[k.textContent] = k.dataset.value; });
  grid.querySelectorAll(".tile").forEach(function (tile, i) {
    tile.addEventListener("click", function (ev) {
      if (ev.ctrlKey || ev.metaKey) {
        if (!marked.size && selected >= 0 && selected !== i) { mark(selected, true); }
        mark(i, !marked.has(i));
        select(i, "keep");
        return;
      }
      select(i);
    });
    tile.addEventListener("dblclick", function () { select(i); toggleReveal(); });
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) { return; }
    const selectAll = function () { tiles.forEach(function (_t, i) { mark(i, true); }); say(tiles.length + " pictures marked"); };
    if ((ev.ctrlKey || ev.metaKey) && (ev.key === "a" || ev.key === "A")) { selectAll(); ev.preventDefault(); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") { select(Math.min(selected + 1, tiles.length - 1), ev.shiftKey); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") { select(Math.max(selected - 1, 0), ev.shiftKey); ev.preventDefault(); }
    else if (ev.key === "Escape") { unmarkAll(); say("marks cleared"); ev.preventDefault(); }
    else if (ev.key === "a" && !Object.prototype.hasOwnProperty.call(keys, "a")) { selectAll(); ev.preventDefault(); }
    else if (ev.key === " ") { toggleReveal(); ev.preventDefault(); }
    else if (ev.key === "Enter" && selected >= 0) { reblur(); window.location = "/files/" + tiles[selected].dataset.id; ev.preventDefault(); }
    else if (ev.key === "PageDown" && document.getElementById("next")) { reblur(); window.location = document.getElementById("next").href; ev.preventDefault(); }
    else if (ev.key === "Delete" || ev.key === "Backspace") { categorise(null, ev.shiftKey); ev.preventDefault(); }
    else if (ev.key === "h" && !Object.prototype.hasOwnProperty.call(keys, "h")) { showHistory(); ev.preventDefault(); }
    else {
      // the key's own character, also with Shift held (Shift+1 types "!" on many layouts)
      const code = ev.code || "";
      const base = code.startsWith("Digit") ? code.slice(5) : code.startsWith("Key") ? code.slice(3).toLowerCase() : ev.key.toLowerCase();
      if (Object.prototype.hasOwnProperty.call(keys, base)) { categorise(keys[base], ev.shiftKey); ev.preventDefault(); }
    }
  });
  if (tiles.length) { select(0); }
})();

// cairn review file detail: the thumbnail is blurred; Space (or the button, or a double-click) reveals it with an
// audited POST and hides it again; leaving the page drops the revealed copy. The scheme's keys set the file's
// category (Delete clears it), as in the grid; the history list grows with each change.
(function () {
  "use strict";
  const detail = document.getElementById("detail");
  if (!detail) { return; }
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const figure = detail.querySelector(".detail-thumb");
  const img = figure.querySelector("img");
  const button = document.getElementById("reveal");
  const canReview = detail.dataset.canReview === "yes";
  let url = null;

  function blur() {
    if (!url) { return; }
    img.src = figure.dataset.thumb;
    img.alt = "blurred thumbnail";
    URL.revokeObjectURL(url);
    url = null;
    figure.classList.remove("revealed");
    if (button) { button.textContent = "Reveal (Space)"; }
  }

  async function toggle() {
    if (!canReview || !img || !figure.dataset.thumb) { return; }
    if (url) { blur(); return; }
    const res = await fetch("/api/files/" + detail.dataset.id + "/reveal",
      { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    if (!res.ok) { if (button) { button.textContent = "reveal refused (" + res.status + ")"; } return; }
    url = URL.createObjectURL(await res.blob());
    img.src = url;
    img.alt = "revealed thumbnail";
    figure.classList.add("revealed");
    if (button) { button.textContent = "Blur again (Space)"; }
  }

  const keys = {};
  const label = function (c) { return c ? c.value + " " + (c.label || "") : "uncategorised"; };

  async function categorise(value) {
    if (!canReview) { return; }
    const status = document.getElementById("status");
    const res = await fetch("/api/files/" + detail.dataset.id + "/category", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: JSON.stringify({ value: value, scope: "file" }),
    });
    if (!res.ok) { status.textContent = "categorisation refused (" + res.status + ")"; return; }
    const result = await res.json();
    if (!result.changed) { status.textContent = "category unchanged"; return; }
    document.getElementById("current-category").textContent =
      result.category ? label(result.category) + " (" + result.category.scheme + ")" : "uncategorised";
    const pre = Array.from(detail.querySelectorAll(".precategory")).map(function (p) { return [p.dataset.scheme, p.dataset.value]; });
    const cat = result.category;
    document.getElementById("conflict").hidden = !(
      pre.some(function (a) { return pre.some(function (b) { return a[0] === b[0] && a[1] !== b[1]; }); }) ||
      (cat && pre.some(function (a) { return a[0] === cat.scheme && a[1] !== String(cat.value); })));
    const list = document.getElementById("category-history");
    const never = list.querySelector("li.never");
    if (never) { never.remove(); }
    const li = document.createElement("li");
    li.textContent = "just now: " + label(result.previous) + " \u2192 " + label(result.category);
    list.appendChild(li);
    status.textContent = "category set";
  }

  document.querySelectorAll(".legend kbd[data-value]").forEach(function (k) { keys[k.textContent] = k.dataset.value; });
  if (button) { button.addEventListener("click", toggle); }
  if (img) { img.addEventListener("dblclick", toggle); }
  window.addEventListener("pagehide", blur);
  document.addEventListener("keydown", function (ev) {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) { return; }
    if (ev.target instanceof HTMLButtonElement || ev.target instanceof HTMLAnchorElement) { return; } // their own keys
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.shiftKey) { return; }
    if (ev.key === " ") { toggle(); ev.preventDefault(); }
    else if (ev.key === "Delete" || ev.key === "Backspace") { categorise(null); ev.preventDefault(); }
    else {
      const code = ev.code || "";
      const base = code.startsWith("Digit") ? code.slice(5) : code.startsWith("Key") ? code.slice(3).toLowerCase() : ev.key.toLowerCase();
      if (Object.prototype.hasOwnProperty.call(keys, base)) { categorise(keys[base]); ev.preventDefault(); }
    }
  });
})();
