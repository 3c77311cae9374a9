// The hotline desk: a minimal Leaflet map (the operator's streets; base tiles only when configured) whose click sets
// the latitude/longitude fields and asks the page for the open cases near the point ("place-changed" on <body>).
// Typing the point into the fields moves the marker. Everything also works without this script.
const container = document.getElementById("desk-map");
const latInput = document.getElementById("id_lat");
const lngInput = document.getElementById("id_lng");

function announce() {
  document.body.dispatchEvent(new CustomEvent("place-changed", { bubbles: true }));
}

async function start() {
  if (!container || !window.L) return;
  const L = window.L;
  const map = L.map(container, { keyboard: true, attributionControl: false });
  if (container.dataset.tiles) L.tileLayer(container.dataset.tiles, { maxZoom: 19 }).addTo(map);
  let marker = null;
  const place = (lat, lng) => {
    if (marker) marker.setLatLng([lat, lng]);
    else marker = L.marker([lat, lng], { keyboard: false }).addTo(map);
  };
  try {
    const response = await fetch(container.dataset.boundaries, { credentials: "same-origin" });
    const streets = L.geoJSON(await response.json(), {
      style: { color: "#0b5cad", weight: 2, fillOpacity: 0.06 },
      onEachFeature: (feature, layer) => layer.bindTooltip(feature.properties.name),
    }).addTo(map);
    const bounds = streets.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds);
    else map.setView([30, 120], 12);
  } catch {
    map.setView([30, 120], 12);
  }
  const typed = () => {
    const lat = parseFloat(latInput.value), lng = parseFloat(lngInput.value);
    if (Number.isFinite(lat) && Number.isFinite(lng)) place(lat, lng);
  };
  typed();
  latInput.addEventListener("change", typed);
  lngInput.addEventListener("change", typed);
  map.on("click", (event) => {
    const { lat, lng } = event.latlng;
    latInput.value = lat.toFixed(6);
    lngInput.value = lng.toFixed(6);
    place(lat, lng);
    announce();
  });
}

// A refused call: the summary of what to fix is read out first (its links lead to the fields).
document.getElementById("error-summary")?.focus();

if (document.readyState === "complete") start();
else window.addEventListener("load", start);

// Refusals (4xx) of htmx requests carry a message meant for the person: swap them in like any answer.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status >= 400 && status < 500) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
