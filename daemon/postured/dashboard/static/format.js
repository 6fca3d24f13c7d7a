// Words and number formats shared by the page's modules.

const POSTURE_WORDS = {
  upright: "Upright",
  forward: "Forward head",
  reclined: "Reclined",
  side_lean: "Leaning to one side",
  lying: "Lying down",
  standing: "Standing",
  unknown: "Unknown",
};

const KIND_WORDS = {
  long_sitting: "Long sitting",
  forward_head: "Forward head",
};

export function postureWord(posture) {
  return POSTURE_WORDS[posture] ?? String(posture).replaceAll("_", " ");
}

export function kindWord(kind) {
  return KIND_WORDS[kind] ?? String(kind).replaceAll("_", " ");
}

export function isNum(x) {
  return typeof x === "number" && Number.isFinite(x);
}

export function duration(minutes) {
  if (!isNum(minutes)) return "—";
  const total = Math.max(0, Math.floor(minutes));
  if (total < 60) return `${total} min`;
  const h = Math.floor(total / 60);
  const m = total % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

export function clock(t) {
  if (!isNum(t)) return "—";
  return new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function degrees(deg) {
  return `${Math.round(Math.abs(deg))}°`;
}
