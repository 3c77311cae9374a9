// The cockpit: draws the ECharts charts from their JSON options, the shaded region map (Leaflet, no base tiles),
// and in big-screen mode rotates the panels and reloads the page every minute.
const charts = [];

function readJson(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function drawCharts() {
  if (!window.echarts) return;
  const big = document.documentElement.classList.contains("big-screen");
  const trend = readJson("trend-charts") || {};
  const channels = readJson("channels-chart");
  document.querySelectorAll("[data-chart]").forEach((node) => {
    const name = node.dataset.chart;
    const options = name === "channels" ? channels : trend[name.replace(/^trend-/, "")];
    if (!options) return;
    const chart = window.echarts.init(node, big ? "dark" : null, { renderer: "svg" });
    if (big) options.backgroundColor = "transparent";
    chart.setOption(options);
    charts.push(chart);
  });
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
}

function shade(value, max) {
  if (value === null || value === undefined || !max) return "#d5dbe1";
  const t = Math.min(1, value / max);
  const light = Math.round(92 - t * 55);
  return `hsl(210, 70%, ${light}%)`;
}

function drawMap() {
  const node = document.getElementById("cockpit-map");
  const data = readJson("cockpit-geojson");
  if (!node || !data || !window.L || !data.features.length) return;
  const map = window.L.map(node, { zoomControl: true, attributionControl: false, scrollWheelZoom: false });
  let mode = "density";
  const layer = window.L.geoJSON(data, {
    style: () => ({}),
    onEachFeature: (feature, polygon) => {
      polygon.bindTooltip(feature.properties.name);
      polygon.on("click", () => { window.location.href = feature.properties.url; });
    },
  }).addTo(map);
  function restyle() {
    const values = data.features.map((f) => f.properties[mode] || 0);
    const max = Math.max(...values, 0);
    layer.setStyle((feature) => ({
      color: "#1f2933", weight: 1, fillOpacity: 0.8, fillColor: shade(feature.properties[mode], max),
    }));
  }
  restyle();
  map.fitBounds(layer.getBounds());
  document.querySelectorAll(".map-shade").forEach((button) => {
    button.addEventListener("click", () => {
      mode = button.dataset.shade;
      document.querySelectorAll(".map-shade").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      restyle();
    });
  });
}

function rotate() {
  const rotor = document.querySelector(".big-rotor");
  if (!rotor) return;
  const slides = [...rotor.querySelectorAll(".big-slide")];
  const seconds = Number(rotor.dataset.rotateSeconds || 15);
  let current = 0;
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  if (!reduced) {
    window.setInterval(() => {
      slides[current].hidden = true;
      current = (current + 1) % slides.length;
      slides[current].hidden = false;
      charts.forEach((c) => c.resize());
    }, seconds * 1000);
  }
  window.setTimeout(() => window.location.reload(), 60 * 1000);
}

function start() {
  drawCharts();
  drawMap();
  rotate();
}

if (document.readyState === "complete") start();
else window.addEventListener("load", start);
