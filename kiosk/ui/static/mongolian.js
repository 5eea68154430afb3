// Bilingual Chinese and traditional Mongolian (ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ) mode: the
// main texts of each screen get their Mongolian beside the Chinese, written
// vertically (writing-mode: vertical-lr, lines left to right) in Noto Sans
// Mongolian shipped with the UI (fonts/, SIL OFL 1.1). A toggle in the bar
// under the header; it lasts until the session ends. The translations were
// not made by a native speaker: docs/kiosk.md lists them all for review.
// Works on the rendered page (window.afterRender); texts without a
// translation stay Chinese only.
"use strict";

const MONGOL = { on: false, phase: "" };

// MONGOL_TEXT maps the Chinese text of a title, lead or button to its
// Mongolian. Every entry needs a native speaker's review.
const MONGOL_TEXT = {
  "社区服务站 · 自助办理": "ᠣᠯᠠᠨ ᠨᠡᠶᠢᠲᠡ ᠶᠢᠨ ᠦᠢᠯᠡᠴᠢᠯᠡᠭᠡᠨ ᠦ ᠥᠷᠲᠡᠭᠡ · ᠥᠪᠡᠷᠲᠡᠭᠡᠨ ᠪᠠᠷᠢᠬᠤ",
  "请把身份证放在读卡区": "ᠪᠡᠶᠡ ᠶᠢᠨ ᠦᠨᠡᠮᠯᠡᠬᠦ ᠪᠢᠴᠢᠭ ᠢᠶᠡᠨ ᠤᠩᠰᠢᠭᠤᠷ ᠲᠤ ᠲᠠᠯᠪᠢᠭᠠᠷᠠᠢ",
  "请取走您的身份证": "ᠦᠨᠡᠮᠯᠡᠬᠦ ᠪᠢᠴᠢᠭ ᠢᠶᠡᠨ ᠠᠪᠤᠭᠠᠷᠠᠢ",
  "请将手指平放在指静脉仪上": "ᠬᠤᠷᠤᠭᠤ ᠪᠠᠨ ᠰᠤᠳᠠᠯ ᠲᠠᠨᠢᠭᠤᠷ ᠤᠨ ᠳᠡᠭᠡᠷ᠎ᠡ ᠲᠡᠭᠰᠢᠬᠡᠨ ᠲᠠᠯᠪᠢᠭᠠᠷᠠᠢ",
  "正在核对，请稍候": "ᠰᠢᠯᠭᠠᠵᠤ ᠪᠠᠶᠢᠨ᠎ᠠ᠂ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠷᠡᠢ",
  "正在加载，请稍候": "ᠠᠴᠢᠶᠠᠯᠠᠵᠤ ᠪᠠᠶᠢᠨ᠎ᠠ᠂ ᠲᠦᠷ ᠬᠦᠯᠢᠶᠡᠭᠡᠷᠡᠢ",
  "请选择要办理的事项": "ᠪᠠᠷᠢᠬᠤ ᠬᠡᠷᠡᠭ ᠢᠶᠡᠨ ᠰᠣᠩᠭᠣᠭᠠᠷᠠᠢ",
  "请核对信息，无误请按“确认提交”": "ᠮᠡᠳᠡᠭᠡᠯᠡᠯ ᠢᠶᠡᠨ ᠬᠢᠨᠠᠭᠠᠷᠠᠢ᠂ ᠵᠥᠪ ᠪᠣᠯ «ᠪᠠᠲᠤᠯᠠᠵᠤ ᠲᠤᠰᠢᠶᠠᠬᠤ» ᠶᠢ ᠳᠠᠷᠤᠭᠠᠷᠠᠢ",
  "确认提交": "ᠪᠠᠲᠤᠯᠠᠵᠤ ᠲᠤᠰᠢᠶᠠᠬᠤ",
  "正在提交，请稍候，不要取走身份证": "ᠲᠤᠰᠢᠶᠠᠵᠤ ᠪᠠᠶᠢᠨ᠎ᠠ᠂ ᠦᠨᠡᠮᠯᠡᠬᠦ ᠪᠢᠴᠢᠭ ᠢᠶᠡᠨ ᠪᠢᠲᠡᠬᠡᠢ ᠠᠪᠤᠷᠠᠢ",
  "已提交成功，请记下受理编号": "ᠠᠮᠵᠢᠯᠲᠠᠢ ᠲᠤᠰᠢᠶᠠᠪᠠ᠂ ᠬᠦᠯᠢᠶᠡᠨ ᠠᠪᠤᠭᠰᠠᠨ ᠳ᠋ᠤᠭᠠᠷ ᠢᠶᠠᠨ ᠲᠡᠮᠳᠡᠭᠯᠡᠭᠡᠷᠡᠢ",
  "返回": "ᠪᠤᠴᠠᠬᠤ",
  "结束办理": "ᠳᠠᠭᠤᠰᠬᠠᠬᠤ",
  "我的申请": "ᠮᠢᠨᠤ ᠭᠤᠶᠤᠴᠢᠯᠭ᠎ᠠ",
  "办理其他事项": "ᠪᠤᠰᠤᠳ ᠬᠡᠷᠡᠭ ᠪᠠᠷᠢᠬᠤ",
  "完成，请取走身份证": "ᠳᠠᠭᠤᠰᠪᠠ᠂ ᠦᠨᠡᠮᠯᠡᠬᠦ ᠪᠢᠴᠢᠭ ᠢᠶᠡᠨ ᠠᠪᠤᠭᠠᠷᠠᠢ",
  "重试": "ᠳᠠᠬᠢᠨ ᠣᠷᠤᠯᠳᠤᠬᠤ",
  "工作人员": "ᠠᠵᠢᠯᠲᠠᠨ",
  "重新打印": "ᠳᠠᠬᠢᠨ ᠳᠠᠷᠤᠮᠠᠯᠠᠬᠤ"
};

function mongolRender(v) {
  if (v.phase === "idle" && MONGOL.phase && MONGOL.phase !== "idle") MONGOL.on = false; // the session ended
  MONGOL.phase = v.phase;
  let box = document.getElementById("mongolctl");
  if (!box) {
    box = document.createElement("div");
    box.id = "mongolctl";
    const voice = document.getElementById("voicectl");
    if (voice) voice.before(box); else assistBar().append(box);
  }
  const b = document.createElement("button");
  b.type = "button";
  b.id = "mongol";
  b.className = "small";
  b.lang = "mn-Mong";
  b.textContent = "ᠮᠣᠩᠭᠣᠯ 蒙古文";
  b.setAttribute("aria-pressed", String(MONGOL.on));
  b.hidden = v.lang === "en";
  b.addEventListener("click", () => { MONGOL.on = !MONGOL.on; render(view); touch("activity"); });
  box.replaceChildren(b);
  const on = MONGOL.on && v.lang !== "en";
  document.body.classList.toggle("mongol", on);
  if (!on) return;
  const sel = "#station, main h1, main .lead, footer button, #print button, #problem";
  for (const e of document.querySelectorAll(sel)) {
    if (e.querySelector(".mong")) continue;
    const mn = MONGOL_TEXT[e.textContent.trim()];
    if (!mn) continue;
    const s = document.createElement("span");
    s.className = "mong";
    s.lang = "mn-Mong";
    s.textContent = mn;
    e.classList.add("bilingual");
    e.prepend(s);
  }
}

(window.afterRender = window.afterRender || []).push(mongolRender);
