// 呼叫工作人员: a button in the bar under the header calls the station's
// staff (the daemon asks the server, which audits the call and shows it to
// the station's staff); the bar then says whether the call went through.
// Shown only when the server can take calls (view.canCall).
"use strict";

const CALL_T = {
  zh: { call: "呼叫工作人员", calling: "正在呼叫…", called: "已通知工作人员，请稍候", failed: "呼叫没有送出，请到人工窗口" },
  en: { call: "Call staff", calling: "Calling…", called: "Staff are on their way", failed: "The call did not go through: please go to the desk" },
};

let callShown = "";

function callRender(v) {
  let box = document.getElementById("callctl");
  if (!box) {
    box = document.createElement("div");
    box.id = "callctl";
    const voice = document.getElementById("voicectl");
    if (voice) voice.before(box); else assistBar().append(box);
  }
  if (!v.canCall) { box.replaceChildren(); return; }
  const t = CALL_T[v.lang === "en" ? "en" : "zh"];
  const state = (v.assist && v.assist.state) || "";
  const b = document.createElement("button");
  b.type = "button";
  b.id = "callstaff";
  b.className = "small";
  b.textContent = t.call;
  b.disabled = state === "calling";
  b.addEventListener("click", () => touch("callstaff"));
  const s = document.createElement("span");
  s.id = "callstate";
  s.setAttribute("role", "status");
  s.textContent = state ? t[state] : "";
  box.replaceChildren(b, s);
  if (state === "called" && callShown !== "called" && v.lang !== "en" && typeof voicePlay === "function" && !VOICE.muted) {
    const screenKey = VOICE.key; // the screen's own prompt stays the current one
    voicePlay("staff.called");
    VOICE.key = screenKey;
  }
  callShown = state;
}

(window.afterRender = window.afterRender || []).push(callRender);
