// One sensor's card: built from the <template>, updated from the sensor's view.
import { clock, degrees, duration, isNum, kindWord, postureWord } from "./format.js";
import { StretchPlan } from "./plan.js";
import { buildSegments, describe, renderTimeline } from "./timeline.js";

const MAX_EXTRAPOLATE_S = 300; // stop running the timer on when updates stop coming
const FRESH_ALERT_S = 900; // a folded card calls for attention this long after an alert
const EVENTS_SHOWN = 200;
const DONE_KEY = "postured.done-alerts";

const REPLY_WORDS = {
  calibrate: () => "Calibration started: sit tall and hold still for a few seconds",
  calibrate_forward: () => "Now lean forward slowly and hold it for a few seconds",
  snooze: (body) => `Alerts snoozed for ${body.minutes} min`,
  pause: () => "Alerts paused",
  resume: () => "Alerts resumed",
  done: () => "Stretch recorded as done",
};

function doneAlerts() {
  try {
    return new Set(JSON.parse(localStorage.getItem(DONE_KEY) ?? "[]"));
  } catch {
    return new Set();
  }
}

function markDone(id) {
  const ids = [...doneAlerts(), id].slice(-50);
  try {
    localStorage.setItem(DONE_KEY, JSON.stringify(ids));
  } catch {
    // private mode: the card is still dismissed until reload
  }
}

export function firstSentence(text) {
  const m = /^.*?[.!?](?=\s|$)/s.exec(text);
  return m ? m[0] : text;
}

export class SensorCard {
  constructor(view, ctx) {
    this.ctx = ctx; // { config, send(sensor, command, body), daemonOnline(view) }
    this.view = view;
    this.received = null; // wall time the latest state arrived
    this.rate = 1; // sensor-clock seconds per wall second (the simulator may run fast)
    const frag = document.getElementById("sensor-card").content.cloneNode(true);
    this.f = {};
    for (const node of frag.querySelectorAll("[data-f]")) this.f[node.dataset.f] = node;
    this.root = this.f.card;
    this.root.dataset.sensor = view.id;
    const nameId = `sensor-${view.id}-name`;
    this.f.name.id = nameId;
    this.root.setAttribute("aria-labelledby", nameId);
    for (const btn of frag.querySelectorAll("[data-act]")) {
      btn.addEventListener("click", () => this.act(btn));
    }
    this.chosen = null; // the reader's own open/closed choice wins over the page's default
    this.f.toggle.setAttribute("aria-controls", `sensor-${view.id}-grid`);
    this.root.querySelector(".grid").id = `sensor-${view.id}-grid`;
    this.f.toggle.addEventListener("click", () => {
      this.chosen = !this.expanded;
      this.setExpanded(this.chosen);
    });
    this.expanded = true;
    this.plan = new StretchPlan(this.f.plan, (body) => this.ctx.send(this.view.id, "done", body));
    this.setState(view.state, true);
    if (ctx.folded) this.setExpanded(false); // before the first drawing: fifty cards load fast
    this.render();
  }

  // Many sensors: each card shows its header and one summary line until opened.
  setCompact(compact) {
    this.setExpanded(this.chosen ?? !compact);
  }

  setExpanded(open) {
    if (open === this.expanded) return;
    this.expanded = open;
    if (open && this.stale) this.render();
    this.root.classList.toggle("compact", !open);
    this.f.toggle.setAttribute("aria-expanded", String(open));
    this.f.toggle.textContent = open ? "Less" : "Details";
  }

  setState(st, initial = false) {
    const now = Date.now() / 1000;
    const prev = this.view.state;
    if (!initial && prev && st && isNum(prev.t) && isNum(st.t) && this.received !== null) {
      const wall = now - this.received;
      if (wall > 1 && st.t > prev.t) this.rate = Math.min(10000, Math.max(0.1, (st.t - prev.t) / wall));
    }
    this.view.state = st;
    this.received = now;
  }

  apply(update) {
    const v = this.view;
    if (update.type === "state") this.setState(update.data);
    else if (update.type === "online") v.online = update.data;
    else if (update.type === "stats") v.stats = update.data;
    else if (update.type === "alert") v.alert = update.data;
    else if (update.type === "timeline") v.timeline.push(update.data);
    else if (update.type === "owner") v.daemon = update.data;
    this.render(update.type);
  }

  daemonOnline() {
    return this.ctx.daemonOnline(this.view);
  }

  unavailable() {
    return this.view.online === false || this.daemonOnline() === false;
  }

  render(what = "all") {
    const v = this.view;
    this.f.name.textContent = v.name;
    if (!this.expanded) {
      // Folded: only the header and the summary show; the rest is drawn when opened.
      this.stale = true;
      this.root.classList.toggle("unavailable", this.unavailable());
      this.renderBadges();
      this.renderSummary();
      return;
    }
    this.stale = false;
    const off = this.unavailable();
    this.root.classList.toggle("unavailable", off);
    this.f.unavailable.hidden = !off;
    this.f.unavailable.textContent =
      this.daemonOnline() === false
        ? "Daemon offline: no live values until it is back."
        : "Sensor unavailable: no live values until it reconnects.";
    this.renderBadges();
    this.renderPosture();
    this.renderSitting();
    this.renderSummary();
    if (what === "all" || what === "alert") this.renderAlert();
    if (what === "all" || what === "timeline" || what === "state") this.renderToday();
    if (what === "all" || what === "stats") this.renderStats();
  }

  badge(node, text, good) {
    node.textContent = text;
    if (good === null) delete node.dataset.good;
    else node.dataset.good = String(good);
  }

  renderBadges() {
    const { online, state: st } = this.view;
    const live = !this.unavailable();
    this.badge(
      this.f.link,
      online === true ? "Connected" : online === false ? "Sensor offline" : "Link unknown",
      online ?? null,
    );
    this.badge(this.f.worn, !st || !live ? "Worn: —" : st.worn ? "Worn" : "Not worn", st && live ? st.worn : null);
    this.badge(
      this.f.calibrated,
      !st ? "Calibration: —" : st.calibrated ? "Calibrated" : "Not calibrated",
      st ? st.calibrated : null,
    );
    const bat = st?.battery;
    this.badge(this.f.battery, isNum(bat) && live ? `Battery ${Math.round(bat)}%` : "Battery —", isNum(bat) && live ? bat > 20 : null);
  }

  forwardLimit() {
    return this.view.state?.forward_enter_deg ?? this.ctx.config.forward_enter_deg;
  }

  renderPosture() {
    const st = this.view.state;
    const panel = this.f["posture-panel"];
    let angle = 0;
    let over = false;
    if (this.unavailable()) {
      this.f.posture.textContent = "Sensor unavailable";
      this.f.angle.textContent = "";
    } else if (!st) {
      this.f.posture.textContent = "Waiting for data";
      this.f.angle.textContent = "";
    } else {
      const fwd = isNum(st.forward_deg) ? st.forward_deg : null;
      angle = fwd ?? 0;
      over = Boolean(st.slouching) || (fwd !== null && fwd >= this.forwardLimit());
      this.f.posture.textContent = postureWord(st.posture);
      const parts = [];
      if (st.posture === "forward") parts.push("rounded shoulders");
      if (fwd !== null && Math.abs(fwd) < 1) parts.push("level with your neutral");
      else if (fwd !== null) parts.push(`${degrees(fwd)} ${fwd >= 0 ? "forward" : "back"} of neutral`);
      if (isNum(st.side_deg) && Math.abs(st.side_deg) >= 5) parts.push(`${degrees(st.side_deg)} to the side`);
      if (!st.calibrated) parts.push("calibrate to measure against your neutral");
      else if (st.calibration_hint) parts.push(st.calibration_hint);
      this.f.angle.textContent = parts.join(" · ");
    }
    panel.classList.toggle("over", over);
    const shown = Math.max(-45, Math.min(80, angle));
    this.f.trunk.dataset.angle = String(Math.round(angle * 10) / 10);
    this.f.trunk.style.transform = `rotate(${shown}deg)`;
    this.f["figure-title"].textContent =
      `Side view: trunk ${degrees(angle)} ${angle >= 0 ? "forward" : "back"}` +
      (over ? ", past the forward limit" : "");
  }

  sittingMinutes() {
    const st = this.view.state;
    if (!st || !isNum(st.sitting_minutes)) return null;
    if (!st.sitting || this.received === null) return st.sitting_minutes;
    const wall = Math.min(MAX_EXTRAPOLATE_S, Math.max(0, Date.now() / 1000 - this.received));
    return st.sitting_minutes + (wall * this.rate) / 60;
  }

  renderSitting() {
    const st = this.view.state;
    const limit = st?.sitting_limit_min ?? this.ctx.config.sitting_limit_min;
    const panel = this.f.sitting.parentElement;
    const bar = this.f["sit-progress"];
    bar.max = limit;
    this.f["sit-limit"].textContent = `Limit ${duration(limit)} before a stretch alert`;
    const mins = this.unavailable() ? null : this.sittingMinutes();
    let label;
    if (mins === null) {
      this.f.sitting.textContent = "—";
      bar.value = 0;
      label = "Sitting time unknown";
    } else {
      this.f.sitting.textContent = st.sitting ? duration(mins) : "Not sitting";
      bar.value = st.sitting ? Math.min(limit, mins) : 0;
      label = st.sitting ? `${duration(mins)} of ${duration(limit)}` : "Not sitting";
    }
    this.f.sitting.dataset.minutes = mins === null ? "" : String(Math.floor(mins));
    bar.setAttribute("aria-label", `Sitting progress: ${label}`);
    panel.classList.toggle("over", mins !== null && Boolean(st?.sitting) && mins >= limit);
    const mode = [];
    if (st?.paused) mode.push("Alerts paused");
    if (isNum(st?.snoozed_until) && (!isNum(st.t) || st.snoozed_until > st.t)) {
      mode.push(`Snoozed until ${clock(st.snoozed_until)}`);
    }
    this.f.mode.textContent = mode.join(" · ");
  }

  // One line for the compact card: what needs doing first.
  renderSummary() {
    const st = this.view.state;
    const al = this.view.alert;
    const parts = [];
    let attention = false;
    if (this.unavailable()) parts.push(this.daemonOnline() === false ? "Daemon offline" : "Sensor unavailable");
    else if (!st) parts.push("Waiting for data");
    else {
      parts.push(postureWord(st.posture));
      const mins = this.sittingMinutes();
      const limit = st.sitting_limit_min ?? this.ctx.config.sitting_limit_min;
      if (st.sitting && mins !== null) {
        parts.push(`sitting ${duration(mins)}`);
        attention ||= mins >= limit;
      }
      attention ||= Boolean(st.slouching);
      if (st.paused) parts.push("paused");
    }
    // Both times are the sensor's clock, so a fast simulator ages its alerts as fast.
    const age = isNum(st?.t) && isNum(al?.t) ? st.t - al.t : 0;
    if (al && !doneAlerts().has(al.id) && age < FRESH_ALERT_S) {
      parts.push(`${kindWord(al.kind)}: ${al.stretch.name}`);
      attention = true;
    }
    this.f.summary.textContent = parts.join(" · ");
    this.root.classList.toggle("attention", attention && !this.unavailable());
  }

  renderAlert() {
    const al = this.view.alert;
    const show = al && !doneAlerts().has(al.id);
    this.f.stretch.hidden = !show;
    this.f["no-alert"].hidden = Boolean(show);
    if (!show) {
      this.f["no-alert"].textContent = al ? "Stretch done. Nice work." : "No alert yet. Keep it up.";
      return;
    }
    this.f.stretch.dataset.alertId = al.id;
    this.f.stretch.dataset.stretch = al.stretch.id;
    const when = isNum(al.t) ? ` · ${clock(al.t)}` : "";
    const level = al.level > 1 ? ` · reminder ${al.level}` : "";
    this.f["alert-kind"].textContent = `${kindWord(al.kind)}${level}${when}`;
    // What to change first is the message's first sentence; the stretch follows below.
    this.f["alert-message"].textContent = firstSentence(al.message);
    this.f["alert-message"].title = al.message;
    this.f["stretch-name"].textContent = al.stretch.name;
    this.f["stretch-targets"].textContent = al.stretch.targets ? `Targets: ${al.stretch.targets}` : "";
    this.f["stretch-steps"].replaceChildren(
      ...al.stretch.steps.map((s) => {
        const li = document.createElement("li");
        li.textContent = s;
        return li;
      }),
    );
    this.f["stretch-why"].textContent = al.stretch.why;
  }

  renderToday() {
    renderTimeline(this.f.timeline, buildSegments(this.view.timeline, this.view.state));
    const items = this.view.timeline.slice(-EVENTS_SHOWN).reverse();
    this.f.events.replaceChildren(
      ...items.map((it) => {
        const li = document.createElement("li");
        li.textContent = `${clock(it.t)} ${describe(it)}`;
        return li;
      }),
    );
  }

  renderStats() {
    const s = this.view.stats;
    this.plan.render(this.ctx.config.stretches ?? [], s);
    const m = s?.minutes_by_posture ?? {};
    const rows = [
      ["Upright", s ? duration((m.upright ?? 0) + (m.standing ?? 0)) : "—"],
      ["Slouched", s ? duration(m.forward ?? 0) : "—"],
      ["Sitting", s ? duration(s.sitting_minutes) : "—"],
      ["Longest bout", s ? duration(s.longest_bout_minutes) : "—"],
      ["Breaks", s ? String(s.breaks) : "—"],
      ["Alerts", s ? String(s.alerts) : "—"],
    ];
    this.f.stats.replaceChildren(
      ...rows.map(([k, val]) => {
        const div = document.createElement("div");
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = k;
        dd.textContent = val;
        div.append(dt, dd);
        return div;
      }),
    );
  }

  async act(btn) {
    const act = btn.dataset.act;
    const alert = this.view.alert;
    if (act === "done") {
      // Dismissed at once; the daemon records it (the day's plan, the history).
      if (alert) markDone(alert.id);
      this.renderAlert();
      this.renderSummary();
      if (!alert) return;
    }
    const name = act === "snooze-card" ? "snooze" : act;
    let body = {};
    if (name === "snooze") body = { minutes: Number(btn.dataset.minutes ?? 15) };
    else if (name === "done") body = { alert_id: alert.id };
    btn.disabled = true;
    btn.setAttribute("aria-busy", "true");
    this.f.reply.textContent = "Sending…";
    delete this.f.reply.dataset.ok;
    try {
      const reply = await this.ctx.send(this.view.id, name, body);
      this.f.reply.dataset.ok = String(reply.ok);
      this.f.reply.textContent = reply.ok
        ? REPLY_WORDS[name](body)
        : `${name} failed: ${reply.error ?? "refused"}`;
      if (reply.ok && act === "snooze-card") {
        markDone(this.view.alert?.id);
        this.renderAlert();
        this.renderSummary();
      }
    } finally {
      btn.disabled = false;
      btn.removeAttribute("aria-busy");
    }
  }
}
