// The command console: keyboard (j/k, Enter, a d r m e, /, ?, 1–7, x), auto-refresh of the worklist every ~10 s that
// keeps scroll, selection, ticked boxes and open forms (only the list is swapped; new rows are highlighted), the
// next case after an action, refusals shown in place, the map beside the list, the photo viewer.
import { createMap } from "./map.js";

const root = document.querySelector("[data-console]");
const worklist = document.getElementById("worklist");
const detail = document.getElementById("detail");
const htmx = window.htmx;
const POLL_MS = (Number(root?.dataset.pollSeconds) || 10) * 1000;
let selected = null; // the case number of the selected row
let polling = false;
let map = null;

const rows = () => Array.from(worklist.querySelectorAll("tbody tr[data-number]"));
const inner = () => worklist.querySelector(".worklist-inner");
const openNumber = () => detail.querySelector("[data-case]")?.dataset.case || null;
const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));

function select(number, { scroll = true } = {}) {
  selected = number;
  for (const row of rows()) {
    const on = row.dataset.number === number;
    row.classList.toggle("is-selected", on);
    const link = row.querySelector("[data-open-case]");
    if (link) {
      if (on) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
    if (on && scroll) row.scrollIntoView({ block: "nearest" });
  }
}

function move(step) {
  const all = rows();
  if (!all.length) return;
  let index = all.findIndex((row) => row.dataset.number === selected);
  index = index < 0 ? 0 : Math.max(0, Math.min(all.length - 1, index + step));
  select(all[index].dataset.number);
  all[index].querySelector("[data-open-case]")?.focus({ preventScroll: true });
}

function openCase(number) {
  if (!number) return Promise.resolve();
  select(number);
  const link = worklist.querySelector(`[data-open-case="${CSS.escape(number)}"]`);
  const url = link ? link.getAttribute("href") : `${root.dataset.consoleUrl}case/${encodeURIComponent(number)}/`;
  history.pushState({}, "", url);
  return htmx.ajax("GET", url, { target: "#detail", swap: "innerHTML" });
}

function announce(text) {
  const status = document.getElementById("worklist-status");
  if (status) status.textContent = text;
}

// --- The list: refresh without losing the place ---------------------------------------------------------------------
function listState() {
  return {
    scroll: worklist.scrollTop,
    numbers: new Set(rows().map((row) => row.dataset.number)),
    checked: new Set(Array.from(worklist.querySelectorAll("input[name=case]:checked")).map((box) => box.value)),
    focused: document.activeElement && worklist.contains(document.activeElement)
      ? document.activeElement.closest("tr")?.dataset.number : null,
  };
}

function restore(state, { markNew }) {
  worklist.scrollTop = state.scroll;
  for (const box of worklist.querySelectorAll("input[name=case]")) box.checked = state.checked.has(box.value);
  if (markNew && state.numbers.size) {
    for (const row of rows()) if (!state.numbers.has(row.dataset.number)) row.classList.add("is-new");
  }
  if (selected) select(selected, { scroll: false });
  if (state.focused) worklist.querySelector(`tr[data-number="${CSS.escape(state.focused)}"] [data-open-case]`)?.focus({ preventScroll: true });
  map?.setCasesUrl(inner()?.dataset.mapUrl);
}

let pending = null; // the state saved before a worklist swap, and whether new rows are marked
function refreshList({ markNew = true } = {}) {
  const url = inner()?.dataset.worklistUrl;
  if (!url || polling) return Promise.resolve();
  polling = true;
  pending = { state: listState(), markNew };
  return htmx.ajax("GET", url, { target: "#worklist", swap: "innerHTML" }).finally(() => { polling = false; });
}

document.body.addEventListener("htmx:beforeRequest", (event) => {
  if (event.detail.target === worklist && !pending) pending = { state: listState(), markNew: false };
});
document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target === worklist) {
    const saved = pending;
    pending = null;
    if (saved) restore(saved.state, { markNew: saved.markNew });
  }
  if (event.detail.target === detail) afterDetail();
});
// Refusals (400/403/409/422) come back as the fragment with the message in place: show them.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const { xhr, target } = event.detail;
  if (xhr.status >= 400 && xhr.status < 500 && (target === detail || target.id === "bulk-results" ||
      target.id === "contact") && xhr.responseText.includes("data-console-fragment")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

setInterval(() => {
  if (!document.hidden) refreshList({ markNew: true });
}, POLL_MS);

// --- After an action: refresh, and open the next case without losing the place ---------------------------------------
document.body.addEventListener("caseActed", (event) => {
  const number = event.detail.number;
  const all = rows().map((row) => row.dataset.number);
  const at = all.indexOf(number);
  const next = at >= 0 ? (all[at + 1] || all[at - 1] || null) : null;
  refreshList({ markNew: false }).then(() => {
    if (next && rows().some((row) => row.dataset.number === next)) openCase(next);
    else if (number) select(number);
  });
});
document.body.addEventListener("bulkActed", () => refreshList({ markNew: false }));

// --- The detail panel ------------------------------------------------------------------------------------------------
function afterDetail() {
  const number = openNumber();
  if (number) select(number, { scroll: false });
  const error = detail.querySelector(".error-message[role=alert]");
  if (error) {
    const form = error.closest("form");
    (form?.querySelector("textarea, select, input:not([type=hidden])") || error).focus?.();
  }
  const data = document.getElementById("detail-points");
  if (map && data) {
    const points = JSON.parse(data.textContent);
    map.highlight(points, mergePopup);
    const current = points.find((point) => point.current);
    if (current) map.focus(current.lat, current.lng, 16);
  }
}

function csrfToken() {
  return detail.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
}

function mergePopup(point) {
  const box = document.createElement("div");
  const label = document.createElement("p");
  label.textContent = point.label;
  box.append(label);
  if (!point.merge_url) return box;
  const form = document.createElement("form");
  form.method = "post";
  form.action = point.merge_url;
  form.setAttribute("hx-post", point.merge_url);
  form.setAttribute("hx-target", "#detail");
  for (const [name, value] of [["csrfmiddlewaretoken", csrfToken()], ["target", point.number]]) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  const button = document.createElement("button");
  button.type = "submit";
  button.className = "button-primary";
  button.textContent = detail.querySelector(`form input[name=target][value="${CSS.escape(point.number)}"]`)
    ?.closest("form")?.querySelector("button")?.textContent || `→ ${point.number}`;
  form.append(button);
  box.append(form);
  htmx.process(form);
  return box;
}

function actionForm(name) {
  return detail.querySelector(`details.action[data-action="${name}"]`);
}

function startAction(name) {
  const box = actionForm(name);
  if (!box) {
    announce(detail.dataset.noAction || `${name}: —`);
    return;
  }
  const form = box.querySelector("form");
  const inputs = form.querySelectorAll("textarea, select, input:not([type=hidden])");
  box.open = true;
  htmx.process(box); // (idempotent) the panel may have been swapped in a moment ago
  if (!inputs.length) {
    form.requestSubmit();
    return;
  }
  inputs[0].focus();
}

// --- Keys ------------------------------------------------------------------------------------------------------------
const ACTION_KEYS = { a: "accept", d: "dispatch", r: "reject", m: "merge", e: "escalate" };

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.closest?.("details.action form")) {
    event.preventDefault();
    target.closest("form").requestSubmit();
    return;
  }
  if (event.key === "Enter" && target.tagName === "SELECT" && target.closest("details.action form")) {
    event.preventDefault();
    target.closest("form").requestSubmit();
    return;
  }
  if (event.key === "Escape" && target.closest?.("details.action")) {
    const box = target.closest("details.action");
    box.open = false;
    box.querySelector("summary").focus();
    return;
  }
  if (typing(target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (document.querySelector("dialog[open]")) return;
  const key = event.key;
  if (key === "j" || key === "ArrowDown" && target.closest?.("#worklist")) { event.preventDefault(); move(1); }
  else if (key === "k" || key === "ArrowUp" && target.closest?.("#worklist")) { event.preventDefault(); move(-1); }
  else if (key === "Enter" && selected && !target.closest?.("a, button, summary")) { event.preventDefault(); openCase(selected); }
  else if (key === "x" && selected) {
    const box = worklist.querySelector(`tr[data-number="${CSS.escape(selected)}"] input[name=case]`);
    if (box) box.click();
  } else if (ACTION_KEYS[key]) {
    event.preventDefault();
    if (!openNumber() && selected) openCase(selected).then(() => startAction(ACTION_KEYS[key]));
    else startAction(ACTION_KEYS[key]);
  } else if (key === "/") {
    event.preventDefault();
    const search = document.querySelector("[data-search]");
    search?.closest("details")?.setAttribute("open", "");
    search?.focus();
  } else if (key === "?") {
    event.preventDefault();
    document.getElementById("keys-dialog")?.showModal();
  } else if (/^[1-7]$/.test(key)) {
    const link = worklist.querySelectorAll(".buckets a")[Number(key) - 1];
    if (link) { event.preventDefault(); link.click(); }
  }
});

// Ticking a case opens the bulk actions.
worklist.addEventListener("change", (event) => {
  if (event.target.matches("input[name=case]") && event.target.checked) {
    document.querySelector("details.bulk")?.setAttribute("open", "");
  }
});

// A click on a row's number selects it as well (htmx opens the detail).
worklist.addEventListener("click", (event) => {
  const link = event.target.closest("[data-open-case]");
  if (link) select(link.dataset.openCase, { scroll: false });
});
document.querySelector("[data-keys-open]")?.addEventListener("click", () => {
  document.getElementById("keys-dialog")?.showModal();
});

// Photo viewer: a click on a thumbnail shows it large in a dialog (without JS the link opens the image).
detail.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-photo]");
  if (!link) return;
  event.preventDefault();
  const dialog = document.getElementById("photo-dialog");
  const img = document.getElementById("photo-dialog-img");
  img.src = link.href;
  img.alt = link.querySelector("img")?.alt || "";
  dialog.showModal();
});

// --- The map ---------------------------------------------------------------------------------------------------------
const mapElement = document.getElementById("console-map");
if (mapElement && window.L) {
  map = createMap(mapElement, { onCase: (number) => openCase(number) });
}
if (openNumber()) afterDetail();
else if (rows().length) select(rows()[0].dataset.number, { scroll: false });
window.addEventListener("popstate", () => window.location.reload());
