// Receipt printing on the receipt screen (the daemon prints the 受理回执
// when the receipt first shows; view.print says how it went). Kept apart
// from kiosk.js: kiosk.js calls receiptPrintBox(view) on the receipt
// screen and shows what it returns. Text goes in with textContent only.
"use strict";

const PRINT_T = {
  zh: {
    printing: "正在打印受理回执，请稍候…",
    printed: "受理回执已打印，请从出纸口取走。",
    paper_out: "打印机缺纸，回执没有打印出来。您的申请已经提交成功，不会丢失。请找工作人员装纸后按“重新打印”，或记下受理编号。",
    cover_open: "打印机盖子没有合上，回执没有打印出来。您的申请已经提交成功，不会丢失。请找工作人员合上盖子后按“重新打印”，或记下受理编号。",
    failed: "打印机暂时不能使用，回执没有打印出来。您的申请已经提交成功，不会丢失。请记下受理编号，或找工作人员。",
    reprint: "重新打印",
  },
  en: {
    printing: "Printing your receipt, please wait…",
    printed: "Your receipt is printed: please take it from the slot.",
    paper_out: "The printer is out of paper, so no receipt was printed. Your filing was received and is safe. Ask staff to load paper, then press Print again, or note your reference.",
    cover_open: "The printer's cover is open, so no receipt was printed. Your filing was received and is safe. Ask staff to close it, then press Print again, or note your reference.",
    failed: "The printer is not working, so no receipt was printed. Your filing was received and is safe. Please note your reference or ask staff.",
    reprint: "Print again",
  },
};

// receiptPrintBox returns the print status and the reprint button, or null
// when the kiosk has no printer.
function receiptPrintBox(v) {
  if (!v.print) return null;
  const t = PRINT_T[v.lang === "en" ? "en" : "zh"];
  const s = v.print.state;
  const bad = s === "paper_out" || s === "cover_open" || s === "failed";
  const box = document.createElement("div");
  box.id = "print";
  box.className = "print print-" + s;
  box.setAttribute("role", bad ? "alert" : "status");
  const p = document.createElement("p");
  p.id = "printStatus";
  p.textContent = t[s] || s;
  box.append(p);
  if (s !== "printing") {
    const b = document.createElement("button");
    b.type = "button";
    b.id = "reprint";
    b.dataset.act = "reprint";
    b.className = bad ? "primary" : "small";
    b.textContent = t.reprint;
    b.addEventListener("click", () => touch("reprint"));
    box.append(b);
  }
  return box;
}
