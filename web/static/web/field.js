// Gridloop field app (城管通 in the browser): report, 核实 / 核查 on site, my figures — offline-first.
// Every report and action goes into the outbox (IndexedDB) first, then to the cases API with an Idempotency-Key made
// here, so a resend after a lost answer never files twice. Queued actions name the case version (expected_seq) they
// were made on: the server answers 409 when the case moved on, and the outbox shows what happened instead.
const config = JSON.parse(document.getElementById("field-config").textContent);
const T = JSON.parse(document.getElementById("field-strings").textContent);
const $ = (id) => document.getElementById(id);
const fmt = (text, vars = {}) => text.replace(/%\((\w+)\)s/g, (_, name) => String(vars[name] ?? ""));
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
};
const timeText = (value) => new Date(value).toLocaleString(document.documentElement.lang || "zh-CN",
  { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
const distanceText = (metres) => metres >= 1000 ? fmt(T.km, { n: (metres / 1000).toFixed(1) })
  : fmt(T.m, { n: Math.round(metres) });

// --- Storage: the outbox and a few kept values, in IndexedDB ---------------------------------------------------------
let dbPromise;
function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const request = indexedDB.open("gridloop-field", 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("outbox", { keyPath: "id" });
      request.result.createObjectStore("kv");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}
async function store(name, mode, work) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const transaction = database.transaction(name, mode);
    const request = work(transaction.objectStore(name));
    transaction.oncomplete = () => resolve(request ? request.result : undefined);
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}
const outboxAll = async () => (await store("outbox", "readonly", (s) => s.getAll()))
  .sort((a, b) => a.created_at - b.created_at);
const outboxPut = (item) => store("outbox", "readwrite", (s) => s.put(item));
const outboxDelete = (id) => store("outbox", "readwrite", (s) => s.delete(id));
const kvGet = (key) => store("kv", "readonly", (s) => s.get(key));
const kvSet = (key, value) => store("kv", "readwrite", (s) => s.put(value, key));

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// --- Status line ----------------------------------------------------------------------------------------------------
let appData = null;
function showStatus() {
  const parts = [navigator.onLine ? T.online : T.offline];
  if (appData) parts.push(fmt(T.data_age, { time: timeText(appData.generated_at) }));
  else parts.push(T.no_data);
  $("field-status").textContent = parts.join(" · ");
  $("field-status").classList.toggle("is-offline", !navigator.onLine);
}

// --- Outbox: queue, send with back-off, show each item's state ----------------------------------------------------
const RETRY_BASE_MS = 5000;
const RETRY_CAP_MS = 10 * 60 * 1000;
let syncing = false;
let syncTimer = null;

async function enqueue(item) {
  const full = { id: newKey(), created_at: Date.now(), state: "waiting", attempts: 0, next_at: 0, ...item };
  full.key = full.id;
  await outboxPut(full);
  renderOutbox();
  sync();
  return full;
}

function retryLater(item, why) {
  item.attempts += 1;
  const delay = Math.min(RETRY_BASE_MS * 2 ** (item.attempts - 1), RETRY_CAP_MS) * (0.8 + Math.random() * 0.4);
  item.state = "waiting";
  item.next_at = Date.now() + delay;
  item.note = why;
}

async function send(item) {
  const body = new FormData();
  for (const [name, value] of Object.entries(item.fields)) {
    if (value !== null && value !== undefined && value !== "") body.append(name, value);
  }
  for (const photo of item.photos || []) body.append(photo.field, photo.blob, photo.name);
  const url = item.kind === "report" ? config.cases_url
    : `${config.cases_url}${encodeURIComponent(item.number)}/actions/${item.action}/`;
  let response;
  try {
    response = await fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "Idempotency-Key": item.key, "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
  } catch (error) {
    retryLater(item, T.offline);
    return;
  }
  let answer = {};
  try { answer = await response.json(); } catch (error) { answer = {}; }
  if (response.ok) {
    item.state = "sent";
    item.result = { number: answer.number, state_label: answer.state_label };
    item.photos = []; // the server has them: free the phone's space
    item.note = "";
  } else if (response.status === 401 || (response.status === 403 && answer.code === "not_authenticated")) {
    retryLater(item, T.sign_in_again);
  } else if (response.status === 409 && item.kind === "action") {
    item.state = "conflict";
    item.error = answer.detail || "";
    item.moved_on = answer.moved_on || [];
    item.case_state = answer.state || "";
  } else if (response.status >= 500 || response.status === 408 || response.status === 429) {
    retryLater(item, `HTTP ${response.status}`);
  } else {
    item.state = "refused"; // the photos stay: the worker fixes and sends again
    const fields = answer.fields ? Object.values(answer.fields).flat().join(" ") : "";
    item.error = fields || answer.detail || `HTTP ${response.status}`;
  }
}

async function sync() {
  if (syncing) return;
  syncing = true;
  clearTimeout(syncTimer);
  let sentAny = false;
  try {
    for (const item of await outboxAll()) {
      if (!(item.state === "waiting" || item.state === "sending") || item.next_at > Date.now()) continue;
      if (!navigator.onLine) break;
      item.state = "sending";
      await outboxPut(item);
      renderOutbox();
      await send(item);
      await outboxPut(item);
      renderOutbox();
      if (item.state === "sent") sentAny = true;
    }
  } finally {
    syncing = false;
  }
  const waiting = (await outboxAll()).filter((item) => item.state === "waiting");
  if (waiting.length) {
    const next = Math.max(1000, Math.min(...waiting.map((item) => item.next_at)) - Date.now());
    syncTimer = setTimeout(sync, next);
  }
  if (sentAny) loadData();
}

function itemTitle(item) {
  if (item.kind === "report") return `${T.kind_report} · ${item.summary || ""}`;
  return `${T["kind_" + item.action] || item.action} · ${item.number}`;
}

async function renderOutbox() {
  const items = await outboxAll();
  const list = $("outbox-list");
  list.replaceChildren();
  const pending = items.filter((item) => item.state !== "sent").length;
  $("outbox-count").textContent = pending ? String(pending) : "";
  for (const item of items.slice().reverse()) {
    const stateText = item.state === "sent" && item.result?.number ? fmt(T.sent_case, { number: item.result.number })
      : T["state_" + item.state];
    const card = el("li", { className: `panel field-card outbox-${item.state}`, "data-state": item.state },
      el("h2", { text: itemTitle(item) }),
      el("p", {}, el("strong", { className: "field-state", text: stateText }), " ",
        el("span", { className: "hint", text: timeText(item.created_at) })));
    if (item.state === "waiting" && item.next_at > Date.now()) {
      card.append(el("p", { className: "hint", text: [item.note, fmt(T.retry_at, { time: timeText(item.next_at) })]
        .filter(Boolean).join(" · ") }));
    }
    if (item.state === "refused") {
      card.append(el("p", { className: "error-message", text: item.error }));
      if (item.kind === "report") {
        card.append(el("button", { type: "button", text: T.resend, onclick: () => reportEdit(item) }));
      }
    }
    if (item.state === "conflict") {
      const what = (item.moved_on || []).map((event) => T["event_" + event.kind] || T.event_other).join("、");
      card.append(el("p", { className: "error-message", text: fmt(T.conflict, { what: what || item.case_state }) }));
    }
    if (item.state === "refused" || item.state === "conflict" || item.state === "sent") {
      card.append(el("button", {
        type: "button", className: "button-quiet", text: T.delete,
        onclick: async () => { await outboxDelete(item.id); renderOutbox(); },
      }));
    }
    list.append(card);
  }
}

// --- Photos: shrunk on the phone (~1600 px JPEG), with their capture time ----------------------------------------
const MAX_SIDE = 1600;
async function shrink(file) {
  const taken = file.lastModified || Date.now();
  let blob = file;
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    canvas.width = canvas.height = 0;
  } catch (error) {
    blob = file; // a format the browser cannot draw: sent as it is, the server checks it
  }
  // The capture time travels in the file name (the server keeps it as the photo's original_name).
  const stamp = new Date(taken).toISOString().replace(/[:.]/g, "-");
  return { blob, name: `photo-${stamp}.jpg`, taken };
}

function renderPhotos(listId, photos, onRemove) {
  const list = $(listId);
  list.replaceChildren();
  photos.forEach((photo, index) => {
    const url = URL.createObjectURL(photo.blob);
    const label = photo.label || fmt(T.photo_n, { n: index + 1 });
    list.append(el("li", { className: "field-photo" },
      el("img", { src: url, alt: label, onload: () => URL.revokeObjectURL(url) }),
      el("span", { text: `${label} · ${fmt(T.photo_taken, { time: timeText(photo.taken) })}` }),
      el("button", { type: "button", className: "button-quiet", text: T.remove, "aria-label": `${T.remove} ${label}`,
        onclick: () => onRemove(index) })));
  });
}

// --- Position and the map --------------------------------------------------------------------------------------------
let leaflet = null;
function loadLeaflet() {
  leaflet ??= new Promise((resolve, reject) => {
    document.head.append(el("link", { rel: "stylesheet", href: config.leaflet_css }));
    const script = el("script", { src: config.leaflet_js });
    script.addEventListener("load", () => resolve(window.L));
    script.addEventListener("error", reject);
    document.head.append(script);
  });
  return leaflet;
}
async function makeMap(container, center, zoom) {
  const L = await loadLeaflet();
  container.hidden = false;
  const map = L.map(container, { zoomControl: true }).setView(center, zoom);
  if (config.tile_url) L.tileLayer(config.tile_url, { maxZoom: 19 }).addTo(map);
  for (const grid of appData?.grids || []) {  // my unit grids: where I am, even without base tiles
    L.geoJSON(grid.boundary, { style: { color: "#0b5cad", weight: 2, fillOpacity: 0.05 } })
      .bindTooltip(grid.name, { permanent: false }).addTo(map);
  }
  return { L, map };
}

function locate() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) { resolve(null); return; }
    navigator.geolocation.getCurrentPosition(
      (found) => resolve({ lat: found.coords.latitude, lng: found.coords.longitude,
        accuracy: Math.round(found.coords.accuracy) }),
      () => resolve(null), { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 });
  });
}

let lastFix = null; // the latest GPS fix, for distances on the task list

// --- Report ---------------------------------------------------------------------------------------------------------
const report = { position: null, pinned: false, photos: [], before: [], after: [], editing: null, map: null };

async function reportLocate() {
  $("position-text").textContent = T.locating;
  const fix = await locate();
  if (fix) { lastFix = fix; renderTasks(); }
  report.position = fix;
  report.pinned = false;
  const prompt = $("pin-prompt");
  if (!fix) {
    $("position-text").textContent = T.position_none;
    prompt.textContent = T.position_none;
    prompt.hidden = false;
    openPinMap();
  } else if (fix.accuracy > config.pin_threshold_m) {
    $("position-text").textContent = fmt(T.position, { accuracy: fix.accuracy });
    prompt.textContent = fmt(T.position_poor, { accuracy: fix.accuracy, threshold: config.pin_threshold_m });
    prompt.hidden = false;
    openPinMap();
  } else {
    $("position-text").textContent = fmt(T.position, { accuracy: fix.accuracy });
    prompt.hidden = true;
  }
}

async function openPinMap() {
  const center = report.position ? [report.position.lat, report.position.lng]
    : (appData?.tasks?.[0]?.lat ? [appData.tasks[0].lat, appData.tasks[0].lng] : [30.27, 120.16]);
  if (!report.map) {
    const { L, map } = await makeMap($("pin-map"), center, 17);
    const marker = L.marker(center, { draggable: true, keyboard: true, title: T.position_pinned }).addTo(map);
    const place = (latlng) => {
      marker.setLatLng(latlng);
      report.position = { lat: latlng.lat, lng: latlng.lng, accuracy: null };
      report.pinned = true;
      $("position-text").textContent = `${T.position_pinned} (${latlng.lat.toFixed(5)}, ${latlng.lng.toFixed(5)})`;
      $("pin-prompt").hidden = true;
    };
    map.on("click", (event) => place(event.latlng));
    marker.on("dragend", () => place(marker.getLatLng()));
    report.map = { map, place };
  } else {
    report.map.map.setView(center);
  }
  $("pin-map").hidden = false;
  $("pin-here").hidden = false;
  report.map.map.invalidateSize();
}

function positionNeedsPin() {
  return !report.position || (!report.pinned && report.position.accuracy > config.pin_threshold_m);
}

function renderReportPhotos() {
  renderPhotos("report-photo-list", report.photos, (index) => { report.photos.splice(index, 1); renderReportPhotos(); });
  const handled = [...report.before.map((p) => ({ ...p, label: T.before })),
    ...report.after.map((p) => ({ ...p, label: T.after }))];
  renderPhotos("report-handled-list", handled, (index) => {
    if (index < report.before.length) report.before.splice(index, 1);
    else report.after.splice(index - report.before.length, 1);
    renderReportPhotos();
  });
}

async function addPhotos(input, target, after) {
  for (const file of input.files) target.push(await shrink(file));
  input.value = "";
  after();
}

// Categories: recent ones, a search and the major classes.
let categoryFilter = { text: "", major: "" };
function renderCategories() {
  const categories = appData?.categories || [];
  const select = $("report-category");
  const chosen = select.value;
  const text = categoryFilter.text.trim();
  const shown = categories.filter((c) => (!text || c.name.includes(text) || c.major_name.includes(text)
    || c.code.toLowerCase().includes(text.toLowerCase())) && (!categoryFilter.major || c.major_code === categoryFilter.major));
  select.replaceChildren(el("option", { value: "", text: shown.length ? T.choose_category : T.no_category }));
  const groups = new Map();
  for (const category of shown) {
    if (!groups.has(category.major_code)) {
      groups.set(category.major_code, el("optgroup", { label: category.major_name }));
      select.append(groups.get(category.major_code));
    }
    groups.get(category.major_code).append(el("option", { value: category.code, text: category.name }));
  }
  if (shown.some((c) => c.code === chosen)) select.value = chosen;
  else if (shown.length === 1) select.value = shown[0].code;
}
async function renderCategoryChips() {
  const categories = appData?.categories || [];
  const majors = new Map();
  for (const c of categories) if (!majors.has(c.major_code)) majors.set(c.major_code, c.major_name);
  const box = $("major-classes");
  box.replaceChildren();
  const chip = (code, label) => el("button", {
    type: "button", className: "field-chip", text: label, "aria-pressed": String(categoryFilter.major === code),
    onclick: () => { categoryFilter.major = code; renderCategoryChips(); renderCategories(); },
  });
  box.append(chip("", T.all));
  for (const [code, name] of majors) box.append(chip(code, name));
  const recent = (await kvGet("recent-categories")) || [];
  const recentBox = $("recent-categories");
  recentBox.replaceChildren();
  for (const code of recent) {
    const category = categories.find((c) => c.code === code);
    if (!category) continue;
    recentBox.append(el("button", { type: "button", className: "field-chip", text: category.name, onclick: () => {
      categoryFilter = { text: "", major: "" };
      $("category-search").value = "";
      renderCategories();
      $("report-category").value = code;
    } }));
  }
}

function showErrors(boxId, problems) {
  const box = $(boxId);
  if (!problems.length) { box.hidden = true; return false; }
  box.replaceChildren(el("h2", { text: T.fix_errors }), el("ul", {}, ...problems.map((p) => el("li", { text: p }))));
  box.hidden = false;
  box.focus();
  return true;
}

async function reportSubmit(event) {
  event.preventDefault();
  const selfHandled = $("report-self-handled").checked;
  const description = $("report-description").value.trim();
  const category = $("report-category").value;
  const problems = [];
  if (positionNeedsPin()) problems.push(T.need_pin);
  if (!selfHandled && !report.photos.length) problems.push(T.need_photo);
  if (selfHandled && (!report.before.length || !report.after.length)) problems.push(T.need_before_after);
  if (!category) problems.push(T.need_category);
  if (!description) problems.push(T.need_description);
  if (showErrors("report-errors", problems)) return;
  const photos = [...report.photos.map((p) => ({ ...p, field: "photos" })),
    ...report.before.map((p) => ({ ...p, field: "before_photos" })),
    ...report.after.map((p) => ({ ...p, field: "after_photos" }))];
  const categoryName = appData?.categories?.find((c) => c.code === category)?.name || category;
  await enqueue({
    kind: "report", summary: `${categoryName} · ${description.slice(0, 30)}`,
    fields: { channel: "patrol", description, category, lat: report.position.lat.toFixed(7),
      lng: report.position.lng.toFixed(7), address: $("report-address").value.trim(),
      self_handled: selfHandled ? "true" : "" },
    photos,
    position: report.position,
  });
  if (report.editing) { await outboxDelete(report.editing); report.editing = null; renderOutbox(); }
  const recent = ((await kvGet("recent-categories")) || []).filter((code) => code !== category);
  await kvSet("recent-categories", [category, ...recent].slice(0, 5));
  $("report-form").reset();
  Object.assign(report, { photos: [], before: [], after: [] });
  $("self-handled-photos").hidden = true;
  renderReportPhotos();
  renderCategoryChips();
  $("field-status").textContent = T.saved;
}

function reportEdit(item) {
  // A refused report comes back into the form with its photos; saving it again replaces the refused item.
  report.editing = item.id;
  const fields = item.fields;
  $("report-description").value = fields.description || "";
  $("report-address").value = fields.address || "";
  $("report-self-handled").checked = Boolean(fields.self_handled);
  $("self-handled-photos").hidden = !fields.self_handled;
  report.photos = item.photos.filter((p) => p.field === "photos");
  report.before = item.photos.filter((p) => p.field === "before_photos");
  report.after = item.photos.filter((p) => p.field === "after_photos");
  report.position = item.position || { lat: Number(fields.lat), lng: Number(fields.lng), accuracy: null };
  report.pinned = true;
  categoryFilter = { text: "", major: "" };
  renderCategories();
  $("report-category").value = fields.category || "";
  renderReportPhotos();
  showErrors("report-errors", [item.error]);
  location.hash = "#report";
}

function voiceInput() {
  const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!Recognition) return;
  const button = $("voice-input");
  button.hidden = false;
  button.addEventListener("click", () => {
    const recognition = new Recognition();
    recognition.lang = (document.documentElement.lang || "zh-CN").startsWith("zh") ? "zh-CN" : "en-US";
    recognition.onresult = (event) => {
      const words = Array.from(event.results).map((r) => r[0].transcript).join("");
      const box = $("report-description");
      box.value = (box.value ? box.value + " " : "") + words;
    };
    $("field-status").textContent = T.listening;
    recognition.start();
  });
}

// --- Tasks: 核实 and 核查 in my grids --------------------------------------------------------------------------------
function distanceM(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}
const lightSpan = (light) => el("span", { className: `light light-${light}`, text: T["light_" + light] || light });

function renderTasks() {
  const tasks = appData?.tasks || [];
  $("tasks-count").textContent = tasks.length ? String(tasks.length) : "";
  $("tasks-age").textContent = appData ? fmt(T.data_age, { time: timeText(appData.generated_at) }) : T.no_data;
  const list = $("task-list");
  list.replaceChildren();
  if (!tasks.length) list.append(el("li", { className: "panel", text: T.no_tasks }));
  for (const task of tasks) {
    const distance = lastFix && task.lat !== null ? distanceText(distanceM(lastFix, task)) : "";
    list.append(el("li", { className: "panel field-card" },
      el("h2", { text: `${task.check_label} · ${task.number}` }),
      el("p", { text: task.category }),
      el("p", { className: "hint", text: task.address || task.description.slice(0, 60) }),
      el("p", {}, lightSpan(task.light), " ",
        task.due ? el("span", { text: fmt(T.due, { time: timeText(task.due) }) }) : null,
        distance ? el("span", { className: "field-distance", text: ` · ${fmt(T.distance, { distance })}` }) : null),
      el("p", { className: "row" },
        el("a", { className: "button button-primary", href: `#task/${task.number}`, text: T.do_check }),
        task.lat !== null ? el("a", { className: "button", href: `geo:${task.lat},${task.lng}?q=${task.lat},${task.lng}`,
          text: T.navigate }) : null)));
  }
}

let tasksMap = null;
async function toggleTasksMap() {
  const button = $("tasks-map-toggle");
  const show = button.getAttribute("aria-pressed") !== "true";
  button.setAttribute("aria-pressed", String(show));
  button.textContent = show ? T.hide_map : T.show_map;
  $("tasks-map").hidden = !show;
  if (!show) return;
  const tasks = (appData?.tasks || []).filter((task) => task.lat !== null);
  const center = lastFix ? [lastFix.lat, lastFix.lng] : (tasks[0] ? [tasks[0].lat, tasks[0].lng] : [30.27, 120.16]);
  if (!tasksMap) tasksMap = await makeMap($("tasks-map"), center, 15);
  const { L, map } = tasksMap;
  for (const task of tasks) {
    L.marker([task.lat, task.lng], { title: `${task.check_label} ${task.number}` }).addTo(map)
      .bindPopup(el("a", { href: `#task/${task.number}`, text: `${task.check_label} ${task.number}` }));
  }
  map.invalidateSize();
}

// --- One check on site -----------------------------------------------------------------------------------------------
const check = { task: null, fix: null, photos: [] };

async function checkLocate() {
  $("check-position").textContent = T.locating;
  const fix = await locate();
  check.fix = fix;
  if (fix) lastFix = fix;
  const far = $("check-far");
  if (!fix) { $("check-position").textContent = T.position_none; far.hidden = true; return; }
  const task = check.task;
  const metres = task && task.lat !== null ? distanceM(fix, task) : null;
  $("check-position").textContent = metres === null ? fmt(T.position, { accuracy: fix.accuracy })
    : fmt(T.check_position, { accuracy: fix.accuracy, distance: distanceText(metres) });
  far.hidden = metres === null || metres <= config.far_m;
  if (!far.hidden) far.textContent = fmt(T.far, { distance: distanceText(metres), far: config.far_m });
}

function openTask(number) {
  const task = (appData?.tasks || []).find((t) => t.number === number);
  check.task = task || null;
  check.photos = [];
  renderCheckPhotos();
  $("check-form").reset();
  $("check-errors").hidden = true;
  if (!task) { $("task-title").textContent = number; $("task-body").replaceChildren(el("p", { text: T.no_tasks }));
    $("check-form").hidden = true; return; }
  $("check-form").hidden = false;
  $("task-title").textContent = `${task.check_label} · ${task.number}`;
  $("check-result-verify").hidden = task.check !== "verify";
  $("check-result-field").hidden = task.check !== "field_check";
  const photos = task.photos.length ? el("ul", { className: "field-photos field-originals" }, ...task.photos.map((p, i) =>
    el("li", { className: "field-photo" }, el("img", { src: p.url, alt: `${p.kind_label} ${i + 1}` }),
      el("span", { text: p.kind_label })))) : el("p", { text: T.no_photos });
  $("task-body").replaceChildren(...[
    el("p", {}, lightSpan(task.light), " ", task.due ? fmt(T.due, { time: timeText(task.due) }) : "",
      ` · ${task.state_label}`),
    el("p", { text: task.category }),
    el("p", { text: `${T.description}: ${task.description}` }),
    task.address ? el("p", { text: `${T.address}: ${task.address}` }) : null,
    task.lat !== null ? el("p", {}, el("a", { className: "button", href: `geo:${task.lat},${task.lng}?q=${task.lat},${task.lng}`,
      text: T.navigate })) : null,
    el("h2", { text: T.original_photos }), photos].filter(Boolean));
  checkLocate();
}

function renderCheckPhotos() {
  renderPhotos("check-photo-list", check.photos, (index) => { check.photos.splice(index, 1); renderCheckPhotos(); });
}

async function checkSubmit(event) {
  event.preventDefault();
  const task = check.task;
  if (!task) return;
  const note = $("check-note").value.trim();
  let action = task.check;
  const fields = { expected_seq: task.last_seq };
  if (task.check === "verify") {
    action = document.querySelector("input[name=verdict]:checked").value;
  } else {
    fields.result = document.querySelector("input[name=finding]:checked").value;
  }
  const problems = [];
  const needsPhoto = action === "verify" || (action === "field_check" && fields.result === "confirmed");
  if (needsPhoto && !check.photos.length) problems.push(T.need_photo);
  if (action === "rework" && !note) problems.push(T.need_reason);
  if (showErrors("check-errors", problems)) return;
  if (action === "rework") fields.reason = note; else if (note) fields.note = note;
  if (check.fix && action !== "rework") {
    Object.assign(fields, { fix_lat: check.fix.lat.toFixed(7), fix_lng: check.fix.lng.toFixed(7),
      fix_accuracy: check.fix.accuracy });
  }
  await enqueue({ kind: "action", number: task.number, action, fields,
    photos: action === "rework" ? [] : check.photos.map((p) => ({ ...p, field: "photos" })) });
  location.hash = "#outbox";
}

// --- Mine -----------------------------------------------------------------------------------------------------------
function renderMine() {
  const counts = appData?.counts;
  $("mine-age").textContent = appData ? fmt(T.data_age, { time: timeText(appData.generated_at) }) : T.no_data;
  const body = $("mine-counts").querySelector("tbody");
  body.replaceChildren();
  if (counts) {
    for (const [key, label] of [["reports", T.count_reports], ["checks", T.count_checks], ["on_time", T.count_on_time]]) {
      body.append(el("tr", {}, el("th", { scope: "row", text: label }),
        el("td", { className: "num", text: String(counts.today[key]) }),
        el("td", { className: "num", text: String(counts.month[key]) })));
    }
  }
  const list = $("mine-reports");
  list.replaceChildren();
  const reports = appData?.reports || [];
  if (!reports.length) list.append(el("li", { className: "panel", text: T.no_reports }));
  for (const r of reports) {
    list.append(el("li", { className: "panel field-card" }, el("h3", { text: r.number }),
      el("p", { text: r.category }),
      el("p", {}, el("strong", { text: r.state_label }), r.close_reason_label ? ` (${r.close_reason_label})` : "",
        " ", el("span", { className: "hint", text: timeText(r.created_at) }))));
  }
}

// --- Data: from the network, else the service worker's or IndexedDB's last copy -------------------------------------
async function loadData() {
  let data = null;
  try {
    const response = await fetch(config.data_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok && (response.headers.get("Content-Type") || "").includes("json")) data = await response.json();
  } catch (error) { data = null; }
  if (data) await kvSet("data", data);
  else data = await kvGet("data");
  if (!data) { showStatus(); return; }
  appData = data;
  showStatus();
  renderCategories();
  renderCategoryChips();
  renderTasks();
  renderMine();
  if (location.hash.startsWith("#task/")) {
    // A task already open stays as the worker saw it (its photos, and the version its action will name).
    const number = decodeURIComponent(location.hash.slice(6));
    if (check.task?.number !== number) openTask(number);
  }
  const urls = data.tasks.flatMap((task) => task.photos.map((p) => p.url));
  if (urls.length && navigator.serviceWorker?.controller) {
    navigator.serviceWorker.controller.postMessage({ type: "keep-photos", urls });
  }
}

// --- Views ----------------------------------------------------------------------------------------------------------
function route() {
  const hash = location.hash || "#report";
  const view = hash.startsWith("#task/") ? "task" : hash.slice(1);
  for (const section of document.querySelectorAll(".field-view")) section.hidden = section.id !== `view-${view}`;
  for (const tab of document.querySelectorAll(".field-tabs a")) {
    if (tab.dataset.tab === view || (view === "task" && tab.dataset.tab === "tasks")) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (view === "task") openTask(decodeURIComponent(hash.slice(6)));
  if (view === "outbox") renderOutbox();
}

function start() {
  window.addEventListener("hashchange", route);
  window.addEventListener("online", () => { showStatus(); sync(); loadData(); });
  window.addEventListener("offline", showStatus);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) sync(); });
  $("report-form").addEventListener("submit", reportSubmit);
  $("check-form").addEventListener("submit", checkSubmit);
  $("position-refresh").addEventListener("click", reportLocate);
  $("pin-open").addEventListener("click", openPinMap);
  $("pin-here").addEventListener("click", () => report.map && report.map.place(report.map.map.getCenter()));
  $("check-locate").addEventListener("click", checkLocate);
  $("outbox-send").addEventListener("click", async () => {
    for (const item of await outboxAll()) if (item.state === "waiting") { item.next_at = 0; await outboxPut(item); }
    sync();
  });
  $("tasks-map-toggle").addEventListener("click", toggleTasksMap);
  $("report-photos").addEventListener("change", (e) => addPhotos(e.target, report.photos, renderReportPhotos));
  $("report-before").addEventListener("change", (e) => addPhotos(e.target, report.before, renderReportPhotos));
  $("report-after").addEventListener("change", (e) => addPhotos(e.target, report.after, renderReportPhotos));
  $("check-photos").addEventListener("change", (e) => addPhotos(e.target, check.photos, renderCheckPhotos));
  $("report-self-handled").addEventListener("change", (e) => { $("self-handled-photos").hidden = !e.target.checked; });
  $("category-search").addEventListener("input", (e) => { categoryFilter.text = e.target.value; renderCategories(); });
  voiceInput();
  route();
  showStatus();
  renderOutbox();
  loadData().then(() => { reportLocate(); sync(); });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register(config.sw_url).catch(() => {});
}

start();
