// Topology: clouds → regions → zones → instances, with what the gateway
// knows of each.
import { h, table, badge, fmt, pct } from "./dom.js";
import { t } from "./i18n.js";

export function renderTopology(el, snap) {
  if (!snap.services.length) { el.replaceChildren(h("p", { class: "muted" }, t("topo.none"))); return; }
  el.replaceChildren(...snap.services.map(service));
}

function service(s) {
  const clouds = new Map();
  for (const i of s.instances) {
    if (!clouds.has(i.cloud)) clouds.set(i.cloud, new Map());
    const regions = clouds.get(i.cloud);
    if (!regions.has(i.region)) regions.set(i.region, []);
    regions.get(i.region).push(i);
  }
  return h("div", { class: "service", "data-service": s.name },
    h("div", { class: "svc-head" },
      h("h2", {}, t("topo.service") + " " + s.name),
      s.serving_tier ? h("span", {}, t("topo.serving") + ": ", badge("tier", t("tier." + s.serving_tier))) : null,
      s.panic ? badge("panic", t("topo.panic")) : null,
      ...s.tiers.filter((tr) => tr.total > 0).map((tr) => h("span", { class: "muted" }, t("tier." + tr.tier) + " " + t("topo.healthy", { h: tr.healthy, n: tr.total })))),
    h("div", { class: "clouds" }, [...clouds].sort((a, b) => a[0].localeCompare(b[0])).map(([name, regions]) => cloud(name, regions))));
}

function cloud(name, regions) {
  const all = [...regions.values()].flat();
  const healthy = all.filter((i) => i.status === "healthy" || i.status === "probation").length;
  const rps = all.reduce((a, i) => a + i.rps, 0);
  return h("section", { class: "card cloud" + (healthy === 0 ? " down" : ""), "data-cloud": name, "aria-label": name },
    h("h2", {}, name || "–", h("span", { class: "muted" }, t("topo.healthy", { h: healthy, n: all.length })),
      h("span", { class: "muted" }, fmt(rps) + " " + t("topo.rps")), healthy === 0 ? badge("unhealthy", t("topo.down")) : null),
    [...regions].map(([region, ins]) => [
      h("p", { class: "region" }, t("topo.region", { r: region || "–" })),
      table([[t("topo.instance")], [t("topo.status")], [t("topo.weight"), "num"], [t("topo.latency"), "num"],
        [t("topo.success"), "num"], [t("topo.breaker")], [t("topo.rps"), "num"]],
      ins.sort((a, b) => (a.zone + a.id).localeCompare(b.zone + b.id)).map(instance)),
    ]));
}

function instance(i) {
  return h("tr", { class: "inst-" + i.status, "data-instance": i.id, "data-status": i.status, title: i.reason || null },
    h("td", {}, i.id, h("div", { class: "muted" }, (i.zone || "–") + (i.version ? " · " + i.version : ""))),
    h("td", {}, badge(i.status, t("status." + i.status)), i.reason ? h("div", { class: "muted reason" }, i.reason) : null),
    h("td", { class: "num" }, i.weight),
    h("td", { class: "num" }, i.latency_ms ? fmt(i.latency_ms, 2) + " ms" : "–"),
    h("td", { class: "num" }, pct(i.success_rate)),
    h("td", {}, i.breaker ? badge(i.breaker, t("breaker." + i.breaker)) : "–"),
    h("td", { class: "num" }, fmt(i.rps)));
}
