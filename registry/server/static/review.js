// The review UI's one script (no framework, no build step, nothing from another host).
// Reveal a blurred picture or video, keyboard navigation (j/k, Enter, space, c, r, x, /, ?),
// decisions sent with the session's CSRF token, the compare overlay's fader and blink.
// Every form also works without this script.
(function () {
  "use strict";
  var csrf = (document.querySelector("meta[name=csrf]") || {}).content || "";

  // --- reveal -----------------------------------------------------------------------------
  function setRevealed(figure, on) {
    figure.classList.toggle("revealed", on);
    figure.querySelectorAll(".sensitive").forEach(function (el) {
      el.classList.toggle("revealed", on);
      if (!on && el.tagName === "VIDEO") { el.pause(); }
      if (el.tagName === "VIDEO") { el.muted = el.muted || !on; }
    });
  }
  function toggle(figure) { setRevealed(figure, !figure.classList.contains("revealed")); }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("[data-action=reveal]");
    if (button) { ev.preventDefault(); toggle(button.closest(".media")); return; }
    var help = ev.target.closest("[data-action=help]");
    if (help) { showHelp(); }
  });

  // --- the current item (j/k) --------------------------------------------------------------
  function navs() { return Array.prototype.slice.call(document.querySelectorAll("[data-nav]")); }
  function current() { return document.querySelector("[data-nav].current"); }
  function select(el) {
    var old = current();
    if (old) { old.classList.remove("current"); }
    if (el) { el.classList.add("current"); el.scrollIntoView({block: "nearest"}); }
  }
  function move(step) {
    var all = navs().filter(function (el) { return !el.classList.contains("decided"); });
    if (!all.length) { return; }
    var i = all.indexOf(current());
    i = i < 0 ? (step > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, i + step));
    select(all[i]);
  }
  function mediaOf(el) {
    if (el) { var m = el.querySelector(".media"); if (m) { return m; } }
    return document.querySelector("main .media");
  }

  // --- deciding ----------------------------------------------------------------------------
  function post(url, fields) {
    var body = new URLSearchParams(fields);
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Accept": "application/json"}
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }
  function mark(row, decision, reason) {
    var status = row.querySelector(".status");
    if (status) {
      status.innerHTML = "";
      var span = document.createElement("span");
      span.className = "state state-" + decision;
      span.textContent = decision + " by you" + (reason ? ": \u201c" + reason + "\u201d" : "");
      status.appendChild(span);
    }
    row.classList.add("decided");
    row.dataset.decision = decision;
  }
  function fail(row, err) {
    var status = row.querySelector(".status") || row;
    var p = document.createElement("p");
    p.className = "error";
    p.textContent = "not recorded (" + err.message + ")";
    status.appendChild(p);
  }
  // A decide form (item page, compare page): sent by script, the row updated in place;
  // on the compare page the form's ``next`` (the queue's next pair) is followed.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList.contains("decide")) { return; }
    ev.preventDefault();
    var button = ev.submitter || form.querySelector("[data-action=confirm]");
    var fields = new FormData(form);
    fields.set("decision", button.value);
    var row = form.closest("[data-nav]") || form;
    var reason = fields.get("reason") || "";
    post("/decide", fields).then(function () {
      mark(row, button.value, reason);
      var next = fields.get("next");
      if (document.body.classList.contains("compare-page") && next) { window.location.assign(next); }
      else { move(1); }
    }, function (err) { fail(row, err); });
  });
  // The queue's per-row buttons.
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest(".row-decide [data-action]");
    if (!button) { return; }
    ev.preventDefault();
    var holder = button.closest(".row-decide");
    var row = button.closest("[data-nav]");
    var decision = button.dataset.action === "confirm" ? "confirmed" : "rejected";
    var reasonField = document.querySelector(".bulk input[name=reason]");
    var reason = reasonField ? reasonField.value : "";
    post("/decide", {a: holder.dataset.a, b: holder.dataset.b, case: holder.dataset.case,
                     decision: decision, reason: reason}).then(function () {
      mark(row, decision, reason);
      var box = row.querySelector("input[name=pair]");
      if (box) { box.checked = false; box.disabled = true; }
      move(1);
    }, function (err) { fail(row, err); });
  });
  function decideCurrent(action) {
    var row = current() || document.querySelector(".page-decide");
    if (!row || row.classList.contains("decided")) { return; }
    var button = row.querySelector("[data-action=" + action + "]");
    if (!button) { return; }
    if (button.form && button.form.classList.contains("decide")) { button.form.requestSubmit(button); }
    else { button.click(); }
  }

  // --- select all (queue) ------------------------------------------------------------------
  document.addEventListener("change", function (ev) {
    if (!ev.target.classList.contains("select-all")) { return; }
    document.querySelectorAll("input[name=pair]:not(:disabled)").forEach(function (box) {
      box.checked = ev.target.checked;
    });
  });

  // --- overlay: fader and blink ------------------------------------------------------------
  var blinking = null;
  document.addEventListener("input", function (ev) {
    if (!ev.target.classList.contains("fader")) { return; }
    var over = document.querySelector(".overlay img.over");
    if (over) { over.style.opacity = String(ev.target.value / 100); }
  });
  document.addEventListener("click", function (ev) {
    if (!ev.target.closest("[data-action=blink]")) { return; }
    var over = document.querySelector(".overlay img.over");
    if (!over) { return; }
    if (blinking) { clearInterval(blinking); blinking = null; over.style.opacity = "0.5"; return; }
    var shown = false;
    blinking = setInterval(function () { shown = !shown; over.style.opacity = shown ? "1" : "0"; }, 600);
  });

  // --- keyboard ----------------------------------------------------------------------------
  function showHelp() {
    var d = document.getElementById("help");
    if (d && !d.open) { d.showModal(); }
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var t = ev.target;
    var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (typing) {
      if (ev.key === "Escape") { t.blur(); }
      return;
    }
    var key = ev.key;
    if (key === "j") { move(1); }
    else if (key === "k") { move(-1); }
    else if (key === " ") {
      if (document.body.classList.contains("compare-page")) {
        // Both copies (and the overlay, the frames) together: they are looked at together.
        var all = document.querySelectorAll("main .media");
        var on = all.length && !all[0].classList.contains("revealed");
        all.forEach(function (f) { setRevealed(f, on); });
      } else { var m = mediaOf(current()); if (m) { toggle(m); } }
    }
    else if (key === "c") { decideCurrent("confirm"); }
    else if (key === "r") { decideCurrent("reject"); }
    else if (key === "x") {
      var box = current() && current().querySelector("input[name=pair]");
      if (box && !box.disabled) { box.checked = !box.checked; }
    }
    else if (key === "Enter") {
      var cur = current();
      if (cur && cur.dataset.open && !(t && t.closest && t.closest("a,button"))) { window.location.assign(cur.dataset.open); }
      else { return; }
    }
    else if (key === "/") { var q = document.querySelector("input[name=q]"); if (q) { q.focus(); q.select(); } else { return; } }
    else if (key === "?") { showHelp(); }
    else { return; }
    ev.preventDefault();
  });
})();
