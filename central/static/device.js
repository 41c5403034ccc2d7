// One booth: its state and charts, commands (sent by operators and admins), alerts and recent events.
"use strict";

(async () => {
  const me = await startPage("fleet");
  const device = param("id");
  const operator = may(me, "operator");
  document.getElementById("command-form").hidden = !operator;
  document.getElementById("command-readonly").hidden = operator;

  function describeResult(c) {
    if (c.answered_at === null) return el("span", {class: "muted"}, "等待中 waiting…");
    return el("span", {class: "result " + (c.ok ? "good" : "bad")}, (c.ok ? "✓ " : "✗ ") + JSON.stringify(c.result));
  }

  let stopped = false;
  async function show() {
    if (stopped) return;
    let view;
    try { view = await api("api/devices/" + encodeURIComponent(device)); }
    catch (error) {
      if (error.status !== 404) throw error;
      stopped = true;
      document.getElementById("title").replaceChildren(`没有终端 ${device || "(none)"}，或它不在您管辖的地区。No such booth in your regions. `,
        el("a", {href: "./"}, "回到总览 back to the overview"));
      document.getElementById("details").hidden = true;
      return;
    }
    const s = view.summary;
    document.title = `${s.device} · 终端详情`;
    document.getElementById("title").replaceChildren(`${s.device} · ${s.site} `, stateBadge(s.state));
    document.getElementById("facts").textContent =
      `地区 ${s.region} · 心跳 ${s.heartbeat} · 打印机 ${s.printer} · 读卡器 ${s.card_reader} · 待发 ${s.outbox} · ` +
      `待确认 ${s.unconfirmed}（最早 ${s.oldest_unconfirmed}） · 版本 ${s.software}`;
    document.getElementById("chart-outbox").replaceChildren(lineChart(view.series.t, view.series.outbox_depth));
    document.getElementById("chart-temp").replaceChildren(lineChart(view.series.t, view.series.cpu_temp_c, {unit: "°C", color: "#c62828"}));
    document.getElementById("chart-disk").replaceChildren(lineChart(view.series.t, view.series.disk_free_mb, {color: "#1b7f3b"}));
    const alerts = document.querySelector("#alerts tbody");
    alerts.replaceChildren(...view.alerts.map(a => el("tr", {"data-code": a.code, class: a.closed_at ? "muted" : "bad"},
      el("td", {}, a.code), el("td", {}, a.severity), el("td", {}, a.message), el("td", {class: "nowrap"}, when(a.opened_at)),
      el("td", {class: "nowrap"}, a.closed_at ? when(a.closed_at) : "未结束 open"))));
    if (!view.alerts.length) alerts.append(emptyRow(5, "没有告警 no alerts"));
    const events = document.querySelector("#events tbody");
    events.replaceChildren(...view.events.map(e => el("tr", {},
      el("td", {class: "num"}, e.seq),
      el("td", {class: "kind"}, e.kind, e.item_name ? el("div", {class: "muted small"}, e.item_name) : null),
      el("td", {class: "nowrap"}, e.created),
      el("td", {class: "result"}, JSON.stringify(e.payload).slice(0, 200)))));
    if (!view.events.length) events.append(emptyRow(4, "还没有收到事件 no events received yet"));
    document.getElementById("gaps").textContent = view.seq_gaps.length ?
      "缺失序号 missing seq: " + view.seq_gaps.map(g => g[0] === g[1] ? g[0] : `${g[0]}–${g[1]}`).join(", ") : "序号完整 no gaps";
    const sent = document.querySelector("#commands tbody");
    sent.replaceChildren(...view.commands.map(c => el("tr", {"data-command": c.id},
      el("td", {}, c.name + (c.args && Object.keys(c.args).length ? " " + JSON.stringify(c.args) : "")),
      el("td", {class: "nowrap"}, when(c.sent_at)), el("td", {}, describeResult(c)))));
    if (!view.commands.length) sent.append(emptyRow(3, "还没有发过命令 no commands sent yet"));
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
      message.textContent = "未发送 not sent: " + error.message;
    } finally { button.disabled = false; show().catch(showProblem); }
  });

  every(2, show);
})().catch(error => { if (error.status !== 401) showProblem(error); });
