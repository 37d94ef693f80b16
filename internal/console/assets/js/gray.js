// Gray: the live policy of a route, its lanes and shares; dry run, apply,
// history and rollback through /v1/gray/.
import { h, table, when, msg } from "./dom.js";
import { t } from "./i18n.js";
import { call, get } from "./api.js";

const $ = (id) => document.getElementById(id);
let known = [];

export function initGray(routesOf) {
  $("gray-reload").addEventListener("click", () => loadGray(routesOf()));
  $("gray-route").addEventListener("change", () => showRoute($("gray-route").value));
  $("gray-apply").addEventListener("click", apply);
  $("gray-rollback").addEventListener("click", rollback);
  $("gray-dry-live").addEventListener("click", () => dryRun(false));
  $("gray-dry-cand").addEventListener("click", () => dryRun(true));
}

// loadGray lists the routes: those with a policy and those with traffic.
export async function loadGray(extra) {
  const r = await get("/v1/gray/routes");
  const names = new Set(extra);
  if (r.status === 200) for (const x of r.data.routes) names.add(x.route);
  const sel = $("gray-route"), keep = sel.value;
  known = [...names].sort();
  sel.replaceChildren(...known.map((n) => h("option", { value: n }, n)));
  if (!known.length) { $("gray-live").replaceChildren(h("p", { class: "muted" }, t("gray.noRoutes"))); return; }
  sel.value = known.includes(keep) ? keep : known[0];
  await showRoute(sel.value);
}

async function showRoute(route) {
  const live = $("gray-live");
  const r = await get("/v1/gray/routes/" + encodeURIComponent(route));
  if (r.status === 404) {
    live.replaceChildren(h("p", { class: "muted", "data-policy": "none" }, t("gray.noPolicy")));
  } else if (r.status === 200) {
    const p = r.data.policy || {};
    live.replaceChildren(
      h("p", { "data-policy": "live", "data-revision": r.data.revision }, t("gray.live", { rev: r.data.revision, who: r.data.who || "–", when: when(r.data.when) })),
      h("p", {}, t("gray.baseline") + ": " + (r.data.baseline || "–") + " · " + t("gray.mode") + ": " + (r.data.mode || "–")),
      h("p", {}, t("gray.subsets") + ": " + (p.subsets || []).map((s) => s.name + " " + JSON.stringify(s.labels)).join(", ")),
      shares(p.weights || []),
      (p.rules || []).length ? h("p", {}, t("gray.rules") + ": " + p.rules.map((x) => (x.name || "") + "→" + x.subset).join(", ")) : null);
    if (!$("gray-policy").value.trim()) $("gray-policy").value = JSON.stringify(p, null, 2);
  } else {
    live.replaceChildren(h("p", { class: "error" }, t("err.generic", { code: r.status, msg: r.data?.error })));
  }
  await history(route);
}

function shares(weights) {
  const sum = weights.reduce((a, w) => a + w.weight, 0);
  if (!sum) return null;
  const bar = h("div", { class: "bar-share", role: "img", "aria-label": t("gray.shares") });
  const legend = [];
  for (const w of weights) {
    const s = h("span", { title: w.subset });
    s.style.width = (w.weight / sum * 100).toFixed(2) + "%"; // CSSOM, allowed by the CSP
    bar.append(s);
    legend.push(w.subset + " " + (w.weight / sum * 100).toFixed(1) + "%");
  }
  return h("div", {}, h("p", {}, t("gray.shares") + ": " + legend.join(" · ")), bar);
}

async function history(route) {
  const r = await get("/v1/gray/routes/" + encodeURIComponent(route) + "/history");
  const el = $("gray-history");
  if (r.status !== 200 || !r.data?.length) { el.replaceChildren(); return; }
  el.replaceChildren(table([[t("hist.rev"), "num"], [t("hist.when")], [t("hist.who")], [t("hist.kind")], [t("hist.comment")]],
    r.data.slice().reverse().map((c) => h("tr", { "data-kind": c.kind },
      h("td", { class: "num" }, c.revision), h("td", {}, when(c.when)), h("td", {}, c.who || ""),
      h("td", {}, c.kind + (c.rolled_back ? " ↶" + c.rolled_back : "")), h("td", {}, c.comment || "")))));
}

function policyJSON() {
  try { return JSON.parse($("gray-policy").value); } catch (e) { msg($("gray-msg"), t("gray.badJSON", { err: e.message })); return null; }
}

function report(r) {
  const e = r.data?.fields?.length ? r.data.fields.map((f) => f.field + ": " + f.message).join("; ") : r.data?.error;
  msg($("gray-msg"), t("err.generic", { code: r.status, msg: e }));
}

async function apply() {
  const route = $("gray-route").value, p = policyJSON();
  if (!route || !p) return;
  const q = $("gray-comment").value ? "?comment=" + encodeURIComponent($("gray-comment").value) : "";
  const r = await call("PUT", "/v1/gray/routes/" + encodeURIComponent(route) + q, p);
  if (r.status === 200) msg($("gray-msg"), t("gray.applied", { rev: r.data.revision }), true); else report(r);
  await showRoute(route);
}

async function rollback() {
  const route = $("gray-route").value;
  if (!route || !confirm(t("gray.confirmRollback", { route }))) return;
  const q = $("gray-comment").value ? "?comment=" + encodeURIComponent($("gray-comment").value) : "";
  const r = await call("POST", "/v1/gray/routes/" + encodeURIComponent(route) + "/rollback" + q);
  if (r.status === 200) msg($("gray-msg"), t("gray.rolledBack", { rev: r.data.revision }), true); else report(r);
  await showRoute(route);
}

async function dryRun(candidate) {
  const route = $("gray-route").value;
  let probe;
  try { probe = JSON.parse($("gray-probe").value || "{}"); } catch (e) { msg($("gray-msg"), t("gray.badJSON", { err: e.message })); return; }
  const body = { request: probe };
  if (candidate) { const p = policyJSON(); if (!p) return; body.policy = p; }
  const r = await call("POST", "/v1/gray/routes/" + encodeURIComponent(route) + "/dry-run", body);
  $("gray-dry-out").textContent = JSON.stringify(r.data, null, 2);
}
