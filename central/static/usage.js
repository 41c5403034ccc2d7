// Usage and 好差评: sessions, services per day, top items, ratings, the 差评 follow-ups an operator closes
// with a note, and the 台账 (ledger) export for a period.
"use strict";

const LEVEL_COLORS = {5: "#1b7f3b", 4: "#5aa469", 3: "#9aa0a6", 2: "#e08a00", 1: "#c62828"};

(async () => {
  const me = await startPage("usage");
  const operator = may(me, "operator");
  for (const node of document.querySelectorAll(".operator-only")) node.hidden = !operator;
  let closing = null;  // the follow-up whose note is being written: the table is not redrawn meanwhile
  let closingNote = null;  // its note's input
  let scrolled = false;
  let shown = [];  // the follow-ups listed
  // A note being written stays on the page when the session ends (the poll says so instead of leaving).
  keepWhileTyping(() => {
    if (closing === null || !closingNote || !closingNote.value.trim()) return false;
    drafts.save("follow-up", {id: closing, note: closingNote.value});
    return true;
  });

  function tile(id, value, name, color) {
    return el("div", {class: `count c-${color}`}, el("b", {id}, value), name);
  }

  function followUpRow(f) {
    const row = el("tr", {"data-follow-up": f.id, class: f.overdue ? "overdue" : null},
      el("td", {class: "nowrap"}, el("a", {href: "device?id=" + encodeURIComponent(f.device)}, f.device)),
      el("td", {}, f.item_name, " ", el("span", {class: "muted small"}, f.item)),
      el("td", {class: "bad nowrap"}, f.label), el("td", {}, (f.reasons || []).join("、") || "—"),
      el("td", {class: "nowrap"}, when(f.opened_at)),
      el("td", {class: "nowrap" + (f.overdue ? " bad" : "")}, f.due_at ? day(f.due_at) : "—",
         f.overdue ? el("span", {class: "state c-fault overdue-flag"}, "已超期 overdue") : null));
    if (operator) row.append(el("td", {class: "nowrap"},
      el("button", {type: "button", class: "close-follow-up", onclick: () => openClose(f, row)}, "已回访 close…")));
    return row;
  }

  function openClose(f, row) {
    if (closing) return;
    closing = f.id;
    const message = el("span", {class: "message small bad"});
    const note = el("input", {type: "text", name: "note", maxlength: 500, required: true, class: "note-input",
                              placeholder: "回访情况（必填）what was done: called back, explained, …", "aria-label": "回访情况 note",
                              oninput: () => { message.textContent = ""; }});
    closingNote = note;
    const cancel = () => { closing = closingNote = null; form.closest("tr").remove(); row.querySelector("button").disabled = false; };
    const form = el("form", {class: "inline", novalidate: true, "data-closing": f.id, onsubmit: async event => {
      event.preventDefault();
      const text = note.value.trim();
      if (!text) { message.textContent = "请写明回访情况 please say what was done"; note.focus(); return; }
      submit.disabled = true;
      try {
        await api(`api/follow-ups/${f.id}/close`, {note: text});
        closing = closingNote = null;
        await show();
      } catch (error) {
        if (error.status === 401) drafts.save("follow-up", {id: f.id, note: note.value});  // the input keeps it too
        message.replaceChildren(...notDone(error, ["关闭", "closed"]));
        submit.disabled = false;
      }
    }}, el("span", {class: "nowrap"}, `回访 ${f.device} · ${f.item_name}：`), note);
    const submit = el("button", {type: "submit"}, "确认已回访 Close");
    form.append(submit, el("button", {type: "button", class: "plain", onclick: cancel}, "取消 Cancel"), message);
    row.querySelector("button").disabled = true;
    row.after(el("tr", {class: "closing"}, el("td", {colspan: 7}, form)));
    note.focus();
    return {note, message};
  }

  // A note typed before the session ended, kept through the login page: its form again, filled in.
  function restoreDraft() {
    const draft = operator ? drafts.take("follow-up") : null;
    const f = draft && shown.find(x => x.id === draft.id);
    const row = f && document.querySelector(`#follow-ups tr[data-follow-up="${f.id}"]`);
    if (!row || closing !== null) return;
    const {note, message} = openClose(f, row);
    note.value = draft.note || "";
    message.className = "message small warn";
    message.textContent = "未保存的回访情况已恢复，请点“确认已回访”。Your unsaved note is back: press Close.";
  }

  // 帮办代办: which services citizens could not do alone, per item and per booth.
  function assistRow(entry, first) {
    const outcomes = entry.outcomes || {};
    return el("tr", {"data-assists": entry.device || entry.item || ""}, first,
      el("td", {class: "num requests"}, entry.requests), el("td", {class: "num"}, entry.taken),
      el("td", {class: "num nowrap median"}, entry.median_take_s === null ? "—" : duration(entry.median_take_s)),
      Object.keys(ASSIST_OUTCOMES).map(key => el("td", {class: "num", "data-outcome": key}, outcomes[key] || 0)),
      el("td", {class: "num" + (entry.open ? " warn" : "")}, entry.open));
  }

  // 好差评 offered after each task: the response rate (given ÷ offered), overall and per item.
  const percent = rate => rate === null || rate === undefined ? "—" : (rate * 100).toFixed(1) + "%";
  function showResponse(response) {
    const t = response || {offered: 0, given: 0, skipped: 0, rate: null, per_item: []};
    document.getElementById("response-summary").textContent = t.offered
      ? `邀请 ${t.offered} 次，应邀评价 ${t.given} 次，跳过 ${t.skipped} 次 · ${t.offered} offered, ${t.given} given, ${t.skipped} skipped` : "";
    const body = document.querySelector("#response-per-item tbody");
    body.replaceChildren(...t.per_item.map(entry => el("tr", {"data-response": entry.item},
      el("td", {}, entry.item_name || entry.item, " ", el("span", {class: "muted small"}, entry.item)),
      el("td", {class: "num offered"}, entry.offered), el("td", {class: "num given"}, entry.given),
      el("td", {class: "num skipped"}, entry.skipped), el("td", {class: "num rate"}, percent(entry.rate)))));
    if (!body.children.length) body.append(emptyRow(5, "近 14 天没有邀请评价 no rating offered in the last 14 days"));
  }

  function showAssists(a) {
    for (const head of document.querySelectorAll("th[data-outcome]")) head.textContent = ASSIST_OUTCOMES[head.dataset.outcome];
    const t = a.total;
    document.getElementById("assists-summary").textContent = t.requests
      ? `共 ${t.requests} 次求助，已接单 ${t.taken} 次` + (t.median_take_s === null ? "" : `，接单用时中位数 ${duration(t.median_take_s)}`) +
        ` · ${t.requests} requests, ${t.taken} taken` : "";
    const items = document.querySelector("#assists-per-item tbody"), booths = document.querySelector("#assists-per-device tbody");
    items.replaceChildren(...a.per_item.map(entry => assistRow(entry, el("td", {},
      entry.item ? [entry.item_name || entry.item, " ", el("span", {class: "muted small"}, entry.item)]
                 : el("span", {class: "muted"}, "未选事项（在首页或帮助页求助）no item")))));
    booths.replaceChildren(...a.per_device.map(entry => assistRow(entry, el("td", {class: "nowrap"},
      el("a", {href: "device?id=" + encodeURIComponent(entry.device)}, entry.device)))));
    for (const body of [items, booths]) if (!body.children.length) body.append(emptyRow(9, "近 14 天没有求助 no requests in the last 14 days"));
  }

  async function show() {
    const u = await api("api/usage?days=14");
    const r = u.ratings;
    document.getElementById("counts").replaceChildren(
      tile("sessions", u.sessions, "服务人次 sessions", "accent"),
      tile("timeouts", u.timeouts, "超时退出 timeouts", "offline"),
      tile("satisfaction", r.satisfaction === null ? "—" : (r.satisfaction * 100).toFixed(1) + "%", `满意率 satisfaction (${r.total} 条)`, "ok"),
      tile("response-rate", percent(r.response ? r.response.rate : null),
           `评价响应率 response rate (${r.response ? r.response.given : 0}/${r.response ? r.response.offered : 0})`, "accent"),
      tile("open-follow-ups", r.open_follow_ups, "待回访 open follow-ups", "fault"));
    const series = [["guide_viewed", "查看指南 guide", "#0b57d0"], ["notice_printed", "打印告知单 notice", "#5e35b1"],
                    ["submission", "申请 applied", "#1b7f3b"], ["appointment", "预约 booked", "#e08a00"]]
      .map(([key, name, color]) => ({name, color, values: u.days.map(d => u.per_day[d][key] || 0)}));
    const perDay = document.getElementById("per-day");
    perDay.replaceChildren(columnChart(u.days, series, {width: Math.max(600, perDay.clientWidth - 34)}));
    document.getElementById("per-day-note").textContent = `（近 14 天中终端已报告的 ${u.days.length} 天；今天的统计明天才报告。` +
      `The ${u.days.length} day(s) booths reported in the last 14: today's report comes tomorrow.）`;
    const barWidth = Math.max(320, document.getElementById("top-items").clientWidth);
    document.getElementById("top-items").replaceChildren(barChart(u.top_items.map(([name, count, code]) =>
      ({label: name, value: count, title: `${name}（${code}）: ${count} 次 times`})), {labelWidth: 170, width: barWidth, format: v => `${v} 次`}));
    document.getElementById("per-device").replaceChildren(barChart(u.per_device.map(([device, count]) =>
      ({label: device, value: count, title: `${device}: 服务 ${count} 人次 citizens served`})),
      {color: "#5e35b1", width: barWidth, format: v => `${v} 人次`}));
    document.getElementById("ratings").replaceChildren(barChart(r.levels.map(l =>
      ({label: l.label, value: l.count, color: LEVEL_COLORS[l.level]})),
      {width: barWidth, format: v => r.total ? `${v} (${(100 * v / r.total).toFixed(0)}%)` : v}));
    showResponse(r.response);
    if (u.assists) showAssists(u.assists);
    const counts = u.follow_up_counts || {open: u.follow_ups.length, overdue: u.follow_ups.filter(f => f.overdue).length};
    document.getElementById("follow-ups-summary").textContent = (counts.open
      ? `待回访 ${counts.open} 条 open` + (counts.overdue ? `，其中 ${counts.overdue} 条已超期 overdue` : "") : "") +
      (counts.open > u.follow_ups.length ? ` · 下表为最早的 ${u.follow_ups.length} 条 the oldest ${u.follow_ups.length} shown` : "");
    if (closing === null) {
      shown = u.follow_ups;
      const body = document.querySelector("#follow-ups tbody");
      body.replaceChildren(...u.follow_ups.map(followUpRow));
      const low = r.levels.filter(l => l.level <= 2).reduce((sum, l) => sum + l.count, 0);
      if (!u.follow_ups.length) body.append(emptyRow(operator ? 7 : 6,
        !r.total ? "暂无差评 no 差评 yet" : !low ? "近 14 天没有差评 no 差评 in the last 14 days"
                 : "没有待回访的差评：差评都已回访 no open follow-ups: every 差评 has been called back"));
      restoreDraft();
    }
    if (!scrolled && location.hash === "#follow-ups") document.getElementById("follow-ups-title").scrollIntoView();
    scrolled = true;
  }

  // -- the 台账 export: plain links (GET), the period as picked
  const start = document.getElementById("export-start"), end = document.getElementById("export-end");
  function setMonth(offset) {
    const now = new Date(), first = new Date(now.getFullYear(), now.getMonth() + offset, 1);
    const last = offset < 0 ? new Date(now.getFullYear(), now.getMonth() + offset + 1, 0) : now;
    start.value = isoDay(first); end.value = isoDay(last);
    links();
  }
  // The period as the API takes it (both days included, at most MAX_DAYS): the problem in words, or "".
  const MAX_DAYS = 366;
  function periodProblem() {
    if (!start.value || !end.value) return "请选择开始和结束日期。Pick a start and an end day.";
    if (start.value > end.value) return "开始日期晚于结束日期：请选择开始不晚于结束的日期。The start is after the end: pick a start not after the end.";
    const days = Math.round((Date.parse(end.value) - Date.parse(start.value)) / 86_400_000) + 1;
    if (days > MAX_DAYS) return `所选期间共 ${days} 天，一次最多导出 ${MAX_DAYS} 天，请分段导出（例如一年或一个月一次）。` +
                                `The period is ${days} days: a ledger covers at most ${MAX_DAYS} — export it in parts.`;
    return "";
  }
  function say(text, bad) {
    const note = document.getElementById("export-note");
    note.className = "small message " + (bad ? "bad" : "muted");
    note.textContent = text;
  }
  function links() {
    const problem = periodProblem();
    for (const link of document.querySelectorAll("#export a[data-format]")) {
      link.href = "api/export" + query({start: start.value, end: end.value, format: link.dataset.format, section: link.dataset.section});
      link.toggleAttribute("hidden", !!problem);
    }
    say(problem || `${start.value} 至 ${end.value} 的台账（含首尾两天）。不含个人信息；导出会记入审计。` +
                   `The ledger of ${start.value} – ${end.value} (both days included): no personal data; every export is audited.`, !!problem);
  }
  // Downloaded by the page, so that a refusal (or an ended session) is said here, not as a JSON page.
  async function download(event) {
    event.preventDefault();
    const link = event.currentTarget, problem = periodProblem();
    if (problem) { say(problem, true); return; }
    if (link.dataset.busy) return;
    link.dataset.busy = "1";
    say("正在生成台账… preparing the ledger…", false);
    try {
      let response;
      try { response = await fetch(link.href, {credentials: "same-origin", referrerPolicy: "same-origin"}); }
      catch (error) { throw new ApiError(0, "无法连接中心 central cannot be reached"); }
      if (!response.ok) {
        let detail = "";
        try { detail = (await response.json()).error || ""; } catch (error) { detail = ""; }
        throw new ApiError(response.status, detail || `${response.status} ${response.statusText}`);
      }
      const name = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const url = URL.createObjectURL(await response.blob());
      const save = el("a", {href: url, download: name ? name[1] : "taizhang", hidden: true});
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      links();
    } catch (error) {
      const note = document.getElementById("export-note");
      note.className = "small message bad";
      note.replaceChildren(...notDone(error, ["导出", "exported"]));
    } finally { delete link.dataset.busy; }
  }
  for (const link of document.querySelectorAll("#export a[data-format]")) link.addEventListener("click", download);
  start.onchange = end.onchange = links;
  document.getElementById("last-month").onclick = () => setMonth(-1);
  document.getElementById("this-month").onclick = () => setMonth(0);
  setMonth(-1);

  every(10, show);
})().catch(error => { if (error.status !== 401) showProblem(error); });
