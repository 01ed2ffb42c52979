// What every page's forms share (templates/_form.html): after a failed post the
// error summary takes focus, so a screen reader reads it and a keyboard user starts
// there; a field with a character limit counts down near the limit (the limit is
// a hint, never a maxlength that would cut a pasted text without a word); and a
// focused element is never left under something fixed to the screen (WCAG 2.4.11).
// The phone menu (a <details>) also closes with Escape, as a disclosure menu is
// expected to, and gives the focus back to its button.
(function () {
  "use strict";
  var lang = document.documentElement.lang;
  var TEXTS = {
    sv: { left: "{n} tecken kvar", over: "{n} tecken för mycket" },
    en: { left: "{n} characters left", over: "{n} characters too many" },
    ar: { left: "متبقٍّ {n} حرفًا", over: "{n} حرفًا أكثر من اللازم" },
    fa: { left: "{n} نویسه باقی مانده", over: "{n} نویسه بیش از حد" }
  };
  var T = TEXTS[lang] || TEXTS.en;

  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  // The count is said only in the last tenth of the limit (and past it), and only
  // after a pause in typing, so it does not speak over every key.
  document.querySelectorAll("[data-limit]").forEach(function (field) {
    var limit = parseInt(field.getAttribute("data-limit"), 10);
    var hint = document.querySelector('[data-limit-for="' + field.id + '"] .char-count');
    if (!limit || !hint) { return; }
    var timer = null;
    function update() {
      var length = field.value.length;
      var left = limit - length;
      var near = length >= limit * 0.9;
      hint.classList.toggle("is-over", left < 0);
      hint.textContent = !near ? "" : (left >= 0 ? T.left : T.over).replace("{n}", String(Math.abs(left)));
    }
    field.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(update, 700); });
    field.addEventListener("blur", update);
    update();
  });

  // Anything fixed or sticky (the idle warning, a sticky panel) that covers the
  // focused element: scroll the page so the element shows beside it.
  function coverOf(target) {
    var rect = target.getBoundingClientRect();
    var shift = 0;
    document.querySelectorAll(".session-warning:not([hidden]), [data-fixed]").forEach(function (el) {
      if (el.contains(target)) { return; }
      var r = el.getBoundingClientRect();
      var overlaps = r.width && r.height && rect.bottom > r.top && rect.top < r.bottom && rect.right > r.left && rect.left < r.right;
      if (!overlaps) { return; }
      if (r.top > window.innerHeight / 3) {
        shift = Math.max(shift, rect.bottom - r.top + 8);  // at the bottom: move the element up
      } else {
        shift = Math.min(shift, rect.top - r.bottom - 8);  // at the top: move it down
      }
    });
    return shift;
  }
  document.addEventListener("focusin", function (event) {
    var shift = coverOf(event.target);
    if (shift) { window.scrollBy(0, shift); }
  });
  window.lotsaUncover = function (el) {
    var shift = coverOf(el);
    if (shift) { window.scrollBy(0, shift); }
  };
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var menu = document.querySelector("details.menu[open]");
    if (!menu || getComputedStyle(menu.querySelector(".menu-button")).display === "none") { return; }
    menu.open = false;
    menu.querySelector(".menu-button").focus();
  });
})();
