// The page: one live stream of updates from the server, one card per sensor.
import { SensorCard } from "./card.js";
import { kindWord } from "./format.js";
import { setupHistory } from "./history.js";

const TICK_MS = 5000;
const page = {
  config: {},
  status: null,
  broker: true,
  streaming: false,
  cards: new Map(),
  first: true,
};

const sensorsEl = document.getElementById("sensors");
const connEl = document.getElementById("conn");

function setConn(state, text) {
  connEl.dataset.state = state;
  connEl.textContent = text;
}

function showLink() {
  if (!page.streaming) return;
  if (page.broker) setConn("live", "Live");
  else setConn("lost", "No connection to the MQTT broker: values are not live");
}

async function send(sensor, command, body) {
  try {
    const resp = await fetch(`/api/sensors/${encodeURIComponent(sensor)}/${command}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await resp.json();
    return { ok: Boolean(data.ok), error: data.error, ...data };
  } catch (e) {
    return { ok: false, error: `the dashboard server did not answer (${e.message})` };
  }
}

const ctx = {
  get config() {
    return page.config;
  },
  send,
  daemonOnline: () => page.status,
};

function card(id) {
  let c = page.cards.get(id);
  if (!c) {
    c = new SensorCard({ id, name: id, online: null, state: null, stats: null, alert: null, timeline: [] }, ctx);
    page.cards.set(id, c);
    sensorsEl.append(c.root);
    document.getElementById("empty").hidden = true;
  }
  return c;
}

function snapshot(data) {
  page.config = data.config;
  page.status = data.status;
  page.broker = data.broker !== false;
  showLink();
  for (const c of page.cards.values()) c.root.remove();
  page.cards.clear();
  for (const view of data.sensors) {
    const c = new SensorCard(view, ctx);
    page.cards.set(view.id, c);
    sensorsEl.append(c.root);
  }
  document.getElementById("empty").hidden = page.cards.size > 0;
  renderStatus();
  renderCounters(data.counters);
}

function renderStatus() {
  document.getElementById("daemon-offline").hidden = page.status !== false;
  for (const c of page.cards.values()) c.render("status");
}

function renderCounters(counters) {
  const el = document.getElementById("counters");
  el.textContent = counters?.malformed ? `${counters.malformed} malformed messages skipped` : "";
}

function notify(sensor, alert) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return;
  const n = new Notification(`${kindWord(alert.kind)}: ${alert.stretch.name}`, {
    body: alert.message,
    tag: `${sensor}-${alert.id}`,
    icon: "/static/favicon.svg",
  });
  n.addEventListener("click", () => window.focus());
}

function onUpdate(u) {
  switch (u.type) {
    case "snapshot":
      snapshot(u.data);
      break;
    case "status":
      page.status = u.data;
      renderStatus();
      break;
    case "counters":
      renderCounters(u.data);
      break;
    case "broker":
      page.broker = u.data;
      showLink();
      break;
    case "alert":
      card(u.sensor).apply(u);
      notify(u.sensor, u.data);
      break;
    default:
      if (u.sensor) card(u.sensor).apply(u);
  }
}

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("open", () => {
    page.streaming = true;
    showLink();
  });
  es.addEventListener("message", (ev) => {
    let u;
    try {
      u = JSON.parse(ev.data);
    } catch {
      return; // the server only sends JSON; anything else is not ours to show
    }
    onUpdate(u);
  });
  es.addEventListener("error", () => {
    page.streaming = false;
    setConn("lost", es.readyState === EventSource.CLOSED ? "Disconnected: reload the page" : "Reconnecting…");
  });
}

function setupNotifications() {
  const btn = document.getElementById("notify");
  if (!("Notification" in window) || Notification.permission !== "default") return;
  btn.hidden = false;
  btn.addEventListener("click", async () => {
    await Notification.requestPermission();
    btn.hidden = true;
  });
}

setupNotifications();
setupHistory({ nameOf: (id) => page.cards.get(id)?.view.name ?? id });
connect();
// The sitting timer runs on between state updates.
setInterval(() => {
  for (const c of page.cards.values()) c.renderSitting();
}, TICK_MS);
