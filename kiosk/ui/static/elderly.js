// Elderly mode (适老化): larger type and buttons, a slower voice, fewer
// choices per screen (two services per page on the menu, with 上一页 and
// 下一页), and twice the time before a session is cleared (the daemon's). A toggle in the bar under the header; the mode lasts until the
// session ends. Works on the rendered page (kiosk.js calls elderRender
// after each render through window.afterRender).
"use strict";

const ELDER = { on: false, page: 0, phase: "", perPage: 2 };

const ELDER_T = {
  zh: { on: "长辈模式", prev: "上一页", next: "下一页", page: (a, b) => "第 " + a + " 页，共 " + b + " 页" },
  en: { on: "Larger text", prev: "Previous", next: "More", page: (a, b) => "Page " + a + " of " + b },
};

function elderRender(v) {
  if (v.phase === "idle" && ELDER.phase && ELDER.phase !== "idle") ELDER.on = false; // the session ended
  if (v.phase !== ELDER.phase) ELDER.page = 0;
  ELDER.phase = v.phase;
  const t = ELDER_T[v.lang === "en" ? "en" : "zh"];
  document.body.classList.toggle("elderly", ELDER.on);
  if (typeof VOICE !== "undefined") {
    VOICE.rate = ELDER.on ? 0.8 : 1.0;
    if (VOICE.audio) VOICE.audio.playbackRate = VOICE.rate;
  }
  let box = document.getElementById("elderctl");
  if (!box) {
    box = document.createElement("div");
    box.id = "elderctl";
    assistBar().prepend(box);
  }
  const b = document.createElement("button");
  b.type = "button";
  b.id = "elderly";
  b.className = "small";
  b.textContent = t.on;
  b.setAttribute("aria-pressed", String(ELDER.on));
  // The daemon hears of it too: its session machine lengthens the
  // resident's time-outs in elderly mode (kiosk/session, ElderlyFactor).
  b.addEventListener("click", () => { ELDER.on = !ELDER.on; ELDER.page = 0; render(view); touch("elderly", ELDER.on ? "on" : "off"); });
  box.replaceChildren(b);
  if (ELDER.on && v.phase === "menu") elderPaginate(t);
}

// elderPaginate shows ELDER.perPage services at a time.
function elderPaginate(t) {
  const grid = document.getElementById("services");
  if (!grid) return;
  const items = Array.from(grid.children);
  const pages = Math.max(1, Math.ceil(items.length / ELDER.perPage));
  ELDER.page = Math.min(ELDER.page, pages - 1);
  items.forEach((e, i) => { e.hidden = Math.floor(i / ELDER.perPage) !== ELDER.page; });
  if (pages === 1) return;
  const nav = document.createElement("div");
  nav.className = "elderpager";
  const go = (id, label, d, disabled) => {
    const x = document.createElement("button");
    x.type = "button";
    x.id = id;
    x.textContent = label;
    x.disabled = disabled;
    x.addEventListener("click", () => { ELDER.page += d; render(view); touch("activity"); });
    return x;
  };
  const where = document.createElement("span");
  where.id = "elderpage";
  where.textContent = t.page(ELDER.page + 1, pages);
  nav.append(go("elderprev", t.prev, -1, ELDER.page === 0), where, go("eldernext", t.next, 1, ELDER.page === pages - 1));
  grid.after(nav);
}

(window.afterRender = window.afterRender || []).push(elderRender);
