// Health / SLO and Replica: read from /v1/health and /v1/kv/ when shown.
import { h, table, fmt, pct } from "./dom.js";
import { t } from "./i18n.js";
import { get } from "./api.js";

function score(v) { return h("span", { class: "score " + (v >= 0.9 ? "good" : v < 0.6 ? "bad" : "") }, fmt(v, 2)); }

function slis(list) {
  return table([[t("health.sli")], [t("health.objective"), "num"], [t("health.budget"), "num"], [t("health.burn")], [t("health.firing")]],
    list.map((s) => h("tr", {}, h("td", {}, s.sli), h("td", { class: "num" }, pct(s.objective, 2)),
      h("td", { class: "num" }, pct(s.error_budget_remaining)),
      h("td", {}, Object.entries(s.burn_rates || {}).map(([w, b]) => w + " " + fmt(b, 2)).join(" · ")),
      h("td", {}, (s.firing || []).map((a) => a.severity + " (" + a.long + "/" + a.short + " " + fmt(a.burn, 1) + ")").join(", ")))));
}

export async function loadHealth(el) {
  const r = await get("/v1/health");
  if (r.status === 404) { el.replaceChildren(h("p", { class: "muted", "data-health": "none" }, t("health.notConfigured"))); return; }
  if (r.status !== 200) { el.replaceChildren(h("p", { class: "error" }, t("err.generic", { code: r.status, msg: r.data?.error }))); return; }
  el.replaceChildren(h("p", { class: "muted" }, t("health.window", { w: r.data.score_window })),
    ...r.data.services.map((s) => h("div", { class: "card", "data-health": s.service },
      h("h2", {}, s.service + " · " + t("health.score") + " ", score(s.score)),
      slis(s.slis || []),
      table([[t("health.cloud")], [t("health.score"), "num"], [t("health.requests"), "num"], [t("health.p99"), "num"]],
        (s.clouds || []).map((c) => h("tr", {}, h("td", {}, c.cloud), h("td", { class: "num" }, score(c.score)),
          h("td", { class: "num" }, c.requests), h("td", { class: "num" }, fmt(c.p99_ms, 1) + " ms")))))));
}

export async function loadReplica(el) {
  const r = await get("/v1/kv/");
  if (r.status === 404) { el.replaceChildren(h("p", { class: "muted", "data-replica": "none" }, t("replica.notConfigured"))); return; }
  if (r.status !== 200) { el.replaceChildren(h("p", { class: "error" }, t("replica.unavailable", { err: r.data?.error || r.status }))); return; }
  const s = r.data;
  el.replaceChildren(h("div", { class: "card", "data-replica": s.site },
    table([[t("replica.site")], [t("replica.id")], [t("replica.objects"), "num"], [t("replica.members")]],
      [h("tr", {}, h("td", {}, s.site), h("td", {}, s.replica), h("td", { class: "num" }, s.objects), h("td", {}, (s.members || []).join(", ")))]),
    h("h2", {}, t("replica.peers")),
    table([[t("replica.peer")], [t("replica.state")]], (s.peers || []).map((p) => h("tr", {}, h("td", {}, p.addr + (p.site ? " (" + p.site + ")" : "")), h("td", {}, p.state || "")))),
    h("p", {}, t("replica.conflicts") + ": " + (s.conflicts || []).length + " · " + t("replica.quarantined") + ": " + (s.quarantined || []).length)));
}
