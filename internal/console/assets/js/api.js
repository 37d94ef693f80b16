// Calls to the console's API. Changes carry the session's CSRF token; the
// session cookie travels by itself (same origin, SameSite=Strict).
let csrf = "";
let onSessionEnd = () => {};

export function setCSRF(v) { csrf = v || ""; }
export function onUnauthorized(f) { onSessionEnd = f; }

// call sends method to /ui/api + path and returns {status, data}.
export async function call(method, path, body) {
  const headers = { "X-Duohuo-Admin": "1" };
  if (method !== "GET") headers["X-Duohuo-Csrf"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch("/ui/api" + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  let data = null;
  const text = await resp.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text.trim() }; }
  if (resp.status === 401 && path !== "/login") onSessionEnd();
  return { status: resp.status, data };
}

export const get = (p) => call("GET", p);
