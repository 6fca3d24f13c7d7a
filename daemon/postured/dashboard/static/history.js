// The History view: the last 7, 30 or 90 days per sensor as charts drawn here in SVG, from
// /api/history, and this week against the last in words.
const SVG = "http://www.w3.org/2000/svg";
const H = 150; // the charts' own units: their width is the box's, so text keeps its size
const PAD = { l: 36, r: 8, t: 10, b: 22 };

function el(name, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text) node.textContent = text;
  return node;
}

function calendar(days, n) {
  // Every calendar day of the range, so a day without data is a gap, not skipped.
  const newest = days.length ? days[days.length - 1].day : null;
  if (!newest) return [];
  const byDay = new Map(days.map((d) => [d.day, d]));
  const end = new Date(`${newest}T00:00:00Z`);
  const out = [];
  for (let i = n - 1; i >= 0; i -= 1) {
    const day = new Date(end.getTime() - i * 86400000).toISOString().slice(0, 10);
    out.push({ day, data: byDay.get(day) ?? null });
  }
  return out;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * step) return m * step;
  return 10 * step;
}

// One bar chart: ``bars`` draws the main value, ``inner`` (optional) a part of it darker,
// ``marker`` (optional) a tick on each bar (the longest bout).
function barChart({ title, unit, cls, days, value, inner, marker, describe, W }) {
  const top = niceMax(Math.max(0, ...days.map((d) => (d.data ? value(d.data) : 0))));
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: `chart ${cls}`, role: "img" });
  svg.append(el("title", {}, title));
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const y = (v) => PAD.t + plotH - (v / top) * plotH;
  for (const frac of [0, 0.5, 1]) {
    const v = top * frac;
    svg.append(el("line", { class: "grid", x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
    svg.append(el("text", { class: "axis", x: PAD.l - 4, y: y(v) + 4, "text-anchor": "end" }, `${+v.toFixed(1)}`));
  }
  const slot = plotW / Math.max(days.length, 1);
  const bw = Math.max(1, slot * 0.7);
  days.forEach((d, i) => {
    const x = PAD.l + i * slot + (slot - bw) / 2;
    if (d.data) {
      const v = value(d.data);
      const bar = el("rect", { class: "bar", x, y: y(v), width: bw, height: y(0) - y(v), "data-day": d.day, "data-value": v });
      bar.append(el("title", {}, `${d.day}: ${describe(d.data)}`));
      svg.append(bar);
      if (inner) {
        const w = inner(d.data);
        svg.append(el("rect", { class: "bar-inner", x, y: y(w), width: bw, height: y(0) - y(w), "data-value": w }));
      }
      if (marker) {
        // Drawn at the top edge, dashed, when it is beyond the scale of the bars.
        const m = marker(d.data);
        const over = m > top;
        const my = y(Math.min(m, top));
        const line = el("line", { class: over ? "marker clipped" : "marker", x1: x - 1, x2: x + bw + 1, y1: my, y2: my, "data-value": m });
        line.append(el("title", {}, `${d.day}: longest bout ${Math.round(m)} min`));
        svg.append(line);
      }
    }
    const every = Math.ceil(days.length / 8);
    if (i % every === 0 || i === days.length - 1) {
      const label = d.day.slice(5);
      svg.append(el("text", { class: "axis", x: x + bw / 2, y: H - 6, "text-anchor": "middle" }, label));
    }
  });
  const fig = document.createElement("figure");
  fig.className = "chart-box";
  const cap = document.createElement("figcaption");
  cap.textContent = `${title} (${unit})`;
  fig.append(cap, svg);
  svg.setAttribute("aria-label", `${title}: ${days.filter((d) => d.data).length} days shown, up to ${+top.toFixed(1)} ${unit}`);
  return fig;
}

const min1 = (v) => `${Math.round(v)} min`;

function sensorSection(s, n, nameOf) {
  const sec = document.createElement("section");
  sec.className = "history-sensor";
  sec.dataset.sensor = s.sensor;
  const h = document.createElement("h2");
  h.textContent = nameOf(s.sensor);
  const week = document.createElement("ul");
  week.className = "week";
  for (const line of s.week) {
    const li = document.createElement("li");
    li.textContent = line.charAt(0).toUpperCase() + line.slice(1);
    week.append(li);
  }
  const days = calendar(s.days, n);
  // Two charts a row on a wide page, one on a phone; each as wide as its box.
  const box = Math.max(280, document.getElementById("history-body").clientWidth - 40);
  const W = Math.round(box >= 900 ? box / 2 - 12 : box);
  const charts = document.createElement("div");
  charts.className = "charts";
  charts.append(
    barChart({
      title: "Sitting per day, with the longest bout",
      unit: "min",
      cls: "c-sitting",
      days,
      W,
      value: (d) => d.sitting_min,
      marker: (d) => d.longest_bout_min,
      describe: (d) => `${min1(d.sitting_min)} sitting, longest bout ${min1(d.longest_bout_min)}`,
    }),
    barChart({
      title: "Slouched per day",
      unit: "min",
      cls: "c-slouched",
      days,
      W,
      value: (d) => d.slouched_min,
      describe: (d) => `${min1(d.slouched_min)} slouched`,
    }),
    barChart({
      title: "Breaks per day",
      unit: "breaks",
      cls: "c-breaks",
      days,
      W,
      value: (d) => d.breaks,
      describe: (d) => `${d.breaks} breaks`,
    }),
    barChart({
      title: "Alerts per day, and how many were followed by a stretch",
      unit: "alerts",
      cls: "c-alerts",
      days,
      W,
      value: (d) => d.alerts,
      inner: (d) => d.alerts_done,
      describe: (d) => `${d.alerts} alerts, ${d.alerts_done} followed by a stretch`,
    }),
  );
  sec.append(h, week, charts);
  return sec;
}

export function setupHistory({ nameOf }) {
  const today = document.getElementById("sensors");
  const view = document.getElementById("history");
  const body = document.getElementById("history-body");
  const tabs = { today: document.getElementById("tab-today"), history: document.getElementById("tab-history") };
  let range = 7;

  async function load() {
    body.setAttribute("aria-busy", "true");
    let data;
    try {
      const resp = await fetch(`/api/history?days=${range}`);
      data = await resp.json();
      if (!resp.ok) throw new Error(data.error ?? `HTTP ${resp.status}`);
    } catch (e) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = `No history to show: ${e.message}`;
      body.replaceChildren(p);
      body.removeAttribute("aria-busy");
      return;
    }
    body.replaceChildren(...data.sensors.map((s) => sensorSection(s, range, nameOf)));
    if (!data.sensors.length) body.textContent = "No days in the history yet.";
    body.removeAttribute("aria-busy");
  }

  function show(which) {
    const hist = which === "history";
    today.hidden = hist;
    view.hidden = !hist;
    tabs.today.setAttribute("aria-pressed", String(!hist));
    tabs.history.setAttribute("aria-pressed", String(hist));
    if (hist) load();
  }

  tabs.today.addEventListener("click", () => show("today"));
  tabs.history.addEventListener("click", () => show("history"));
  for (const btn of view.querySelectorAll("[data-range]")) {
    btn.addEventListener("click", () => {
      range = Number(btn.dataset.range);
      for (const b of view.querySelectorAll("[data-range]")) b.setAttribute("aria-pressed", String(b === btn));
      load();
    });
  }
}
