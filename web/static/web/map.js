// Gridloop's map (Leaflet, loaded before this module as a classic script: window.L). One shared module for every face.
//
//   <div class="map" data-map data-map-boundaries="/geo/boundaries/" data-map-parent="110101001"
//        data-map-cases="/console/map/?bucket=all" data-map-tiles="" data-map-attribution=""
//        data-map-label="Map of my area"></div>
//
//   import { createMap } from "./map.js";
//   const map = createMap(element, { onCase: (number) => …, onArea: (area) => … });
//   map.setCasesUrl(url)   // new filters: reload the case layer
//   map.refresh()          // reload the case layer for the current view
//   map.highlight(points, makePopup)  // extra markers (e.g. a case and its duplicates); makePopup(point) → Element
//
// Boundaries come from data-map-boundaries (?parent=CODE&zoom=Z: GeoJSON simplified for the zoom, cached by the
// server); cases from data-map-cases (+ &bbox=west,south,east,north&zoom=Z), which answers either
// {"mode": "areas", "areas": [{code, name, lat, lng, count, red, yellow, green, paused}]} (counts per area, computed
// in the database, at low zoom) or {"mode": "markers", "cases": [{number, lat, lng, light, state, category}]}.
// Colour follows the worst light; every pin also carries a shape and a word (never colour alone).
// Base tiles only when data-map-tiles is set (GRIDLOOP_MAP_TILE_URL); otherwise boundaries on a plain background.

const L = window.L;
const LIGHT_ORDER = ["red", "yellow", "green", "paused", "none"];

function worstLight(area) {
  for (const light of ["red", "yellow", "green", "paused"]) {
    if (area[light] > 0) return light;
  }
  return "none";
}

function pinIcon(light, text, size) {
  const span = document.createElement("span");
  span.className = "map-pin-text";
  span.textContent = text;
  return L.divIcon({
    className: `map-pin map-pin-${LIGHT_ORDER.includes(light) ? light : "none"}`,
    html: span.outerHTML,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
}

function withParams(url, params) {
  const u = new URL(url, window.location.origin);
  for (const [key, value] of Object.entries(params)) u.searchParams.set(key, value);
  return u.pathname + u.search;
}

function labelled(marker, label) {
  const el = marker.getElement();
  if (el) {
    el.setAttribute("role", "button");
    el.setAttribute("aria-label", label);
  }
}

export function createMap(element, options = {}) {
  const data = element.dataset;
  const words = JSON.parse(data.mapWords || "{}");
  const word = (key, fallback) => words[key] || fallback;
  const map = L.map(element, { zoomControl: true, attributionControl: Boolean(data.mapTiles), keyboard: true,
                               zoomSnap: 1 });
  if (data.mapTiles) {
    L.tileLayer(data.mapTiles, { attribution: data.mapAttribution || "", maxZoom: 19 }).addTo(map);
  }
  const container = map.getContainer();
  container.setAttribute("role", "region");
  container.setAttribute("aria-label", data.mapLabel || "Map");

  const boundaryLayer = L.geoJSON(null, {
    style: () => ({ color: "#4a5562", weight: 1, fill: true, fillColor: "#ffffff", fillOpacity: 0.35 }),
    interactive: false,
  }).addTo(map);
  const caseLayer = L.layerGroup().addTo(map);
  const extraLayer = L.layerGroup().addTo(map);
  let casesUrl = data.mapCases || "";
  let boundaryKey = "";
  let fitted = false;
  let casesRequest = 0;

  async function loadBoundaries() {
    if (!data.mapBoundaries || !data.mapParent) return;
    const zoom = fitted ? map.getZoom() : 12;
    const url = withParams(data.mapBoundaries, { parent: data.mapParent, zoom });
    if (url === boundaryKey) return;
    boundaryKey = url;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const collection = await response.json();
    boundaryLayer.clearLayers();
    boundaryLayer.addData(collection);
    if (!fitted && boundaryLayer.getLayers().length) {
      fitted = true;
      map.fitBounds(boundaryLayer.getBounds(), { padding: [8, 8] });
    }
  }

  function drawAreas(areas) {
    for (const area of areas) {
      const light = worstLight(area);
      const size = Math.round(26 + Math.min(24, Math.sqrt(area.count) * 2));
      const marker = L.marker([area.lat, area.lng], { icon: pinIcon(light, String(area.count), size),
                                                      keyboard: true, title: area.name });
      marker.on("click", () => (options.onArea ? options.onArea(area, map) :
        map.setView([area.lat, area.lng], Math.min(map.getZoom() + 2, 18))));
      marker.addTo(caseLayer);
      labelled(marker, `${area.name}: ${area.count} ${word("cases", "cases")}` +
        (area.red ? `, ${area.red} ${word("red", "overdue")}` : "") +
        (area.yellow ? `, ${area.yellow} ${word("yellow", "due soon")}` : ""));
    }
  }

  function drawCases(cases) {
    for (const item of cases) {
      const marker = L.marker([item.lat, item.lng], { icon: pinIcon(item.light, "", 22), keyboard: true,
                                                      title: `${item.number} ${item.category}` });
      marker.on("click", () => options.onCase && options.onCase(item.number, item));
      marker.addTo(caseLayer);
      labelled(marker, `${item.number} ${item.category} (${word(item.light, item.light)})`);
    }
  }

  async function loadCases() {
    if (!casesUrl || !fitted) return;
    const mine = ++casesRequest;
    const url = withParams(casesUrl, { bbox: map.getBounds().toBBoxString(), zoom: map.getZoom() });
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok || mine !== casesRequest) return;
    const answer = await response.json();
    if (mine !== casesRequest) return;
    caseLayer.clearLayers();
    if (answer.mode === "areas") drawAreas(answer.areas || []);
    else drawCases(answer.cases || []);
    element.dataset.mapState = "loaded";
    element.dispatchEvent(new CustomEvent("map:loaded", { detail: answer }));
  }

  map.on("moveend", () => { loadBoundaries().then(loadCases); });
  map.setView([0, 0], 2);
  loadBoundaries().then(loadCases);

  return {
    leaflet: map,
    refresh: loadCases,
    setCasesUrl(url) { casesUrl = url; return loadCases(); },
    highlight(points, makePopup) {
      extraLayer.clearLayers();
      for (const point of points || []) {
        if (point.lat == null || point.lng == null) continue;
        const marker = L.marker([point.lat, point.lng], {
          icon: pinIcon(point.light || "none", point.text || "", 30), keyboard: true, title: point.label || "",
          zIndexOffset: 1000,
        });
        marker.getIcon().options.className += point.current ? " map-pin-current" : " map-pin-extra";
        if (makePopup) marker.bindPopup(() => makePopup(point));
        marker.addTo(extraLayer);
        labelled(marker, point.label || point.number || "");
        if (point.number) marker.getElement()?.setAttribute("data-number", point.number);
      }
    },
    focus(lat, lng, zoom) {
      if (lat == null || lng == null) return;
      map.setView([lat, lng], Math.max(zoom || 17, map.getZoom()));
    },
  };
}
