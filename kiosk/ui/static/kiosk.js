// The kiosk screen: renders the daemon's view (server-sent events on
// /events) and posts touches to /touch. Text goes in with textContent only.
"use strict";

const T = {
  zh: {
    station: "社区服务站 · 自助办理", selfService: "自助办理", switchLang: "English", staff: "工作人员",
    idle: "请把身份证放在读卡区", takeCardAway: "请取走您的身份证", takeCardLead: "要办理，请先取走身份证，再重新放上。", idleLead: "放好后，按屏幕提示把手指放在指静脉仪上。",
    place_finger: "请将手指平放在指静脉仪上", placeLead: "请用登记过的手指，放平，不要移动。",
    hello: (n) => n + "，您好", residentIs: (n) => "居民：" + n, tries: (a, b) => "第 " + a + " 次，共 " + b + " 次",
    verifying: "正在核对，请稍候", loading: "正在加载，请稍候",
    menu: "请选择要办理的事项", due: (d) => "办理时限 " + d + " 天",
    myFilings: "我的申请", finish: "结束办理", back: "返回", retry: "重试",
    form: "请核对信息，无误请按“确认提交”", formFill: "请点黄色的格子填写，然后按“确认提交”", confirm: "确认提交", tapToEnter: "点此填写", ok: "确定",
    submitting: "正在提交，请稍候，不要取走身份证",
    receipt: "已提交成功，请记下受理编号", ref: "受理编号", filedAt: "提交日期", dueAt: "答复期限",
    dueBefore: (d) => d + " 前答复", another: "办理其他事项", takeCard: "完成，请取走身份证",
    certified: "认证成功", certifiedAlready: "您今年已经认证过了，不用再认证", certYear: (y) => y + " 年度", certAt: "认证时间", certOnly: "刷证验指即完成，无需填表",
    certLead: "本年度养老金领取资格认证已完成，不需要再做别的。", certAlreadyLead: (at) => "您已于 " + at + " 完成本年度认证，这次不再重复记录。",
    filings: "这是您以前的申请和反映的问题", noFilings: "您还没有提交过申请，也没有反映过问题。", reply: "答复",
    reportSub: "噪声、暖气、违建、低保咨询等，由承办单位限期答复",
    decidedOn: "办结日期", repliedOn: "答复日期", notYet: "尚未办结",
    newReplies: (n) => "您有新的答复 " + n + " 件", newRepliesLead: "请按这里查看", newBadge: "新",
    rateIt: "评价这次办理", yourRating: (w) => "您的评价：" + w, rateTitle: "请为这次办理评价", rateReasons: "原因（可多选，可不选）",
    sendRating: "提交评价", sendingRating: "正在提交评价…",
    unavailable: "网络暂时中断", autoRetry: "网络恢复后会自动继续。",
    // ---- visible time-outs, waits, attempts (kioskux) ----
    retryIn: (n) => n + " 秒后自动重试", throttledTitle: "请稍等，马上自动继续", waitLeft: (n) => "还要等 " + n + " 秒",
    missing: (names) => "有 " + names.length + " 项没有填：" + names.join("、") + "。请点黄色的格子填写。",
    countdownTitle: "您还在办理吗？", countdownLead: (n) => "没有操作的话，" + n + " 秒后会清除您填写的信息。", keepGoing: "继续办理",
    attemptsLeft: (n) => "还可以再试 " + n + " 次", lockedFor: (until, m) => "已暂时锁定，请在 " + until + " 以后（约 " + m + " 分钟）再来，或到人工窗口请工作人员核对身份后解锁。",
    ended: { timeout: "上一位居民长时间没有操作，办理已结束，信息已清除。", receipt_timeout: "上一次办理已完成，信息已清除。", card_removed: "身份证已取走，办理已结束，信息已清除。",
      finished: "办理已结束，信息已清除。", staff_timeout: "工作人员长时间没有操作，已自动退出。" },
    scrollMore: "↓ 下面还有内容，请用手指向上滑动查看",
    checking: "正在查询您的登记信息，请稍候",
    placeNamed: (f) => "请把" + f + "平放在指静脉仪上", placeNamedLead: (fs) => "您登记过的手指：" + fs.join("、") + "（图中橙色的手指）。放平，不要移动。",
    noMatchNamed: (fs) => "没有核对上。请用登记过的手指再放一次：" + fs.join("或") + "。", hands: "左手|右手",
    failed: "这次没有办成",
    card_problem: "请看下面的说明",
    problems: {
      card_expired: "您的身份证已过期，请到派出所换领新证后再来。",
      not_enrolled: "您还没有登记指静脉，请到人工窗口请工作人员帮您登记。",
      not_registered: "系统里没有找到您的户籍信息，请到人工窗口咨询。",
      card_unreadable: "身份证没有读出来，请拿起身份证，重新平放在读卡区。",
      too_many_tries: "多次没有核对成功，请到人工窗口办理。",
      scanner_fault: "指静脉仪暂时不能使用，请按“重试”或找工作人员。",
      server_down: "您的信息没有丢失，请按“重试”，或稍等自动继续。",
      submit_unsure: "申请可能还没送达。请按“重试”，不会重复提交。",
      rejected: "服务器没有接受这次办理，请到人工窗口咨询。",
      login_failed: "用户名或 PIN 码不对，请重新输入。",
      pin_locked: "PIN 码输错次数太多，已锁定。请到办公室重新设置 PIN 码（或请管理员重设）。",
      already_enrolled: "这位居民已经登记过：新采集的指静脉已提交，须经本站主管审批后才替换原登记，原登记在此之前继续有效。",
      replacement_waiting: "这位居民已有一份替换登记在等待主管审批，这次采集没有保存。",
      other_station: "只有本服务站的工作人员才能在这台终端上登录和登记。",
      locked: "失败次数太多，已暂时锁定，请稍后再来或到人工窗口办理。",
      suspended: "您的资格暂停，请到人工窗口咨询。",
      form_invalid: "下面标黄的项填得不对，请改正后再按“确认提交”。",
      throttled: "这台机器刚才有多次指静脉核对没有通过，为了安全需要稍等一会儿，时间到了会自动继续，您不用做什么。",
      recapture: "主管已确认。为了安全，请再采集一次（每根手指 3 次）。",
      enrol_inconsistent: "这根手指的几次采集互相对不上（放的位置不一样，或放了别的手指），没有保存。对不上的那几次已去掉，请让居民把同一根手指像前几次一样平放，再采集一次。",
      rate_failed: "评价没有提交成功，请再按一次“提交评价”，或稍后再评。",
    },
    hints: {
      no_finger: "未检测到手指，请把手指放到指静脉仪上。",
      not_flat: "请将手指平放，不要移动。",
      no_match: "没有核对上，请用登记过的那根手指再放一次。",
      lift: "请把手指拿开，再重新放上。",
      moving: "手指在动，请放稳，不要移动。",
      exposure: "光线不合适：请把手指完全盖住指静脉仪的窗口，放平放稳。",
      reverify: "为了安全，请再把手指放一次。",
      rated: "谢谢您的评价，我们会认真改进。",
      new_replies: "您有新的答复，请按“我的申请”查看。",
    },
    serverDown: "网络暂时中断，工作人员正在处理。", readerDown: "读卡器暂时不能使用，请找工作人员。",
    scannerDown: "指静脉仪暂时不能使用，请找工作人员。",
    staff_login: "工作人员登录", user: "用户名", password: "密码", pin: "PIN 码（6 位数字）", login: "登录", cancel: "取消",
    staffLead: "PIN 码在办公室设置（工作人员页面或请管理员设置）。输错 5 次会锁定。", pinLeft: (n) => "还可以再试 " + n + " 次，之后 PIN 码将被锁定。",
    staffName: (n) => "当前登录：" + n,
    enrol_consent: "请向居民说明并征得同意",
    consentHeading: "采集指静脉信息告知与同意书",
    consentText: [
      "为了在本社区服务站的自助终端上核对您的身份，我们将采集您两根手指的指静脉图像，并由此生成特征模板。",
      "指静脉信息属于敏感个人信息。它加密保存在政务服务中心的服务器上，只用于核对您本人的身份和防止重复登记，不用于其他目的，不提供给其他单位。",
      "您可以不同意。不同意不影响您在人工窗口办理任何事项。",
      "您可以随时到服务站撤回同意，我们将删除您的指静脉信息。",
      "本次同意将被记录：告知书版本、时间、工作人员和终端。",
    ],
    consentLead: "请工作人员向居民读一遍以上内容。居民同意后，请居民本人按“我同意采集”。", consentVersion: "告知书版本：",
    consentYes: "我同意采集", consentNo: "不同意，返回",
    staff_busy: "正在处理，请稍候",
    staff_menu: "请选择工作", enrol: "登记居民指静脉", diagnostics: "设备诊断", logout: "退出登录",
    enrol_card: "请让居民把身份证放在读卡区",
    enrol_capture: (f, i, n) => "请让居民把" + f + "平放在指静脉仪上（第 " + i + " 次，共 " + n + " 次）",
    enrolAllDone: "采集完成，请按“提交登记”", quality: "质量", minQ: (q) => "最低 " + q,
    retake: "重新采集", skipFinger: "换一根手指", submitEnrol: "提交登记",
    enrol_supervisor: "发现疑似重复登记，需要主管确认",
    supervisorLead: "这位居民的指静脉与另一位已登记居民相似。请主管核对身份证和本人后输入账号确认。",
    supervisorOk: "主管确认登记", reject: "不登记",
    enrol_done: "登记完成，请居民取走身份证", enrol_pending: "已登记过 → 替换待主管审批，请居民取走身份证", next: "登记下一位",
    diagTitle: "设备诊断", connected: "已连接", disconnected: "未连接", server: "中心服务器",
    reader: "身份证读卡器", scanner: "指静脉仪", lastError: "最近错误", since: "状态开始于", reconnects: "重连次数",
    port: "接口", model: "型号", techDetail: "技术详情（给维修人员）",
    devErr: { timeout: "设备没有响应（超时）。请检查连接线，或重新插拔设备。", not_found: "找不到设备。请检查连接线是否插好。",
      permission: "没有权限打开设备。请联系技术人员检查设置。", busy: "设备被其他程序占用。请重启终端。",
      io: "与设备的通信中断，设备可能被拔出。请检查连接线。", down: "设备未连接，正在自动重连。请检查连接线；仍不行请联系技术人员。",
      other: "设备出错。请联系技术人员。" },
    fingers: { right_thumb: "右手拇指", right_index: "右手食指", right_middle: "右手中指", right_ring: "右手无名指", right_little: "右手小指",
      left_thumb: "左手拇指", left_index: "左手食指", left_middle: "左手中指", left_ring: "左手无名指", left_little: "左手小指" },
  },
  en: {
    station: "Community service station · Self-service", selfService: "Self-service", switchLang: "中文", staff: "Staff",
    idle: "Place your ID card on the reader", takeCardAway: "Please take your ID card", takeCardLead: "To start again, take the card off and place it again.", idleLead: "Then follow the screen to put your finger on the vein scanner.",
    place_finger: "Lay your finger flat on the vein scanner", placeLead: "Use the finger you enrolled; keep it flat and still.",
    hello: (n) => "Hello, " + n, residentIs: (n) => "Resident: " + n, tries: (a, b) => "Try " + a + " of " + b,
    verifying: "Checking, please wait", loading: "Loading, please wait",
    menu: "Choose the service you need", due: (d) => "Answered within " + d + " days",
    myFilings: "My filings", finish: "Finish", back: "Back", retry: "Try again",
    form: "Check your details, then press Confirm", formFill: "Tap the yellow boxes to fill them in, then press Confirm", confirm: "Confirm", tapToEnter: "Tap to fill in", ok: "OK",
    submitting: "Sending, please wait; leave your card on the reader",
    receipt: "Filed. Please note your reference number", ref: "Reference", filedAt: "Filed on", dueAt: "Answer due",
    dueBefore: (d) => "by " + d, another: "Another service", takeCard: "Done, take your card",
    certified: "Certified", certifiedAlready: "You are already certified this year", certYear: (y) => "Year " + y, certAt: "Certified on", certOnly: "Card and finger only, no form",
    certLead: "Your pension proof of life for this year is done; nothing else is needed.", certAlreadyLead: (at) => "You were certified on " + at + "; this visit is not recorded again.",
    filings: "Your earlier filings and reported problems", noFilings: "You have no filings or reports yet.", reply: "Reply",
    reportSub: "Noise, heating, illegal building, questions about dibao…: the unit in charge answers by a deadline",
    decidedOn: "Decided on", repliedOn: "Answered on", notYet: "Not decided yet",
    newReplies: (n) => "You have " + n + (n === 1 ? " new reply" : " new replies"), newRepliesLead: "Tap here to read", newBadge: "New",
    rateIt: "Rate this service", yourRating: (w) => "Your rating: " + w, rateTitle: "How was this service?", rateReasons: "Why (any number, or none)",
    sendRating: "Send rating", sendingRating: "Sending your rating…",
    unavailable: "The network is down for now", autoRetry: "It will continue by itself when the network is back.",
    // ---- visible time-outs, waits, attempts (kioskux) ----
    retryIn: (n) => "Trying again in " + n + " s", throttledTitle: "Please wait; it continues by itself", waitLeft: (n) => n + " s to wait",
    missing: (names) => (names.length === 1 ? "One field is" : names.length + " fields are") + " not filled in: " + names.join(", ") + ". Tap the yellow boxes to fill them in.",
    countdownTitle: "Are you still there?", countdownLead: (n) => "Without a touch, what you entered is cleared in " + n + " s.", keepGoing: "Continue",
    attemptsLeft: (n) => n + (n === 1 ? " try left" : " tries left"), lockedFor: (until, m) => "Locked for now. Come back after " + until + " (about " + m + " min), or ask the staff at the desk to check your identity and unlock it.",
    ended: { timeout: "The last session ended after a time without a touch; everything was cleared.", receipt_timeout: "The last filing is done; everything was cleared.", card_removed: "The card was taken; the session ended and everything was cleared.",
      finished: "The session ended; everything was cleared.", staff_timeout: "Staff were logged out after a time without a touch." },
    scrollMore: "↓ More below: swipe up to see it",
    checking: "Looking up your enrolment, please wait",
    placeNamed: (f) => "Lay your " + f + " flat on the vein scanner", placeNamedLead: (fs) => "Your enrolled fingers: " + fs.join(", ") + " (orange in the picture). Keep it flat and still.",
    noMatchNamed: (fs) => "Not recognised. Place an enrolled finger again: " + fs.join(" or ") + ".", hands: "Left hand|Right hand",
    failed: "This could not be completed",
    card_problem: "Please read the note below",
    problems: {
      card_expired: "Your ID card has expired. Please renew it at the police station, then come back.",
      not_enrolled: "Your finger is not enrolled yet. Please ask the staff at the desk to enrol you.",
      not_registered: "We could not find your household record. Please ask at the desk.",
      card_unreadable: "The card could not be read. Lift it and lay it flat on the reader again.",
      too_many_tries: "The finger check failed several times. Please go to the staffed desk.",
      scanner_fault: "The vein scanner is not working. Press Try again or ask the staff.",
      server_down: "Nothing is lost. Press Try again, or wait and it continues by itself.",
      submit_unsure: "Your filing may not have arrived. Press Try again; it will not be filed twice.",
      rejected: "The server did not accept this. Please ask at the desk.",
      login_failed: "Wrong user name or PIN. Please try again.",
      pin_locked: "Too many wrong PINs: the PIN is locked. Set it again in the office (or ask an administrator).",
      already_enrolled: "This resident is already enrolled: the new captures were submitted and replace the enrolment only once a supervisor of this station approves; until then the old enrolment stays in force.",
      replacement_waiting: "A replacement of this resident's enrolment already awaits a supervisor's approval; these captures were not stored.",
      other_station: "Only staff of this station can log in and enrol at this kiosk.",
      locked: "Too many failed attempts; locked for now. Come back later or go to the desk.",
      suspended: "Your entitlement is suspended. Please ask at the desk.",
      form_invalid: "The fields marked yellow are not right. Please correct them, then press Confirm.",
      throttled: "This kiosk had several failed finger checks just now; for security it must wait a moment. It continues by itself; you need not do anything.",
      recapture: "The supervisor confirmed. For security, capture again (3 per finger).",
      enrol_inconsistent: "This finger's captures do not match each other (placed differently, or another finger was used); nothing was stored. The captures that did not match were dropped: ask the resident to lay the same finger flat again, placed as before.",
      rate_failed: "Your rating was not recorded. Press Send rating again, or rate later.",
    },
    hints: {
      no_finger: "No finger detected. Put your finger on the scanner.",
      not_flat: "Lay your finger flat and keep it still.",
      no_match: "Not recognised. Place the same enrolled finger again.",
      lift: "Lift the finger, then place it again.",
      moving: "Your finger is moving: hold it still.",
      exposure: "The light is not right: cover the scanner's window completely with your finger, flat and still.",
      reverify: "For your security, place your finger once more.",
      rated: "Thank you for your rating; we will keep improving.",
      new_replies: "You have new replies: tap My filings to read them.",
    },
    serverDown: "The network is down; the staff are on it.", readerDown: "The card reader is not working; please ask the staff.",
    scannerDown: "The vein scanner is not working; please ask the staff.",
    staff_login: "Staff login", user: "User name", password: "Password", pin: "PIN (6 digits)", login: "Log in", cancel: "Cancel",
    staffLead: "The PIN is set in the office (the staff page, or by an administrator). Five wrong PINs lock it.", pinLeft: (n) => n + (n === 1 ? " try" : " tries") + " left before the PIN is locked.",
    staffName: (n) => "Logged in: " + n,
    enrol_consent: "Explain to the resident and ask for consent",
    consentHeading: "Consent to the capture of finger-vein data",
    consentText: [
      "To check your identity at this community service station's self-service kiosk, we will capture finger-vein images of two of your fingers and derive templates from them.",
      "Finger-vein data is sensitive personal information. It is kept encrypted on the government service centre's server, used only to check your own identity and to prevent double enrolment, for no other purpose, and given to no other body.",
      "You may refuse. Refusing does not affect anything you can do at the staffed desk.",
      "You may withdraw your consent at the station at any time; your finger-vein data will then be deleted.",
      "This consent is recorded: the text's version, the time, the staff member and the kiosk.",
    ],
    consentLead: "Staff: read this to the resident. If they agree, the resident presses “I consent” themselves.", consentVersion: "Text version: ",
    consentYes: "I consent", consentNo: "I do not consent, back",
    staff_busy: "Working, please wait",
    staff_menu: "Choose a task", enrol: "Enrol a resident", diagnostics: "Device diagnostics", logout: "Log out",
    enrol_card: "Ask the resident to place their ID card on the reader",
    enrol_capture: (f, i, n) => "Ask the resident to lay the " + f + " flat on the scanner (capture " + i + " of " + n + ")",
    enrolAllDone: "All captures done; press Submit enrolment", quality: "Quality", minQ: (q) => "minimum " + q,
    retake: "Capture again", skipFinger: "Use another finger", submitEnrol: "Submit enrolment",
    enrol_supervisor: "Possible duplicate: a supervisor must confirm",
    supervisorLead: "These veins resemble another enrolled resident. The supervisor checks the card and the person, then logs in to confirm.",
    supervisorOk: "Supervisor confirms", reject: "Do not enrol",
    enrol_done: "Enrolled. The resident can take the card", enrol_pending: "Already enrolled → replacement pending supervisor approval. The resident can take the card", next: "Enrol the next resident",
    diagTitle: "Device diagnostics", connected: "connected", disconnected: "not connected", server: "Central server",
    reader: "ID-card reader", scanner: "Vein scanner", lastError: "Last error", since: "Since", reconnects: "Reconnects",
    port: "Port", model: "Model", techDetail: "Technical detail (for the technician)",
    devErr: { timeout: "The device does not answer (timed out). Check the cable, or unplug and plug it in again.", not_found: "Device not found. Check that the cable is plugged in.",
      permission: "No permission to open the device. Ask a technician to check the set-up.", busy: "Another program holds the device. Restart the kiosk.",
      io: "The link to the device broke; it may have been unplugged. Check the cable.", down: "Not connected; reconnecting by itself. Check the cable; if that fails, call a technician.",
      other: "Device fault. Call a technician." },
    fingers: { right_thumb: "right thumb", right_index: "right index finger", right_middle: "right middle finger", right_ring: "right ring finger", right_little: "right little finger",
      left_thumb: "left thumb", left_index: "left index finger", left_middle: "left middle finger", left_ring: "left ring finger", left_little: "left little finger" },
  },
};

let view = null;
const $ = (id) => document.getElementById(id);

// CONSENT_VERSION names the consent text above (consentText); the server
// accepts it (apiv1.ConsentTextVersion: kiosk's TestConsentTextVersion
// holds the two together). A change of the text needs a new version.
const CONSENT_VERSION = "biometric-consent-2026-12";
const PIN_LENGTH = 6; // apiv1.PINLength
// STAFF_HOLD_MS: how long staff hold the station's name in the header to
// open the staff login (no staff button is shown to residents).
const STAFF_HOLD_MS = 2000;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function touch(action, arg, values) {
  const body = { action: action };
  if (arg) body.arg = arg;
  if (values) body.values = values;
  return fetch("/touch", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function btn(label, action, opts) {
  opts = opts || {};
  return el("button", {
    type: "button", class: opts.class, "data-act": action, "data-arg": opts.arg, disabled: opts.disabled,
    "aria-pressed": opts.pressed === undefined ? undefined : String(opts.pressed),
    onclick: () => { if (opts.onclick) opts.onclick(); else touch(action, opts.arg, opts.values && opts.values()); },
  }, label);
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(kind) {
  const s = document.createElementNS(svgNS, "svg");
  s.setAttribute("viewBox", "0 0 200 120");
  s.setAttribute("width", "420");
  s.setAttribute("height", "252");
  s.setAttribute("class", "art");
  s.setAttribute("aria-hidden", "true");
  const add = (tag, a) => { const n = document.createElementNS(svgNS, tag); for (const k in a) n.setAttribute(k, a[k]); s.append(n); };
  if (kind === "card") {
    add("rect", { x: 10, y: 80, width: 180, height: 30, rx: 6, fill: "#555" });
    add("rect", { x: 40, y: 10, width: 120, height: 76, rx: 8, fill: "#e9f0fb", stroke: "#0b3d91", "stroke-width": 4 });
    add("rect", { x: 52, y: 24, width: 30, height: 38, rx: 3, fill: "#9db4dc" });
    add("rect", { x: 92, y: 28, width: 56, height: 7, fill: "#0b3d91" });
    add("rect", { x: 92, y: 44, width: 56, height: 7, fill: "#0b3d91" });
    add("path", { d: "M100 0 L100 8", stroke: "#0b3d91", "stroke-width": 4 });
  } else {
    add("rect", { x: 20, y: 78, width: 160, height: 34, rx: 8, fill: "#555" });
    add("rect", { x: 50, y: 70, width: 100, height: 10, rx: 4, fill: "#b3261e" });
    add("path", { d: "M30 62 Q30 40 60 40 L160 40 Q178 40 178 56 Q178 70 160 70 L60 70 Q30 70 30 62 Z", fill: "#f2c9a8", stroke: "#7a4a2a", "stroke-width": 3 });
    add("path", { d: "M150 46 Q168 46 168 55", fill: "none", stroke: "#7a4a2a", "stroke-width": 3 });
  }
  return s;
}

function L() { return T[(view && view.lang) || "zh"]; }
function svcName(s) { return (view.lang === "en" && s.nameEn) ? s.nameEn : s.name; }
function fingerName(f) { return L().fingers[f] || f; }

// shownAnswer is a text field's value as shown: a common answer in English
// on the English screen (the Chinese is what is filed).
function shownAnswer(fd, en) {
  const i = (fd.suggestions || []).indexOf(fd.value);
  return en && i >= 0 && fd.suggestionsEn && fd.suggestionsEn[i] ? fd.suggestionsEn[i] : fd.value;
}

function who(v) {
  const p = v.resident || v.card;
  if (!p || !p.name) return null;
  const label = v.mode === "staff" ? L().residentIs(p.name) : L().hello(p.name);
  return el("div", { class: "who", id: "who" }, label, p.idMasked ? el("small", {}, p.idMasked) : null);
}

function problemBox(v) {
  if (!v.problem) return null;
  const t = L();
  const info = v.problem === "recapture" || v.problem === "already_enrolled" || v.problem === "throttled";
  let text = t.problems[v.problem] || v.problem;
  if (v.problem === "missing") text = t.missing(v.missing || []);
  if (v.problem === "form_invalid" && (v.missing || []).length) text = text + "（" + v.missing.join("、") + "）";
  if (v.problem === "locked" && v.lockedUntil) text = t.lockedFor(v.lockedUntil, v.lockMinutes);
  return el("div", { class: info ? "hint" : "problem", id: "problem" }, text);
}

// The rating (好差评) of one answered filing or report: a score, optional
// reasons, then send. What is chosen survives the screen's redraws.
let rateDraft = { ref: "", score: 0, reasons: [] };
function ratingPanel(ref, rc, sending) {
  const t = L();
  const en = view.lang === "en";
  if (rateDraft.ref !== ref) rateDraft = { ref: "", score: 0, reasons: [] };
  const box = el("div", { class: "rating", "data-rate": ref });
  if (sending) {
    box.append(el("p", {}, t.sendingRating));
    return box;
  }
  box.append(el("p", { class: "ratetitle" }, t.rateTitle));
  const pick = (fn) => () => { fn(); render(view); };
  box.append(el("div", { class: "choices scores" }, rc.scores.map((c) => btn(en ? c.en : c.zh, "ratescore", {
    arg: ref, pressed: rateDraft.ref === ref && rateDraft.score === Number(c.code),
    onclick: pick(() => { rateDraft = { ref: ref, score: Number(c.code), reasons: rateDraft.ref === ref ? rateDraft.reasons : [] }; touch("activity"); }) }))));
  if (rateDraft.ref === ref && rateDraft.score) {
    box.append(el("p", {}, t.rateReasons));
    box.append(el("div", { class: "choices reasons" }, rc.reasons.map((c) => btn(en ? c.en : c.zh, "ratereason", {
      arg: c.code, pressed: rateDraft.reasons.includes(c.code),
      onclick: pick(() => {
        const i = rateDraft.reasons.indexOf(c.code);
        if (i >= 0) rateDraft.reasons.splice(i, 1); else rateDraft.reasons.push(c.code);
        touch("activity");
      }) }))));
    box.append(btn(t.sendRating, "rate", { arg: ref, class: "primary", values: () => ({ score: String(rateDraft.score), reasons: rateDraft.reasons.join(",") }) }));
  }
  return box;
}

function render(v) {
  view = v;
  if (pad && v.phase !== "form") closePad();
  const t = L();
  document.documentElement.lang = v.lang === "en" ? "en" : "zh-CN";
  document.body.dataset.phase = v.phase;
  $("station").textContent = v.station ? v.station + " · " + t.selfService : t.station;
  $("lang").textContent = t.switchLang;
  // Banner: what is out of order right now.
  const down = [];
  if (!v.serverUp) down.push(t.serverDown);
  for (const d of v.devices || []) {
    // A device not yet opened at start-up has no error: no banner for it.
    if (!d.connected && d.last_error) down.push(d.name === "reader" ? t.readerDown : t.scannerDown);
  }
  const banner = $("banner");
  banner.hidden = down.length === 0 || v.mode === "staff" || v.phase === "unavailable"; // that screen says it already
  banner.textContent = down.join(" ");

  const main = $("screen");
  const foot = $("bottom");
  // A redraw of the same screen keeps what is being typed (and the focus).
  const kept = {};
  let focused = null;
  if (document.body.dataset.shown === v.phase) {
    for (const inp of main.querySelectorAll("input[id], input[data-key]")) {
      kept[inp.id || inp.dataset.key] = inp.value;
      if (inp === document.activeElement) focused = inp.id || inp.dataset.key;
    }
  }
  document.body.dataset.shown = v.phase;
  main.replaceChildren();
  foot.replaceChildren();
  const title = (s) => main.append(el("h1", { id: "title" }, s));
  const lead = (s) => main.append(el("p", { class: "lead" }, s));

  switch (v.phase) {
  case "idle":
    if (v.ended && t.ended[v.ended]) main.append(el("div", { class: "hint", id: "ended" }, t.ended[v.ended]));
    if (v.cardPresent) {
      // The session ended with the card still on the reader.
      title(t.takeCardAway);
      main.append(svg("card"));
      lead(t.takeCardLead);
    } else {
      title(t.idle);
      main.append(svg("card"));
      lead(t.idleLead);
    }
    // No staff button for residents: staff hold the station's name in
    // the header (staffLongPress).
    break;
  case "place_finger": {
    // Name the finger when the server said which were enrolled.
    const fs = (v.fingers || []).map(fingerName);
    title(fs.length ? t.placeNamed(fs[0]) : t.place_finger);
    main.append(who(v) || "");
    let hint = v.hint ? (t.hints[v.hint] || v.hint) : "";
    if (v.hint === "no_match" && fs.length) hint = t.noMatchNamed(fs);
    if (hint) main.append(el("div", { class: "hint", id: "hint" }, hint));
    if (fs.length) {
      if (!hint) lead(t.placeNamedLead(fs));
      main.append(Guidance.picture(v.fingers, t.hands));
    } else {
      if (!hint) lead(t.placeLead);
      main.append(svg("finger"));
    }
    if (v.attemptsLeft >= 0) main.append(el("p", { class: "tries", id: "attempts" }, t.attemptsLeft(v.attemptsLeft)));
    foot.append(btn(t.finish, "finish"));
    break;
  }
  case "verifying": case "loading": case "submitting": case "staff_busy": case "checking":
    title(t[v.phase]);
    main.append(who(v) || "", el("div", { class: "spinner", role: "progressbar" }));
    break;
  case "card_problem": case "failed": case "unavailable":
    if (v.problem === "throttled") title(t.throttledTitle);
    else if (v.problem === "locked") title(t.problems.locked.split(/[，,.。;]/)[0]);
    else title(v.phase === "unavailable" ? t.unavailable : (t.problems[v.problem] ? t.problems[v.problem].split(/[，,.。]/)[0] : t[v.phase]));
    main.append(who(v) || "", problemBox(v));
    if (v.phase === "unavailable" && v.problem !== "throttled") lead(t.autoRetry);
    if (v.phase === "unavailable" && v.retryIn > 0) main.append(el("p", { class: "wait", id: "retryin" }, v.problem === "throttled" ? t.waitLeft(v.retryIn) : t.retryIn(v.retryIn)));
    if ((v.phase === "unavailable" && v.problem !== "throttled") || v.problem === "scanner_fault") foot.append(btn(t.retry, "retry", { class: "primary" }));
    foot.append(btn(t.finish, "finish"));
    break;
  case "menu": {
    title(t.menu);
    main.append(who(v) || "");
    // New replies since the last visit (server/api/notice.go): one big
    // button that opens my filings, where they are marked 新.
    if (v.newReplies > 0) {
      main.append(btn([el("span", { class: "new-badge" }, t.newBadge), " " + t.newReplies(v.newReplies), el("span", { class: "sub" }, t.newRepliesLead)],
        "filings", { class: "new-replies" }));
    }
    const g = el("div", { class: "grid", id: "services" });
    for (const s of v.services || []) {
      g.append(btn([svcName(s), el("span", { class: "sub" }, s.certification ? t.certOnly : (s.dueDays ? t.due(s.dueDays) : t.reportSub))], "choose", { arg: s.code, class: s.code === "report" ? "report" : undefined }));
    }
    main.append(g);
    foot.append(btn(t.myFilings, "filings"), btn(t.finish, "finish"));
    break;
  }
  case "form": {
    const f = v.form;
    const missing = f.fields.some((fd) => fd.editable && fd.required && !fd.value);
    const en = v.lang === "en";
    title(missing ? t.formFill : t.form);
    main.append(problemBox(v) || "");
    main.append(el("h2", {}, svcName(f.service)));
    const tb = el("table", { id: "formtable" });
    for (const fd of f.fields) {
      const label = (v.lang === "en" && fd.labelEn) ? fd.labelEn : fd.labelZh;
      let cell;
      const empty = (fd.value ? "" : " empty") + (fd.missing ? " missing" : "");
      if (fd.editable && fd.choices && fd.choices.length) {
        cell = el("div", { class: "choices" + (fd.missing ? " missing" : ""), "data-field": fd.key }, fd.choices.map((c, i) =>
          btn(en && fd.choicesEn ? fd.choicesEn[i] : c, "edit", { arg: fd.key, pressed: c === fd.value, values: () => ({ value: c }) })));
      } else if (fd.editable && ["number", "integer", "digits", "phone", "id_number", "date"].includes(fd.kind)) {
        // No keyboard on a kiosk: numbers are typed on a big keypad.
        cell = el("button", { type: "button", class: "field" + empty, "data-act": "keypad", "data-arg": fd.key,
          onclick: () => openPad(fd.key, label, fd.value || "", fd.kind, fd.maxLen) }, fd.value || t.tapToEnter);
      } else if (fd.editable) {
        // Free text: the on-screen pinyin keyboard, with the field's
        // common answers as one-touch choices.
        cell = el("button", { type: "button", class: "field text" + empty, "data-act": "keyboard", "data-arg": fd.key,
          onclick: () => Keyboard.open({ label: label, value: fd.value || "", maxLen: fd.maxLen || 200, suggestions: fd.suggestions, lang: v.lang,
            suggestionLabels: en && fd.suggestionsEn && fd.suggestionsEn.length === (fd.suggestions || []).length ? fd.suggestionsEn : undefined,
            onOk: (val) => touch("edit", fd.key, { value: val }) }) }, shownAnswer(fd, en) || t.tapToEnter);
      } else {
        cell = (en && fd.valueEn ? fd.valueEn : fd.value) || "—";
      }
      tb.append(el("tr", { class: fd.missing ? "missing" : undefined }, el("th", {}, label, fd.required && fd.editable ? el("span", { class: "req" }, " *") : null), el("td", {}, cell)));
    }
    main.append(tb);
    foot.append(btn(t.back, "back"), btn(t.confirm, "confirm", { class: "primary" }));
    break;
  }
  case "receipt": {
    const r = v.receipt;
    title(t.receipt);
    main.append(el("h2", {}, svcName(r.service)));
    main.append(el("div", { class: "ref", id: "reference" }, r.reference));
    main.append(el("table", {},
      el("tr", {}, el("th", {}, t.filedAt), el("td", {}, r.filedAt)),
      el("tr", {}, el("th", {}, t.dueAt), el("td", { id: "due" }, t.dueBefore(r.due)))));
    if (typeof receiptPrintBox === "function") { const pb = receiptPrintBox(v); if (pb) main.append(pb); } // printer.js
    foot.append(btn(t.another, "back"), btn(t.myFilings, "filings"), btn(t.takeCard, "finish", { class: "primary big" }));
    break;
  }
  case "certified": {
    const c = v.certificate;
    title(c.already ? t.certifiedAlready : t.certified);
    main.append(el("h2", {}, svcName(c.service)));
    main.append(el("p", { class: "lead", id: "certified" }, c.already ? t.certAlreadyLead(c.at) : t.certLead));
    main.append(el("table", {},
      el("tr", {}, el("th", {}, t.certYear(c.year)), el("td", {}, svcName(c.service))),
      el("tr", {}, el("th", {}, t.certAt), el("td", { id: "certified-at" }, c.at))));
    foot.append(btn(t.another, "back"), btn(t.myFilings, "filings"), btn(t.takeCard, "finish", { class: "primary big" }));
    break;
  }
  case "filings": {
    title(t.filings);
    main.append(problemBox(v) || "");
    if (v.hint && t.hints[v.hint]) main.append(el("div", { class: "hint", id: "hint" }, t.hints[v.hint]));
    const rc = v.ratingChoices;
    const scoreWord = (n) => { const c = rc && rc.scores.find((x) => x.code === String(n)); return c ? (v.lang === "en" ? c.en : c.zh) : String(n); };
    const list = el("div", { class: "grid", id: "filings" });
    for (const f of v.filings || []) {
      const decided = f.decided ? (f.item === "report" ? t.repliedOn : t.decidedOn) + "：" + f.decided : t.notYet;
      const card = el("div", { class: "card item-" + (f.item || "filing") + (f.new ? " new" : ""), "data-ref": f.reference },
        el("h2", {}, f.new ? el("span", { class: "new-badge" }, t.newBadge) : null, f.new ? " " : null, svcName(f.service)),
        el("p", {}, t.ref + "：" + f.reference + "　" + t.filedAt + "：" + f.filedAt),
        el("p", { class: "dates" }, t.dueAt + "：" + f.due + "　" + decided),
        el("p", { class: "status status-" + f.status }, ((v.lang === "en" ? f.statusEn : f.statusZh) || f.status)),
        f.reply ? el("p", { class: "reply" }, t.reply + "：" + f.reply) : null,
        f.rating ? el("p", { class: "rated" }, t.yourRating(scoreWord(f.rating))) : null);
      if (rc && f.rateable) card.append(ratingPanel(f.reference, rc, rc.sending === f.reference));
      list.append(card);
    }
    if (!(v.filings || []).length) list.append(el("p", {}, t.noFilings));
    main.append(list);
    foot.append(btn(t.back, "back", { class: "primary" }));
    break;
  }
  case "agent_card": case "agent_check":
    agentScreen(v, main, foot, title, lead); // agent.js
    break;
  case "staff_login": {
    title(t.staff_login);
    main.append(problemBox(v) || "");
    if (v.problem === "login_failed" && v.attemptsLeft >= 0) main.append(el("p", { class: "hint", id: "pinleft" }, t.pinLeft(v.attemptsLeft)));
    const u = kbInput("user", t.user, false, v.lang);
    const p = pinInput("pin", t.pin);
    main.append(el("label", {}, t.user, u), el("label", {}, t.pin, p));
    lead(t.staffLead);
    foot.append(btn(t.cancel, "finish"), btn(t.login, "login", { class: "primary", values: () => ({ user: $("user").value, pin: $("pin").value }) }));
    break;
  }
  case "staff_menu":
    title(t.staff_menu);
    main.append(el("p", { class: "who", id: "staffname" }, v.staff ? t.staffName(v.staff.name) : ""));
    main.append(el("div", { class: "staffmenu" }, btn(t.enrol, "enrol", { class: "primary" }), btn(t.diagnostics, "diagnostics")));
    foot.append(btn(t.logout, "logout"));
    break;
  case "enrol_consent":
    title(t.enrol_consent);
    main.append(who(v) || "");
    main.append(el("div", { class: "consent", id: "consent" }, el("h2", {}, t.consentHeading),
      el("ol", {}, t.consentText.map((p) => el("li", {}, p))),
      el("p", { class: "consentver" }, t.consentVersion + CONSENT_VERSION)));
    lead(t.consentLead);
    foot.append(btn(t.consentNo, "back"), btn(t.consentYes, "consent", { class: "primary" }));
    break;
  case "enrol_card":
    title(t.enrol_card);
    main.append(problemBox(v) || "", svg("card"));
    foot.append(btn(t.back, "back"));
    break;
  case "enrol_capture": {
    const e = v.enrol;
    const cur = e.fingers[e.current];
    if (e.complete) title(t.enrolAllDone);
    else title(t.enrol_capture(fingerName(cur.finger), Math.min(cur.accepted + 1, cur.needed), cur.needed));
    main.append(who(v) || "", problemBox(v) || "");
    if (v.hint) main.append(el("div", { class: "hint", id: "hint" }, t.hints[v.hint] || v.hint));
    const grid = el("div", { class: "fingers", id: "fingers" });
    e.fingers.forEach((f, i) => {
      const box = el("div", { class: "finger" + (i === e.current && !e.complete ? " current" : "") + (f.accepted >= f.needed ? " done" : "") },
        el("h2", {}, fingerName(f.finger)), el("p", {}, f.accepted + " / " + f.needed + (f.rejected ? "　✗" + f.rejected : "")));
      for (const q of f.qualities) box.append(qbar(q, e.minQuality));
      grid.append(box);
    });
    main.append(grid);
    if (e.lastQuality || v.hint) {
      main.append(el("p", { id: "quality" }, t.quality + " " + e.lastQuality + "（" + t.minQ(e.minQuality) + "）"), qbar(e.lastQuality, e.minQuality));
    }
    foot.append(btn(t.cancel, "back"), btn(t.retake, "retake"), btn(t.skipFinger, "skip_finger"),
      btn(t.submitEnrol, "confirm", { class: "primary", disabled: !e.complete }));
    break;
  }
  case "enrol_supervisor": {
    title(t.enrol_supervisor);
    lead(t.supervisorLead);
    main.append(problemBox(v) || "");
    const u = kbInput("user", t.user, false, v.lang);
    const p = pinInput("pin", t.pin);
    main.append(el("label", {}, t.user, u), el("label", {}, t.pin, p));
    foot.append(btn(t.reject, "reject"), btn(t.supervisorOk, "supervisor", { class: "primary", values: () => ({ user: $("user").value, pin: $("pin").value }) }));
    break;
  }
  case "enrol_done":
    title(v.outcome && v.outcome.pending ? t.enrol_pending : t.enrol_done);
    main.append(problemBox(v) || "");
    foot.append(btn(t.back, "back"), btn(t.next, "enrol", { class: "primary" }));
    break;
  case "diagnostics": {
    title(t.diagTitle);
    const tb = el("table", { id: "devices" });
    tb.append(el("tr", {}, el("th", {}, t.server), el("td", { class: v.serverUp ? "dev-ok" : "dev-bad" }, v.serverUp ? t.connected : t.disconnected)));
    for (const d of v.devices || []) {
      tb.append(el("tr", {}, el("th", {}, t[d.name] || d.name),
        el("td", {}, el("div", { class: d.connected ? "dev-ok" : "dev-bad" }, d.connected ? t.connected : t.disconnected),
          el("div", {}, t.port + "：" + d.spec + (d.detail ? " · " + t.model + "：" + d.detail : "")),
          d.last_error ? el("div", { class: "deverr" }, t.lastError + "：" + (t.devErr[d.error_kind] || t.devErr.other)) : null,
          el("div", {}, t.since + "：" + chinaTime(d.since) + " · " + t.reconnects + "：" + d.reconnects),
          // The driver's own words stay in English, small, for the technician.
          d.last_error ? el("div", { class: "techdetail" }, t.techDetail + "：" + d.last_error) : null)));
    }
    main.append(tb);
    foot.append(btn(t.back, "back", { class: "primary" }));
    break;
  }
  default:
    title(v.phase);
  }
  for (const inp of main.querySelectorAll("input[id], input[data-key]")) {
    const k = inp.id || inp.dataset.key;
    if (k in kept && inp.type !== "date") inp.value = kept[k];
    if (k === focused) inp.focus();
  }
  for (const f of window.afterRender || []) f(v); // voice.js, elderly.js, mongolian.js
}

// The keypad overlay lives outside <main>, so a re-render of the screen
// does not lose what the resident is typing.
let pad = null;
function openPad(key, label, value, kind, maxLen, onOk) {
  // A date is typed as eight digits (20261206) and filed as 2026-12-06.
  if (kind === "date") { value = value.replace(/-/g, ""); maxLen = 8; }
  pad = { key: key, label: label, value: value, kind: kind, max: maxLen || 22, onOk: onOk };
  drawPad();
}

// pinInput is a staff member's PIN, typed on the keypad and shown as dots.
function pinInput(id, label) {
  const inp = el("input", { id: id, type: "password", autocomplete: "off", readonly: true, class: "pin" });
  inp.addEventListener("click", () => openPad(id, label, "", "pin", PIN_LENGTH,
    (val) => { const cur = document.getElementById(id) || inp; cur.value = val; }));
  return inp;
}
function closePad() {
  pad = null;
  const o = $("keypad");
  if (o) o.remove();
}
function drawPad() {
  const t = L();
  let o = $("keypad");
  if (!o) { o = el("div", { id: "keypad", role: "dialog" }); document.body.append(o); }
  // A PIN is never shown: one dot per digit.
  const showVal = () => (pad.kind === "pin" ? "●".repeat(pad.value.length) : pad.value) || " ";
  const shown = el("div", { class: "padvalue", id: "padvalue" }, showVal());
  const key = (k) => el("button", { type: "button", class: "padkey", "data-key": k, onclick: () => {
    if (k === "⌫") pad.value = pad.value.slice(0, -1);
    else if (pad.value.length < pad.max && !(k === "." && (pad.kind !== "number" || pad.value.includes(".")))) pad.value += k;
    $("padvalue").textContent = showVal();
  } }, k);
  // A decimal point for amounts only (not counts, phones or account
  // numbers); X for the check character of an ID number.
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", pad.kind === "number" ? "." : pad.kind === "id_number" ? "X" : "", "0", "⌫"];
  o.replaceChildren(el("div", { class: "padbox" },
    el("h2", {}, pad.label), shown,
    el("div", { class: "padgrid" }, keys.map((k) => k ? key(k) : el("span", {}))),
    el("div", { class: "padactions" },
      el("button", { type: "button", onclick: closePad }, t.cancel),
      el("button", { type: "button", class: "primary", id: "padok", onclick: () => {
        const p = pad; closePad();
        if (p.onOk) { p.onOk(p.value); return; }
        let val = p.value;
        if (p.kind === "date" && /^\d{8}$/.test(val)) val = val.slice(0, 4) + "-" + val.slice(4, 6) + "-" + val.slice(6);
        touch("edit", p.key, { value: val });
      } }, t.ok))));
}

function qbar(q, min) {
  const b = el("div", { class: "bar" + (q < min ? " low" : "") }, el("b", { class: "qnum" }, String(q)));
  const fillEl = el("span", {});
  fillEl.style.width = Math.max(0, Math.min(100, q)) + "%";
  b.prepend(fillEl);
  const m = el("i", { class: "min" });
  m.style.left = min + "%";
  b.append(m);
  return b;
}

// Every time on screen is China time (Asia/Shanghai), whatever the zone of
// the kiosk PC: the header clock comes with the view from the daemon.
function chinaTime(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return "";
  return new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false }).format(d).replace(/\//g, "-");
}

function tickClock() {
  if (view && view.clock) $("clock").textContent = view.clock;
  else $("clock").textContent = chinaTime(new Date().toISOString());
}

// ---- visible time-outs (kioskux): any touch counts; countdown overlay ----
let lastActivityPost = 0;
function noteActivity() {
  // Any touch on the screen (a keypad or keyboard key too) keeps the
  // session: at most one post every 2 s.
  const now = Date.now();
  if (now - lastActivityPost < 2000) return;
  lastActivityPost = now;
  touch("activity");
}

function drawCountdown(v) {
  let o = $("countdown");
  if (!v.countdown) { if (o) o.remove(); return; }
  const t = L();
  if (!o) {
    o = el("div", { id: "countdown", role: "alertdialog" });
    document.body.append(o);
  }
  o.replaceChildren(el("div", { class: "cdbox" },
    el("h2", {}, t.countdownTitle),
    el("p", { class: "cdsecs", id: "cdsecs" }, String(v.countdown)),
    el("p", {}, t.countdownLead(v.countdown)),
    el("button", { type: "button", class: "primary big", id: "keepgoing", onclick: () => { lastActivityPost = Date.now(); touch("activity"); } }, t.keepGoing)));
}

// The landscape layout shows the whole form, or says there is more below.
function checkScroll() {
  const main = $("screen");
  let hint = $("scrollhint");
  const more = main.scrollHeight - main.scrollTop - main.clientHeight > 8;
  if (!more) { if (hint) hint.remove(); return; }
  if (!hint) {
    // A sign, not a button: it must never take a touch meant for what is under it.
    hint = el("div", { id: "scrollhint", "aria-hidden": "true" });
    document.body.append(hint);
  }
  hint.textContent = L().scrollMore;
  const r = main.getBoundingClientRect();
  hint.style.top = (r.bottom - 84) + "px";
}

// kbInput is a text box filled from the on-screen keyboard (letters) rather
// than a physical keyboard: staff accounts and passwords.
function kbInput(id, label, secret, lang) {
  const inp = el("input", { id: id, type: secret ? "password" : "text", autocomplete: "off", readonly: true });
  inp.addEventListener("click", () => Keyboard.open({ label: label, value: inp.value, latinOnly: true, secret: secret, lang: lang, maxLen: 64,
    // The screen may have been redrawn while typing: fill the box shown now.
    onOk: (val) => { const cur = document.getElementById(id) || inp; cur.value = val; } }));
  return inp;
}

// staffLongPress opens the staff login when the station's name in the
// header is held for STAFF_HOLD_MS on the idle screen; a shorter touch,
// or one that slides off, does nothing.
function staffLongPress() {
  const st = $("station");
  let timer = null;
  const cancel = () => { if (timer) clearTimeout(timer); timer = null; st.classList.remove("holding"); };
  st.addEventListener("pointerdown", () => {
    cancel();
    if (!view || view.phase !== "idle") return;
    st.classList.add("holding");
    timer = setTimeout(() => { timer = null; st.classList.remove("holding"); touch("staff"); }, STAFF_HOLD_MS);
  });
  for (const ev of ["pointerup", "pointerleave", "pointercancel"]) st.addEventListener(ev, cancel);
  st.addEventListener("contextmenu", (e) => e.preventDefault());
}

function start() {
  $("lang").addEventListener("click", () => touch("lang", view && view.lang === "en" ? "zh" : "en"));
  staffLongPress();
  tickClock();
  setInterval(tickClock, 10000);
  const es = new EventSource("/events");
  let last = "";
  document.addEventListener("pointerdown", noteActivity, true);
  $("screen").addEventListener("scroll", checkScroll);
  window.addEventListener("resize", checkScroll);
  es.addEventListener("view", (m) => {
    // Re-render only when something on the screen changed: a re-render
    // under the resident's finger would swallow a touch. The countdown and
    // the clock change alone without a redraw of the screen.
    const v = JSON.parse(m.data);
    const key = JSON.stringify(Object.assign({}, v, { seq: 0, countdown: 0, clock: "" }));
    drawCountdown(v);
    view = v;
    tickClock();
    if (key === last) return;
    last = key;
    render(v);
    if (Keyboard.isOpen() && v.phase !== "form" && v.phase !== "staff_login" && v.phase !== "enrol_supervisor") Keyboard.close();
    // Missing fields: bring the first into view.
    const firstMissing = document.querySelector("#formtable tr.missing");
    if (firstMissing && (v.problem === "missing" || v.problem === "form_invalid")) firstMissing.scrollIntoView({ block: "center" });
    checkScroll();
  });
  es.onerror = () => { $("banner").hidden = false; $("banner").textContent = "正在重新连接… Reconnecting…"; };
}

document.addEventListener("DOMContentLoaded", start);
