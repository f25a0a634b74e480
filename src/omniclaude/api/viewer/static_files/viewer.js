// OmniClaude viewer: the pages are rendered by the server (escaped, redacted); this script
// adds local times, the filter form's niceties, the detail panel and the live view. It never
// sees a key: requests carry the session cookie (HttpOnly), and it writes text of its own
// only with textContent.
(function () {
  "use strict";

  var selected = null;
  var timers = {};

  function $(id) { return document.getElementById(id); }

  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        el.title = el.textContent;
        el.textContent = when.toLocaleString();
      }
    });
  }

  function notice(target, text) {
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = text;
    target.replaceChildren(p);
  }

  // A page reached from another site (a link in a chat, a mail) does not carry the
  // SameSite=Strict cookie, so the server answered the login form with data-retry="1".
  // Asking again from this page (a same-site navigation) sends it; once per page, so
  // without a session the form stays.
  function retryWithSession() {
    var login = document.querySelector(".login[data-retry='1']");
    var mark = "omniclaude.retried:" + location.pathname + location.search;
    if (!login) { sessionStorage.removeItem(mark); return; }
    if (sessionStorage.getItem(mark)) { sessionStorage.removeItem(mark); return; }
    sessionStorage.setItem(mark, "1");
    location.replace(location.href);
  }

  // ---------------------------------------------------------------- fetching
  async function fetchPage(url) {
    var response;
    try {
      response = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } });
    } catch (err) {
      return { error: "The API did not answer (" + err.message + "). Is `omniclaude up` running?" };
    }
    if (response.status === 401) { location.reload(); return null; }
    var text = await response.text();
    return { status: response.status, html: text };
  }

  function swapContent(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
    var content = $("content");
    if (!fresh || !content) { return false; }
    content.replaceChildren.apply(content, Array.prototype.slice.call(fresh.childNodes));
    localTimes(content);
    if (selected) {
      var again = content.querySelector('[data-event-id="' + CSS.escape(selected) + '"]');
      if (again) { again.classList.add("selected"); }
    }
    return true;
  }

  async function refresh() {
    var result = await fetchPage(location.href);
    if (!result) { return; }
    if (result.error) { notice($("content"), result.error); return; }
    swapContent(result.html);
  }

  // ---------------------------------------------------------------- live views
  function visible() { return document.visibilityState === "visible"; }

  function liveWanted() {
    var box = $("live");
    return !box || box.checked;
  }

  // Lists and the overview: read the page again every data-refresh-ms while it is seen.
  function scheduleRefresh() {
    var content = $("content");
    var every = content ? Number(content.dataset.refreshMs || 0) : 0;
    clearTimeout(timers.page);
    if (!every) { return; }
    timers.page = setTimeout(async function () {
      if (visible() && liveWanted()) { await refresh(); }
      scheduleRefresh();
    }, every);
  }

  // A running trace: poll the documented /traces/{id}/activity with a cursor; when rows were
  // stored, read the page again (the waterfall is laid out on the server).
  function scheduleTrace(delay) {
    clearTimeout(timers.trace);
    timers.trace = setTimeout(pollTrace, delay);
  }

  async function pollTrace() {
    var missing = document.querySelector(".error-page[data-status='404']");
    if (missing && location.pathname.indexOf("/viewer/traces/") === 0) {
      if (visible()) { location.reload(); } else { scheduleTrace(3000); }
      return;
    }
    var content = $("content");
    var trace = content && content.querySelector(".trace");
    if (!trace || trace.dataset.live !== "1") { return; }
    if (!visible()) { scheduleTrace(2000); return; }
    var url = "/traces/" + encodeURIComponent(content.dataset.correlationId) + "/activity?limit=50";
    if (trace.dataset.after) { url += "&after=" + encodeURIComponent(trace.dataset.after); }
    var response;
    try {
      response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    } catch (err) { scheduleTrace(5000); return; }
    var wait = Number(response.headers.get("X-Poll-After-Ms") || 0) ||
      1000 * Number(response.headers.get("Retry-After") || 2);
    if (response.status === 401) { location.reload(); return; }
    if (!response.ok) { scheduleTrace(wait); return; }
    var body = await response.json();
    if (body.items.length || !body.running) { await refresh(); }
    else if (body.next_cursor) { trace.dataset.after = body.next_cursor; }
    scheduleTrace(wait);
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

  function submitFilters(form) {
    var params = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) { return; }
      if (el.type === "checkbox") { if (el.checked) { params.set(el.name, el.value); } return; }
      var value = el.type === "datetime-local" ? (el.value ? toIso(el.value) : "") : el.value.trim();
      if (value) { params.set(el.name, value); }
    });
    var query = params.toString();
    location.href = form.getAttribute("action") + (query ? "?" + query : "");
  }

  // ---------------------------------------------------------------- details
  async function showDetail(row) {
    var panel = $("detail");
    if (!panel) { return; }
    document.querySelectorAll(".selected").forEach(function (el) { el.classList.remove("selected"); });
    row.classList.add("selected");
    selected = row.dataset.eventId || null;
    var result = await fetchPage(row.dataset.detail);
    if (!result) { return; }
    if (result.error) { notice(panel, result.error); return; }
    panel.innerHTML = result.html;  // server-rendered, escaped and redacted
    localTimes(panel);
    if (window.matchMedia("(max-width: 1100px)").matches) { panel.scrollIntoView({ block: "nearest" }); }
  }

  // ---------------------------------------------------------------- wiring
  document.addEventListener("DOMContentLoaded", function () {
    retryWithSession();
    localTimes(document);
    var form = $("filters");
    if (form) {
      form.querySelectorAll("input[type=datetime-local][data-iso]").forEach(function (el) {
        if (el.dataset.iso) { el.value = toLocalInput(el.dataset.iso); }
      });
      form.addEventListener("submit", function (event) { event.preventDefault(); submitFilters(form); });
      form.addEventListener("change", function (event) {
        if (event.target.id === "live") { scheduleRefresh(); return; }
        if (event.target.tagName === "SELECT" || event.target.type === "checkbox") { submitFilters(form); }
      });
    }
    document.addEventListener("click", function (event) {
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
    scheduleRefresh();
    if (document.body.dataset.page === "trace") { scheduleTrace(2000); }
    if (document.body.dataset.page === "error") { scheduleTrace(3000); }
  });
})();
