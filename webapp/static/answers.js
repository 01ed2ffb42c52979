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

  function status(form, message, isError) {
    var el = form.querySelector(".save-status");
    el.textContent = message;
    el.classList.toggle("is-error", !!isError);
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
        status(form, T.saved);
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
      localStorage.setItem(storageKey(form), JSON.stringify(snapshot(form)));
      clearTimeout(timer);
      timer = setTimeout(function () { send(form); }, DELAY);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearTimeout(timer);
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
