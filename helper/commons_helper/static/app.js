// commons-helper local page. Vanilla JS, no framework, no network but the helper itself.
// Everything that comes from the server is put on the page with textContent or
// attributes checked here; never parsed as HTML.
"use strict";

(function () {
  const FINAL = new Set(["uploaded", "new-version", "duplicate", "unchanged", "needs-attention", "failed", "cancelled"]);
  const RETRYABLE = new Set(["needs-attention", "failed", "cancelled"]);
  const STATUS = {
    "queued": ["Waiting to upload", "idle"],
    "preparing": ["Preparing the file page", "busy"],
    "uploading": ["Uploading", "busy"],
    "uploaded": ["On Commons", "ok"],
    "new-version": ["New version on Commons", "ok"],
    "duplicate": ["Already on Commons", "ok"],
    "unchanged": ["Unchanged, already on Commons", "ok"],
    "needs-attention": ["Needs your attention", "warn"],
    "failed": ["Upload failed", "bad"],
    "cancelled": ["Cancelled", "idle"],
  };
  const POLL_MS = 3000;

  const $ = (id) => document.getElementById(id);
  const jobs = new Map();   // id -> job JSON
  const rows = new Map();   // id -> <li>
  let pollTimer = null;
  let events = null;
  let connected = true;

  class ApiError extends Error {
    constructor(status, code, message) { super(message); this.status = status; this.code = code; }
  }

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, "offline", "The helper is not answering. Is it still running? Start it with commons-helper serve.");
    }
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (!response.ok) {
      const e = data && data.error ? data.error : {};
      const error = new ApiError(response.status, String(e.code || "http-" + response.status),
        String(e.message || "The helper answered with an error (HTTP " + response.status + ")."));
      if (response.status === 401) notConnected();
      throw error;
    }
    return data;
  }

  // ---------------------------------------------------------------- banners

  function banner(key, tone, parts) {
    let el = document.querySelector('[data-banner="' + key + '"]');
    if (!parts) { if (el) el.remove(); return; }
    if (!el) {
      el = document.createElement("div");
      el.dataset.banner = key;
      $("banners").appendChild(el);
    }
    el.className = "banner banner-" + tone;
    const p = document.createElement("p");
    for (const part of parts) {
      if (typeof part === "string") p.appendChild(document.createTextNode(part));
      else { const c = document.createElement("code"); c.textContent = part.code; p.appendChild(c); }
    }
    el.replaceChildren(p);
  }

  function notConnected() {
    if (!connected) return;
    connected = false;
    stopLive();
    banner("connect", "warn", ["This page is not connected to your helper (the link may be old, or the helper was restarted). Run ",
      { code: "commons-helper open" }, " in a terminal to open it again."]);
    $("signin-state").textContent = "Not connected";
    $("signin-dot").className = "signin-dot";
    $("signin-button").hidden = true;
    $("signout-button").hidden = true;
  }

  // ---------------------------------------------------------------- formatting

  function bytes(n) {
    if (!Number.isFinite(n) || n < 0) return "";
    const units = ["bytes", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
                   : d.toLocaleDateString([], { day: "numeric", month: "short" }) + " " +
                     d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function safeHttpUrl(url) {
    try {
      const u = new URL(String(url), window.location.href);
      return (u.protocol === "https:" || u.protocol === "http:") ? u.href : null;
    } catch (err) { return null; }
  }

  // ---------------------------------------------------------------- the queue

  function rowFor(id) {
    let row = rows.get(id);
    if (row) return row;
    row = $("job-template").content.firstElementChild.cloneNode(true);
    row.dataset.jobId = id;
    wireRow(id, row);
    const img = row.querySelector(".thumb img");
    img.addEventListener("load", () => { img.classList.add("loaded"); row.querySelector(".thumb-placeholder").hidden = true; });
    img.addEventListener("error", () => {
      // No small preview: browsers can show the spooled file itself when it is a JPEG, PNG or WebP
      // (kept until it is on the wiki); anything else keeps the placeholder.
      const next = img.dataset.fallback;
      img.dataset.fallback = "";
      if (next) { img.src = next; return; }
      img.hidden = true;
      row.querySelector(".thumb-placeholder").hidden = false;
    });
    rows.set(id, row);
    return row;
  }

  function loadThumbnail(row, job) {
    const img = row.querySelector(".thumb img");
    if (img.dataset.started) return;
    img.dataset.started = "1";
    const base = "/api/v1/uploads/" + encodeURIComponent(String(job.id));
    img.dataset.fallback = /\.(jpe?g|png|webp|gif)$/i.test(String(job.file || "")) ? base + "/file" : "";
    img.decoding = "async";
    img.src = base + "/thumbnail";
  }

  function wireRow(id, row) {
    row.querySelector(".job-retry").addEventListener("click", () => act(id, "retry"));
    row.querySelector(".job-cancel").addEventListener("click", () => act(id, "cancel"));
    const details = row.querySelector("details");
    details.addEventListener("toggle", () => { if (details.open) loadWikitext(id, row); });
  }

  function render(job) {
    const id = String(job.id);
    const row = rowFor(id);
    loadThumbnail(row, job);
    const status = String(job.status || "queued");
    const [words, tone] = STATUS[status] || [status, "idle"];
    row.dataset.status = status;
    row.dataset.tone = tone;

    row.querySelector(".job-file").textContent = job.file ? String(job.file) : "(no file name)";
    const titleLink = row.querySelector(".job-title");
    const titlePlain = row.querySelector(".job-title-plain");
    const url = job.url ? safeHttpUrl(job.url) : null;
    const title = job.title ? String(job.title) : "";
    if (url && title) {
      titleLink.href = url;
      titleLink.textContent = title;
      titleLink.hidden = false;
      titlePlain.hidden = true;
    } else {
      titleLink.hidden = true;
      titleLink.removeAttribute("href");
      titlePlain.textContent = title || (FINAL.has(status) ? "" : "Title chosen when the upload starts");
      titlePlain.hidden = !titlePlain.textContent;
    }
    const badge = row.querySelector(".badge");
    badge.textContent = words;
    badge.dataset.tone = tone;

    const progress = job.progress || {};
    const done = Number(progress.done) || 0;
    const total = Number(progress.total) || 0;
    const bar = row.querySelector("progress");
    const text = row.querySelector(".progress-text");
    let fraction = total > 0 ? Math.min(1, done / total) : 0;
    if (tone === "ok") fraction = 1;
    bar.value = Math.round(fraction * 1000) / 10;
    const label = total > 0 ? bytes(Math.min(done, total)) + " of " + bytes(total) : "";
    if (status === "queued" && job.next_attempt) {
      text.textContent = "Trying again at " + when(job.next_attempt);
    } else if (status === "queued" && done === 0) {
      text.textContent = total > 0 ? bytes(total) : "";
    } else if (status === "uploading" || status === "preparing" || status === "queued") {
      text.textContent = total > 0 ? label + " · " + Math.round(fraction * 100) + "%" : "";
    } else {
      text.textContent = total > 0 ? bytes(total) : "";
    }
    bar.setAttribute("aria-label", "Progress of " + (job.file || "this upload"));
    bar.setAttribute("aria-valuetext", label ? label : words);
    row.querySelector(".job-progress").hidden = status === "failed" || status === "needs-attention" || status === "cancelled";

    const errorBox = row.querySelector(".job-error");
    const err = job.error;
    if (err && (status === "failed" || status === "needs-attention" || status === "queued" || status === "cancelled")) {
      row.querySelector(".job-error-text").textContent = String(err.message || err.code || "Something went wrong.");
      errorBox.hidden = false;
    } else {
      errorBox.hidden = true;
    }
    const name = job.file ? String(job.file) : "this photo";
    row.querySelector(".job-retry").setAttribute("aria-label", "Retry " + name);
    row.querySelector(".job-cancel").setAttribute("aria-label", "Cancel " + name);
    row.setAttribute("aria-label", name + ": " + words);
    row.querySelector(".job-retry").hidden = !RETRYABLE.has(status);
    row.querySelector(".job-retry").disabled = false;
    row.querySelector(".job-cancel").hidden = FINAL.has(status);
    row.querySelector(".job-cancel").disabled = false;
    row.querySelector(".job-time").textContent = when(job.updated || job.created);

    const details = row.querySelector("details");
    row.querySelector(".wikitext-note").textContent = FINAL.has(status) && status !== "failed" && status !== "cancelled"
      ? "The page as it was uploaded." : "The page that will be uploaded.";
    if (details.open && details.dataset.status !== status) loadWikitext(id, row);
  }

  function sortKey(job) { return String(job.created || "") + "\u0000" + String(job.id); }

  function placeRows() {
    const list = $("jobs");
    const ordered = Array.from(jobs.values()).sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : -1));
    ordered.forEach((job, i) => {
      const row = rows.get(String(job.id));
      if (list.children[i] !== row) list.insertBefore(row, list.children[i] || null);
    });
    $("queue-empty").hidden = jobs.size > 0;
    summarize();
  }

  function summarize() {
    const counts = { waiting: 0, active: 0, done: 0, attention: 0 };
    for (const job of jobs.values()) {
      const s = job.status;
      if (s === "queued") counts.waiting += 1;
      else if (s === "preparing" || s === "uploading") counts.active += 1;
      else if (s === "failed" || s === "needs-attention") counts.attention += 1;
      else if (s !== "cancelled") counts.done += 1;
    }
    const parts = [];
    if (counts.active) parts.push(counts.active + " uploading");
    if (counts.waiting) parts.push(counts.waiting + " waiting");
    if (counts.done) parts.push(counts.done + " done");
    if (counts.attention) parts.push(counts.attention + " need" + (counts.attention === 1 ? "s" : "") + " attention");
    $("queue-summary").textContent = parts.join(" · ");
  }

  function upsert(job) {
    if (!job || job.id === undefined || job.id === null) return;
    const id = String(job.id);
    const known = jobs.get(id);
    // Events and list answers can cross; keep the newer one.
    if (known && known.updated && job.updated && String(job.updated) < String(known.updated)) return;
    jobs.set(id, job);
    render(job);
    if (!known) placeRows(); else summarize();
  }

  async function loadJobs() {
    const data = await api("GET", "/api/v1/uploads");
    const list = data && Array.isArray(data.jobs) ? data.jobs : [];
    for (const job of list) upsert(job);
    $("jobs").setAttribute("aria-busy", "false");
  }

  async function act(id, action) {
    const row = rows.get(id);
    const button = row && row.querySelector(action === "retry" ? ".job-retry" : ".job-cancel");
    if (button) button.disabled = true;
    try {
      const job = await api("POST", "/api/v1/uploads/" + encodeURIComponent(id) + "/" + action);
      upsert(job);
    } catch (err) {
      if (button) button.disabled = false;
      if (row && err.status !== 401) {
        row.querySelector(".job-error-text").textContent = err.message;
        row.querySelector(".job-error").hidden = false;
      }
    }
  }

  async function loadWikitext(id, row) {
    const pre = row.querySelector(".wikitext-text");
    const details = row.querySelector("details");
    details.dataset.status = row.dataset.status;
    pre.textContent = "Loading…";
    try {
      const data = await api("GET", "/api/v1/uploads/" + encodeURIComponent(id) + "/wikitext");
      pre.textContent = String(data && data.text !== undefined ? data.text : "");
      if (data && data.title) row.querySelector(".wikitext-note").textContent =
        (FINAL.has(row.dataset.status) && row.dataset.status !== "failed" && row.dataset.status !== "cancelled"
          ? "Uploaded as " : "Will be uploaded as ") + String(data.title) + ".";
    } catch (err) {
      pre.textContent = err.message;
    }
  }

  // ---------------------------------------------------------------- live updates

  function setLive(mode) {
    const el = $("live-state");
    el.className = "live" + (mode === "live" ? " live-on" : mode === "poll" ? " live-poll" : "");
    el.textContent = mode === "live" ? "Live" : mode === "poll" ? "Checking every few seconds" : "";
    document.body.dataset.live = mode;
  }

  function startPolling() {
    if (pollTimer || !connected) return;
    setLive("poll");
    pollTimer = window.setInterval(() => {
      loadJobs().catch(() => {});
      loadHealth().catch(() => {});
    }, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
  }

  function stopLive() {
    stopPolling();
    if (events) { events.close(); events = null; }
    setLive("off");
  }

  function startEvents() {
    if (!("EventSource" in window)) { startPolling(); return; }
    events = new EventSource("/api/v1/events", { withCredentials: false });
    events.addEventListener("open", () => {
      stopPolling();
      setLive("live");
      loadJobs().catch(() => {});  // catch up on whatever happened while we were away
    });
    events.addEventListener("health", (e) => {
      try { showHealth(JSON.parse(e.data)); } catch (err) { /* ignored */ }
    });
    events.addEventListener("job", (e) => {
      try { upsert(JSON.parse(e.data)); } catch (err) { /* a malformed event is ignored */ }
    });
    events.addEventListener("thumbnail", (e) => {
      // The helper has just made this photo's preview: show it instead of the full file.
      try {
        const id = String(JSON.parse(e.data).id);
        const row = rows.get(id);
        if (!row) return;
        const img = row.querySelector(".thumb img");
        img.hidden = false;
        img.src = "/api/v1/uploads/" + encodeURIComponent(id) + "/thumbnail";
      } catch (err) { /* ignored */ }
    });
    events.addEventListener("error", () => {
      if (!connected) return;
      startPolling();
      if (events && events.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the helper answered 401 or 404): check why, keep polling.
        events = null;
        api("GET", "/api/v1/health").catch(() => {});
      }
    });
  }

  // ---------------------------------------------------------------- health (paused queue)

  function showHealth(h) {
    if (!h) return;
    if (h.paused) {
      const reason = typeof h.pause_reason === "string" && h.pause_reason ? h.pause_reason
        : "the helper needs you to sign in again.";
      banner("paused", "warn", ["Uploads are paused: " + reason + " Nothing waiting is lost; they continue once this is fixed."]);
    } else {
      banner("paused");
    }
  }

  async function loadHealth() {
    const h = await api("GET", "/api/v1/health");
    showHealth(h);
    return h;
  }

  // ---------------------------------------------------------------- sign-in

  const KINDS = { "oauth": "Wikimedia account", "access-token": "owner-only token", "bot-password": "bot password" };

  function showSignin(state) {
    state = state || {};
    const signedIn = Boolean(state.signed_in);
    const text = $("signin-state");
    if (signedIn) {
      let s = "Signed in as " + String(state.user || "(unknown user)");
      if (state.kind && KINDS[state.kind]) s += " · " + KINDS[state.kind];
      text.textContent = s;
      text.title = state.expires && !state.renewable ? "Until " + new Date(state.expires).toLocaleString() : "";
    } else if (state.status === "sign-in-needed" || state.status === "expired") {
      text.textContent = "Sign-in needed" + (state.user ? " for " + String(state.user) : "") + "; uploads wait";
    } else {
      text.textContent = "Not signed in; uploads wait until you sign in";
    }
    document.body.dataset.signedIn = signedIn ? "yes" : "no";
    $("signin-dot").className = "signin-dot " + (signedIn ? "on" : "off");
    $("signin-button").hidden = signedIn || !state.can_sign_in;
    $("signout-button").hidden = !state.can_sign_out;
    if (!signedIn && !state.can_sign_in && state.message) banner("signin", "info", [String(state.message)]);
    else if (signedIn) banner("signin");
  }

  async function loadSignin() {
    try {
      showSignin(await api("GET", "/api/v1/signin"));
    } catch (err) {
      if (err.status === 401) return;
      // Sign-in details unavailable: the health check still says who uploads.
      try {
        const health = await loadHealth();
        showSignin({ signed_in: health.signed_in, user: health.user });
      } catch (err2) { /* the banner already says what is wrong */ }
    }
  }

  $("signin-button").addEventListener("click", async () => {
    const button = $("signin-button");
    button.disabled = true;
    try {
      const data = await api("POST", "/api/v1/signin/start");
      const url = safeHttpUrl(data && data.authorize_url);
      if (!url) throw new ApiError(500, "bad-url", "The helper did not give a sign-in address.");
      window.location.assign(url);
    } catch (err) {
      button.disabled = false;
      if (err.status !== 401) banner("signin", "bad", [err.message]);
    }
  });

  $("signout-button").addEventListener("click", async () => {
    const button = $("signout-button");
    button.disabled = true;
    try {
      const data = await api("POST", "/api/v1/signout");
      const removed = data && data.removed;
      banner("signout", "info", ["Signed out on this computer. Uploads wait until you sign in again." +
        (removed && removed.revoke ? " " + String(removed.revoke) : "")]);
    } catch (err) {
      if (err.status !== 401) banner("signin", "bad", [err.message]);
    } finally {
      button.disabled = false;
      loadSignin();
    }
  });

  // ---------------------------------------------------------------- settings

  function addZone(zone) {
    const el = $("zone-template").content.firstElementChild.cloneNode(true);
    const n = $("zones").children.length + 1;
    for (const input of el.querySelectorAll("input")) {
      const key = input.dataset.k;
      input.id = "zone-" + n + "-" + key + "-" + Math.random().toString(36).slice(2, 7);
      input.previousElementSibling.htmlFor = input.id;
      input.value = zone && zone[key] !== undefined && zone[key] !== null ? String(zone[key]) : "";
    }
    el.querySelector(".zone-remove").setAttribute("aria-label", "Remove this place");
    el.querySelector(".zone-remove").addEventListener("click", () => el.remove());
    $("zones").appendChild(el);
    return el;
  }

  function fillSettings(s) {
    $("set-license").value = s.license || "";
    $("set-author").value = s.author || "";
    $("set-username").value = s.username || "";
    $("set-language").value = s.language || "";
    $("set-title-pattern").value = s.title_pattern || "";
    $("set-categories").value = Array.isArray(s.categories) ? s.categories.join("\n") : "";
    $("set-strip-location").checked = Boolean(s.strip_location);
    $("zones").replaceChildren();
    for (const z of (Array.isArray(s.privacy_zones) ? s.privacy_zones : [])) addZone(z);
  }

  function readSettings() {
    const number = (v) => (v.trim() === "" ? null : Number(v.trim().replace(",", ".")));
    const zones = [];
    for (const el of $("zones").children) {
      const get = (k) => el.querySelector('[data-k="' + k + '"]').value;
      if (!get("name").trim() && !get("lat").trim() && !get("lon").trim() && !get("radius_m").trim()) continue;
      zones.push({ name: get("name").trim(), lat: number(get("lat")), lon: number(get("lon")), radius_m: number(get("radius_m")) });
    }
    return {
      license: $("set-license").value.trim(),
      author: $("set-author").value.trim(),
      username: $("set-username").value.trim(),
      language: $("set-language").value.trim(),
      title_pattern: $("set-title-pattern").value.trim(),
      categories: $("set-categories").value.split("\n").map((c) => c.trim()).filter(Boolean),
      strip_location: $("set-strip-location").checked,
      privacy_zones: zones,
    };
  }

  function settingsStatus(tone, text) {
    const el = $("settings-status");
    el.className = "form-status " + tone;
    el.textContent = text;
  }

  async function loadSettings() {
    const data = await api("GET", "/api/v1/settings");
    fillSettings(data.settings || {});
  }

  $("add-zone").addEventListener("click", () => addZone(null).querySelector("input").focus());

  $("settings-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = $("settings-save");
    button.disabled = true;
    settingsStatus("", "Saving…");
    try {
      const data = await api("PUT", "/api/v1/settings", readSettings());
      fillSettings(data.settings || {});
      settingsStatus("ok", "Saved. New uploads use these settings.");
    } catch (err) {
      settingsStatus("bad", err.status === 401 ? "Not saved: this page is not connected to the helper." : "Not saved: " + err.message);
    } finally {
      button.disabled = false;
    }
  });

  // ---------------------------------------------------------------- start

  async function start() {
    setLive("off");
    $("jobs").setAttribute("aria-busy", "true");
    try {
      await loadJobs();
    } catch (err) {
      if (err.status !== 401) banner("queue", "bad", [err.message]);
      if (!connected) return;
    }
    loadSignin().then(() => loadHealth()).catch(() => {});
    loadSettings().catch((err) => { if (err.status !== 401) settingsStatus("bad", err.message); });
    startEvents();
  }

  start();
})();
