// OmniClaude viewer: asks for a read key, loads server-rendered fragments with it, refreshes.
// The server escapes and redacts every fragment; this script only inserts them, and it
// writes messages of its own with textContent (never as HTML).
(function () {
  "use strict";

  var KEY = "omniclaude.apiKey";
  var timers = {};
  var selected = null;

  function $(id) { return document.getElementById(id); }
  function getKey() { return sessionStorage.getItem(KEY); }

  function showKeyState() {
    var label = $("key-label");
    var key = getKey();
    if (label) { label.textContent = key ? "key " + key.slice(0, 15) + "…" : "no key"; }
  }

  function askKey(message) {
    var dialog = $("key-dialog");
    var error = $("key-error");
    error.textContent = message || "";
    error.hidden = !message;
    if (!dialog.open) { dialog.showModal(); }
    $("key-input").focus();
  }

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        el.title = el.textContent;
        el.textContent = when.toLocaleString();
      }
    });
  }

  function message(target, text) {
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = text;
    target.replaceChildren(p);
  }

  async function fetchFragment(url) {
    var key = getKey();
    if (!key) { askKey(); return null; }
    var response;
    try {
      response = await fetch(url, {
        headers: { "Authorization": "Bearer " + key, "Accept": "text/html" },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      return { status: 0, text: "The API did not answer (" + err.message + "). Is `omniclaude up` running?" };
    }
    if (response.status === 401 || response.status === 403) {
      var detail = await response.json().then(function (j) { return j.message || j.detail; }, function () { return response.statusText; });
      if (response.status === 401) { sessionStorage.removeItem(KEY); showKeyState(); }
      askKey(String(detail));
      return null;
    }
    var text = await response.text();
    if (!response.ok && response.status !== 404) {
      try { var body = JSON.parse(text); text = body.message || body.detail; } catch (e) { /* keep the body */ }
      return { status: response.status, text: String(text) };
    }
    return { status: response.status, html: text };
  }

  function partialUrl(target) {
    var url = target.dataset.partial;
    if (target.dataset.query) { url += location.search; }
    return url;
  }

  async function load(target) {
    var result = await fetchFragment(partialUrl(target));
    if (!result) { return; }
    if (result.html === undefined) { message(target, result.text); return; }
    target.innerHTML = result.html;
    localTimes(target);
    if (selected) {
      var again = target.querySelector('[data-event-id="' + CSS.escape(selected) + '"]');
      if (again) { again.classList.add("selected"); }
    }
    target.dispatchEvent(new CustomEvent("omniclaude:loaded", { bubbles: true }));
    schedule(target);
  }

  function wantsRefresh(target) {
    if (document.visibilityState !== "visible") { return true; }  // check again later
    var live = $("live");
    if (document.body.dataset.page === "trace") {
      return !!target.querySelector('.trace[data-live="1"]');
    }
    if (live && !live.checked) { return false; }
    return !new URLSearchParams(location.search).get("cursor");
  }

  function schedule(target) {
    clearTimeout(timers[target.id]);
    var every = Number(target.dataset.refreshMs || (document.body.dataset.page === "trace" ? 3000 : 0));
    if (!every || !wantsRefresh(target)) { return; }
    timers[target.id] = setTimeout(function () {
      if (document.visibilityState === "visible" && wantsRefresh(target)) { load(target); }
      else { schedule(target); }
    }, every);
  }

  function loadAll() {
    document.querySelectorAll("[data-partial]").forEach(load);
  }

  // ---------------------------------------------------------------- filters
  function toIso(localValue) {
    var when = new Date(localValue);
    return isNaN(when.getTime()) ? "" : when.toISOString();
  }

  function toLocalInput(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) { return ""; }
    var shifted = new Date(when.getTime() - when.getTimezoneOffset() * 60000);
    return shifted.toISOString().slice(0, 16);
  }

  function fillForm(form) {
    var params = new URLSearchParams(location.search);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !params.has(el.name)) { return; }
      var value = params.get(el.name);
      if (el.type === "checkbox") { el.checked = value === el.value; }
      else if (el.type === "datetime-local") { el.value = toLocalInput(value); }
      else { el.value = value; }
    });
  }

  function applyForm(form) {
    var params = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) { return; }
      if (el.type === "checkbox") { if (el.checked) { params.set(el.name, el.value); } return; }
      var value = el.type === "datetime-local" ? toIso(el.value) : el.value.trim();
      if (value) { params.set(el.name, value); }
    });
    var query = params.toString();
    history.replaceState(null, "", query ? "?" + query : location.pathname);
    var content = $("content");
    if (content) { load(content); }
  }

  // ---------------------------------------------------------------- details
  async function showDetail(row) {
    var panel = $("detail");
    if (!panel) { return; }
    document.querySelectorAll(".selected").forEach(function (el) { el.classList.remove("selected"); });
    row.classList.add("selected");
    selected = row.dataset.eventId || null;
    var result = await fetchFragment(row.dataset.detail);
    if (!result) { return; }
    if (result.html === undefined) { message(panel, result.text); return; }
    panel.innerHTML = result.html;
    localTimes(panel);
  }

  // ---------------------------------------------------------------- wiring
  document.addEventListener("DOMContentLoaded", function () {
    showKeyState();
    var form = $("filters");
    if (form) {
      fillForm(form);
      form.addEventListener("submit", function (event) { event.preventDefault(); applyForm(form); });
      form.addEventListener("change", function (event) {
        if (event.target.id === "live") { var c = $("content"); if (c) { schedule(c); } return; }
        if (event.target.tagName === "SELECT" || event.target.type === "checkbox") { applyForm(form); }
      });
    }
    $("key-form").addEventListener("submit", function () {
      var value = $("key-input").value.trim();
      if (!value) { return; }
      sessionStorage.setItem(KEY, value);
      $("key-input").value = "";
      showKeyState();
      loadAll();
    });
    $("forget-key").addEventListener("click", function () {
      sessionStorage.removeItem(KEY);
      showKeyState();
      askKey();
    });
    document.addEventListener("click", function (event) {
      var nav = event.target.closest("a[data-nav]");
      if (nav) {
        event.preventDefault();
        history.pushState(null, "", nav.getAttribute("href"));
        var content = $("content");
        if (content) { load(content); }
        return;
      }
      var detail = event.target.closest("[data-detail]");
      if (detail) { showDetail(detail); return; }
      var row = event.target.closest("tr[data-href]");
      if (row && !event.target.closest("a")) { location.href = row.dataset.href; }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" && event.key !== " ") { return; }
      var detail = event.target.closest && event.target.closest("[data-detail]");
      if (detail) { event.preventDefault(); showDetail(detail); }
    });
    window.addEventListener("popstate", function () {
      if (form) { fillForm(form); }
      loadAll();
    });
    if (getKey()) { loadAll(); } else { askKey(); }
  });
})();
