// The day's stretches: a card per stretch of the catalogue, ticked once done today, each
// with a hold timer (start, a 30 s countdown, then it is sent to the daemon as done).
export const HOLD_S = 30; // every stretch of the catalogue is held about 30 seconds

export class StretchPlan {
  constructor(list, send) {
    this.list = list; // the <ul> to fill
    this.send = send; // send(body) -> reply, the daemon's cmd/done
    this.items = new Map(); // stretch id -> { li, tick, btn, status }
    this.doneHere = new Set(); // ticked at once on a good reply, before the stats come
    this.timers = new Map(); // stretch id -> interval id
  }

  render(stretches, stats) {
    const done = stats?.done_by_stretch ?? {};
    const offered = stats?.offered_by_stretch ?? {};
    for (const s of stretches) {
      const item = this.items.get(s.id) ?? this.build(s);
      const isDone = (done[s.id] ?? 0) > 0 || this.doneHere.has(s.id);
      item.li.dataset.done = String(isDone);
      item.tick.textContent = isDone ? "✓" : "";
      item.tick.setAttribute("aria-label", isDone ? "done today" : "not done yet today");
      const n = offered[s.id] ?? 0;
      const note = [n ? `suggested ${n}× today` : "not suggested yet today"];
      if (s.equipment) note.push(`needs a ${s.equipment.replace("_", " ")}`);
      if (s.end_of_day) note.push("for the end of the day");
      item.note.textContent = note.join(" · ");
    }
  }

  build(s) {
    const li = document.createElement("li");
    li.className = "plan-item";
    li.dataset.stretch = s.id;
    const tick = document.createElement("span");
    tick.className = "tick";
    tick.setAttribute("role", "img");
    const name = document.createElement("h4");
    name.textContent = s.name;
    const note = document.createElement("p");
    note.className = "muted";
    const steps = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = "How";
    const ol = document.createElement("ol");
    for (const step of s.steps) {
      const item = document.createElement("li");
      item.textContent = step;
      ol.append(item);
    }
    steps.append(summary, ol);
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "hold";
    btn.textContent = `Start ${HOLD_S} s hold`;
    btn.setAttribute("aria-label", `Start a ${HOLD_S} second hold: ${s.name}`);
    const status = document.createElement("p");
    status.className = "hold-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    btn.addEventListener("click", () => this.hold(s, btn, status));
    const head = document.createElement("div");
    head.className = "plan-head";
    head.append(tick, name);
    li.append(head, note, steps, btn, status);
    this.list.append(li);
    const item = { li, tick, note, btn, status };
    this.items.set(s.id, item);
    return item;
  }

  hold(s, btn, status) {
    if (this.timers.has(s.id)) return;
    let left = HOLD_S;
    btn.disabled = true;
    btn.textContent = `${left} s`;
    status.textContent = `Hold the ${s.name.toLowerCase()}…`;
    const timer = setInterval(async () => {
      left -= 1;
      btn.textContent = `${left} s`;
      btn.dataset.left = String(left);
      if (left > 0) return;
      clearInterval(timer);
      this.timers.delete(s.id);
      status.textContent = "Sending…";
      const reply = await this.send({ stretch: s.id });
      btn.disabled = false;
      btn.textContent = `Start ${HOLD_S} s hold`;
      delete btn.dataset.left;
      if (reply.ok) {
        this.doneHere.add(s.id);
        status.textContent = "Done. Nice work.";
        const item = this.items.get(s.id);
        item.li.dataset.done = "true";
        item.tick.textContent = "✓";
        item.tick.setAttribute("aria-label", "done today");
      } else {
        status.textContent = `Not recorded: ${reply.error ?? "refused"}`;
      }
    }, 1000);
    this.timers.set(s.id, timer);
  }
}
