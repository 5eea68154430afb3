// On-screen keyboard for the kiosk (which has no physical keyboard): pinyin
// with candidate characters from pinyin.txt (generated from Unihan, see
// LICENSE-UNICODE.txt), letters (ABC) for staff accounts, digits, and the
// field's common answers as one-touch choices. It is an overlay outside
// <main>, so a redraw of the screen does not lose what is being typed.
// Usage: Keyboard.open({label, value, maxLen, suggestions, suggestionLabels
// (what the answer buttons show, e.g. in English; the suggestion is filed), latinOnly,
// secret, lang, onOk(value)}).
"use strict";

const Keyboard = (() => {
  let dict = null; // syllable -> string of characters, most frequent first
  let syllables = [];
  const loading = fetch("/static/pinyin.txt").then((r) => r.text()).then((txt) => {
    dict = new Map();
    for (const line of txt.split("\n")) {
      if (!line || line[0] === "#") continue;
      const i = line.indexOf("\t");
      if (i > 0) dict.set(line.slice(0, i), line.slice(i + 1));
    }
    syllables = [...dict.keys()];
  }).catch(() => { dict = new Map(); });

  const W = {
    zh: { pinyin: "拼音", abc: "ABC", digits: "123", del: "删除", clear: "清空", space: "空格", cancel: "取消", ok: "确定",
      common: "常用回答（点一下即可填入）", typeHint: "用拼音打字：例如 shenqing，再点选要的字", more: "更多", prev: "上一页" },
    en: { pinyin: "Pinyin", abc: "ABC", digits: "123", del: "Delete", clear: "Clear", space: "Space", cancel: "Cancel", ok: "OK",
      common: "Common answers (tap one to fill in)", typeHint: "Type pinyin, e.g. shenqing, then tap the character", more: "More", prev: "Back" },
  };

  let st = null;

  // candidates returns the characters for the pinyin buffer and how many
  // letters choosing one consumes: the longest complete syllable at the
  // start of the buffer, or, while the first syllable is being typed, the
  // characters of every syllable it can become (most frequent first).
  function candidates(buf) {
    if (!buf || !dict) return { chars: [], used: 0 };
    for (let n = Math.min(6, buf.length); n > 0; n--) {
      const p = buf.slice(0, n);
      if (n < buf.length && dict.has(p)) return { chars: [...dict.get(p)], used: n };
      if (n === buf.length) {
        // The exact syllable's characters first, then those of the
        // syllables it can become, interleaved (most frequent first).
        const exact = dict.has(p) ? [...dict.get(p)] : [];
        const lists = [];
        for (const s of syllables) if (s !== p && s.startsWith(p)) lists.push([...dict.get(s)]);
        if (!exact.length && !lists.length) continue;
        const out = [...exact];
        const seen = new Set(out);
        for (let i = 0; out.length < 400; i++) {
          let any = false;
          for (const l of lists) if (i < l.length) { any = true; if (!seen.has(l[i])) { seen.add(l[i]); out.push(l[i]); } }
          if (!any) break;
        }
        return { chars: out, used: buf.length };
      }
    }
    return { chars: [], used: 0 };
  }

  function E(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }

  function open(opts) {
    st = { opts: opts, value: opts.value || "", buf: "", mode: opts.latinOnly ? "abc" : "pinyin", page: 0, shift: false };
    loading.then(draw);
    draw();
  }

  function close() {
    st = null;
    const o = document.getElementById("keyboard");
    if (o) o.remove();
  }

  function put(s) {
    const max = st.opts.maxLen || 200;
    if ([...st.value].length + [...s].length <= max) st.value += s;
  }

  function draw() {
    if (!st) return;
    const w = W[st.opts.lang === "en" ? "en" : "zh"];
    let o = document.getElementById("keyboard");
    if (!o) { o = E("div", { id: "keyboard", role: "dialog" }); document.body.append(o); }
    const shown = st.opts.secret ? "●".repeat([...st.value].length) : st.value;
    const display = E("div", { class: "kbvalue", id: "kbvalue" }, shown, st.buf ? E("u", { id: "kbbuf" }, st.buf) : null, E("span", { class: "caret" }, "▏"));
    const rows = [];
    const sugg = (st.opts.suggestions || []);
    if (sugg.length && !st.buf) {
      rows.push(E("div", { class: "kbcommon-title" }, w.common),
        E("div", { class: "kbcommon", id: "kbcommon" }, sugg.map((s, i) =>
          // An English screen shows the answer in English; the Chinese is filed.
          E("button", { type: "button", class: "kbanswer", "data-answer": s, onclick: () => { st.value = s; st.buf = ""; draw(); } },
            (st.opts.suggestionLabels || [])[i] || s))));
    }
    if (st.mode === "pinyin") {
      const c = candidates(st.buf);
      const per = 8;
      const pages = Math.max(1, Math.ceil(c.chars.length / per));
      st.page = Math.min(st.page, pages - 1);
      const shownC = c.chars.slice(st.page * per, st.page * per + per);
      rows.push(E("div", { class: "kbcands", id: "kbcands" },
        st.buf ? [
          st.page > 0 ? E("button", { type: "button", class: "kbnav", onclick: () => { st.page--; draw(); } }, "‹") : null,
          shownC.map((ch) => E("button", { type: "button", class: "kbcand", "data-cand": ch, onclick: () => {
            put(ch); st.buf = st.buf.slice(c.used); st.page = 0; draw();
          } }, ch)),
          st.page < pages - 1 ? E("button", { type: "button", class: "kbnav", "data-nav": "more", onclick: () => { st.page++; draw(); } }, "›") : null,
        ] : E("span", { class: "kbhint" }, w.typeHint)));
    }
    const key = (k, label, cls) => E("button", { type: "button", class: "kbkey " + (cls || ""), "data-k": k, onclick: () => press(k) }, label || k);
    let grid;
    if (st.mode === "digits") {
      grid = [["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"], ["-", "/", "(", ")", "，", "。", "、", "：", "？", "！"]];
    } else {
      grid = [["q", "w", "e", "r", "t", "y", "u", "i", "o", "p"], ["a", "s", "d", "f", "g", "h", "j", "k", "l"], ["z", "x", "c", "v", "b", "n", "m"]];
      if (st.mode === "abc" && st.shift) grid = grid.map((r) => r.map((k) => k.toUpperCase()));
    }
    const keyRows = grid.map((r) => E("div", { class: "kbrow" }, r.map((k) => key(k))));
    const modes = E("div", { class: "kbrow kbfunc" },
      st.opts.latinOnly ? null : key("@pinyin", w.pinyin, st.mode === "pinyin" ? "on" : ""),
      key("@abc", w.abc, st.mode === "abc" ? "on" : ""),
      st.mode === "abc" ? key("@shift", "⇧", st.shift ? "on" : "") : null,
      key("@digits", w.digits, st.mode === "digits" ? "on" : ""),
      key(" ", w.space, "wide"),
      st.mode === "pinyin" ? key("，", "，") : null,
      st.mode === "pinyin" ? key("。", "。") : null,
      key("@del", "⌫ " + w.del, "del"));
    const actions = E("div", { class: "kbactions" },
      E("button", { type: "button", id: "kbclear", onclick: () => { st.value = ""; st.buf = ""; draw(); } }, w.clear),
      E("button", { type: "button", id: "kbcancel", onclick: close }, w.cancel),
      E("button", { type: "button", class: "primary", id: "kbok", onclick: () => {
        const v = st.value.trim(); const fn = st.opts.onOk; close(); fn(v);
      } }, w.ok));
    o.replaceChildren(E("div", { class: "kbbox" }, E("h2", {}, st.opts.label), display, rows, keyRows, modes, actions));
  }

  function press(k) {
    switch (k) {
    case "@pinyin": st.mode = "pinyin"; break;
    case "@abc": flush(); st.mode = "abc"; break;
    case "@digits": flush(); st.mode = "digits"; break;
    case "@shift": st.shift = !st.shift; break;
    case "@del":
      if (st.buf) st.buf = st.buf.slice(0, -1);
      else st.value = [...st.value].slice(0, -1).join("");
      st.page = 0;
      break;
    default:
      if (st.mode === "pinyin" && /^[a-z]$/.test(k)) {
        if (st.buf.length < 30) st.buf += k;
        st.page = 0;
      } else {
        flush();
        put(k);
      }
    }
    draw();
  }

  // flush: letters typed in pinyin mode without choosing a character stay
  // as letters (a name in latin letters, an abbreviation).
  function flush() {
    if (st.buf) { put(st.buf); st.buf = ""; }
  }

  return { open: open, close: close, isOpen: () => st !== null, candidates: (b) => loading.then(() => candidates(b)) };
})();
