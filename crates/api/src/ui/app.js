// Baton's dashboard: one page over the native API (/v1), plain JavaScript, no build step.
//
// * Sign-in: a link `/ui/#token=<token>` (what `baton ui` prints) or the form. The token lives in
//   sessionStorage (this tab only) and the fragment is removed from the address bar at once.
// * Every value from the server goes into the page as text (textContent, text nodes): task
//   names, URLs and error details are user input and are never parsed as HTML.
// * Lists refresh every ~2 s by reconciling rows keyed by id: only changed text is written, so
//   nothing flickers and a revealed stream key stays revealed.
// * Stream keys are masked (the last path segment, any query, any user:password) until the
//   operator clicks "show" on that one value.
// * Errors are the API's RFC 7807 problems, shown with their title, detail and code.
"use strict";

(() => {
  const REFRESH_MS = 2000;
  const TOKEN_KEY = "baton.token";
  const MASK = "••••";
  const PAGE = 50;

  const $ = (id) => document.getElementById(id);

  // --- the API --------------------------------------------------------------------------

  /** A failed call: `status` 0 when the server could not be reached. */
  class ApiError extends Error {
    constructor(status, problem) {
      const title = problem.title || (status ? `HTTP ${status}` : "Error");
      const detail = problem.detail ? `: ${problem.detail}` : "";
      const code = problem.code ? ` (${problem.code})` : "";
      super(`${title}${detail}${code}`);
      this.status = status;
      this.problem = problem;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  /** Calls `/v1/<path>`; resolves to the JSON body (null when there is none). */
  async function api(method, path, body) {
    const headers = {
      Accept: "application/json, application/problem+json",
      Authorization: `Bearer ${token()}`,
    };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`/v1/${path}`, init);
    } catch (e) {
      throw new ApiError(0, { title: "Cannot reach the server", detail: String(e && e.message || e) });
    }
    const text = await response.text();
    let doc = null;
    if (text) {
      try {
        doc = JSON.parse(text);
      } catch (_) {
        doc = null;
      }
    }
    if (!response.ok) {
      const problem = doc && typeof doc === "object" && !Array.isArray(doc) ? doc
        : { title: response.statusText || `HTTP ${response.status}`, detail: text.slice(0, 200) };
      const error = new ApiError(response.status, problem);
      if (response.status === 401) {
        signOut(`The server refused the token. ${error.message}`);
      }
      throw error;
    }
    return doc;
  }

  /** `a/b/c` with every segment percent-encoded. */
  function path(...segments) {
    return segments.map((s) => encodeURIComponent(String(s))).join("/");
  }

  /** Every item of a cursor-paged list, `pages` pages at most; `{items, more}`. */
  async function pages(base, count) {
    const items = [];
    let cursor = null;
    for (let i = 0; i < count; i++) {
      const sep = base.includes("?") ? "&" : "?";
      const page = await api("GET", cursor ? `${base}${sep}cursor=${encodeURIComponent(cursor)}` : base);
      items.push(...(page.items || []));
      cursor = page.next_cursor || null;
      if (!cursor) break;
    }
    return { items, more: cursor !== null };
  }

  // --- formatting -----------------------------------------------------------------------

  function bps(n) {
    if (typeof n !== "number" || !isFinite(n)) return "–";
    const units = ["b/s", "kb/s", "Mb/s", "Gb/s"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return `${i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
  }

  function bytes(n) {
    if (typeof n !== "number") return "–";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
  }

  function duration(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "–";
    let s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    s %= 60;
    const two = (x) => String(x).padStart(2, "0");
    return h ? `${h}h${two(m)}m${two(s)}s` : m ? `${m}m${two(s)}s` : `${s}s`;
  }

  function when(rfc3339) {
    if (!rfc3339) return "";
    const d = new Date(rfc3339);
    return isNaN(d) ? String(rfc3339) : d.toLocaleString();
  }

  function words(name) {
    return name ? String(name).replace(/_/g, " ") : "";
  }

  /** A `datetime-local` value as RFC 3339 UTC; "" for an empty value, null if invalid. */
  function localToRfc3339(value) {
    if (!value) return "";
    const d = new Date(value);
    return isNaN(d) ? null : d.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** A time as a `datetime-local` value. */
  function toLocalInput(d) {
    const two = (x) => String(x).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  /**
   * A URL with its secrets masked: user:password, the last path segment (the stream key of
   * rtmp://host/app/KEY; kept when the path has one segment only) and the whole query
   * (auth_key=…, SRT's streamid and passphrase).
   */
  function maskUrl(url) {
    const text = String(url);
    const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)([?#].*)?$/.exec(text);
    if (!m) {
      // Not scheme://…: keep the first few characters only.
      return text.length > 8 ? `${text.slice(0, 4)}${MASK}` : MASK;
    }
    let [, scheme, authority, pathPart, rest] = m;
    const at = authority.lastIndexOf("@");
    if (at >= 0) authority = `${MASK}@${authority.slice(at + 1)}`;
    const segments = pathPart.split("/");
    // "/app/key" splits into ["", "app", "key"].
    const named = segments.filter((s) => s !== "").length;
    if (named >= 2) {
      let last = segments.length - 1;
      if (segments[last] === "") last--;
      segments[last] = MASK;
    }
    return `${scheme}${authority}${segments.join("/")}${rest ? `${rest[0]}${MASK}` : ""}`;
  }

  // --- DOM helpers (text only) ----------------------------------------------------------

  /** An element with attributes and children; strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      node.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  /** Sets a node's text only when it changed (no needless layout, no flicker). */
  function text(node, value) {
    const v = value === undefined || value === null ? "" : String(value);
    if (node.textContent !== v) node.textContent = v;
  }

  function data(node, key, value) {
    const v = String(value);
    if (node.dataset[key] !== v) node.dataset[key] = v;
  }

  function show(node, visible) {
    if (node.hidden === visible) node.hidden = !visible;
  }

  function problem(node, error) {
    text(node, error ? error.message || String(error) : "");
    show(node, !!error);
  }

  let flashTimer = null;

  /** A message in the bar under the header: errors stay until the next action. */
  function flash(message, info) {
    const node = $("flash");
    clearTimeout(flashTimer);
    text(node, message || "");
    node.classList.toggle("info", !!info);
    show(node, !!message);
    if (message && info) flashTimer = setTimeout(() => show(node, false), 4000);
  }

  // --- masked values --------------------------------------------------------------------

  /** The values the operator chose to see, by `<row key>|<field>`. */
  const revealed = new Set();
  /** Each masked value and its mask, by the same key. */
  const secrets = new Map();

  /** A cell part that shows a masked value and a show/hide button. */
  function secret(field) {
    return el("span", { class: "secret", "data-field": field },
      el("span", { class: "url mono" }),
      el("button", { type: "button", class: "link", "data-action": "reveal" }, "show"));
  }

  function setSecret(node, rowKey, value, masked) {
    const key = `${rowKey}|${node.dataset.field}`;
    secrets.set(key, [value, masked]);
    data(node, "secretKey", key);
    paintSecret(node);
  }

  function paintSecret(node) {
    const key = node.dataset.secretKey;
    const [value, masked] = secrets.get(key) || ["", ""];
    const open = revealed.has(key);
    const [shown, button] = node.children;
    text(shown, value === "" ? "–" : open ? value : masked);
    text(button, open ? "hide" : "show");
    show(button, value !== "" && value !== masked);
    data(node, "revealed", open);
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action='reveal']");
    if (!button) return;
    const node = button.parentElement;
    const key = node.dataset.secretKey;
    if (revealed.has(key)) revealed.delete(key);
    else revealed.add(key);
    paintSecret(node);
  });

  // --- tables ---------------------------------------------------------------------------

  /**
   * Makes `tbody` show `items` in order, reusing the row of each key: `build(key)` makes a new
   * row, `update(row, item)` writes its values.
   */
  function sync(tbody, items, keyOf, build, update) {
    const rows = new Map();
    for (const tr of Array.from(tbody.rows)) rows.set(tr.dataset.key, tr);
    let previous = null;
    for (const item of items) {
      const key = keyOf(item);
      let tr = rows.get(key);
      if (tr) rows.delete(key);
      else {
        tr = build(key);
        tr.dataset.key = key;
      }
      update(tr, item);
      const at = previous ? previous.nextSibling : tbody.firstChild;
      if (at !== tr) tbody.insertBefore(tr, at);
      previous = tr;
    }
    for (const tr of rows.values()) tr.remove();
  }

  /** A row of `n` cells, with the classes given by index. */
  function row(n, classes) {
    const tr = el("tr");
    for (let i = 0; i < n; i++) tr.append(el("td", { class: (classes && classes[i]) || undefined }));
    return tr;
  }

  /** A side's transport as the relay negotiated it: `rtmps · TLSv1.3 · TLS13_AES_…`, or for
   *  SRT its round trip and losses (`srt · rtt 12.0 ms · lost 3 · retx 5`): why a push is slow. */
  function transport(t, srt) {
    if (!t) return "";
    const parts = [t.protocol, t.tls && t.tls.version, t.tls && t.tls.cipher];
    if (srt) {
      parts.push(`rtt ${Number(srt.rtt_ms).toFixed(1)} ms`, `lost ${srt.packets_lost}`,
        `retx ${srt.packets_retransmitted}`);
      if (srt.send_buffer_ms) parts.push(`buffer ${srt.send_buffer_ms} ms`);
    }
    return parts.filter(Boolean).join(" · ");
  }

  function withSub(td) {
    td.append(el("span", { class: "main" }), el("span", { class: "sub" }));
    return td;
  }

  // --- confirmation dialog --------------------------------------------------------------

  /** Asks; resolves to null (cancelled) or `{resumeAt}` ("" when none was given). */
  function ask(message, withResume) {
    const dialog = $("confirm");
    text($("confirm-text"), message);
    show($("confirm-resume"), !!withResume);
    $("confirm-resume-at").value = "";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        if (dialog.returnValue !== "ok") return resolve(null);
        const resumeAt = localToRfc3339($("confirm-resume-at").value);
        if (resumeAt === null) {
          flash("The resume time is not a valid time.");
          return resolve(null);
        }
        resolve({ resumeAt });
      }, { once: true });
      dialog.showModal();
    });
  }

  // --- tasks ----------------------------------------------------------------------------

  let taskPages = 1;
  const taskNames = new Map();

  const TASK_CELLS = ["name", "status", "source", "destination", "num in", "num out", "num fps", "playlist", "error", "actions-cell"];

  function buildTask() {
    const tr = row(TASK_CELLS.length, TASK_CELLS);
    const c = tr.cells;
    withSub(c[0]);
    c[1].append(el("span", { class: "state" }), el("span", { class: "sub relay-state" }));
    c[2].append(secret("source"), el("span", { class: "sub" }));
    c[3].append(secret("destination"), el("span", { class: "sub transport" }));
    withSub(c[8]);
    c[9].append(
      el("button", { type: "button", "data-action": "stop" }, "Stop"),
      el("button", { type: "button", "data-action": "start" }, "Start"),
      el("button", { type: "button", "data-action": "restart" }, "Restart"),
      el("button", { type: "button", "data-action": "events" }, "Events"),
      el("button", { type: "button", "data-action": "delete", class: "danger" }, "Delete"));
    return tr;
  }

  function updateTask(tr, t) {
    const c = tr.cells;
    const relay = t.relay || null;
    taskNames.set(t.id, t.name || t.id);
    text(c[0].children[0], t.name || "(unnamed)");
    text(c[0].children[1], t.id);

    const state = c[1].children[0];
    data(state, "state", t.state);
    text(state, words(t.state));
    const relayState = c[1].children[1];
    data(relayState, "state", relay ? relay.state : "");
    const why = [relay ? words(relay.state) : "", words(t.reason || t.exit_reason || "")];
    if (t.retries) why.push(`retry ${t.retries}`);
    if (t.next_retry_at) why.push(`next ${when(t.next_retry_at)}`);
    text(relayState, why.filter(Boolean).join(" · "));

    const urls = (t.source && t.source.urls) || [];
    setSecret(c[2].children[0], t.id, urls[0] || "", maskUrl(urls[0] || ""));
    text(c[2].children[1], [words(t.source && t.source.type), urls.length > 1 ? `+${urls.length - 1} more` : "",
      transport(relay && relay.source_transport, relay && relay.srt)].filter(Boolean).join(" · "));
    setSecret(c[3].children[0], t.id, t.destination || "", maskUrl(t.destination || ""));
    text(c[3].children[1], transport(relay && relay.destination_transport, relay && relay.destination_srt));

    data(c[4], "bps", relay ? relay.bitrate_in_bps : "");
    text(c[4], relay ? bps(relay.bitrate_in_bps) : "–");
    data(c[5], "bps", relay ? relay.bitrate_out_bps : "");
    text(c[5], relay ? bps(relay.bitrate_out_bps) : "–");
    text(c[6], relay ? Number(relay.fps).toFixed(1) : "–");

    const p = t.playlist;
    text(c[7], p
      ? `item ${p.file_index + 1} of ${urls.length} · at ${duration(p.offset_seconds)} · pass ${p.loop + 1} of ${p.passes === null || p.passes === undefined ? "∞" : p.passes}`
      : "–");

    const e = t.last_error;
    text(c[8].children[0], e ? `${e.side} ${e.code}: ${e.message}` : "");
    text(c[8].children[1], e ? when(e.at) : "");

    const [stop, start, restart] = c[9].children;
    const live = ["not_started", "running", "recovering"].includes(t.state);
    stop.disabled = !live;
    start.disabled = t.state !== "stopped";
    restart.disabled = t.state === "ended";
  }

  async function loadTasks() {
    const { items, more } = await pages(`tasks?limit=${PAGE}`, taskPages);
    sync($("tasks-table").tBodies[0], items, (t) => t.id, buildTask, updateTask);
    show($("tasks-empty"), items.length === 0);
    show($("tasks-more"), more);
  }

  $("tasks-more").addEventListener("click", () => {
    taskPages++;
    refresh();
  });

  $("tasks-table").addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button || button.dataset.action === "reveal") return;
    const id = button.closest("tr").dataset.key;
    const name = taskNames.get(id) || id;
    const action = button.dataset.action;
    if (action === "events") {
      location.hash = `#events/${encodeURIComponent(id)}`;
      return;
    }
    if (action === "delete" && !(await ask(`Delete task "${name}"? Its relay stops now.`))) return;
    button.disabled = true;
    try {
      if (action === "delete") await api("DELETE", path("tasks", id));
      else await api("POST", `${path("tasks", id)}/${action}`);
      const done = { stop: "stopped", start: "started", restart: "restarted", delete: "deleted" }[action];
      flash(`Task "${name}" ${done}.`, true);
    } catch (err) {
      flash(`Could not ${action} task "${name}": ${err.message}`);
    }
    refresh();
  });

  // --- creating a relay -----------------------------------------------------------------

  function openCreate(open) {
    show($("create-form"), open);
    show($("create-toggle"), !open);
    problem($("create-error"), null);
    if (open) {
      $("create-end").value = toLocalInput(new Date(Date.now() + 3600 * 1000));
      $("create-source").focus();
    }
  }

  $("create-toggle").addEventListener("click", () => openCreate(true));
  $("create-cancel").addEventListener("click", () => openCreate(false));
  $("create-type").addEventListener("change", () => {
    const many = $("create-type").value !== "live";
    show($("create-source-many"), many);
    $("create-source").rows = many ? 4 : 1;
  });

  $("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const submit = form.querySelector("button[type='submit']");
    const endTime = localToRfc3339($("create-end").value);
    if (!endTime) {
      problem($("create-error"), new Error("The end time is not a valid time."));
      return;
    }
    const urls = $("create-source").value.split("\n").map((s) => s.trim()).filter(Boolean);
    const body = {
      source: { type: $("create-type").value, urls },
      destination: $("create-destination").value.trim(),
      end_time: endTime,
    };
    const name = $("create-name").value.trim();
    if (name) body.name = name;
    submit.disabled = true;
    try {
      const task = await api("POST", "tasks", body);
      form.reset();
      openCreate(false);
      flash(`Relay "${task.name || task.id}" created.`, true);
      refresh();
    } catch (err) {
      problem($("create-error"), err);
    } finally {
      submit.disabled = false;
    }
  });

  // --- a task's events ------------------------------------------------------------------

  let eventPages = 1;
  let eventsOf = null;

  function buildEvent() {
    const tr = row(6, ["num", "", "", "", "", ""]);
    tr.cells[2].append(el("span", { class: "state" }));
    tr.cells[4].append(secret("item"), el("span", { class: "sub" }));
    return tr;
  }

  function updateEvent(tr, ev) {
    const c = tr.cells;
    text(c[0], ev.seq);
    text(c[1], when(ev.time));
    data(c[2].children[0], "state", ev.state);
    text(c[2].children[0], ev.state);
    // A log-only event (a source switch, a destination down or up, a takeover) has no
    // reason: its detail says what it is about.
    text(c[3], ev.detail || words(ev.reason || ev.exit_reason || ""));
    const item = ev.item;
    setSecret(c[4].children[0], ev.id, item ? item.source : "", item ? maskUrl(item.source) : "");
    text(c[4].children[1], item ? [`${words(item.kind)} #${item.file_index + 1}`, item.detail || ""].filter(Boolean).join(" · ") : "");
    text(c[5], ev.delivery === "none" ? "–" : `${ev.delivery}${ev.attempts ? ` (${ev.attempts} attempt${ev.attempts === 1 ? "" : "s"})` : ""}`);
  }

  async function loadEvents() {
    const id = eventsOf;
    text($("events-title"), taskNames.get(id) || id);
    const { items, more } = await pages(`${path("tasks", id, "events")}?limit=${PAGE}`, eventPages);
    if (id !== eventsOf) return;
    sync($("events-table").tBodies[0], items, (ev) => `${ev.seq}`, buildEvent, updateEvent);
    show($("events-empty"), items.length === 0);
    show($("events-more"), more);
  }

  $("events-more").addEventListener("click", () => {
    eventPages++;
    refresh();
  });

  // --- live streams and blocks ----------------------------------------------------------

  let streamsMissing = false;
  /** domain, app and stream of each row key of the streams and blocks tables. */
  const streamPaths = new Map();

  function streamKey(s) {
    const key = `${s.domain}/${s.app}/${s.stream}`;
    streamPaths.set(key, [s.domain, s.app, s.stream]);
    return key;
  }

  const STREAM_CELLS = ["stream", "", "num", "", "", "num", "num", "num", "num", "", "actions-cell"];

  function buildStream() {
    const tr = row(STREAM_CELLS.length, STREAM_CELLS);
    const c = tr.cells;
    c[0].append(secret("stream"), el("span", { class: "sub" }));
    withSub(c[1]);
    c[9].append(el("span", { class: "main" }), el("span", { class: "sub" }));
    c[10].append(
      el("button", { type: "button", "data-action": "forbid" }, "Forbid…"),
      el("button", { type: "button", "data-action": "resume" }, "Resume"),
      el("button", { type: "button", "data-action": "kick", class: "danger" }, "Kick"));
    return tr;
  }

  function updateStream(tr, s) {
    const c = tr.cells;
    const key = streamKey(s);
    setSecret(c[0].children[0], key, `${s.app}/${s.stream}`, `${s.app}/${MASK}`);
    text(c[0].children[1], s.domain);
    data(tr, "publishing", !!s.publishing);
    text(c[1].children[0], s.publishing ? (s.protocol || "publishing").toUpperCase() : "not publishing");
    text(c[1].children[1], s.publisher_addr || "");
    text(c[2], s.publishing ? duration(s.uptime_seconds) : "–");
    const v = s.video;
    text(c[3], v ? [v.codec, v.width && v.height ? `${v.width}×${v.height}` : "", v.fps ? `${Number(v.fps).toFixed(1)} fps` : "", v.profile || ""].filter(Boolean).join(" · ") : "–");
    const a = s.audio;
    text(c[4], a ? [a.codec, a.sample_rate ? `${(a.sample_rate / 1000).toFixed(1)} kHz` : "", a.channels ? `${a.channels} ch` : ""].filter(Boolean).join(" · ") : "–");
    data(c[5], "bps", s.bitrate_in_bps);
    text(c[5], bps(s.bitrate_in_bps));
    text(c[6], s.players);
    text(c[7], `${s.gop_cache_frames} frames · ${bytes(s.gop_cache_bytes)}`);
    text(c[8], `${s.frames_in} / ${s.frames_dropped}`);
    const forbidden = c[9].children[0];
    forbidden.className = s.forbidden ? "main forbidden" : "main";
    text(forbidden, s.forbidden ? "forbidden" : "");
    text(c[9].children[1], s.forbidden && s.forbidden_until ? `until ${when(s.forbidden_until)}` : "");
    const [, resume] = c[10].children;
    show(resume, !!s.forbidden);
  }

  function buildBlock() {
    const tr = row(4, ["stream", "", "", "actions-cell"]);
    tr.cells[0].append(secret("stream"), el("span", { class: "sub" }));
    tr.cells[3].append(el("button", { type: "button", "data-action": "resume" }, "Resume"));
    return tr;
  }

  function updateBlock(tr, b) {
    const c = tr.cells;
    setSecret(c[0].children[0], `block:${streamKey(b)}`, `${b.app}/${b.stream}`, `${b.app}/${MASK}`);
    text(c[0].children[1], b.domain);
    text(c[1], when(b.created_at));
    text(c[2], when(b.resume_at));
  }

  async function loadStreams() {
    const table = $("streams-table");
    let error = null;
    try {
      const { items } = await pages("streams", 20);
      streamsMissing = false;
      sync(table.tBodies[0], items, streamKey, buildStream, updateStream);
      show($("streams-empty"), items.length === 0);
    } catch (e) {
      if (e.status === 404) {
        streamsMissing = true;
      } else {
        error = e;
      }
    }
    show($("streams-unavailable"), streamsMissing);
    show(table, !streamsMissing);
    if (streamsMissing) show($("streams-empty"), false);
    problem($("streams-error"), error);

    const { items } = await pages("blocks?limit=100", 20);
    sync($("blocks-table").tBodies[0], items, streamKey, buildBlock, updateBlock);
    show($("blocks-empty"), items.length === 0);
  }

  /** Forbid (asking for an optional resume time), resume or kick one stream. */
  async function streamAction(action, domain, app, stream) {
    const shown = `${domain}/${app}/${MASK}`;
    let done;
    try {
      if (action === "forbid") {
        const answer = await ask(`Forbid publishing to ${shown}? Its publisher is disconnected now.`, true);
        if (!answer) return;
        await api("PUT", path("blocks", domain, app, stream), answer.resumeAt ? { resume_at: answer.resumeAt } : {});
        done = "forbidden";
      } else if (action === "resume") {
        await api("DELETE", path("blocks", domain, app, stream));
        done = "resumed";
      } else if (action === "kick") {
        if (!(await ask(`Disconnect the publisher of ${shown}? It may publish again.`))) return;
        await api("POST", `${path("streams", domain, app, stream)}/kick`);
        done = "kicked";
      } else {
        return;
      }
      flash(`Stream ${shown} ${done}.`, true);
    } catch (err) {
      flash(`Could not ${action} ${shown}: ${err.message}`);
    }
    refresh();
  }

  for (const id of ["streams-table", "blocks-table"]) {
    $(id).addEventListener("click", (e) => {
      const button = e.target.closest("button[data-action]");
      if (!button || button.dataset.action === "reveal") return;
      const found = streamPaths.get(button.closest("tr").dataset.key);
      if (found) streamAction(button.dataset.action, ...found);
    });
  }

  $("path-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const op = e.submitter && e.submitter.dataset.op;
    streamAction(op, $("path-domain").value.trim(), $("path-app").value.trim(), $("path-stream").value.trim());
  });

  // --- views, sign-in and the refresh loop ----------------------------------------------

  const VIEWS = ["signin", "tasks", "events", "streams"];
  let view = "signin";
  let who = null;

  function route() {
    takeToken();
    if (!token()) {
      who = null;
      setView("signin");
      return;
    }
    const hash = location.hash.replace(/^#/, "");
    if (hash.startsWith("events/")) {
      const id = decodeURIComponent(hash.slice("events/".length));
      if (id !== eventsOf) {
        eventsOf = id;
        eventPages = 1;
        sync($("events-table").tBodies[0], [], () => "", buildEvent, updateEvent);
      }
      setView("events");
    } else if (hash === "streams") {
      setView("streams");
    } else {
      setView("tasks");
    }
    refresh();
  }

  function setView(name) {
    view = name;
    for (const v of VIEWS) show($(`view-${v}`), v === name);
    const signedIn = name !== "signin";
    show($("nav"), signedIn);
    show($("sign-out"), signedIn);
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("current", a.dataset.view === name || (name === "events" && a.dataset.view === "tasks"));
    }
    if (!signedIn) text($("who"), "");
  }

  let running = null;
  let again = false;
  let timer = null;

  /** Reloads the current view now (once at a time; a request during a load runs after it). */
  async function refresh() {
    if (running) {
      again = true;
      return running;
    }
    clearTimeout(timer);
    running = (async () => {
      do {
        again = false;
        await load();
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = null;
      if (token()) timer = setTimeout(tick, REFRESH_MS);
    }
  }

  function tick() {
    if (document.hidden) {
      timer = setTimeout(tick, REFRESH_MS);
      return;
    }
    refresh();
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && token()) refresh();
  });

  async function load() {
    if (!token() || view === "signin") return;
    const errors = { tasks: "tasks-error", events: "events-error", streams: "streams-error" };
    try {
      if (!who) {
        who = await api("GET", "whoami");
        text($("who"), `${who.account} · ${who.token}`);
      }
      if (view === "tasks") await loadTasks();
      else if (view === "events") await loadEvents();
      else if (view === "streams") await loadStreams();
      if (view !== "streams") problem($(errors[view]), null);
    } catch (e) {
      if (token() && errors[view]) problem($(errors[view]), e);
    }
  }

  /** Forgets what the last token showed. */
  function forget() {
    who = null;
    revealed.clear();
    secrets.clear();
    taskNames.clear();
    streamPaths.clear();
    for (const id of ["tasks-table", "events-table", "streams-table", "blocks-table"]) {
      sync($(id).tBodies[0], [], () => "", null, null);
    }
  }

  /** Forgets the token; `why` is shown on the sign-in form. */
  function signOut(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    forget();
    flash("");
    problem($("signin-error"), why ? new Error(why) : null);
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    setView("signin");
  }

  $("sign-out").addEventListener("click", () => signOut());

  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = $("signin-token").value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    $("signin-token").value = "";
    try {
      who = await api("GET", "whoami");
      text($("who"), `${who.account} · ${who.token}`);
      problem($("signin-error"), null);
      route();
    } catch (err) {
      if (err.status !== 401) problem($("signin-error"), err);
    }
  });

  /**
   * A sign-in link: `#token=<token>` moves into sessionStorage and out of the address bar (and
   * so out of the history and of bookmarks). Also when the page is already open: following a
   * link that differs only in its fragment does not reload it.
   */
  function takeToken() {
    const m = /^#token=(.+)$/.exec(location.hash);
    if (!m) return;
    let value = m[1];
    try {
      value = decodeURIComponent(value);
    } catch (_) {
      // Not percent-encoded: taken as it is.
    }
    if (value !== token()) forget();
    sessionStorage.setItem(TOKEN_KEY, value);
    problem($("signin-error"), null);
    history.replaceState(null, "", location.pathname + location.search);
  }

  window.addEventListener("hashchange", route);
  route();
})();
