// The 帮办代办 desk: citizens at booths asking for a person. Open requests oldest first, their waiting time
// ticking every second, red once past the escalation time; a new one chimes (WebAudio, after the operator
// turned the sound on: browsers play nothing before a click) and is highlighted. An operator takes one (a
// call back: within how many minutes), sees a call back's number only on asking (central audits it), and
// closes it with an outcome and a note. Below, what was closed in the last 24 hours.
// The page asks every 2 s, also in a background tab (that is when the chime matters).
"use strict";

const POLL_S = 2;
const FRESH_MS = 30_000;  // how long a new request stays highlighted (or until it is taken)
const CALL_BACK_MINUTES = [5, 10, 15, 30, 60];
const OUTCOME_COLORS = {helped_on_site: "ok", called_back: "ok", no_answer: "degraded", citizen_gone: "offline"};

// Central's ISO times (or unix seconds) as unix seconds.
function unixAt(value) {
  if (value === null || value === undefined || value === "") return null;
  return typeof value === "number" ? value : unixOf(value);
}

// A cell's contents again (null and false: nothing).
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter(child => child !== null && child !== undefined && child !== false));
}

// "139 1234 5678": a number read out over the phone, in groups.
function spaced(phone) {
  const digits = String(phone);
  return digits.length === 11 && digits[0] === "1" ? `${digits.slice(0, 3)} ${digits.slice(3, 7)} ${digits.slice(7)}` : digits;
}

// -- the chime: a WebAudio tone, no file ------------------------------------------------------------------------
const chime = (() => {
  const KEY = "assist-sound";
  const button = document.getElementById("sound"), note = document.getElementById("sound-note");
  let on = false, context = null;
  try { on = localStorage.getItem(KEY) === "on"; } catch (error) { on = false; }

  function audio() {
    if (!context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      context = new Context();
      context.onstatechange = show;
    }
    return context;
  }

  // On but not yet allowed to play (the page was reloaded: the browser waits for a click): said plainly, and
  // the first click anywhere, the button's too, brings it back instead of turning it off.
  function show() {
    const waiting = on && (!context || context.state !== "running");
    button.setAttribute("aria-pressed", String(on));
    button.textContent = !on ? "开启提示音 Turn sound on" : waiting ? "恢复提示音 Restore sound" : "提示音已开启 Sound on";
    button.classList.toggle("on", on && !waiting);
    button.classList.toggle("waiting", waiting);
    button.dataset.sound = !on ? "off" : waiting ? "waiting" : "on";
    note.textContent = !on ? "新求助不会响铃 no chime for new requests"
      : waiting ? "提示音已暂停：点击任意处恢复提示音 click anywhere to bring the chime back" : "新求助会响铃 new requests chime";
    note.className = "small " + (waiting ? "warn sound-waiting" : "muted");
  }

  // Two short notes: rising for a new request, low for one past the escalation time.
  function play(kind) {
    if (!on || !context || context.state !== "running") return false;
    const notes = kind === "overdue" ? [440, 330, 440, 330] : kind === "test" ? [660] : [660, 880, 1320];
    let at = context.currentTime + 0.02;
    for (const frequency of notes) {
      const tone = context.createOscillator(), level = context.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      level.gain.setValueAtTime(0.0001, at);
      level.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
      level.gain.exponentialRampToValueAtTime(0.0001, at + 0.22);
      tone.connect(level).connect(context.destination);
      tone.start(at);
      tone.stop(at + 0.25);
      at += 0.26;
    }
    button.dataset.chimes = Number(button.dataset.chimes || 0) + 1;
    button.dataset.lastChime = kind;
    return true;
  }

  // What the button said when the operator pressed it decides what the press means: "恢复提示音" brings the
  // chime back, "提示音已开启" turns it off, whatever the audio context does between the press and the click.
  let pressedWhile = null;
  button.addEventListener("click", async () => {
    const said = pressedWhile ?? button.dataset.sound;
    pressedWhile = null;
    if (said === "waiting") {
      show();
      return;
    }
    on = !on;
    try { localStorage.setItem(KEY, on ? "on" : "off"); } catch (error) { /* private mode: this page only */ }
    if (on && audio()) {
      try { await context.resume(); } catch (error) { /* said by show() */ }
      play("test");  // what it will sound like
    }
    show();
  });
  // Remembered as on: the browser lets the page play only after a click or a key on it.
  const wake = event => {
    pressedWhile = button.contains(event.target) ? button.dataset.sound : null;
    if (!on || !audio() || context.state === "running") return;
    context.resume().then(show, show);
  };
  document.addEventListener("pointerdown", wake, true);
  document.addEventListener("keydown", wake, true);
  if (on) audio();
  show();
  return play;
})();

(async () => {
  const me = await startPage("assists");
  const operator = may(me, "operator");
  for (const node of document.querySelectorAll(".operator-only")) node.hidden = !operator;
  document.getElementById("viewer-note").hidden = operator;

  let data = null;
  let offset = 0;  // central's clock minus this browser's, in seconds (waits tick from central's reckoning)
  let seen = null;  // request ids already shown (null before the first answer: nothing chimes on opening)
  const fresh = new Map();  // id → until when (ms) it is highlighted as new
  const alarmed = new Set();  // ids whose escalation has chimed
  const phones = new Map();  // id → the number an operator asked to see
  const minutes = new Map();  // id → the call-back minutes picked before taking it
  const said = new Map();  // id → [level, nodes, n]: what the last action on it said (n: which saying)
  let sayings = 0;
  const rows = new Map();  // id → {row, key}
  let closing = null;  // {id, row, note, message}: the close form that is open (kept through every redraw)

  const now = () => Date.now() / 1000 + offset;
  // Since asking, ticking while nobody has taken it; once taken, what central says it waited (stopped then).
  const waited = a => a.state === "open" ? Math.max(0, now() - unixAt(a.made_at)) : a.waited_s;
  // Past the escalation time: central's flag (its sweep runs every few seconds). Between the deadline and
  // that sweep the page says so itself, for a request that crossed the deadline just now; one the desk
  // saw late (a booth offline meanwhile) or outside staff hours has its deadline counted by central alone.
  const overdue = a => a.state === "open" && (a.escalated ||
    (!a.outside_hours && waited(a) >= data.escalate_after_s && waited(a) < data.escalate_after_s + 20));
  const callBackDue = a => a.state === "taken" && a.mode === "call_back" && a.call_back_within_min
    ? unixAt(a.taken_at) + a.call_back_within_min * 60 : null;

  // What was typed in a close form stays on the page when the session ends (the poll says so, not leaves).
  keepWhileTyping(() => {
    if (!closing || !(closing.note.value.trim() || checkedOutcome())) return false;
    drafts.save("assist-close", {id: closing.id, outcome: checkedOutcome(), note: closing.note.value});
    return true;
  });

  function checkedOutcome() {
    const picked = closing && closing.row.querySelector("input[name=outcome]:checked");
    return picked ? picked.value : "";
  }

  function say(id, level, ...nodes) {
    said.set(id, [level, nodes, ++sayings]);
    draw();
  }

  // -- one open request -------------------------------------------------------------------------------------------
  function siteCell(a) {
    return el("td", {class: "site"}, el("div", {class: "site-name"}, a.site || "—"),
      el("div", {class: "small muted"}, el("a", {href: "device?id=" + encodeURIComponent(a.device)}, a.device),
         a.region ? ` · 地区 ${a.region}` : ""));
  }

  function itemCell(a) {
    const screen = SCREEN_NAMES[a.screen] || a.screen;
    return el("td", {class: "item"},
      el("div", {}, a.item ? a.item_name || a.item : el("span", {class: "muted"}, "未选事项 no item"),
         a.item ? el("span", {class: "muted small gloss"}, a.item) : null),
      el("div", {class: "small muted"}, screen ? `在「${screen}」页面求助 asked on the ${a.screen} screen` : ""));
  }

  function modeTag(a) {
    return [el("span", {class: `status mode c-${a.mode === "call_back" ? "maintenance" : "accent"}`, "data-mode": a.mode},
               ASSIST_MODES[a.mode] || a.mode),
            a.outside_hours ? el("span", {class: "status c-degraded hours", title: "非工作时间的求助转为电话回拨 outside staff hours: a call back"},
                                 "非工作时间") : null];
  }

  function howCell(a) {
    const cell = el("td", {class: "how"}, el("div", {}, modeTag(a)));
    if (a.mode !== "call_back") return cell;
    if (!a.has_phone) {
      cell.append(el("div", {class: "small warn"}, "未留电话 no number left"));
      return cell;
    }
    if (!operator) {
      cell.append(el("div", {class: "small muted"}, "号码仅操作员可见 number for operators only"));
      return cell;
    }
    const phone = phones.get(a.id);
    if (phone) {
      cell.append(el("div", {class: "phone-line"},
        el("span", {class: "phone", "data-phone": a.id}, spaced(phone)),
        el("button", {type: "button", class: "plain small-button hide-phone", onclick: () => { phones.delete(a.id); draw(); }},
           "隐藏 Hide")));
    } else {
      cell.append(el("div", {}, el("button", {type: "button", class: "plain small-button show-phone",
        "aria-label": `查看 ${a.site} 求助者的回拨电话（会记入审计）`, onclick: event => showPhone(a, event.currentTarget)},
        "查看电话 Show number")), el("div", {class: "small muted"}, "查看会记入审计 audited"));
    }
    return cell;
  }

  function waitCell(a, cell) {
    const late = overdue(a), seconds = waited(a), past = seconds - data.escalate_after_s;
    cell.className = "wait" + (late ? " bad" : "");
    cell.dataset.waited = Math.floor(seconds);
    fill(cell, el("b", {class: "waited"}, duration(seconds)),
      late ? el("div", {class: "state c-fault late"}, a.outside_hours || past < 0 ? "已超时" : `已超时 ${duration(past)}`) : null,
      a.state === "open" ? null : el("div", {class: "small muted stopped"}, "接单前等待 until taken"),
      el("div", {class: "small muted"}, `${shortWhen(unixAt(a.made_at))} 求助`));
  }

  function stateCell(a, cell) {
    cell.className = "taken-state";
    if (a.state !== "taken") {
      fill(cell, el("span", {class: "status c-" + (overdue(a) ? "fault" : "unknown")}, "待接单 waiting"));
      return;
    }
    const due = callBackDue(a);
    const lateCall = due !== null && now() > due;
    fill(cell,
      el("div", {}, el("span", {class: "status c-ok"}, "已接单 taken"), " ", el("b", {class: "taker"}, a.taken_by_name || a.taken_by),
         a.taken_by === me.username ? el("span", {class: "small muted gloss"}, "（我 me）") : null),
      el("div", {class: "small muted"}, `${shortWhen(unixAt(a.taken_at))} 接单，等了 ${duration(a.waited_s)}` +
         (a.escalated ? "（超时后接单）" : "")),
      due !== null ? el("div", {class: "small" + (lateCall ? " bad" : "")},
        lateCall ? `已过回电时限（${shortWhen(due)}）overdue call back` : `${a.call_back_within_min} 分钟内回电，至 ${shortWhen(due)}`) : null);
  }

  function actionCell(a) {
    const cell = el("td", {class: "actions"});
    if (!operator) return cell;
    const message = el("div", {class: "message small"});
    const [level, nodes] = said.get(a.id) || ["", []];
    message.className = `message small ${level}`;
    message.replaceChildren(...nodes);
    const buttons = el("div", {class: "buttons"});
    if (a.state === "open") {
      const take = el("button", {type: "button", class: "take", onclick: () => takeIt(a, take)},
                      a.mode === "call_back" ? "接单回电 Take" : "接单前往 Take");
      if (a.mode === "call_back") {
        const choice = el("select", {class: "minutes", "aria-label": "回电时限（分钟）call back within, minutes",
                                     onchange: () => minutes.set(a.id, Number(choice.value))},
          CALL_BACK_MINUTES.map(n => el("option", {value: n}, `${n} 分钟`)));
        choice.value = String(minutes.get(a.id) || 15);
        cell.append(el("label", {class: "within"}, "在 ", choice, " 内回电"));
      }
      buttons.append(take);
    }
    // Taken or not (a citizen may have gone before anyone took it), any operator may close it.
    const open = closing && closing.id === a.id;
    buttons.append(el("button", {type: "button", class: (a.state === "taken" && !open ? "" : "plain ") + "close-assist",
                                 disabled: open, onclick: () => openClose(a)}, "结束… Close"));
    cell.append(buttons, message);
    return cell;
  }

  function openRow(a) {
    const wait = el("td"), state = el("td");
    const row = el("tr", {"data-assist": a.id, "data-request": a.request, "data-state": a.state},
      wait, siteCell(a), itemCell(a), howCell(a), state, operator ? actionCell(a) : null);
    row.tick = () => {
      waitCell(a, wait);
      stateCell(a, state);
      const isFresh = (fresh.get(a.id) || 0) > Date.now() && a.state === "open";
      row.classList.toggle("escalated", overdue(a));
      row.classList.toggle("fresh", isFresh);
      // it flashes as it arrives, not again when its row is redrawn (taken by someone, overdue)
      row.classList.toggle("arriving", isFresh && Date.now() < fresh.get(a.id) - FRESH_MS + 4000);
      row.classList.toggle("mine", a.taken_by === me.username && a.state === "taken");
      row.dataset.escalated = String(overdue(a));
    };
    row.tick();
    return row;
  }

  // -- actions ----------------------------------------------------------------------------------------------------
  async function takeIt(a, button) {
    button.disabled = true;
    const body = a.mode === "call_back" ? {call_back_within_min: minutes.get(a.id) || 15} : {};
    try {
      await api(`api/assists/${encodeURIComponent(a.id)}/take`, body);
      said.delete(a.id);
      fresh.delete(a.id);
    } catch (error) {
      if (error.status === 409) say(a.id, "bad", `未接单：已被他人接单或已结束 not taken: someone else has it (${error.message})`);
      else say(a.id, "bad", ...notDone(error, ["接单", "taken"]));
      button.disabled = false;
    }
    await poll();  // who has it now
  }

  async function showPhone(a, button) {
    button.disabled = true;
    try {
      const answer = await api(`api/assists/${encodeURIComponent(a.id)}/phone`);
      phones.set(a.id, answer.phone);
      said.delete(a.id);
      draw();
    } catch (error) {
      say(a.id, "bad", ...notDone(error, ["显示电话", "shown"]));
      button.disabled = false;
    }
  }

  function openClose(a, draft = null) {
    if (closing) return;
    const message = el("span", {class: "message small bad"});
    const note = el("input", {type: "text", name: "note", id: `note-${a.id}`, maxlength: 500, class: "note-input",
                              placeholder: "例如：已指导完成社保卡补办申请 what was done", oninput: () => { message.textContent = ""; }});
    const outcomes = el("fieldset", {class: "outcomes"}, el("legend", {}, "结果 Outcome"),
      Object.entries(ASSIST_OUTCOMES).map(([key, name]) => el("label", {class: "outcome"},
        el("input", {type: "radio", name: "outcome", value: key, onchange: () => { message.textContent = ""; }}), ` ${name}`)));
    const submit = el("button", {type: "submit"}, "确认结束 Close");
    const form = el("form", {class: "close-form", novalidate: true, "data-closing": a.id, onsubmit: async event => {
      event.preventDefault();
      const outcome = checkedOutcome();
      if (!outcome) { message.textContent = "请选择结果 pick an outcome"; return; }
      submit.disabled = true;
      try {
        await api(`api/assists/${encodeURIComponent(a.id)}/close`, {outcome, note: note.value.trim()});
        closing = null;
        phones.delete(a.id);
        said.delete(a.id);
        await poll();
      } catch (error) {
        if (error.status === 401) drafts.save("assist-close", {id: a.id, outcome, note: note.value});
        message.replaceChildren(...(error.status === 409 ? [`未结束：该求助已结束 not closed: it is closed already (${error.message})`]
                                                          : notDone(error, ["结束", "closed"])));
        submit.disabled = false;
      }
    }},
      el("div", {class: "close-title"}, `结束求助：${a.site} · ${a.device} · ${a.item_name || "未选事项"}`),
      outcomes,
      el("label", {class: "field wide-field", for: `note-${a.id}`}, "备注 Note（选填 optional）"), note,
      el("div", {class: "buttons"}, submit,
         el("button", {type: "button", class: "plain", onclick: () => { closing = null; draw(); }}, "取消 Cancel"), message));
    const row = el("tr", {class: "closing", "data-closing-row": a.id}, el("td", {colspan: 6}, form));
    closing = {id: a.id, row, note, message};
    if (draft) {
      note.value = draft.note || "";
      const radio = draft.outcome && form.querySelector(`input[value="${draft.outcome}"]`);
      if (radio) radio.checked = true;
      message.className = "message small warn";
      message.textContent = "未保存的结束记录已恢复，请点“确认结束”。Your unsaved close is back: press Close.";
    }
    draw();
    (form.querySelector("input[name=outcome]:checked") || form.querySelector("input[name=outcome]")).focus();
  }

  // -- drawing ----------------------------------------------------------------------------------------------------
  // Rows are kept and only ticked while nothing about them changed, so a select being used, a close form
  // being filled, or a focused button survive every poll.
  function draw() {
    if (!data) return;
    const body = document.querySelector("#open tbody");
    const wanted = [];
    for (const a of data.open) {
      const facts = {...a, waited_s: null};  // what ticks is not a change
      const key = JSON.stringify([facts, phones.get(a.id) || "", said.has(a.id) ? said.get(a.id)[2] : 0,
                                  closing && closing.id === a.id]);
      let kept = rows.get(a.id);
      if (!kept || kept.key !== key) {
        const row = openRow(a);
        if (kept) kept.row.replaceWith(row);
        kept = {row, key};
        rows.set(a.id, kept);
      }
      wanted.push(kept.row);
      if (closing && closing.id === a.id) wanted.push(closing.row);
    }
    const ids = new Set(data.open.map(a => a.id));
    for (const id of [...rows.keys()]) if (!ids.has(id)) rows.delete(id);
    if (closing && !ids.has(closing.id)) closing = null;  // closed meanwhile (by someone else): the recent list has it
    if (!wanted.length) wanted.push(body.querySelector("tr.empty") || emptyRow(operator ? 6 : 5,
      "现在没有待处理的求助 no citizen is waiting"));
    for (const child of [...body.children]) if (!wanted.includes(child)) child.remove();
    wanted.forEach((row, i) => { if (body.children[i] !== row) body.insertBefore(row, body.children[i] || null); });
  }

  function recentRow(a) {
    const made = unixAt(a.made_at), taken = unixAt(a.taken_at), closed = unixAt(a.closed_at);
    return el("tr", {"data-assist": a.id, "data-request": a.request, "data-outcome": a.outcome || ""},
      el("td", {class: "nowrap"}, shortWhen(made)), siteCell(a),
      el("td", {}, a.item ? a.item_name || a.item : el("span", {class: "muted"}, "未选事项")),
      el("td", {}, modeTag(a)),
      el("td", {class: "taker"}, a.taken_by_name || a.closed_by_name || "—"),
      el("td", {class: "nowrap take-time" + (a.escalated ? " bad" : "")}, taken ? duration(a.take_s) : "未接单 not taken",
         a.escalated ? el("span", {class: "small gloss"}, "超时") : null),
      el("td", {}, a.outcome ? el("span", {class: `status c-${OUTCOME_COLORS[a.outcome] || "unknown"}`}, ASSIST_OUTCOMES[a.outcome] || a.outcome) : "—"),
      el("td", {class: "details"}, a.note || el("span", {class: "muted"}, "—")),
      el("td", {class: "nowrap"}, shortWhen(closed)));
  }

  function tick() {
    if (!data) return;
    for (const {row} of rows.values()) row.tick();
    let late = 0;
    for (const a of data.open) {
      if (!overdue(a)) continue;
      late += 1;
      if (!alarmed.has(a.id)) { alarmed.add(a.id); if (seen && seen.has(a.id)) chime("overdue"); }
    }
    const open = data.open.filter(a => a.state === "open").length;
    document.getElementById("count-open").textContent = open;
    document.getElementById("count-escalated").textContent = late;
    document.getElementById("count-taken").textContent = data.open.length - open;
    document.getElementById("tile-escalated").classList.toggle("alarm", late > 0);
    assistBadge(open, late);
    document.title = (open ? `(${open}) ` : "") + "帮办代办 · Assist desk";
  }

  async function refresh() {
    const answer = await api("api/assists");
    // central's clock: an untaken request's wait runs until now (a taken one's stopped when it was taken)
    const running = answer.open.find(a => a.state === "open");
    if (running) offset = unixAt(running.made_at) + running.waited_s - Date.now() / 1000;
    const newcomers = seen ? answer.open.filter(a => !seen.has(a.id)) : [];
    for (const a of newcomers) fresh.set(a.id, Date.now() + FRESH_MS);
    // escalated before the page saw them: no second chime for those
    if (!seen) for (const a of answer.open) if (a.escalated) alarmed.add(a.id);
    seen = new Set([...(seen || []), ...answer.open.map(a => a.id)]);
    data = answer;
    if (newcomers.length) {
      chime("new");
      document.getElementById("announce").textContent = "新求助 new request: " +
        newcomers.map(a => `${a.site}（${a.device}）${ASSIST_MODES[a.mode] || ""}`).join("；");
    }
    draw();
    tick();
    const recent = document.querySelector("#recent tbody");
    recent.replaceChildren(...answer.recent.map(recentRow));
    if (!answer.recent.length) recent.append(emptyRow(9, "近 24 小时没有已结束的求助 none closed in the last 24 hours"));
    const minutesLimit = Math.round(answer.escalate_after_s / 60);
    document.getElementById("open-summary").textContent = `最早的在前；超过 ${answer.escalate_after_s % 60 ? duration(answer.escalate_after_s) :
      minutesLimit + " 分钟"}未接单即为超时 oldest first; overdue when not taken within that time`;
    document.getElementById("recent-summary").textContent = answer.recent.length ? `${answer.recent.length} 条` : "";
    const staffed = document.getElementById("staffed");
    staffed.hidden = !answer.staff_hours;  // no staff hours kept: the desk is always staffed
    staffed.textContent = answer.staffed_now ? `工作时间 ${answer.staff_hours}：可到机旁或回电 staff on duty`
      : `非工作时间（工作时间 ${answer.staff_hours}）：求助转为电话回拨` +
        (answer.staffed_from ? `，${shortWhen(unixAt(answer.staffed_from))} 起有人值守` : "") + " outside staff hours: call backs";
    staffed.className = "small " + (answer.staffed_now ? "muted" : "warn");
    document.getElementById("updated").textContent = "更新于 updated " + new Date().toLocaleTimeString("zh-CN", {hour12: false});
    restoreDraft();
  }

  // A close typed before the session ended, kept through the login page: its form again, filled in.
  function restoreDraft() {
    if (!operator || closing) return;
    const draft = drafts.take("assist-close");
    const a = draft && data.open.find(x => x.id === draft.id && x.state === "taken");
    if (a) openClose(a, draft);
  }

  // Asks every POLL_S seconds, in a background tab too; a failure is said on the page, the next success clears it.
  let busy = false;
  async function poll() {
    if (busy) return;
    busy = true;
    try { await refresh(); showProblem(null); }
    catch (error) { if (!error.leaving) showProblem(error); }
    finally { busy = false; }
  }
  // The worker's clock keeps time in a background tab too (see ticker.js); the page's own if it cannot start.
  let ticks = 0;
  const beat = () => { tick(); if (++ticks % POLL_S === 0) poll(); };
  try {
    const ticker = new Worker("static/ticker.js");
    ticker.onmessage = beat;
    ticker.onerror = () => { ticker.terminate(); setInterval(beat, 1000); };
    ticker.postMessage(1000);
  } catch (error) { setInterval(beat, 1000); }
  await poll();
})().catch(error => { if (error.status !== 401) showProblem(error); });
