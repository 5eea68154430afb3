// Finger guidance (kioskux): the resident's enrolled fingers, from the
// server's check before the finger, named in words and shown on a picture
// of both hands seen from above, palms down (SVG, no image files).
"use strict";

const Guidance = (() => {
  const NS = "http://www.w3.org/2000/svg";
  // Finger tips per hand, thumb to little finger: x, y of the tip, length,
  // width. The left hand is on the left, its thumb on the right (palm down).
  const RIGHT = [[300, 150, 70, 34], [345, 40, 120, 30], [392, 25, 135, 30], [438, 40, 120, 30], [480, 80, 90, 26]];
  const order = ["thumb", "index", "middle", "ring", "little"];

  function add(parent, tag, attrs) {
    const n = document.createElementNS(NS, tag);
    for (const k in attrs) n.setAttribute(k, attrs[k]);
    parent.append(n);
    return n;
  }

  // picture returns an SVG of both hands with the fingers in `fingers`
  // (e.g. ["right_index", "left_index"]) coloured and numbered: the first
  // is the one asked for.
  function picture(fingers, label) {
    const s = document.createElementNS(NS, "svg");
    s.setAttribute("viewBox", "0 0 800 360");
    s.setAttribute("class", "hands");
    s.setAttribute("role", "img");
    s.setAttribute("aria-label", label);
    for (const side of ["left", "right"]) {
      const g = add(s, "g", { transform: side === "left" ? "translate(500,0) scale(-1,1)" : "translate(300,0)" });
      add(g, "rect", { x: 170, y: 150, width: 180, height: 160, rx: 60, fill: "#f2c9a8", stroke: "#7a4a2a", "stroke-width": 5 });
      RIGHT.forEach(([x0, y, len, w], i) => {
        const x = x0 - 160;
        const name = side + "_" + order[i];
        const k = fingers.indexOf(name);
        const on = k >= 0;
        const rot = i === 0 ? "rotate(-40 " + x + " " + (y + len) + ")" : "";
        const f = add(g, "rect", { x: x - w / 2, y: y, width: w, height: len + 40, rx: w / 2,
          fill: on ? (k === 0 ? "#e07000" : "#f3b36b") : "#f2c9a8", stroke: on ? "#7a3300" : "#7a4a2a", "stroke-width": on ? 7 : 5,
          "data-finger": name, class: on ? "enrolled" : "" });
        if (rot) f.setAttribute("transform", rot);
      });
    }
    // Hand labels, not mirrored.
    const lt = add(s, "text", { x: 240, y: 350, "text-anchor": "middle", "font-size": 34, "font-weight": 700, fill: "#111" });
    lt.textContent = label.split("|")[0];
    const rt = add(s, "text", { x: 560, y: 350, "text-anchor": "middle", "font-size": 34, "font-weight": 700, fill: "#111" });
    rt.textContent = label.split("|")[1] || "";
    s.setAttribute("aria-label", label.replace("|", " "));
    return s;
  }

  return { picture: picture };
})();
