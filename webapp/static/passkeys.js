/* Passkeys (WebAuthn): register one, or log in with one, from a form marked
   data-passkey="register" | "login". The server sends the options as JSON
   (webauthn's options_to_json); the browser's own JSON helpers turn them into
   what navigator.credentials wants and the answer back into JSON. */
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-passkey]");
  if (!forms.length) return;
  var supported = window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  function post(url, token, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token, "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.message || String(response.status));
        return data;
      });
    });
  }

  forms.forEach(function (form) {
    var status = form.querySelector("[data-passkey-status]");
    var button = form.querySelector("button");
    if (!supported) {
      status.textContent = form.dataset.unsupported;
      button.disabled = true;
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var token = form.querySelector("input[name=csrf_token]").value;
      var register = form.dataset.passkey === "register";
      button.disabled = true;
      status.textContent = form.dataset.waiting;
      post(form.dataset.optionsUrl, token, {}).then(function (options) {
        return register
          ? navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)})
          : navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options)});
      }).then(function (credential) {
        return post(form.action, token, credential.toJSON());
      }).then(function (result) {
        window.location.assign(result.redirect);
      }).catch(function (error) {
        button.disabled = false;
        status.textContent = form.dataset.failed;
        if (window.console) console.warn("passkey:", error);
      });
    });
  });
})();
