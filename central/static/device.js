// One booth: its state and charts, messages central could not record, commands (sent by operators and
// admins), alerts and recent events — every code in words, the code itself in a tooltip at most.
"use strict";

const DEVICE_ID = /^[a-z0-9-]{3,63}$/;  // what the API takes (anything else is no booth)
const COMMAND_ERRORS = {
  oversized: ["命令太大", "command too large"], malformed_json: ["命令格式不对", "malformed"], malformed: ["命令格式不对", "malformed"],
  missing_id: ["命令缺少编号", "no request id"], bad_expires: ["命令期限不对", "bad expiry"],
  expired: ["终端收到时命令已过期", "expired on arrival"], unknown_command: ["终端不认识这个命令", "unknown command"],
  bad_args: ["命令参数不对", "bad arguments"], catalog_invalid: ["事项目录无法使用", "catalogue unusable"],
  print_failed: ["打印失败", "print failed"], failed: ["执行失败", "failed"],
};
const KIND_NAMES = {submission: "申请", appointment: "预约", rating: "评价", assist: "求助", usage: "使用统计", alert: "告警"};
const RATING_LABELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"};

// waiting | expired | ok | failed (central says so; an older central: judged here the same way).
function commandState(c) {
  if (c.state) return c.state;
  if (c.answered_at === null || c.answered_at === undefined) {
    return c.expires_at && c.expires_at * 1000 < Date.now() ? "expired" : "waiting";
  }
  return c.ok ? "ok" : "failed";
}

// What a booth's answer means: [Chinese, English].
function doneWords(c) {
  const r = c.result && typeof c.result === "object" ? c.result : {};
  switch (c.name) {
    case "ping": return ["终端在线", "the booth answered"];
    case "status": return ["已收到状态", "status received"];
    case "maintenance": return r.mode === "maintenance" ? ["已进入维护", "in maintenance"] : ["已退出维护", "back in service"];
    case "reload-catalog": return [`已重新加载事项${r.version ? `（${r.version}，${r.items} 项）` : ""}`, "catalogue reloaded"];
    case "print-test": return ["已打印测试页", "test page printed"];
    case "led-test": return ["指示灯已测试", "LEDs cycled"];
    case "retry-set-aside": return [`已重发 ${r.retried ?? 0} 条搁置事件`, `${r.retried ?? 0} retried`];
    case "reboot": case "restart": return ["已请求重启", "restart requested"];
    default: return ["成功", "done"];
  }
}

function failedWords(error) {
  const e = error && typeof error === "object" ? error : {};
  if (e.code === "print_failed") {  // "printer: paper_end": the printer's reason, in words
    const reason = (String(e.message || "").match(/[a-z_]+/g) || []).reverse().find(r => r !== "ok" && REASON_NAMES[r]);
    if (reason) return [`失败：打印机${REASON_NAMES[reason][0]}`, `failed: printer ${REASON_NAMES[reason][1]}`];
  }
  const [zh, en] = COMMAND_ERRORS[e.code] || ["执行失败", "failed"];
  return [`失败：${zh}`, `failed: ${en}`];
}

function describeResult(c) {
  const state = commandState(c);
  if (state === "waiting") {
    return el("span", {class: "muted", "data-state": state, title: c.expires_at ? `期限 expires ${when(c.expires_at)}` : null}, "等待中 waiting…");
  }
  if (state === "expired") {
    return el("span", {class: "warn", "data-state": state,
                       title: `终端在期限内没有回答 the booth did not answer by ${when(c.expires_at)}`}, "已过期 expired");
  }
  const [zh, en] = state === "ok" ? doneWords(c) : failedWords(c.result);
  return el("span", {class: state === "ok" ? "good" : "bad", "data-state": state, title: JSON.stringify(c.result)},
            (state === "ok" ? "✓ " : "✗ ") + zh, el("span", {class: "muted small gloss"}, " " + en));
}

// A recent event in one line: what happened, never its raw payload (personal data is never shown).
function eventLine(e) {
  const p = e.payload && typeof e.payload === "object" ? e.payload : {};
  const item = e.item_name || p.item || "";
  const hidden = el("span", {class: "muted small"}, " · 个人信息不显示 personal data not shown");
  switch (e.kind) {
    case "rating":
      return [`评价 ${p.level} 星${RATING_LABELS[p.level] ? `（${RATING_LABELS[p.level]}）` : ""}`, item ? ` · ${item}` : "",
              Array.isArray(p.reasons) && p.reasons.length ? ` · 原因：${p.reasons.join("、")}` : ""];
    case "usage": {
      const counts = Array.isArray(p.counts) ? p.counts : [];
      const served = counts.filter(c => c && c.action === "session_start").reduce((sum, c) => sum + (c.count || 0), 0);
      return [`使用统计 ${shortWhen(unixOf(p.window_start))} – ${shortWhen(unixOf(p.window_end))}`, ` · 服务 ${served} 人次`];
    }
    case "submission": return ["申请", item ? ` · ${item}` : "", hidden];
    case "appointment":
      return ["预约", item ? ` · ${item}` : "", p.day ? ` · ${p.day} ${p.half === "pm" ? "下午" : p.half === "am" ? "上午" : ""}` : "", hidden];
    case "assist": return ["求助", item ? ` · ${item}` : "", p.topic ? ` · ${String(p.topic).slice(0, 60)}` : ""];
    case "alert": {
      const name = alertName(p.code);
      return [`告警 · ${name.text}`, name.unknown ? codeTag(name.unknown) : null,
              p.message ? el("span", {class: "muted small"}, " · " + p.message) : null];
    }
    default: return [el("span", {class: "muted"}, e.kind)];
  }
}

// The alert's message, unless it holds a number frozen when it opened ("no heartbeat for 123 s"): then since when.
function alertMessage(a) {
  if (a.code === "heartbeat_overdue") return [`自 ${shortWhen(a.opened_at)} 起没有收到心跳`, ` no heartbeat since ${shortWhen(a.opened_at)}`];
  if (a.code === "offline") return [`自 ${shortWhen(a.opened_at)} 起离线`, ` offline since ${shortWhen(a.opened_at)}`];
  if (a.code === "assist_escalated") return [`自 ${shortWhen(a.opened_at)} 起有群众求助超时无人接单，请到“帮办代办”接单`,
                                             ` ${a.message}`];
  return ["", a.message];
}

(async () => {
  const me = await startPage("fleet");
  const device = param("id");
  const operator = may(me, "operator");
  document.getElementById("command-form").hidden = !operator;
  document.getElementById("command-readonly").hidden = operator;

  function missing() {
    stopped = true;
    document.getElementById("title").replaceChildren(`没有这台终端 no such booth: ${device || "（未指定 none given）"}`,
      el("div", {class: "muted small sub"}, "或它不在您管辖的地区。Or it is not in your regions. ", el("a", {href: "./"}, "回到总览 back to the overview")));
    document.getElementById("title").setAttribute("data-missing", "");
    document.getElementById("details").hidden = true;
  }

  let stopped = false;
  async function show() {
    if (stopped) return;
    if (!DEVICE_ID.test(device)) { missing(); return; }
    let view;
    try { view = await api("api/devices/" + encodeURIComponent(device)); }
    catch (error) {
      if (error.status !== 404 && error.status !== 422) throw error;
      missing();
      return;
    }
    const s = view.summary;
    document.title = `${s.device} · 终端详情`;
    document.getElementById("title").replaceChildren(`${s.device} · ${s.site} `, stateBadge(s.state));
    const printer = driverHealth(s.printer), reader = driverHealth(s.card_reader);
    document.getElementById("facts").replaceChildren(
      `地区 ${s.region} · 心跳 `, el("span", {title: s.heartbeat}, ago(heartbeatAge(s))),
      " · 打印机 ", el("span", {class: printer.level, title: printer.gloss, id: "fact-printer"}, printer.text, printer.unknown ? codeTag(printer.unknown) : null),
      " · 读卡器 ", el("span", {class: reader.level, title: reader.gloss, id: "fact-reader"}, reader.text, reader.unknown ? codeTag(reader.unknown) : null),
      ` · 待发 ${s.outbox === "-" ? "—" : s.outbox} · 待确认 ${s.unconfirmed === "-" ? "—" : s.unconfirmed}` +
      (s.unconfirmed && s.unconfirmed !== "-" ? `（最早 ${shortAge(s.oldest_unconfirmed)}）` : "") + ` · 版本 ${s.software || "—"}`);
    document.getElementById("chart-outbox").replaceChildren(lineChart(view.series.t, view.series.outbox_depth, {floor: 0, whole: true}));
    document.getElementById("chart-temp").replaceChildren(lineChart(view.series.t, view.series.cpu_temp_c, {unit: "°C", color: "#c62828"}));
    document.getElementById("chart-disk").replaceChildren(lineChart(view.series.t, view.series.disk_free_mb, {color: "#1b7f3b", floor: 0, whole: true}));

    const letters = view.dead_letters || [], lost = view.dead_letter_count ?? letters.length;
    document.getElementById("dead-letter-panel").hidden = !letters.length;
    document.getElementById("dead-letter-summary").textContent = letters.length ?
      `这台终端有 ${lost} 条消息中心无法记录，请联系技术人员。` +
      `Central could not record ${lost} message(s) from this booth: please tell a technician.` +
      (lost > letters.length ? `（下表为最近 ${letters.length} 条 the newest ${letters.length} below）` : "") : "";
    document.querySelector("#dead-letters tbody").replaceChildren(...letters.map(d => el("tr", {"data-dead-letter": d.seq ?? ""},
      el("td", {class: "nowrap", title: when(d.received_at)}, shortWhen(d.received_at)),
      el("td", {class: "num", title: d.event || null}, d.seq ?? "—"),
      el("td", {class: "result small"}, d.reason),
      el("td", {class: "num nowrap"}, `${d.size} 字节`))));

    const alerts = document.querySelector("#alerts tbody");
    alerts.replaceChildren(...view.alerts.map(a => {
      const name = alertName(a.code), [zh, en] = alertMessage(a);
      return el("tr", {"data-code": a.code, class: a.closed_at ? "muted" : "bad"},
        el("td", {title: a.code}, name.text, name.unknown ? codeTag(name.unknown) : null),
        el("td", {class: "nowrap", title: a.severity}, SEVERITY_NAMES[a.severity] || a.severity),
        el("td", {}, zh, el("span", {class: "muted small"}, en)),
        el("td", {class: "nowrap", title: when(a.opened_at)}, shortWhen(a.opened_at)),
        el("td", {class: "nowrap", title: a.closed_at ? when(a.closed_at) : null}, a.closed_at ? shortWhen(a.closed_at) : "未结束 open"));
    }));
    if (!view.alerts.length) alerts.append(emptyRow(5, "没有告警 no alerts"));

    const events = document.querySelector("#events tbody");
    events.replaceChildren(...view.events.map(e => {
      const created = unixOf(e.created);
      return el("tr", {"data-kind": e.kind},
        el("td", {class: "num"}, e.seq),
        el("td", {class: "nowrap"}, KIND_NAMES[e.kind] || e.kind, el("span", {class: "muted small"}, " " + e.kind)),
        el("td", {class: "nowrap", title: created === null ? null : when(created)}, created === null ? String(e.created) : shortWhen(created)),
        el("td", {}, eventLine(e)));
    }));
    if (!view.events.length) events.append(emptyRow(4, "还没有收到事件 no events received yet"));
    document.getElementById("gaps").replaceChildren(view.seq_gaps.length ?
      "缺失序号 missing seq: " + view.seq_gaps.map(g => g[0] === g[1] ? g[0] : `${g[0]}–${g[1]}`).join(", ") : "序号完整 no gaps",
      letters.length ? el("span", {class: "bad"}, `，但有 ${letters.length} 条消息中心无法记录（见上）but ${letters.length} could not be recorded (above)`) : "");

    const sent = document.querySelector("#commands tbody");
    sent.replaceChildren(...view.commands.map(c => el("tr", {"data-command": c.id, "data-state": commandState(c)},
      el("td", {}, commandName(c.name, c.args)),
      el("td", {class: "nowrap", title: when(c.sent_at)}, shortWhen(c.sent_at),
         c.sent_by ? el("div", {class: "muted small", "data-sent-by": c.sent_by}, c.sent_by) : null),
      el("td", {class: "outcome"}, describeResult(c)))));
    if (!view.commands.length) sent.append(emptyRow(3, "还没有发过命令 no commands sent yet"));
    document.getElementById("details").hidden = false;
  }

  document.getElementById("command-form").addEventListener("submit", async event => {
    event.preventDefault();
    const choice = document.getElementById("command").value, button = document.getElementById("send");
    const message = document.getElementById("command-message");
    const [name, args] = choice.startsWith("maintenance-") ? ["maintenance", {on: choice === "maintenance-on"}] : [choice, undefined];
    button.disabled = true;
    message.className = "message small muted";
    message.textContent = "发送中 sending…";
    try {
      await api(`api/devices/${encodeURIComponent(device)}/commands`, {name, args});
      message.textContent = "已发送 sent";
    } catch (error) {
      message.className = "message small bad";
      message.replaceChildren(...notDone(error, ["发送", "sent"]));
    } finally { button.disabled = false; refresh(); }
  });

  const refresh = every(2, show);
})().catch(error => { if (error.status !== 401) showProblem(error); });
