// Software releases: each rollout with its progress wave by wave (and booth by booth, on asking), the releases central
// holds, and what every booth runs and says of its updates. Admins start, pause, resume and halt rollouts; central
// puts the offers on the broker at its next sweep (a few seconds). The page asks again every 5 s.
"use strict";

const STAGES = {waiting: ["待推送", "waiting"], offered: ["已推送", "offered"], acting: ["更新中", "in progress"],
  committed: ["已完成", "committed"], rolled_back: ["已回退", "rolled back"], refused: ["已拒绝", "refused"],
  withdrawn: ["已撤回", "withdrawn"]};
const STAGE_COLORS = {waiting: "unknown", offered: "accent", acting: "maintenance", committed: "ok", rolled_back: "fault",
  refused: "fault", withdrawn: "offline"};
const BAR_ORDER = ["committed", "acting", "offered", "rolled_back", "refused", "withdrawn", "waiting"];
const UPDATE_STATES = {idle: ["空闲", "idle"], downloading: ["下载中", "downloading"], staged: ["待安装", "staged"],
  installing: ["安装中", "installing"], trial: ["试运行", "on trial"], committed: ["已确认", "committed"],
  rolled_back: ["已回退", "rolled back"], refused: ["已拒绝", "refused"]};
const UPDATE_COLORS = {idle: "unknown", downloading: "accent", staged: "accent", installing: "maintenance",
  trial: "maintenance", committed: "ok", rolled_back: "fault", refused: "fault"};
const STATE_COLORS = {running: "accent", paused: "degraded", halted: "fault", completed: "ok"};

function size(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function tag(words, color, attrs = {}) {
  return el("span", {class: `status c-${color || "unknown"}`, ...attrs}, words ? `${words[0]} ${words[1]}` : "—");
}

function updateCell(update) {
  if (update.problem) {
    return el("td", {class: "update", "data-update": "problem"},
      el("span", {class: "status c-fault"}, "报告无法识别 unreadable"), update.state ? [" ", el("span", {class: "small muted"},
        `上次 last: ${(UPDATE_STATES[update.state] || [update.state])[0]}`)] : null);
  }
  if (!update.state) return el("td", {class: "muted", "data-update": ""}, "未报告 no report");
  return el("td", {class: "update", "data-update": update.state},
    tag(UPDATE_STATES[update.state] || [update.state, ""], UPDATE_COLORS[update.state]),
    update.version ? el("span", {class: "small gloss"}, update.version) : null);
}

function fetchedCell(update) {
  if (!update.needed) return el("td", {class: "muted"}, "—");
  const share = Math.min(100, Math.floor(100 * update.fetched / update.needed));
  return el("td", {class: "nowrap"}, el("div", {class: "meter", title: `${size(update.fetched)} / ${size(update.needed)}`},
    el("span", {style: `width: ${share}%`})), ` ${share}% · ${size(update.needed)}`);
}

function reasonCell(update, outcomeReason) {
  if (update.problem) return el("td", {class: "details bad small"}, "终端的更新报告被拒收 refused: " + update.problem);
  const reason = outcomeReason || update.reason;
  return el("td", {class: "details" + (reason ? "" : " muted")}, reason || "—");
}

(async () => {
  const me = await startPage("releases");
  const admin = may(me, "admin");
  for (const node of document.querySelectorAll(".admin-only")) node.hidden = !admin;
  document.getElementById("viewer-note").hidden = admin;

  let data = null;
  const expanded = new Set();  // rollouts whose booths are shown
  const details = new Map();  // rollout id → its booths (GET api/rollouts/{id})
  const said = new Map();  // rollout id → [level, text]: what the last action on it said
  let confirming = null;  // the rollout whose halt is being confirmed: its card is left alone meanwhile
  const cards = new Map();  // rollout id → {key, node}
  const wanted = Number((location.hash.match(/^#rollout-(\d+)$/) || [])[1]) || null;
  if (wanted) expanded.add(wanted);

  // -- a rollout ------------------------------------------------------------------------------------------------
  async function act(r, verb, body = {}) {
    said.set(r.id, ["", "…"]);
    draw();
    try {
      await api(`api/rollouts/${r.id}/${verb}`, body);
      const done = {pause: "已暂停：不再推送新的批次 paused: no further wave is offered",
                    resume: "已继续 resumed", halt: "已停止：尚未开始更新的终端已撤回推送 halted: offers not begun are withdrawn"};
      said.set(r.id, ["good", done[verb]]);
      confirming = null;
      await refresh();
    } catch (error) {
      said.set(r.id, ["bad", notDone(error, ["完成", "done"]).map(part => typeof part === "string" ? part : part.textContent).join("")]);
      confirming = null;
      draw();
    }
  }

  function actions(r) {
    if (!admin || !["running", "paused"].includes(r.state)) return null;
    if (confirming === r.id) {
      const reason = el("input", {type: "text", class: "halt-reason-input", maxlength: 200, "aria-label": "停止原因 reason",
                                  placeholder: "原因（选填）reason, optional"});
      setTimeout(() => reason.focus(), 0);
      return el("div", {class: "actions confirming"},
        el("span", {class: "small warn"}, "停止后无法继续；尚未开始更新的终端将撤回推送。Halting is final."),
        reason,
        el("button", {type: "button", class: "danger confirm-halt", onclick: () => act(r, "halt", {reason: reason.value})}, "确认停止 Confirm halt"),
        el("button", {type: "button", class: "plain", onclick: () => { confirming = null; draw(); }}, "取消 Cancel"));
    }
    return el("div", {class: "actions"},
      r.state === "running"
        ? el("button", {type: "button", class: "plain pause", onclick: () => act(r, "pause")}, "暂停 Pause")
        : el("button", {type: "button", class: "resume", onclick: () => act(r, "resume")}, "继续 Resume"),
      el("button", {type: "button", class: "plain danger-outline halt", onclick: () => { confirming = r.id; draw(); }}, "停止… Halt"));
  }

  function waveRow(r, w) {
    const current = w.wave === r.wave && ["running", "paused"].includes(r.state);
    const bar = el("div", {class: "bar", role: "img", "aria-label": BAR_ORDER.filter(s => w[s]).map(s => `${STAGES[s][0]} ${w[s]}`).join("，")},
      BAR_ORDER.filter(stage => w[stage]).map(stage => el("span", {class: `seg c-${STAGE_COLORS[stage]}`, title: `${STAGES[stage][0]} ${w[stage]}`,
                                                             style: `width: ${100 * w[stage] / Math.max(1, w.booths)}%`})));
    const count = (stage, cls = "") => el("td", {class: "num" + (w[stage] ? " " + cls : " muted"), "data-stage": stage}, w[stage]);
    return el("tr", {class: current ? "current" : null, "data-wave": w.wave},
      el("td", {class: "nowrap"}, `第 ${w.wave} 批`, el("span", {class: "small muted gloss"}, `${w.percent}%`),
         current ? el("span", {class: "small now"}, r.state === "paused" ? " 已暂停" : " 当前") : null),
      el("td", {class: "num"}, w.booths), el("td", {class: "bar-cell"}, bar),
      count("waiting"), count("offered"), count("acting"), count("committed", "good"),
      el("td", {class: "num" + (w.rolled_back + w.refused ? " bad" : " muted"), "data-stage": "rolled_back"}, w.rolled_back + w.refused),
      count("withdrawn"));
  }

  // What the rollout waits for, in a sentence.
  function nowLine(r) {
    const w = r.waves.find(x => x.wave === r.wave);
    if (r.state === "completed") return ["good", `全部 ${r.booth_count} 台终端已完成更新 every booth committed ${r.version}`];
    if (r.state === "halted") return ["bad", r.reason || "已停止 halted"];
    const open = w ? w.booths - w.committed - w.rolled_back - w.refused - w.withdrawn : 0;
    const last = r.wave >= r.waves.length;
    if (r.state === "paused") return ["warn", `已暂停：第 ${r.wave} 批的终端继续更新，不推送新的批次 · paused: wave ${r.wave} goes on, no new wave`];
    return ["", `第 ${r.wave} 批${last ? "（最后一批）" : ""}：等待 ${open} 台终端完成更新${last ? "" : `，之后推送第 ${r.wave + 1} 批`}` +
      ` · wave ${r.wave} of ${r.waves.length}: waiting for ${open} booth(s) to commit`];
  }

  function boothTable(r) {
    const found = details.get(r.id);
    if (!found) return el("p", {class: "small muted"}, "正在读取… loading");
    return el("table", {class: "rollout-booths", "data-rollout": r.id},
      el("thead", {}, el("tr", {}, el("th", {}, "终端 Device"), el("th", {}, "网点 Site"), el("th", {class: "num"}, "批次"),
        el("th", {}, "推送 Offer"), el("th", {}, "终端报告 Reported"), el("th", {}, "进度 Fetched"), el("th", {}, "原因 Reason"),
        el("th", {class: "nowrap"}, "时间 When"))),
      el("tbody", {}, found.booths.map(b => el("tr", {"data-device": b.device, "data-stage": b.stage},
        el("td", {class: "nowrap"}, el("a", {href: "device?id=" + encodeURIComponent(b.device)}, b.device)),
        el("td", {class: "site"}, b.site || "—"), el("td", {class: "num"}, b.wave),
        el("td", {}, tag(STAGES[b.stage], STAGE_COLORS[b.stage], {"data-stage": b.stage})),
        updateCell(b.update), fetchedCell(b.update), reasonCell(b.update, b.outcome_reason),
        el("td", {class: "nowrap small"}, shortWhen(b.outcome_at || b.update.since || b.offered_at))))));
  }

  function rolloutCard(r) {
    const [level, text] = nowLine(r);
    const [saidLevel, saidText] = said.get(r.id) || ["", ""];
    const open = expanded.has(r.id);
    const waves = r.waves.map(w => `${w.percent}%`).join(" · ");
    return el("article", {class: `rollout s-${r.state}`, id: `rollout-${r.id}`, "data-rollout": r.id, "data-state": r.state},
      el("div", {class: "rollout-head"},
        el("h3", {}, `#${r.id} · 版本 ${r.version}`, el("span", {class: "muted small gloss"}, r.platform)),
        el("span", {class: `state c-${STATE_COLORS[r.state] || "unknown"}`, "data-rollout-state": r.state}, `${ROLLOUT_STATES[r.state] || r.state} ${r.state}`),
        el("span", {class: "small muted"}, `${targetWords(r.target)} · ${r.booth_count} 台 · 分批 ${waves} · 一批中回退超过 ${r.halt_above_pct}% 即自动停止`),
        actions(r)),
      el("p", {class: `now-line ${level}`}, text),
      saidText ? el("p", {class: `message small ${saidLevel}`, role: "status"}, saidText) : null,
      el("table", {class: "waves"},
        el("thead", {}, el("tr", {}, el("th", {class: "wave-col"}, "批次 Wave"), el("th", {class: "num"}, "终端 Booths"),
          el("th", {}, "进度 Progress"),
          ["waiting", "offered", "acting", "committed", "rolled_back", "withdrawn"].map(stage => el("th", {class: "num stage-head"},
            el("span", {class: `dot c-${STAGE_COLORS[stage]}`}), STAGES[stage][0], el("div", {class: "small muted"}, STAGES[stage][1]))))),
        el("tbody", {}, r.waves.map(w => waveRow(r, w)))),
      el("div", {class: "rollout-foot small muted"},
        `${r.created_by} 于 ${shortWhen(r.created_at)} 开始` + (r.changed_at !== r.created_at ? ` · ${r.changed_by === "central" ? "中心" : r.changed_by} 于 ${shortWhen(r.changed_at)} 更新` : ""),
        el("button", {type: "button", class: "plain small-button toggle-booths", "aria-expanded": String(open),
                      onclick: () => toggle(r.id)}, open ? "收起终端 Hide booths" : `终端明细 Booths (${r.booth_count})`)),
      open ? boothTable(r) : null);
  }

  async function toggle(id) {
    if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
    draw();
    if (expanded.has(id)) { await loadDetails(); draw(); }
  }

  async function loadDetails() {
    for (const id of expanded) {
      try { details.set(id, await api(`api/rollouts/${id}`)); }
      catch (error) { if (error.status === 404) expanded.delete(id); else throw error; }
    }
  }

  function draw() {
    if (!data) return;
    const box = document.getElementById("rollouts");
    const shown = [];
    for (const r of data.rollouts) {
      const key = JSON.stringify([r, expanded.has(r.id), details.get(r.id) || null, said.get(r.id) || null, confirming === r.id]);
      let card = cards.get(r.id);
      if (!card || (card.key !== key && confirming !== r.id) || (confirming === r.id && !card.node.querySelector(".confirming"))) {
        const node = rolloutCard(r);
        if (card) card.node.replaceWith(node);
        card = {key, node};
        cards.set(r.id, card);
      }
      shown.push(card.node);
    }
    if (!shown.length) shown.push(el("p", {class: "empty-note muted"}, "还没有推送。no rollout yet" + (admin ? "：在下面开始一个 start one below" : "")));
    box.replaceChildren(...shown);
    const running = data.rollouts.filter(r => ["running", "paused"].includes(r.state)).length;
    document.getElementById("rollouts-summary").textContent = data.rollouts.length ? `进行中 ${running} 个，共 ${data.rollouts.length} 个` : "";
  }

  // -- releases and booths ------------------------------------------------------------------------------------------
  function drawReleases() {
    const body = document.querySelector("#releases tbody");
    body.replaceChildren(...data.releases.map(r => el("tr", {"data-release": r.id, "data-version": r.version},
      el("td", {}, el("b", {}, r.version), el("div", {class: "small muted"}, r.product)), el("td", {}, r.platform),
      el("td", {class: "num"}, r.sequence), el("td", {}, r.min_upgrade_from), el("td", {class: "num"}, r.files),
      el("td", {class: "num nowrap"}, size(r.bytes)), el("td", {class: "nowrap"}, `${shortWhen(r.added_at)} · ${r.added_by}`),
      admin ? el("td", {class: "nowrap"}, el("button", {type: "button", class: "plain small-button roll-out", onclick: () => {
        field("release").value = String(r.id);
        reach();
        field("new-rollout").scrollIntoView({behavior: "smooth", block: "center"});
        field("region").focus({preventScroll: true});
      }}, "推送此版本 Roll out…")) : null)));
    if (!data.releases.length) body.append(emptyRow(admin ? 8 : 7, "还没有版本：发布人员用 kiosk central release add 加入 no release yet (kiosk central release add)"));
  }

  function drawBooths() {
    const body = document.querySelector("#booths tbody");
    body.replaceChildren(...data.booths.map(b => el("tr", {"data-device": b.device},
      el("td", {class: "nowrap"}, el("a", {href: "device?id=" + encodeURIComponent(b.device)}, b.device)),
      el("td", {class: "site"}, b.site || "—"), el("td", {}, b.region || "—"), el("td", {class: "nowrap"}, b.software || "—"),
      updateCell(b.update), fetchedCell(b.update), reasonCell(b.update),
      el("td", {class: "nowrap small"}, shortWhen(b.update.since)))));
    if (!data.booths.length) body.append(emptyRow(8, "还没有终端上线 no booth has reported yet"));
    document.getElementById("booths-summary").textContent = data.booths_total > data.booths.length
      ? `先列出需要留意的 ${data.booths.length} 台（共 ${data.booths_total} 台）the ${data.booths.length} most telling of ${data.booths_total}`
      : `${data.booths_total} 台，需要留意的在前 most telling first`;
    const tiles = Object.entries(data.versions).map(([version, count]) => el("div", {class: "count c-accent", "data-version": version},
      el("b", {}, count), `运行 ${version} running`));
    document.getElementById("versions").replaceChildren(...tiles);
  }

  // -- a new rollout --------------------------------------------------------------------------------------------------
  const form = document.getElementById("rollout-form");
  const field = id => document.getElementById(id);
  const kind = () => form.querySelector("input[name=kind]:checked").value;

  function bookedDevices() {
    return field("devices").value.split(/[\s,，、;]+/).map(s => s.trim()).filter(Boolean);
  }

  // How many booths the form reaches, and in which waves (as central cuts them), when the page knows every booth.
  function reach() {
    const note = field("reach");
    field("region-field").hidden = kind() === "devices";
    field("percent-field").hidden = kind() !== "percent";
    field("devices-field").hidden = kind() !== "devices";
    if (!data || data.booths_total > data.booths.length) { note.textContent = ""; return; }
    if (kind() !== "devices" && !field("region").value.trim()) {
      note.textContent = "填写地区代码或其前几位（如 1101 为北京市各区）a region code, or its first digits";
      return;
    }
    let count = kind() === "devices" ? new Set(bookedDevices()).size
      : data.booths.filter(b => field("region").value && b.region.startsWith(field("region").value)).length;
    if (kind() === "percent") count = Math.ceil(count * Number(field("percent").value || 0) / 100);
    const sizes = field("waves").value.split(",").map(Number);
    let reached = 0, taken = 0;
    const cuts = sizes.map(p => { reached += p; const cut = Math.ceil(count * reached / 100); const n = cut - taken; taken = cut; return n; });
    note.textContent = count ? `将推送给 ${count} 台终端，各批 ${cuts.join(" / ")} 台 · ${count} booth(s), waves of ${cuts.join(" / ")}`
                             : "没有符合的终端 no booth matches";
  }

  function fillForm() {
    const select = field("release"), chosen = select.value;
    select.replaceChildren(...data.releases.map(r => el("option", {value: r.id},
      `${r.version} · ${r.platform} · ${size(r.bytes)}`)));
    if (chosen && data.releases.some(r => String(r.id) === chosen)) select.value = chosen;
    field("start").disabled = !data.releases.length;
    const regions = [...new Set(data.booths.map(b => b.region).filter(Boolean))].sort();
    field("regions").replaceChildren(...regions.map(r => el("option", {value: r})));
    reach();
  }

  form.addEventListener("input", reach);
  form.addEventListener("change", reach);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    const message = field("start-message");
    const target = kind() === "devices" ? {devices: bookedDevices()}
      : {region: field("region").value.trim(), ...(kind() === "percent" ? {percent: Number(field("percent").value)} : {})};
    const body = {release: Number(field("release").value), target, waves: field("waves").value.split(",").map(Number),
                  halt_above_pct: Number(field("halt").value)};
    field("start").disabled = true;
    message.className = "message small";
    message.textContent = "…";
    try {
      const started = await api("api/rollouts", body);
      message.className = "message small good";
      message.textContent = `已开始推送 #${started.id}：第 1 批的 ${started.waves[0].booths} 台终端几秒内收到 started: wave 1 is offered within seconds`;
      expanded.add(started.id);
      await refresh();
    } catch (error) {
      message.className = "message small bad";
      message.replaceChildren(...notDone(error, ["开始", "started"]));
    } finally {
      field("start").disabled = !data || !data.releases.length;
    }
  });

  async function refresh() {
    const answer = await api("api/releases");
    await loadDetails();
    data = answer;
    draw();
    drawReleases();
    drawBooths();
    if (admin) fillForm();
  }

  every(5, refresh);
  if (wanted) {  // from the audit page: this rollout, its booths shown
    let tries = 0;
    const scroll = () => {
      const card = document.getElementById(`rollout-${wanted}`);
      if (card) card.scrollIntoView();
      else if (++tries < 25) setTimeout(scroll, 200);
    };
    scroll();
  }
})().catch(error => { if (error.status !== 401) showProblem(error); });
