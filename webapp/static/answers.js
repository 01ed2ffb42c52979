// Answers save themselves while the patient types (and still save with the
// button when JavaScript is off). Unsent text is kept in localStorage until the
// server confirms it, so a reload or a lost connection never loses text; an
// answer changed in another tab is shown as a conflict, never overwritten.
(function () {
  "use strict";
  var DELAY = 1500;
  var lang = document.documentElement.lang;
  var TEXTS = {
    sv: { saving: "Sparar …", saved: "Sparat", failed: "Kunde inte spara. Texten finns kvar här och sparas när anslutningen fungerar igen.", restored: "Osparad text från förra gången är återställd.", login: "Du har blivit utloggad. Texten finns kvar här. Logga in igen så sparas den.", loginLink: "Logga in", conflict: "Svaret ändrades i ett annat fönster. Båda versionerna är sparade. Den sparade versionen:" },
    en: { saving: "Saving …", saved: "Saved", failed: "Could not save. Your text is kept here and will be saved when the connection works again.", restored: "Unsaved text from last time has been restored.", login: "You have been logged out. Your text is kept here. Log in again and it will be saved.", loginLink: "Log in", conflict: "This answer was changed in another window. Both versions are kept. The saved version:" },
    ar: { saving: "جارٍ الحفظ …", saved: "تم الحفظ", failed: "تعذّر الحفظ. نصّك محفوظ هنا وسيُحفظ عندما يعود الاتصال.", restored: "تمت استعادة نص لم يُحفظ من المرة السابقة.", login: "تم تسجيل خروجك. نصّك محفوظ هنا. سجّل الدخول مرة أخرى وسيُحفظ.", loginLink: "تسجيل الدخول", conflict: "تم تغيير هذه الإجابة في نافذة أخرى. تم الاحتفاظ بالنسختين. النسخة المحفوظة:" }
  };
  var T = TEXTS[lang] || TEXTS.en;

  function storageKey(form) { return "lotsa-draft:" + form.getAttribute("action"); }

  function snapshot(form) {
    var data = { text: "", value: null, checked: [] };
    var text = form.querySelector("textarea[name=text]");
    if (text) { data.text = text.value; }
    var radio = form.querySelector("input[name=value]:checked");
    if (radio) { data.value = radio.value; }
    form.querySelectorAll("input[name=checked]:checked").forEach(function (box) { data.checked.push(box.value); });
    return data;
  }

  function apply(form, data) {
    var text = form.querySelector("textarea[name=text]");
    if (text && typeof data.text === "string") { text.value = data.text; }
    form.querySelectorAll("input[name=value]").forEach(function (radio) { radio.checked = String(data.value) === radio.value; });
    form.querySelectorAll("input[name=checked]").forEach(function (box) { box.checked = data.checked.indexOf(box.value) !== -1; });
  }

  // Screen readers hear a problem at once, but "Saved" only once the patient has
  // stopped typing for QUIET ms (or left the answer): a sentence typed with pauses
  // is not interrupted by a "Saving … Saved" after every word.
  var QUIET = 2000;

  function status(form, message, isError) {
    var el = form.querySelector(".save-status");
    el.textContent = message;
    el.classList.toggle("is-error", !!isError);
    if (isError) { announce(form, message); }
  }

  function announce(form, message) {
    var region = form.querySelector(".save-announce");
    clearTimeout(form._announceTimer);
    form._pendingSaved = false;
    if (!region) { return; }
    region.textContent = message;
  }

  function announceSaved(form) {
    clearTimeout(form._announceTimer);
    form._pendingSaved = true;
    var wait = Math.max(0, (form._lastInput || 0) + QUIET - Date.now());
    form._announceTimer = setTimeout(function () { announce(form, T.saved); }, wait);
  }

  function typed(form) {
    form._lastInput = Date.now();
    clearTimeout(form._announceTimer);
    var region = form.querySelector(".save-announce");
    // A "Saved" still waiting belongs to text that has changed since: drop it.
    if (form._pendingSaved) { form._pendingSaved = false; }
    if (region && region.textContent) { region.textContent = ""; }
  }

  function showError(form, message) {
    // The script-enhanced error is tied to the field as the server-rendered one is.
    var field = form.querySelector("textarea[name=text]") || form.querySelector(".scale[role=radiogroup]");
    var id = (field && field.id ? field.id : "answer-" + form.dataset.answer) + "-error";
    var box = document.getElementById(id);
    if (!message) {
      if (box) { box.remove(); }
      form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
      if (field) { setDescribed(field, id, false); }
      return;
    }
    if (!box) {
      box = document.createElement("p");
      box.className = "field-errors";
      box.id = id;
      field.parentNode.insertBefore(box, field);
    }
    box.textContent = message;
    if (field) {
      setDescribed(field, id, true);
      (field.matches("textarea") ? [field] : field.querySelectorAll("input")).forEach(function (el) { el.setAttribute("aria-invalid", "true"); });
    }
  }

  function setDescribed(el, id, on) {
    var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) { return x && x !== id; });
    if (on) { ids.push(id); }
    if (ids.length) { el.setAttribute("aria-describedby", ids.join(" ")); } else { el.removeAttribute("aria-describedby"); }
  }

  function showConflict(form, json) {
    var box = form.querySelector(".conflict-live");
    if (!box) {
      box = document.createElement("div");
      box.className = "conflict conflict-live";
      box.setAttribute("role", "alert");
      form.querySelector("fieldset").insertBefore(box, form.querySelector(".answer-actions"));
    }
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = T.conflict;
    var saved = document.createElement("p");
    saved.className = "answer-text";
    saved.textContent = json.text || "";
    box.appendChild(p);
    box.appendChild(saved);
  }

  function send(form) {
    var data = snapshot(form);
    var body = new FormData(form);
    status(form, T.saving);
    form.dataset.inflight = "1";
    return fetch(form.getAttribute("action"), {
      method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (json) { return { response: response, json: json }; });
    }).then(function (result) {
      var json = result.json;
      if (result.response.ok) {
        form.querySelector("input[name=base_version]").value = json.version;
        // Only forget the draft if nothing was typed while it was on its way.
        if (JSON.stringify(snapshot(form)) === JSON.stringify(data)) { localStorage.removeItem(storageKey(form)); }
        showError(form, null);
        status(form, T.saved);
        announceSaved(form);
      } else if (result.response.status === 401) {
        // The session has ended: the text stays in this browser (and on the server, encrypted) until saved.
        status(form, T.login, true);
        var link = document.createElement("a");
        link.href = "/auth/login?next=" + encodeURIComponent(location.pathname);
        link.textContent = T.loginLink;
        var el = form.querySelector(".save-status");
        el.appendChild(document.createTextNode(" "));
        el.appendChild(link);
      } else if (result.response.status === 409) {
        // Next save is a deliberate choice made after seeing the other version.
        form.querySelector("input[name=base_version]").value = json.version;
        showConflict(form, json);
        status(form, json.message, true);
      } else if (result.response.status === 400) {
        showError(form, json.message || T.failed);
        status(form, json.message || T.failed, true);
      } else {
        status(form, json.message || T.failed, true);
      }
    }).catch(function () {
      status(form, T.failed, true);
    }).then(function () { delete form.dataset.inflight; });
  }

  document.querySelectorAll("form.answer-form[action]").forEach(function (form) {
    var timer = null;
    var stored = localStorage.getItem(storageKey(form));
    if (stored) {
      try {
        var draft = JSON.parse(stored);
        if (JSON.stringify(draft) !== JSON.stringify(snapshot(form))) {
          apply(form, draft);
          status(form, T.restored);
          send(form);
        } else {
          localStorage.removeItem(storageKey(form));
        }
      } catch (e) { localStorage.removeItem(storageKey(form)); }
    }
    function changed() {
      typed(form);
      localStorage.setItem(storageKey(form), JSON.stringify(snapshot(form)));
      clearTimeout(timer);
      timer = setTimeout(function () { send(form); }, DELAY);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    // Leaving the answer: a save that has landed is said now.
    form.addEventListener("focusout", function (event) {
      if (form.contains(event.relatedTarget)) { return; }
      if (form._pendingSaved) { announce(form, T.saved); }
      else { form._lastInput = 0; }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearTimeout(timer);
      form._lastInput = 0;  // the patient asked to save: say when it is done
      send(form);
    });
  });

  window.addEventListener("online", function () {
    document.querySelectorAll("form.answer-form[action]").forEach(function (form) {
      if (localStorage.getItem(storageKey(form))) { send(form); }
    });
  });

  // A slider moves the number field beside it (which holds the answer and shows
  // its value); typing a number moves the slider.
  document.querySelectorAll("input[type=range][data-sync]").forEach(function (range) {
    var field = document.getElementById(range.dataset.sync);
    if (!field) { return; }
    range.hidden = false;
    range.addEventListener("input", function () { field.value = range.value; });
    field.addEventListener("input", function () { if (field.value !== "") { range.value = field.value; } });
  });

  var print = document.querySelector("[data-print]");
  if (print) {
    print.hidden = false;
    print.addEventListener("click", function () { window.print(); });
  }
})();
