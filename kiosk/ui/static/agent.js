// 为家人代办 (filing for a family member): after the resident's own card and
// finger check, a button on the menu; then the family member's card
// (agent_card), the server's check (agent_check), and from then on a band
// on every screen saying whom the resident files for. The server decides
// from the population data (same household or recorded guardian; the
// family member 70 or older, or disabled); the screens say what it decided.
"use strict";

const AGENT_T = {
  zh: {
    button: "为家人代办",
    agent_card: "请把家人的身份证放在读卡区",
    cardLead: "请先取走您本人的身份证，再放上要代办的家人（同户的老人或残疾人）的身份证。",
    agent_check: "正在核对家人的身份和户籍关系，请稍候",
    band: (n, id, rel) => "正在为 " + n + "（" + id + "，" + rel + "）代办",
    back: "不代办了，返回",
    problems: {
      agent_not_household: "户籍信息显示您和这位家人不在同一户，也没有登记监护关系，不能代办。请到人工窗口咨询。",
      agent_not_eligible: "代办只适用于年满70周岁或持残疾人证的居民。这位家人请本人办理，或到人工窗口咨询。",
      agent_card: "这张身份证不能用于代办：请确认是家人本人的有效身份证，或到人工窗口咨询。",
      agent_not_allowed: "这张身份证不能由您代办：代办人须年满18周岁，也不能为自己代办。",
    },
    hints: { own_card: "这是您本人的身份证。请取走它，把家人的身份证放上来。" },
  },
  en: {
    button: "File for a family member",
    agent_card: "Place your family member's ID card on the reader",
    cardLead: "Take your own card off first, then place the card of the family member you file for (an elderly or disabled member of your household).",
    agent_check: "Checking your family member's identity and household, please wait",
    band: (n, id, rel) => "Filing for " + n + " (" + id + ", " + (rel === "监护人" ? "guardian" : "same household") + ")",
    back: "Do not file for them; back",
    problems: {
      agent_not_household: "The household records do not put you and this person in one household, and record no guardianship: you cannot file for them. Please ask at the desk.",
      agent_not_eligible: "Filing for a family member is only for residents aged 70 or over or holding a disability certificate. They file in person, or ask at the desk.",
      agent_card: "This card cannot be used: it must be your family member's own valid ID card. Please ask at the desk.",
      agent_not_allowed: "You cannot file with this card: the agent must be 18 or over, and cannot file for themselves this way.",
    },
    hints: { own_card: "This is your own card. Take it off and place your family member's card." },
  },
};

function agentT(v) { return AGENT_T[v.lang === "en" ? "en" : "zh"]; }

// agentScreen draws the agent_card and agent_check screens (kiosk.js).
function agentScreen(v, main, foot, title, lead) {
  const t = agentT(v);
  title(t[v.phase]);
  const p = v.resident;
  if (p && p.name) main.append(el("div", { class: "who", id: "who" }, L().hello(p.name)));
  if (v.problem) main.append(el("div", { class: "problem", id: "problem" }, t.problems[v.problem] || v.problem));
  if (v.hint) main.append(el("div", { class: "hint", id: "hint" }, t.hints[v.hint] || v.hint));
  if (v.phase === "agent_check") {
    main.append(el("div", { class: "spinner", role: "progressbar" }));
    return;
  }
  if (!v.problem && !v.hint) lead(t.cardLead);
  main.append(svg("card"));
  foot.append(btn(t.back, "back"), btn(L().finish, "finish"));
}

// agentRender: the 为家人代办 button on the agent's own menu, and the band
// naming the family member on every screen of a 代办.
function agentRender(v) {
  const t = agentT(v);
  const old = document.getElementById("principal");
  if (old) old.remove();
  if (v.principal && v.mode !== "staff" && v.phase !== "idle") {
    const band = el("div", { class: "principal", id: "principal", role: "status" }, t.band(v.principal.name, v.principal.idMasked, v.principal.relation));
    const main = document.getElementById("screen");
    const h1 = document.getElementById("title");
    if (h1 && h1.parentNode === main) h1.after(band); else main.prepend(band);
  }
  if (v.phase === "menu" && v.canAgent && !v.principal && !document.querySelector("[data-act=agent]")) {
    const foot = document.getElementById("bottom");
    foot.prepend(btn(t.button, "agent", { class: "agentbtn" }));
  }
}

(window.afterRender = window.afterRender || []).push(agentRender);
