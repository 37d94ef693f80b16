// The console's entry point: login, the live event stream, the pages.
import { detect, setLang, current, t, apply } from "./i18n.js";
import { call, get, setCSRF, onUnauthorized } from "./api.js";
import { renderTopology } from "./topology.js";
import { renderTraffic } from "./traffic.js";
import { initGray, loadGray } from "./gray.js";
import { initFaults, loadFaults } from "./faults.js";
import { loadHealth, loadReplica } from "./health.js";

const $ = (id) => document.getElementById(id);
const pages = ["topology", "traffic", "gray", "faults", "health", "replica"];
let snap = null, es = null, session = null, refresh = null;

function showLogin(err) {
  stopStream();
  for (const p of pages) $("page-" + p).hidden = true;
  $("nav").hidden = true; $("logout").hidden = true; $("rights").textContent = "";
  $("login").hidden = false;
  $("login-error").textContent = err || "";
  $("token").focus();
}

function setLive(on) {
  $("live").className = "live " + (on ? "on" : "off");
  $("live").dataset.i18n = on ? "live.on" : "live.off";
  $("live").textContent = t($("live").dataset.i18n);
}

function startStream() {
  stopStream();
  es = new EventSource("/ui/api/events");
  es.addEventListener("open", () => setLive(true));
  es.addEventListener("error", async () => {
    setLive(false);
    if (es.readyState === EventSource.CLOSED) { // refused: the session may have ended
      const s = await get("/session");
      if (!s.data?.authenticated) showLogin(t("err.session")); else setTimeout(startStream, 3000);
    }
  });
  es.addEventListener("snapshot", (ev) => { snap = JSON.parse(ev.data); render(); });
}

function stopStream() { if (es) { es.close(); es = null; } setLive(false); }

function page() { const p = location.hash.slice(1); return pages.includes(p) ? p : "topology"; }

function render() {
  if (!snap) return;
  const p = page();
  if (p === "topology") renderTopology($("topology"), snap);
  if (p === "traffic") renderTraffic($("traffic-routes"), $("traffic-clouds"), snap);
}

async function show() {
  if (!session) return;
  if (session.site) $("site").textContent = t("site", { site: session.site });
  const p = page();
  for (const q of pages) $("page-" + q).hidden = q !== p;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.dataset.page === p) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  clearInterval(refresh);
  if (p === "gray") await loadGray(routeNames());
  if (p === "faults") await loadFaults();
  if (p === "health") { await loadHealth($("health")); refresh = setInterval(() => loadHealth($("health")), 5000); }
  if (p === "replica") { await loadReplica($("replica")); refresh = setInterval(() => loadReplica($("replica")), 5000); }
  render();
}

function routeNames() { return snap ? snap.routes.map((r) => r.name).filter((n) => n && n !== "other") : []; }

function loggedIn(s) {
  session = s;
  setCSRF(s.csrf);
  $("login").hidden = true;
  $("nav").hidden = false;
  $("logout").hidden = !s.token_required;
  $("rights").dataset.i18n = "rights." + s.rights;
  $("rights").textContent = t("rights." + s.rights);
  document.body.classList.toggle("read-only", s.rights !== "write");
  for (const b of document.querySelectorAll("button.write")) { b.disabled = s.rights !== "write"; if (b.disabled) b.title = t("err.readonly"); }
  if (s.site) $("site").textContent = t("site", { site: s.site });
  startStream();
  show();
}

async function boot() {
  const lang = detect();
  $("lang").value = lang;
  setLang(lang, false);
  $("lang").addEventListener("change", () => { setLang($("lang").value, true); if (session) show(); });
  onUnauthorized(() => { session = null; showLogin(t("err.session")); });
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await call("POST", "/login", { token: $("token").value });
    $("token").value = "";
    if (r.status === 200) loggedIn(r.data);
    else $("login-error").textContent = r.status === 429 ? t("login.limited") : t("login.wrong");
  });
  $("logout").addEventListener("click", async () => {
    await call("POST", "/logout");
    session = null; setCSRF("");
    showLogin();
  });
  window.addEventListener("hashchange", show);
  initGray(routeNames);
  initFaults();
  const s = await get("/session");
  if (s.status === 200 && s.data.authenticated) loggedIn(s.data); else showLogin();
}

boot();
export { current, apply };
