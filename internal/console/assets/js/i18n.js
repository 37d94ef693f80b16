// The language of the console: Chinese first when the browser prefers it,
// then the user's choice, kept in localStorage.
import en from "../i18n/en.js";
import zh from "../i18n/zh.js";

const dicts = { en, zh };
let lang = "en";

export function detect() {
  const saved = localStorage.getItem("duohuo.lang");
  if (saved && dicts[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const base = l.toLowerCase().split("-")[0];
    if (dicts[base]) return base;
  }
  return "en";
}

export function setLang(l, save) {
  lang = dicts[l] ? l : "en";
  if (save) localStorage.setItem("duohuo.lang", lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  apply(document);
}

export function current() { return lang; }

// t returns the string of key with {name} replaced from vars.
export function t(key, vars) {
  let s = dicts[lang][key] ?? en[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll("{" + k + "}", String(v));
  return s;
}

// apply fills the elements that name a string: text, aria-label, placeholder.
export function apply(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}
