// Today's timeline: bands built from the event items, drawn as one SVG.
import { clock, duration, kindWord, postureWord, isNum } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_SPAN_S = 3600; // show at least an hour so a fresh day is not one fat band
const ROWS = { posture: [2, 24], sitting: [32, 16], breaks: [54, 14], alerts: [74, 16] };
const POSTURE_CLASS = { upright: "upright", standing: "standing", forward: "forward" };

/** Bands and markers from the items (sorted by t) and the latest state. */
export function buildSegments(items, state) {
  const sorted = items.filter((it) => isNum(it.t)).sort((a, b) => a.t - b.t);
  const ts = sorted.map((it) => it.t);
  if (state && isNum(state.t)) ts.push(state.t);
  if (!ts.length) return null;
  const end = Math.max(...ts);
  const start = Math.min(Math.min(...ts), end - MIN_SPAN_S);
  const out = { start, end, posture: [], sitting: [], breaks: [], alerts: [], offline: [] };
  let current = null;
  let sitStart = null;
  let lastEnd = -Infinity; // bouts never overlap, even if a start is reported early
  let offStart = null;
  for (const it of sorted) {
    switch (it.event) {
      case "posture":
        if (current) out.posture.push({ from: current.t, to: it.t, posture: current.posture });
        current = it;
        break;
      case "sitting_start":
        sitStart = Math.max(lastEnd, isNum(it.start) ? it.start : it.t);
        break;
      case "sitting_end": {
        const from = isNum(it.start) ? it.start : sitStart ?? it.t - (it.duration_s || 0);
        out.sitting.push({ from: Math.max(from, lastEnd), to: it.t });
        lastEnd = it.t;
        sitStart = null;
        break;
      }
      case "break":
        out.breaks.push({ from: it.t - (isNum(it.duration_s) ? it.duration_s : 0), to: it.t });
        break;
      case "alert":
        out.alerts.push({ t: it.t, kind: it.kind, stretch: it.stretch });
        break;
      case "availability":
        if (!it.online) offStart ??= it.t;
        else if (offStart !== null) {
          out.offline.push({ from: offStart, to: it.t });
          offStart = null;
        }
        break;
      default:
        break;
    }
  }
  if (current) out.posture.push({ from: current.t, to: end, posture: current.posture });
  if (state?.sitting) {
    const from = sitStart ?? (isNum(state.sitting_since) ? state.sitting_since : null);
    if (isNum(from)) out.sitting.push({ from: Math.max(from, lastEnd), to: end });
  }
  if (offStart !== null) out.offline.push({ from: offStart, to: end });
  return out;
}

function el(name, attrs, title) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (title) {
    const t = document.createElementNS(SVG, "title");
    t.textContent = title;
    node.append(t);
  }
  return node;
}

/** Replace the contents of ``host`` with the timeline of ``segs`` (or a note). */
export function renderTimeline(host, segs) {
  host.replaceChildren();
  if (!segs) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "Nothing recorded today yet.";
    host.append(p);
    return;
  }
  const span = Math.max(1, segs.end - segs.start);
  const x = (t) => Math.min(1000, Math.max(0, ((t - segs.start) / span) * 1000));
  const svg = el("svg", {
    viewBox: "0 0 1000 92",
    preserveAspectRatio: "none",
    role: "img",
    "shape-rendering": "crispEdges", // no seams between touching bands
  });
  svg.setAttribute(
    "aria-label",
    `Timeline ${clock(segs.start)} to ${clock(segs.end)}: ${segs.sitting.length} sitting bouts, ` +
      `${segs.breaks.length} breaks, ${segs.alerts.length} alerts`,
  );
  for (const [y, h] of Object.values(ROWS)) {
    svg.append(el("rect", { x: 0, y, width: 1000, height: h, class: "seg-track" }));
  }
  const band = (row, from, to, cls, title) => {
    const [y, h] = ROWS[row];
    const x0 = x(from);
    const w = Math.max(1.5, x(to) - x0);
    svg.append(el("rect", { x: x0, y, width: w, height: h, class: cls }, title));
  };
  for (const s of segs.posture) {
    const cls = `seg-${POSTURE_CLASS[s.posture] ?? "other"}`;
    band("posture", s.from, s.to, cls, `${postureWord(s.posture)} ${clock(s.from)}–${clock(s.to)}`);
  }
  for (const s of segs.offline) band("posture", s.from, s.to, "seg-offline", "sensor offline");
  for (const s of segs.sitting) {
    band("sitting", s.from, s.to, "seg-sitting", `Sitting ${clock(s.from)}–${clock(s.to)}, ${duration((s.to - s.from) / 60)}`);
  }
  for (const s of segs.breaks) {
    band("breaks", s.from, s.to, "seg-break", `Break ${duration((s.to - s.from) / 60)} until ${clock(s.to)}`);
  }
  for (const a of segs.alerts) {
    const [y, h] = ROWS.alerts;
    svg.append(
      el(
        "rect",
        { x: Math.min(994, Math.max(0, x(a.t) - 3)), y, width: 6, height: h, class: "seg-alert" },
        `${kindWord(a.kind)} alert at ${clock(a.t)}: ${a.stretch ?? ""}`,
      ),
    );
  }
  const axis = document.createElement("div");
  axis.className = "axis";
  axis.setAttribute("aria-hidden", "true");
  for (let i = 0; i <= 4; i++) {
    const span_ = document.createElement("span");
    span_.textContent = clock(segs.start + (span * i) / 4);
    axis.append(span_);
  }
  host.append(svg, axis);
}

/** One line of words for an item of the events list. */
export function describe(it) {
  switch (it.event) {
    case "posture":
      return `Posture: ${postureWord(it.posture)}`;
    case "sitting_start":
      return "Sitting bout started";
    case "sitting_end":
      return `Sitting bout ended after ${duration((it.duration_s ?? 0) / 60)}`;
    case "transition":
      return it.kind === "stand_up" ? "Stood up" : it.kind === "sit_down" ? "Sat down" : "Moved";
    case "break":
      return `Break of ${duration((it.duration_s ?? 0) / 60)}`;
    case "alert":
      return `Alert: ${kindWord(it.kind)}, suggested ${it.stretch ?? "a stretch"}`;
    case "availability":
      return it.online ? "Sensor back online" : "Sensor went offline";
    case "calibrated":
      return "Calibrated";
    case "calibration_rejected":
      return `Calibration rejected: ${it.reason ?? ""}`;
    case "worn":
      return it.worn ? "Sensor put on" : "Sensor taken off";
    case "activity":
      return `Activity: ${it.activity ?? ""}`;
    case "remount":
      return "Sensor moved: recalibrate";
    default:
      return String(it.event).replaceAll("_", " ");
  }
}
