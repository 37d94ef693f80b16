// Small DOM helpers: no innerHTML, so that no text from the gateway is ever
// taken for markup.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function table(heads, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, heads.map(([label, cls]) => h("th", { class: cls, scope: "col" }, label)))),
    h("tbody", {}, rows));
}

const SVG = "http://www.w3.org/2000/svg";

// spark draws series (arrays of numbers, oldest first) as polylines with
// the given classes, on one scale.
export function spark(label, ...lines) {
  const w = 180, hgt = 32;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const max = Math.max(1, ...lines.flatMap(([s]) => s));
  for (const [s, cls] of lines) {
    if (s.length < 2) continue;
    const pl = document.createElementNS(SVG, "polyline");
    pl.setAttribute("class", cls);
    pl.setAttribute("points", s.map((v, i) => `${(i / (s.length - 1) * w).toFixed(1)},${(hgt - 1 - v / max * (hgt - 2)).toFixed(1)}`).join(" "));
    svg.append(pl);
  }
  return svg;
}

export function badge(cls, text) { return h("span", { class: "badge " + cls }, text); }

export function fmt(v, digits = 1) { return Number.isFinite(v) ? v.toFixed(digits) : "–"; }
export function pct(v, digits = 1) { return Number.isFinite(v) ? (v * 100).toFixed(digits) + "%" : "–"; }
export function when(s) { const d = new Date(s); return isNaN(d) ? "" : d.toLocaleString(); }
export function msg(el, text, good) { el.textContent = text; el.className = "msg " + (good ? "good" : "bad"); }
