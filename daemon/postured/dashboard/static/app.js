// The page: one live stream of updates from the server, one card per sensor, the cards
// grouped by the daemon (room) that has the sensor.
import { SensorCard } from "./card.js";
import { kindWord } from "./format.js";
import { setupHistory } from "./history.js";

const TICK_MS = 5000;
// Above this many sensors the cards start folded to one line each, so fifty still fit.
const COMPACT_OVER = 12;
const LEGACY = ""; // sensors no daemon claims: a daemon of a release before node ids
const page = {
  config: {},
  status: null,
  broker: true,
  streaming: false,
  cards: new Map(),
  daemons: new Map(), // node id -> online (true, false, null)
  groups: new Map(), // node id -> { root, f }
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
  folded: false, // whether new cards start folded (many sensors)
  daemonOnline: (view) => {
    const node = view.daemon ?? LEGACY;
    if (page.daemons.has(node)) return page.daemons.get(node);
    return view.daemon == null && page.daemons.size === 1 ? [...page.daemons.values()][0] : null;
  },
};

function groupName(node) {
  return node === LEGACY ? "Posture daemon" : node;
}

function group(node) {
  let g = page.groups.get(node);
  if (g) return g;
  const frag = document.getElementById("daemon-group").content.cloneNode(true);
  const f = {};
  for (const el of frag.querySelectorAll("[data-f]")) f[el.dataset.f] = el;
  g = { root: f.group, f };
  f.group.dataset.daemon = node;
  f.title.textContent = groupName(node);
  f.title.id = `daemon-${node || "legacy"}-title`;
  f.group.setAttribute("aria-labelledby", f.title.id);
  f.list.id = `daemon-${node || "legacy"}-list`;
  f.fold.setAttribute("aria-controls", f.list.id);
  f.fold.addEventListener("click", () => {
    const open = f.fold.getAttribute("aria-expanded") !== "true";
    f.fold.setAttribute("aria-expanded", String(open));
    f.fold.textContent = open ? "Hide" : "Show";
    f.list.hidden = !open;
  });
  page.groups.set(node, g);
  // Groups in node id order, the unnamed one first.
  const after = [...page.groups.keys()].sort().find((k) => k > node && page.groups.get(k).root.isConnected);
  sensorsEl.insertBefore(g.root, after === undefined ? null : page.groups.get(after).root);
  return g;
}

function renderGroups() {
  const compact = page.cards.size > COMPACT_OVER;
  ctx.folded = compact;
  document.body.classList.toggle("many", compact);
  for (const c of page.cards.values()) c.setCompact(compact);
  const counts = new Map();
  for (const c of page.cards.values()) {
    const node = c.view.daemon ?? LEGACY;
    counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  for (const [node, g] of page.groups) {
    const n = counts.get(node) ?? 0;
    const up = page.daemons.has(node) ? page.daemons.get(node) : null;
    // An unclaimed group without sensors says nothing; a named daemon without sensors does.
    g.root.hidden = n === 0 && (node === LEGACY || up === null);
    g.f.count.textContent = `${n} sensor${n === 1 ? "" : "s"}`;
    g.f.state.textContent = up === true ? "Online" : up === false ? "Offline" : "Status unknown";
    if (up === null) delete g.f.state.dataset.good;
    else g.f.state.dataset.good = String(up);
    g.root.classList.toggle("offline", up === false);
  }
  const needing = [...page.cards.values()].filter((c) => c.root.classList.contains("attention")).length;
  const summary = document.getElementById("summary");
  summary.hidden = !compact;
  const daemons = [...page.groups.values()].filter((g) => !g.root.hidden).length;
  summary.textContent = `${page.cards.size} sensors on ${daemons} daemon${daemons === 1 ? "" : "s"}` +
    (needing ? ` · ${needing} need attention` : "");
}

function place(c) {
  const node = c.view.daemon ?? LEGACY;
  const list = group(node).f.list;
  // Cards in sensor id order within their group.
  const next = [...list.children].find((el) => el.dataset.sensor > c.view.id);
  if (c.root.parentElement !== list || c.root.nextElementSibling !== (next ?? null)) {
    list.insertBefore(c.root, next ?? null);
  }
}

function card(id) {
  let c = page.cards.get(id);
  if (!c) {
    c = new SensorCard({ id, name: id, daemon: null, online: null, state: null, stats: null, alert: null, timeline: [] }, ctx);
    page.cards.set(id, c);
    place(c);
    document.getElementById("empty").hidden = true;
    renderGroups();
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
  for (const g of page.groups.values()) g.root.remove();
  page.groups.clear();
  page.daemons.clear();
  ctx.folded = data.sensors.length > COMPACT_OVER;
  for (const d of data.daemons ?? []) {
    page.daemons.set(d.id, d.online);
    group(d.id);
  }
  for (const view of data.sensors) {
    const c = new SensorCard(view, ctx);
    page.cards.set(view.id, c);
    place(c);
  }
  document.getElementById("empty").hidden = page.cards.size > 0;
  renderStatus();
  renderCounters(data.counters);
}

function renderStatus() {
  document.getElementById("daemon-offline").hidden = page.status !== false;
  for (const c of page.cards.values()) c.render("status");
  renderGroups();
}

function onDaemon(node, online) {
  if (online === null) page.daemons.delete(node);
  else page.daemons.set(node, online);
  group(node);
  for (const c of page.cards.values()) if ((c.view.daemon ?? LEGACY) === node) c.render("status");
  renderGroups();
}

function removeCard(id) {
  const c = page.cards.get(id);
  if (!c) return;
  c.root.remove();
  page.cards.delete(id);
  document.getElementById("empty").hidden = page.cards.size > 0;
  renderGroups();
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
      document.getElementById("daemon-offline").hidden = page.status !== false;
      break;
    case "daemon":
      onDaemon(u.node, u.data);
      break;
    case "removed":
      removeCard(u.sensor);
      break;
    case "owner": {
      const c = card(u.sensor);
      c.apply(u);
      place(c);
      renderGroups();
      break;
    }
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
      renderGroups();
      break;
    default:
      if (u.sensor) {
        card(u.sensor).apply(u);
        if (u.type === "state") renderGroups(); // the count of sensors needing attention
      }
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
