// The overview: central's own health, overdue 差评 follow-ups, counts by state, the fleet table.
"use strict";

(async () => {
  const me = await startPage("fleet");
  const region = document.getElementById("region"), state = document.getElementById("state");
  for (const [key, name] of Object.entries(STATE_NAMES)) state.append(el("option", {value: key}, name));
  region.value = param("region");

  function intakeBanner(intake) {
    const banner = document.getElementById("intake");
    banner.hidden = !intake || intake.ok;
    if (!intake || intake.ok) return;
    banner.textContent = !intake.database_ok
      ? `中心数据库故障 central's database is failing (${intake.database_failing_s} s): ${intake.held_messages} messages held, ` +
        "not lost — booths keep every event until central confirms it"
      : !intake.broker_connected ? "中心未连接消息服务器 central is not connected to the broker" : "中心异常 central is not healthy";
  }

  // The API lists the oldest open follow-ups (the first to fall due) and counts them all.
  function followUps(list, counts) {
    const overdue = counts ? counts.overdue : list.filter(f => f.overdue).length;
    const open = counts ? counts.open : list.length;
    document.getElementById("overdue").hidden = !overdue;
    document.getElementById("overdue-follow-ups").textContent = overdue;
    const first = list.find(f => f.overdue);
    document.getElementById("overdue-detail").textContent = (first ?
      `最早 oldest: ${first.device} · ${first.item_name} · ${first.label} · 期限 due ${day(first.due_at)} — ` : "") + "去回访 follow up →";
    document.getElementById("open-follow-ups-line").textContent = open ? `待回访 ${open} 条 open follow-ups` : "";
  }

  function tile(key, count, name, extra = {}) {
    return el("div", {class: `count pick c-${key === "all" ? "accent" : key}` + (extra.picked ? " picked" : ""), "data-state": key === "all" ? null : key,
                      role: "button", tabindex: 0, onclick: extra.onclick,
                      onkeydown: event => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); extra.onclick(); } }},
              el("b", {id: `count-${key === "all" ? "total" : key}`}, count), name);
  }

  // Messages central could not record (refused at intake, or by the database): for those who can act.
  function deadLetterBanner(letters) {
    const banner = document.getElementById("dead-letters");
    const recent = letters && may(me, "operator") ? letters.recent : 0;
    banner.hidden = !recent;
    if (!recent) return;
    banner.textContent = `近 ${letters.days} 天有 ${recent} 条消息中心无法记录，请联系技术人员。` +
      `Central could not record ${recent} message(s) in the last ${letters.days} days: please tell a technician.`;
  }

  // Citizens waiting for a person (帮办代办): how many, and how many past the escalation time (red).
  function assistsBanner(counts) {
    const banner = document.getElementById("assists");
    banner.hidden = !counts;
    if (!counts) return;
    const open = counts.open || 0, escalated = counts.escalated || 0;
    banner.classList.toggle("info", !escalated);
    banner.classList.toggle("quiet", !open);
    banner.dataset.open = open;
    banner.dataset.escalated = escalated;
    document.getElementById("assists-line").replaceChildren(...(!open ? ["现在没有待处理的求助 no one is waiting"] : [
      "待处理 ", el("b", {id: "assists-open"}, open), " 条 open",
      escalated ? ["，其中 ", el("b", {id: "assists-escalated", class: "bad"}, escalated), " 条已超时未接单 overdue"] : []].flat()));
  }

  async function show() {
    const data = await api("api/fleet" + query({region: region.value, state: state.value}));
    intakeBanner(data.intake);
    assistsBanner(data.assists);
    deadLetterBanner(data.dead_letters);
    followUps(data.follow_ups || [], data.follow_up_counts);
    for (const r of data.regions) if (![...region.options].some(o => o.value === r)) region.append(el("option", {value: r}, r));
    document.getElementById("counts").replaceChildren(
      tile("all", data.total, "全部终端 all", {onclick: () => { state.value = ""; refresh(); }}),
      ...Object.entries(data.counts).filter(([k, n]) => n || k === "ok" || k === "fault" || k === "offline").map(([k, n]) =>
        tile(k, n, STATE_NAMES[k], {picked: state.value === k, onclick: () => { state.value = state.value === k ? "" : k; refresh(); }})));
    const body = document.querySelector("#fleet tbody");
    body.replaceChildren(...data.devices.map(d => {
      const href = "device?id=" + encodeURIComponent(d.device);
      return el("tr", {class: "link", "data-device": d.device, onclick: event => { if (event.target.tagName !== "A") location.assign(href); }},
        el("td", {class: "nowrap"}, el("a", {href}, d.device)), el("td", {class: "site"}, d.site),
        el("td", {}, d.region), el("td", {}, stateBadge(d.state)),
        el("td", {class: "nowrap", title: d.heartbeat, "data-age": heartbeatAge(d) ?? ""}, ago(heartbeatAge(d))),
        healthCell(d.printer, {"data-driver": "printer"}), healthCell(d.card_reader, {"data-driver": "card_reader"}),
        el("td", {class: "num"}, d.outbox === "-" ? "—" : d.outbox), el("td", {class: "nowrap"}, shortAge(d.oldest)),
        el("td", {"data-unconfirmed": d.unconfirmed}, d.unconfirmed === 0 ? 0 : d.unconfirmed === "-" ? "—" :
           `${d.unconfirmed}（最早 ${shortAge(d.oldest_unconfirmed)}）`), el("td", {}, d.software),
        el("td", {class: "num" + (d.alerts ? " bad" : "")}, d.alerts));
    }));
    if (!data.devices.length) body.append(emptyRow(12, data.total ? "没有符合条件的终端 no device matches these filters"
                                                                   : "还没有终端上线 no booth has reported yet"));
    document.getElementById("updated").textContent = "更新于 updated " + new Date().toLocaleTimeString("zh-CN", {hour12: false});
  }

  state.value = param("state");
  const refresh = every(5, show);  // one loop: a filter changed asks at once, never a second loop
  region.onchange = state.onchange = () => refresh();
})().catch(error => { if (error.status !== 401) showProblem(error); });
