// Traffic: rate, errors, p50/p99 and sparklines per route and per cloud.
import { h, table, spark, fmt, pct } from "./dom.js";
import { t } from "./i18n.js";

export function renderTraffic(routesEl, cloudsEl, snap) {
  routesEl.replaceChildren(tab(snap.routes, "route"));
  cloudsEl.replaceChildren(tab(snap.clouds, "cloud"));
}

function tab(list, kind) {
  if (!list.length) return h("p", { class: "muted" }, t("traffic.none"));
  return table([[t("traffic.name")], [t("traffic.rps"), "num"], [t("traffic.err"), "num"], [t("traffic.p50"), "num"],
    [t("traffic.p99"), "num"], [t("traffic.total"), "num"], [t("traffic.spark")]],
  list.map((s) => h("tr", { ["data-" + kind]: s.name },
    h("td", {}, kind === "cloud" && s.name === "none" ? t("traffic.cloudNone") : s.name),
    h("td", { class: "num", "data-rps": s.rps }, fmt(s.rps)),
    h("td", { class: "num" }, pct(s.error_ratio, 2)),
    h("td", { class: "num" }, s.p50_ms ? fmt(s.p50_ms, 2) + " ms" : "–"),
    h("td", { class: "num" }, s.p99_ms ? fmt(s.p99_ms, 2) + " ms" : "–"),
    h("td", { class: "num" }, Math.round(s.total)),
    h("td", {}, spark(s.name + ": " + t("traffic.spark"), [s.rps_spark, "rps"], [s.err_spark, "err"])))));
}
