// The playground page: Slack's client, for the real bot. It shows what the server's feed
// says (server-sent events: a snapshot, then every change) and sends what a person does to
// /api/…, where it becomes Slack's own requests to the bot. Nothing here talks to the bot.
"use strict";

(function () {
  const R = window.SlackRender;
  const $ = (selector) => document.querySelector(selector);

  const state = {
    info: null,
    me: null,
    channel: null,
    thread: null, // the open thread's parent ts
    messages: {}, // channel -> {ts: message}
    statuses: {}, // "channel ts" -> status event
    ephemerals: {}, // id -> ephemeral
    views: {}, // view id -> {user, view}
    log: [],
    connected: false,
  };

  // --- the feed --------------------------------------------------------------------------

  function connect() {
    const source = new EventSource("/api/events");
    source.onopen = () => {
      state.connected = true;
      schedule();
    };
    source.onerror = () => {
      state.connected = false;
      schedule();
    };
    source.onmessage = (event) => {
      apply(JSON.parse(event.data));
      schedule();
    };
  }

  function apply(event) {
    switch (event.type) {
      case "snapshot": {
        state.info = event.info;
        state.me = state.me || localStorage.getItem("playground-me") || event.info.people[0].id;
        if (!event.info.people.some((p) => p.id === state.me)) state.me = event.info.people[0].id;
        state.channel = state.channel || event.info.channels[0].id;
        state.messages = {};
        for (const [channel, list] of Object.entries(event.messages)) {
          state.messages[channel] = {};
          for (const message of list) state.messages[channel][message.ts] = message;
        }
        state.statuses = {};
        for (const status of event.statuses) state.statuses[key(status.channel, status.thread_ts)] = status;
        state.ephemerals = {};
        for (const e of event.ephemerals) state.ephemerals[e.id] = e;
        state.views = {};
        for (const v of event.views) state.views[v.view.id] = v;
        state.log = event.log;
        break;
      }
      case "message":
        (state.messages[event.channel] ||= {})[event.message.ts] = event.message;
        break;
      case "deleted":
        if (state.messages[event.channel]) delete state.messages[event.channel][event.ts];
        break;
      case "status":
        state.statuses[key(event.channel, event.thread_ts)] = event;
        break;
      case "ephemeral":
        state.ephemerals[event.ephemeral.id] = event.ephemeral;
        break;
      case "ephemeral_deleted":
        delete state.ephemerals[event.id];
        break;
      case "view":
        state.views[event.view.id] = { user: event.user, view: event.view };
        break;
      case "view_closed":
        delete state.views[event.view_id];
        break;
      case "call":
        state.log.push(event);
        if (state.log.length > 300) state.log.shift();
        break;
    }
  }

  const key = (channel, ts) => `${channel} ${ts}`;

  // --- actions ---------------------------------------------------------------------------

  async function send(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: state.me, ...body }),
    });
    return response.json();
  }

  async function submitComposer(form) {
    const box = form.querySelector("textarea");
    const text = box.value;
    if (!text.trim()) return;
    const inThread = form.dataset.composer === "thread";
    box.value = "";
    hideCommandHints();
    const result = await send("/api/post", {
      channel: state.channel,
      thread_ts: inThread ? state.thread : null,
      text,
    });
    form.querySelector(".composer-error").textContent = result.ok ? "" : result.error;
    if (!result.ok) box.value = text;
  }

  // --- rendering -------------------------------------------------------------------------

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  }

  function ctx() {
    const users = {};
    const channels = {};
    if (state.info) {
      users[state.info.bot.id] = state.info.bot.name;
      for (const p of state.info.people) users[p.id] = p.name;
      for (const c of state.info.channels) channels[c.id] = c.name;
    }
    return { users, channels };
  }

  function tsKey(ts) {
    const [seconds, micros = "0"] = String(ts).split(".");
    return [Number(seconds), Number(micros)];
  }

  function byTs(a, b) {
    const [as, am] = tsKey(a.ts);
    const [bs, bm] = tsKey(b.ts);
    return as - bs || am - bm;
  }

  function time(ts) {
    const date = new Date(tsKey(ts)[0] * 1000);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function person(id) {
    if (!state.info) return { name: id };
    if (id === state.info.bot.id) return { name: state.info.bot.name, bot: true };
    return state.info.people.find((p) => p.id === id) || { name: `user-${String(id).toLowerCase()}` };
  }

  function color(id) {
    let hash = 0;
    for (const c of String(id)) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    return `hsl(${hash % 360} 45% 45%)`;
  }

  const STATUS_ICONS = { pending: "○", in_progress: "◐", complete: "✓", error: "✗" };

  function tasks(message) {
    if (!message.tasks && !message.plan_title) return "";
    const rows = (message.tasks || [])
      .map(
        (t) =>
          `<li class="task ${R.esc(t.status)}"><span class="task-icon">${STATUS_ICONS[t.status] || "•"}</span>` +
          `<span class="task-title">${R.esc(t.title)}</span>` +
          `${t.details ? `<div class="task-details">${R.esc(t.details)}</div>` : ""}` +
          `${t.output ? `<pre class="task-output">${R.esc(t.output)}</pre>` : ""}</li>`,
      )
      .join("");
    const title = message.plan_title ? `<div class="plan-title">${R.esc(message.plan_title)}</div>` : "";
    return `<div class="timeline">${title}<ul>${rows}</ul></div>`;
  }

  function files(message) {
    if (!message.files || !message.files.length) return "";
    return `<div class="files">${message.files
      .map(
        (f) =>
          `<a class="file" href="/files/${encodeURIComponent(f.id)}/${encodeURIComponent(f.name)}" target="_blank">` +
          `<span class="file-icon">${R.esc((f.filetype || "file").slice(0, 4).toUpperCase())}</span>` +
          `<span><b>${R.esc(f.title || f.name)}</b><small>${R.esc(f.pretty_type || "")} · ${size(f.size)}</small></span></a>`,
      )
      .join("")}</div>`;
  }

  function size(bytes) {
    if (bytes == null) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function body(message, c) {
    if (message.blocks && message.blocks.length) return R.blocks(message.blocks, c);
    return `<div class="mrkdwn">${R.mrkdwn(message.text, c)}</div>`;
  }

  function messageHtml(message, { inThread, channel }) {
    const c = ctx();
    const who = person(message.user);
    const isBot = Boolean(message.bot_id) || who.bot;
    const classes = ["message"];
    if (isBot) classes.push("bot");
    if (message.streaming) classes.push("streaming");
    let extra = "";
    if (message.streaming) {
      const mine = !message.recipient_user_id || message.recipient_user_id === state.me;
      extra += `<div class="stream-bar"><span class="cursor"></span> writing…${
        mine ? ` <button type="button" class="stream-stop" data-stop-stream="${R.esc(message.ts)}">■ Stop</button>` : ""
      }</div>`;
    }
    if (message.stream_stopped_by_user) extra += `<div class="note">Stopped in Slack</div>`;
    if (message.stream_expired) extra += `<div class="note">Slack ended this stream (expired)</div>`;
    if (!inThread && message.reply_count) {
      const n = message.reply_count;
      extra += `<button type="button" class="replies" data-open-thread="${R.esc(message.ts)}">${n} ${
        n === 1 ? "reply" : "replies"
      }</button>`;
    }
    const reactions = (message.reactions || []).map((r) => `<span class="reaction">:${R.esc(r)}:</span>`).join("");
    return (
      `<div class="${classes.join(" ")}" data-ts="${R.esc(message.ts)}" data-channel="${R.esc(channel)}" data-user="${R.esc(message.user)}">` +
      `<div class="avatar" style="background:${color(message.user)}">${R.esc(who.name[0] || "?").toUpperCase()}</div>` +
      `<div class="message-body"><div class="meta"><span class="author">${R.esc(who.name)}</span>` +
      `${isBot ? `<span class="app-badge">APP</span>` : ""}<span class="time">${time(message.ts)}</span>` +
      `${message.edited ? `<span class="edited">(edited)</span>` : ""}</div>` +
      `<div class="content">${body(message, c)}${tasks(message)}${files(message)}</div>` +
      `${reactions ? `<div class="reactions">${reactions}</div>` : ""}${extra}</div>` +
      `<div class="hover-menu">${
        inThread ? "" : `<button type="button" title="Reply in thread" data-open-thread="${R.esc(message.ts)}">💬</button>`
      }<button type="button" title="More actions" data-menu="${R.esc(message.ts)}">⋮</button></div></div>`
    );
  }

  function ephemeralHtml(e) {
    const c = ctx();
    const name = e.from_slackbot ? "Slackbot" : state.info.bot.name;
    const content = e.blocks && e.blocks.length ? R.blocks(e.blocks, c) : `<div class="mrkdwn">${R.mrkdwn(e.text, c)}</div>`;
    return (
      `<div class="message ephemeral bot" data-ephemeral-id="${R.esc(e.id)}" data-channel="${R.esc(e.channel)}">` +
      `<div class="avatar" style="background:${e.from_slackbot ? "#4a9" : color(state.info.bot.id)}">${name[0].toUpperCase()}</div>` +
      `<div class="message-body"><div class="only-you">👁 Only visible to you</div>` +
      `<div class="meta"><span class="author">${R.esc(name)}</span>${e.from_slackbot ? "" : `<span class="app-badge">APP</span>`}` +
      `<span class="time">${time(e.id)}</span></div><div class="content">${content}</div>` +
      `<button type="button" class="dismiss" data-dismiss="${R.esc(e.id)}">Dismiss</button></div></div>`
    );
  }

  function listHtml(items, options) {
    return items
      .sort(byTs)
      .map((item) => (item.ephemeral ? ephemeralHtml(item.ephemeral) : messageHtml(item, options)))
      .join("");
  }

  const shownHtml = new WeakMap();
  function keepBottom(element, html) {
    const atBottom = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
    if (shownHtml.get(element) === html) return;
    shownHtml.set(element, html);
    element.innerHTML = html;
    if (atBottom || !element.dataset.scrolled) {
      element.scrollTop = element.scrollHeight;
      element.dataset.scrolled = "1";
    }
  }

  function render() {
    if (!state.info) return;
    renderSidebar();
    renderChannel();
    renderThread();
    renderModal();
    renderLog();
    $("#connection").className = state.connected ? "connected" : "disconnected";
    $("#connection").textContent = state.connected ? "connected" : "reconnecting…";
  }

  function renderSidebar() {
    const info = state.info;
    $("#team-name").textContent = info.team.name;
    const badge = $("#model-badge");
    badge.textContent = info.model.label;
    badge.title = info.model.detail;
    badge.className = `model-badge ${info.model.kind}`;
    $("#model-detail").textContent = info.model.detail;
    $("#channels").innerHTML = info.channels
      .map(
        (c) =>
          `<li><button type="button" class="${c.id === state.channel ? "active" : ""}" data-channel-link="${R.esc(c.id)}"># ${R.esc(c.name)}</button></li>`,
      )
      .join("");
    const me = $("#me");
    const options = info.people.map((p) => `<option value="${R.esc(p.id)}">${R.esc(p.real_name)} (@${R.esc(p.name)})</option>`).join("");
    if (me.dataset.options !== options) {
      me.innerHTML = options;
      me.dataset.options = options;
    }
    me.value = state.me;
  }

  function visibleEphemerals(channel, threadTs) {
    return Object.values(state.ephemerals)
      .filter((e) => e.user === state.me && e.channel === channel && (e.thread_ts || null) === threadTs)
      .map((e) => ({ ts: e.id, ephemeral: e }));
  }

  function renderChannel() {
    const channel = state.info.channels.find((c) => c.id === state.channel);
    $("#channel-name").textContent = `# ${channel.name}`;
    $("#channel-topic").textContent = channel.topic;
    const messages = Object.values(state.messages[state.channel] || {}).filter(
      (m) => !m.thread_ts || m.thread_ts === m.ts,
    );
    const items = [...messages, ...visibleEphemerals(state.channel, null)];
    keepBottom($("#messages"), listHtml(items, { inThread: false, channel: state.channel }));
    $("#composer textarea").placeholder = `Message #${channel.name} (try: @codex what is in this project?)`;
  }

  function renderThread() {
    const pane = $("#thread");
    const parent = state.thread && (state.messages[state.channel] || {})[state.thread];
    if (!parent) {
      pane.hidden = true;
      return;
    }
    pane.hidden = false;
    const channel = state.info.channels.find((c) => c.id === state.channel);
    $("#thread-channel").textContent = `# ${channel.name}`;
    const replies = Object.values(state.messages[state.channel] || {}).filter(
      (m) => m.thread_ts === state.thread && m.ts !== state.thread,
    );
    const items = [...replies, ...visibleEphemerals(state.channel, state.thread)];
    const head = messageHtml(parent, { inThread: true, channel: state.channel });
    const count = replies.length ? `<div class="reply-count">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</div>` : "";
    keepBottom($("#thread-messages"), head + count + listHtml(items, { inThread: true, channel: state.channel }));
    const status = state.statuses[key(state.channel, state.thread)];
    const line = $("#status-line");
    if (status && status.status) {
      const hints = (status.loading_messages || []).join(" · ");
      line.innerHTML = `<span class="dots"></span><b>${R.esc(state.info.bot.name)}</b> ${R.esc(status.status)}${
        hints ? ` <small>${R.esc(hints)}</small>` : ""
      }`;
      line.hidden = false;
    } else {
      line.hidden = true;
      line.innerHTML = "";
    }
  }

  let shownView = "";
  function renderModal() {
    const root = $("#modal-root");
    const open = Object.values(state.views).filter((v) => v.user === state.me);
    const current = open[open.length - 1];
    const marker = current ? `${current.view.id} ${current.view.hash}` : "";
    if (marker === shownView) return;
    shownView = marker;
    if (!current) {
      root.innerHTML = "";
      return;
    }
    const view = current.view;
    root.innerHTML =
      `<div class="modal-backdrop"><form class="modal" data-view-id="${R.esc(view.id)}">` +
      `<header><h2>${R.plain(view.title)}</h2><button type="button" class="modal-x" data-close-view="${R.esc(view.id)}">✕</button></header>` +
      `<div class="modal-body">${R.blocks(view.blocks, ctx())}</div>` +
      `<footer><div class="modal-error"></div><button type="button" class="sl-button" data-close-view="${R.esc(view.id)}">${
        view.close ? R.plain(view.close) : "Cancel"
      }</button>${view.submit ? `<button type="submit" class="sl-button primary">${R.plain(view.submit)}</button>` : ""}</footer>` +
      `</form></div>`;
    const first = root.querySelector("textarea, input");
    if (first) first.focus();
  }

  function renderLog() {
    const drawer = $("#api-log");
    if (drawer.hidden) return;
    const rows = state.log
      .slice(-200)
      .reverse()
      .map(
        (line) =>
          `<li class="${line.ok ? "ok" : "error"}"><span>${new Date(line.at * 1000).toLocaleTimeString()}</span>` +
          `<code>${R.esc(line.method)}</code>${line.ok ? "ok" : R.esc(line.error || "")}</li>`,
      )
      .join("");
    $("#api-log ul").innerHTML = rows;
  }

  // --- modal submission ------------------------------------------------------------------

  function viewStates(form, view) {
    const states = {};
    const put = (blockId, actionId, value) => ((states[blockId] ||= {})[actionId] = value);
    const find = (blockId) => (view.blocks || []).find((b) => b.block_id === blockId) || {};
    for (const field of form.querySelectorAll("[data-kind]")) {
      const { blockId, actionId, kind } = field.dataset;
      if (kind === "plain_text_input") {
        put(blockId, actionId, { type: kind, value: field.value || null });
      } else if (kind === "radio_buttons") {
        const checked = field.querySelector("input:checked");
        const option = checked ? find(blockId).element.options[Number(checked.value)] : null;
        put(blockId, actionId, { type: kind, selected_option: option });
      } else if (kind === "static_select") {
        const option = field.value === "" ? null : find(blockId).element.options[Number(field.value)];
        put(blockId, actionId, { type: kind, selected_option: option });
      }
    }
    return states;
  }

  async function submitView(form) {
    const viewId = form.dataset.viewId;
    const shown = state.views[viewId];
    if (!shown) return;
    for (const slot of form.querySelectorAll(".b-error")) slot.textContent = "";
    form.querySelector(".modal-error").textContent = "";
    const result = await send("/api/view/submit", { view_id: viewId, states: viewStates(form, shown.view) });
    if (result.errors) {
      for (const [blockId, message] of Object.entries(result.errors)) {
        const slot = form.querySelector(`[data-error-for="${CSS.escape(blockId)}"]`);
        if (slot) slot.textContent = message;
      }
    } else if (!result.ok) {
      form.querySelector(".modal-error").textContent = result.error || "Something went wrong.";
    }
  }

  // --- the command list shown while typing "/" ----------------------------------------------

  function showCommandHints(form) {
    const box = form.querySelector("textarea");
    const hints = form.querySelector(".command-hints");
    const typed = box.value.split(" ")[0];
    if (!box.value.startsWith("/") || box.value.includes(" ")) {
      hints.hidden = true;
      return;
    }
    const matches = state.info.commands.filter((c) => c.command.startsWith(typed));
    hints.innerHTML = matches
      .map(
        (c) =>
          `<li><button type="button" data-command="${R.esc(c.command)}"><b>${R.esc(c.command)}</b> ${R.esc(c.usage_hint)}<small>${R.esc(c.description)}</small></button></li>`,
      )
      .join("");
    hints.hidden = !matches.length;
  }

  function hideCommandHints() {
    for (const hints of document.querySelectorAll(".command-hints")) hints.hidden = true;
  }

  // --- the message menu (shortcuts) --------------------------------------------------------

  function openMenu(anchor, ts) {
    const menu = $("#menu");
    menu.innerHTML = state.info.shortcuts
      .map((s) => `<li><button type="button" data-shortcut="${R.esc(s.callback_id)}" data-ts="${R.esc(ts)}">${R.esc(s.name)}</button></li>`)
      .join("");
    const box = anchor.getBoundingClientRect();
    menu.style.top = `${window.scrollY + box.bottom + 4}px`;
    menu.style.left = `${Math.max(8, box.right - 200)}px`;
    menu.hidden = false;
  }

  // --- wiring ----------------------------------------------------------------------------

  document.addEventListener("click", async (event) => {
    const target = event.target.closest("button, a");
    if (!event.target.closest("#menu") && !(target && target.dataset.menu)) $("#menu").hidden = true;
    if (!target) return;
    const data = target.dataset;
    if (data.channelLink) {
      state.channel = data.channelLink;
      state.thread = null;
      $("#messages").dataset.scrolled = "";
      schedule();
    } else if (data.openThread) {
      state.thread = data.openThread;
      $("#thread-messages").dataset.scrolled = "";
      schedule();
    } else if (target.id === "close-thread") {
      state.thread = null;
      schedule();
    } else if (data.menu) {
      openMenu(target, data.menu);
    } else if (data.shortcut) {
      $("#menu").hidden = true;
      await send("/api/shortcut", { channel: state.channel, ts: data.ts, callback_id: data.shortcut });
    } else if (data.stopStream) {
      target.disabled = true;
      await send("/api/stream/stop", { channel: state.channel, ts: data.stopStream });
    } else if (data.dismiss) {
      await send("/api/ephemeral/dismiss", { id: data.dismiss });
    } else if (data.closeView) {
      await send("/api/view/close", { view_id: data.closeView });
    } else if (data.command) {
      const form = target.closest("form");
      form.querySelector("textarea").value = `${data.command} `;
      form.querySelector("textarea").focus();
      hideCommandHints();
    } else if (data.actionId !== undefined && target.closest(".message")) {
      const message = target.closest(".message");
      target.classList.add("pressed");
      await send("/api/click", {
        channel: message.dataset.channel,
        action_id: data.actionId,
        value: data.value,
        block_id: data.blockId,
        message_ts: message.dataset.ts || null,
        ephemeral_id: message.dataset.ephemeralId || null,
      });
    } else if (target.id === "toggle-log") {
      $("#api-log").hidden = !$("#api-log").hidden;
      renderLog();
    }
  });

  document.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    if (form.dataset.viewId) submitView(form);
    else if (form.dataset.composer) submitComposer(form);
  });

  for (const form of document.querySelectorAll("form[data-composer]")) {
    const box = form.querySelector("textarea");
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    box.addEventListener("input", () => showCommandHints(form));
  }

  $("#me").addEventListener("change", (event) => {
    state.me = event.target.value;
    localStorage.setItem("playground-me", state.me);
    shownView = "";
    schedule();
  });

  connect();
})();
