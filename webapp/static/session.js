// Idle-timeout warning (WCAG 2.2.1): about two minutes before the server ends an
// idle session, show a notice with a "Stay logged in" button. Without JavaScript
// the session still ends on the server; the button also works as a plain form.
(function () {
  "use strict";
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-session-seconds"), 10);
  if (isNaN(seconds)) { return; }
  var warning = parseInt(body.getAttribute("data-session-warning"), 10) || 120;
  var extendUrl = body.getAttribute("data-session-extend");
  var loginUrl = body.getAttribute("data-session-login");
  var box = document.getElementById("session-warning");
  var button = document.getElementById("session-extend");
  var warnTimer, endTimer, previousFocus;

  function schedule(secondsLeft) {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    warnTimer = setTimeout(show, Math.max(0, secondsLeft - warning) * 1000);
    endTimer = setTimeout(function () { window.location.href = loginUrl; }, (secondsLeft + 1) * 1000);
  }

  // While the notice shows, the page gets room below its end as tall as the notice,
  // so every link can be scrolled out from under it, and focus never lands beneath it
  // (forms.js scrolls a covered element into the open; WCAG 2.2 "focus not obscured").
  function makeRoom() {
    var room = box.hidden ? "" : (box.offsetHeight + 24) + "px";
    body.style.paddingBlockEnd = room;
    document.documentElement.style.scrollPaddingBlockEnd = room;
  }

  function show() {
    previousFocus = document.activeElement;
    box.hidden = false;
    makeRoom();
    button.focus();
  }

  function hide() {
    box.hidden = true;
    makeRoom();
    if (previousFocus && previousFocus.focus) { previousFocus.focus(); }
  }
  window.addEventListener("resize", function () { if (!box.hidden) { makeRoom(); } });
  // For the browser tests: the notice as it shows two minutes before the end.
  box.lotsaShow = show;

  box.querySelector("form").addEventListener("submit", function (event) {
    event.preventDefault();
    var data = new FormData(event.target);
    fetch(extendUrl, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error("extend failed"); }
      return response.json();
    }).then(function (json) {
      hide();
      schedule(json.seconds_left);
    }).catch(function () {
      // Fall back to a normal form post, which reloads the page.
      event.target.submit();
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !box.hidden) {
      button.click();
    }
  });

  schedule(seconds);
})();
