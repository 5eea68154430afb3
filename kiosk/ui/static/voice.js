// Voice guidance in Mandarin: each screen's prompt (static/voice/KEY.opus,
// made by scripts/gen-voice.sh from static/voice/prompts.json) plays when
// the screen, its problem or its hint changes; volume and mute controls sit
// in a bar under the header. kiosk.js calls voiceRender(view) after each
// render (window.afterRender). The
// English screen has no voice (there are no English prompts). Mute lasts
// until the session ends; the volume stays for the kiosk.
"use strict";

const VOICE = {
  muted: false,
  volume: 0.8,
  rate: 1.0, // slower in elderly mode (elderly.js sets it)
  key: "",
  audio: null,
  errors: 0,
};

const VOICE_T = {
  zh: { louder: "大声", quieter: "小声", mute: "静音", unmute: "开声音", again: "再听一遍" },
  en: { louder: "Louder", quieter: "Quieter", mute: "Mute", unmute: "Sound on", again: "Repeat" },
};

// voiceKey is the prompt of the view: a problem or a hint says more than
// the screen's title; on the receipt screen the printer's outcome follows.
function voiceKey(v) {
  if (v.problem) return "problem." + v.problem;
  if (v.hint) return "hint." + v.hint;
  if (v.phase === "receipt" && v.print && v.print.state !== "printing") return "print." + v.print.state;
  return "phase." + v.phase;
}

function voicePlay(key) {
  VOICE.key = key;
  document.body.dataset.voice = key;
  if (!VOICE.audio) {
    VOICE.audio = new Audio();
    VOICE.audio.id = "voice";
    VOICE.audio.addEventListener("error", () => { VOICE.errors++; document.body.dataset.voiceError = key; });
  }
  const a = VOICE.audio;
  a.pause();
  a.src = "/static/voice/" + key + ".opus";
  a.volume = VOICE.volume;
  a.playbackRate = VOICE.rate;
  a.muted = VOICE.muted;
  if (VOICE.muted) return;
  const p = a.play();
  if (p && p.catch) p.catch(() => {}); // autoplay refused: the screen still says it
}

// assistBar is the bar under the header that voice.js, elderly.js and
// mongolian.js each put their own controls in.
function assistBar() {
  let bar = document.getElementById("assistbar");
  if (!bar) {
    bar = document.createElement("div");
    bar.id = "assistbar";
    document.getElementById("top").after(bar);
  }
  return bar;
}

function voiceControls(v) {
  const t = VOICE_T[v && v.lang === "en" ? "en" : "zh"];
  let box = document.getElementById("voicectl");
  if (!box) {
    box = document.createElement("div");
    box.id = "voicectl";
    box.setAttribute("role", "group");
    assistBar().append(box);
  }
  const b = (id, label, fn, pressed) => {
    const e = document.createElement("button");
    e.type = "button";
    e.id = id;
    e.className = "small";
    e.textContent = label;
    if (pressed !== undefined) e.setAttribute("aria-pressed", String(pressed));
    e.addEventListener("click", () => { fn(); voiceControls(view); touch("activity"); });
    return e;
  };
  const level = document.createElement("span");
  level.id = "voicelevel";
  level.textContent = VOICE.muted ? "×" : String(Math.round(VOICE.volume * 10));
  box.replaceChildren(
    b("voicedown", t.quieter, () => { VOICE.volume = Math.max(0.1, Math.round((VOICE.volume - 0.2) * 10) / 10); voiceApply(); }),
    level,
    b("voiceup", t.louder, () => { VOICE.volume = Math.min(1, Math.round((VOICE.volume + 0.2) * 10) / 10); voiceApply(); }),
    b("voicemute", VOICE.muted ? t.unmute : t.mute, () => { VOICE.muted = !VOICE.muted; voiceApply(); if (!VOICE.muted && VOICE.key) voicePlay(VOICE.key); }, VOICE.muted),
    b("voiceagain", t.again, () => { if (VOICE.key) { VOICE.muted = false; voicePlay(VOICE.key); } }));
}

function voiceApply() {
  if (!VOICE.audio) return;
  VOICE.audio.volume = VOICE.volume;
  VOICE.audio.muted = VOICE.muted;
  if (VOICE.muted) VOICE.audio.pause();
}

function voiceRender(v) {
  if (v.phase === "idle" && VOICE.muted) VOICE.muted = false; // the next resident hears the kiosk
  voiceControls(v);
  if (v.lang === "en") { // no English prompts: stay silent
    if (VOICE.audio) VOICE.audio.pause();
    VOICE.key = "";
    delete document.body.dataset.voice;
    return;
  }
  const key = voiceKey(v);
  if (key !== VOICE.key) voicePlay(key);
}

(window.afterRender = window.afterRender || []).push(voiceRender);
