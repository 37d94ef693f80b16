// Faults: the fault table, add and remove through /v1/faults.
import { h, table, msg } from "./dom.js";
import { t } from "./i18n.js";
import { call, get } from "./api.js";

const $ = (id) => document.getElementById(id);

export function initFaults() {
  $("fault-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("f-name").value.trim(), spec = {};
    if ($("f-status").value) spec.abort = { status: Number($("f-status").value), ...($("f-apct").value ? { percent: Number($("f-apct").value) } : {}) };
    if ($("f-delay").value) spec.delay = { duration: $("f-delay").value.trim(), ...($("f-dpct").value ? { percent: Number($("f-dpct").value) } : {}) };
    if (!spec.abort && !spec.delay) { msg($("faults-msg"), t("faults.needOne")); return; }
    const rule = { name, spec };
    if ($("f-host").value) rule.host = $("f-host").value.trim();
    if ($("f-path").value) rule.path_prefix = $("f-path").value.trim();
    const r = await call("PUT", "/v1/faults/" + encodeURIComponent(name), rule);
    if (r.status === 200) msg($("faults-msg"), t("faults.added", { name }), true);
    else msg($("faults-msg"), t("err.generic", { code: r.status, msg: r.data?.error }));
    await loadFaults();
  });
}

function specText(s) {
  const parts = [];
  if (s.abort) parts.push((s.abort.reset ? "reset" : "abort " + s.abort.status) + " @" + s.abort.percent + "%");
  if (s.delay) parts.push("delay " + s.delay.duration + " @" + s.delay.percent + "%");
  if (s.header_trigger) parts.push("header-triggered");
  return parts.join(", ");
}

export async function loadFaults() {
  const r = await get("/v1/faults"), el = $("faults-list");
  if (r.status !== 200) { el.replaceChildren(h("p", { class: "error" }, t("err.generic", { code: r.status, msg: r.data?.error }))); return; }
  const rules = r.data.rules || [];
  if (!rules.length) { el.replaceChildren(h("p", { class: "muted", "data-faults": "0" }, t("faults.none"))); return; }
  el.replaceChildren(table([[t("faults.name")], [t("faults.match")], [t("faults.spec")], [""]],
    rules.map((x) => h("tr", { "data-fault": x.name },
      h("td", {}, x.name),
      h("td", {}, [x.host || "*", x.path_prefix || "/", (x.methods || []).join(",")].filter(Boolean).join(" ")),
      h("td", {}, specText(x.spec)),
      h("td", {}, h("button", { type: "button", class: "write danger", "aria-label": t("faults.remove") + " " + x.name,
        onclick: async () => {
          if (!confirm(t("faults.confirmRemove", { name: x.name }))) return;
          const d = await call("DELETE", "/v1/faults/" + encodeURIComponent(x.name));
          if (d.status === 200) msg($("faults-msg"), t("faults.removed", { name: x.name }), true);
          else msg($("faults-msg"), t("err.generic", { code: d.status, msg: d.data?.error }));
          await loadFaults();
        } }, t("faults.remove")))))));
}
