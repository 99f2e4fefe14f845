// Latchkey's browser side of the Kratos face's passkey and webauthn methods,
// served at /.well-known/ory/webauthn.js. Ory's UIs call the window
// functions defined here by the names the flow's nodes carry (onclick,
// onclickTrigger, onload, onloadTrigger): each reads the ceremony options
// from a node's value, runs navigator.credentials, writes the result as
// JSON into the method's hidden input and submits that input's form as a
// plain browser form (the server answers 303, like any form).
//
// Pages that forbid inline handlers with a Content-Security-Policy (the
// hosted /ui pages) mark their elements instead: data-latchkey-onclick and
// data-latchkey-onload name the function to call, and an element with
// data-latchkey-webauthn-error shows what went wrong.
;(function () {
  "use strict"

  if (typeof window === "undefined" || window.__latchkeyWebAuthn) {
    return
  }
  window.__latchkeyWebAuthn = true

  // base64url (RFC 4648 §5) without padding, as go-webauthn writes and
  // reads binary fields.
  function fromBase64URL(text) {
    var b64 = String(text).replace(/-/g, "+").replace(/_/g, "/")
    while (b64.length % 4 !== 0) {
      b64 += "="
    }
    var raw = atob(b64)
    var out = new Uint8Array(raw.length)
    for (var i = 0; i < raw.length; i++) {
      out[i] = raw.charCodeAt(i)
    }
    return out
  }

  function toBase64URL(buffer) {
    if (!buffer) {
      return undefined
    }
    var bytes = new Uint8Array(buffer)
    var raw = ""
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i])
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")
  }

  function decodeList(list) {
    if (!Array.isArray(list)) {
      return list
    }
    return list.map(function (c) {
      var copy = {}
      for (var k in c) {
        copy[k] = c[k]
      }
      copy.id = fromBase64URL(c.id)
      return copy
    })
  }

  // requestOptions turns the JSON of PublicKeyCredentialRequestOptions
  // (WebAuthn §5.5) into what navigator.credentials.get takes.
  function requestOptions(publicKey) {
    var pk = Object.assign({}, publicKey)
    pk.challenge = fromBase64URL(pk.challenge)
    if (pk.allowCredentials) {
      pk.allowCredentials = decodeList(pk.allowCredentials)
    }
    return pk
  }

  // creationOptions does the same for PublicKeyCredentialCreationOptions
  // (WebAuthn §5.4).
  function creationOptions(publicKey) {
    var pk = Object.assign({}, publicKey)
    pk.challenge = fromBase64URL(pk.challenge)
    pk.user = Object.assign({}, pk.user)
    pk.user.id = fromBase64URL(pk.user.id)
    if (pk.excludeCredentials) {
      pk.excludeCredentials = decodeList(pk.excludeCredentials)
    }
    return pk
  }

  function extensions(credential) {
    try {
      return credential.getClientExtensionResults() || {}
    } catch (e) {
      return {}
    }
  }

  // assertionJSON and attestationJSON serialise a PublicKeyCredential as
  // the JSON go-webauthn parses (WebAuthn §5.1, toJSON).
  function assertionJSON(credential) {
    var r = credential.response
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64URL(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: extensions(credential),
      response: {
        authenticatorData: toBase64URL(r.authenticatorData),
        clientDataJSON: toBase64URL(r.clientDataJSON),
        signature: toBase64URL(r.signature),
        userHandle: r.userHandle ? toBase64URL(r.userHandle) : undefined,
      },
    })
  }

  function attestationJSON(credential) {
    var r = credential.response
    var transports
    if (typeof r.getTransports === "function") {
      try {
        transports = r.getTransports()
      } catch (e) {
        transports = undefined
      }
    }
    return JSON.stringify({
      id: credential.id,
      rawId: toBase64URL(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: extensions(credential),
      response: {
        attestationObject: toBase64URL(r.attestationObject),
        clientDataJSON: toBase64URL(r.clientDataJSON),
        transports: transports,
      },
    })
  }

  function byName(name, scope) {
    var root = scope || document
    return root.querySelector('[name="' + name + '"]')
  }

  function formOf(el) {
    return el && (el.form || el.closest("form"))
  }

  // fail reports an error: on the page when it has a place for it, and in
  // the console. A cancelled prompt (NotAllowedError) is reported too, so
  // the user knows why nothing happened.
  function fail(where, err) {
    var text
    if (err && err.name === "NotAllowedError") {
      text = "The passkey or security key prompt was cancelled or timed out. Please try again."
    } else if (err && err.name === "SecurityError") {
      text = "This site may not use passkeys here: the page's address does not match the relying party. Open the page under its configured host name."
    } else if (err && err.name === "InvalidStateError") {
      text = "This passkey or security key is registered already."
    } else {
      text = (err && err.message) || String(err)
    }
    console.error("[Latchkey WebAuthn] " + where + ": " + text, err)
    var box = document.querySelector("[data-latchkey-webauthn-error]")
    if (box) {
      box.textContent = text
      box.hidden = false
    }
    return err
  }

  function supported(where) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      fail(where, new Error("This browser does not support passkeys or security keys (WebAuthn)."))
      return false
    }
    return true
  }

  function parse(el, where) {
    if (!el || !el.value) {
      throw new Error("The " + where + " data is missing from the page; reload it.")
    }
    return JSON.parse(el.value)
  }

  // submitWith writes value into the result input and submits its form
  // natively (no submit button: the server tells the method by the field).
  function submitWith(resultEl, value) {
    resultEl.value = value
    var form = formOf(resultEl)
    if (!form) {
      throw new Error("The " + resultEl.name + " input is not in a form.")
    }
    HTMLFormElement.prototype.submit.call(form)
  }

  // The conditional (autofill) request a passkey button cancels.
  var conditional = null

  function abortConditional() {
    if (conditional) {
      var c = conditional
      conditional = null
      try {
        c.abort()
      } catch (e) {
        // already settled
      }
    }
  }

  // passkeyLogin: the "Sign in with passkey" button. Reads passkey_challenge
  // ({"publicKey": …}), writes passkey_login.
  function passkeyLogin() {
    var where = "passkey login"
    if (!supported(where)) {
      return Promise.resolve()
    }
    var dataEl = byName("passkey_challenge")
    var resultEl = byName("passkey_login", formOf(dataEl))
    if (!dataEl || !resultEl) {
      return Promise.reject(fail(where, new Error("The passkey_challenge and passkey_login inputs are missing.")))
    }
    abortConditional()
    return Promise.resolve()
      .then(function () {
        var opt = parse(dataEl, "passkey_challenge")
        return navigator.credentials.get({ publicKey: requestOptions(opt.publicKey) })
      })
      .then(function (credential) {
        submitWith(resultEl, assertionJSON(credential))
      })
      .catch(function (err) {
        fail(where, err)
        // Offer autofill again after a cancelled prompt.
        return passkeyLoginAutocompleteInit()
      })
  }

  // passkeyLoginAutocompleteInit starts conditional mediation (WebAuthn
  // §5.1.4, mediation "conditional"): the browser offers passkeys in the
  // identifier field's autofill (autocomplete="username webauthn").
  function passkeyLoginAutocompleteInit() {
    var dataEl = byName("passkey_challenge")
    var resultEl = byName("passkey_login", formOf(dataEl))
    var identifierEl = byName("identifier", formOf(dataEl))
    if (!dataEl || !resultEl || !identifierEl) {
      return Promise.resolve()
    }
    if (
      !window.PublicKeyCredential ||
      typeof window.PublicKeyCredential.isConditionalMediationAvailable !== "function"
    ) {
      return Promise.resolve()
    }
    return window.PublicKeyCredential.isConditionalMediationAvailable()
      .then(function (available) {
        if (!available) {
          return
        }
        abortConditional()
        var opt = parse(dataEl, "passkey_challenge")
        var controller = new AbortController()
        conditional = controller
        return navigator.credentials
          .get({ publicKey: requestOptions(opt.publicKey), mediation: "conditional", signal: controller.signal })
          .then(function (credential) {
            if (conditional === controller) {
              conditional = null
            }
            if (credential) {
              submitWith(resultEl, assertionJSON(credential))
            }
          })
          .catch(function (err) {
            if (controller.signal.aborted || (err && err.name === "AbortError")) {
              return // a passkey button took over
            }
            console.error("[Latchkey WebAuthn] passkey autofill:", err)
          })
      })
      .catch(function (err) {
        console.error("[Latchkey WebAuthn] passkey autofill:", err)
      })
  }

  function register(resultEl, publicKey) {
    abortConditional()
    return navigator.credentials.create({ publicKey: creationOptions(publicKey) }).then(function (credential) {
      submitWith(resultEl, attestationJSON(credential))
    })
  }

  // passkeyRegistration: "Sign up with passkey". Reads passkey_create_data
  // ({"credentialOptions": {"publicKey": …}, "displayNameFieldName": …}),
  // names the passkey after the trait the field names, writes
  // passkey_register.
  function passkeyRegistration() {
    var where = "passkey registration"
    if (!supported(where)) {
      return Promise.resolve()
    }
    var dataEl = byName("passkey_create_data")
    var resultEl = byName("passkey_register", formOf(dataEl))
    if (!dataEl || !resultEl) {
      return Promise.reject(fail(where, new Error("The passkey_create_data and passkey_register inputs are missing.")))
    }
    return Promise.resolve()
      .then(function () {
        var data = parse(dataEl, "passkey_create_data")
        var publicKey = Object.assign({}, data.credentialOptions.publicKey)
        publicKey.user = Object.assign({}, publicKey.user)
        var nameEl = data.displayNameFieldName ? byName(data.displayNameFieldName, formOf(dataEl)) : null
        if (nameEl && nameEl.value) {
          publicKey.user.name = nameEl.value
          publicKey.user.displayName = nameEl.value
        }
        return register(resultEl, publicKey)
      })
      .catch(function (err) {
        throw fail(where, err)
      })
  }

  // passkeySettingsRegistration: "Add passkey" in settings. Reads
  // passkey_create_data ({"publicKey": …}), writes passkey_settings_register.
  function passkeySettingsRegistration() {
    var where = "adding a passkey"
    if (!supported(where)) {
      return Promise.resolve()
    }
    var dataEl = byName("passkey_create_data")
    var resultEl = byName("passkey_settings_register", formOf(dataEl))
    if (!dataEl || !resultEl) {
      return Promise.reject(fail(where, new Error("The passkey_create_data and passkey_settings_register inputs are missing.")))
    }
    return Promise.resolve()
      .then(function () {
        return register(resultEl, parse(dataEl, "passkey_create_data").publicKey)
      })
      .catch(function (err) {
        throw fail(where, err)
      })
  }

  // options returns the ceremony options of a webauthn call: the argument
  // when given (older UIs pass them), else the trigger button's value.
  function options(opt, triggerEl, what) {
    if (opt && typeof opt === "object" && opt.publicKey) {
      return opt
    }
    if (typeof opt === "string" && opt !== "") {
      return JSON.parse(opt)
    }
    return parse(triggerEl, what)
  }

  // webAuthnLogin: "Sign in with a security key". Options come from the
  // argument or webauthn_login_trigger's value; writes webauthn_login.
  function webAuthnLogin(opt, resultSelector, triggerSelector) {
    var where = "security key login"
    if (!supported(where)) {
      return Promise.resolve()
    }
    var triggerEl = document.querySelector(triggerSelector || '[name="webauthn_login_trigger"]')
    var resultEl = document.querySelector(resultSelector || '[name="webauthn_login"]')
    if (!resultEl) {
      return Promise.reject(fail(where, new Error("The webauthn_login input is missing.")))
    }
    return Promise.resolve()
      .then(function () {
        var o = options(opt, triggerEl, "webauthn_login_trigger")
        abortConditional()
        return navigator.credentials.get({ publicKey: requestOptions(o.publicKey) })
      })
      .then(function (credential) {
        submitWith(resultEl, assertionJSON(credential))
      })
      .catch(function (err) {
        throw fail(where, err)
      })
  }

  // webAuthnRegistration: "Add security key" / "Sign up with security key".
  // Options come from the argument or webauthn_register_trigger's value;
  // writes webauthn_register.
  function webAuthnRegistration(opt, resultSelector, triggerSelector) {
    var where = "security key registration"
    if (!supported(where)) {
      return Promise.resolve()
    }
    var triggerEl = document.querySelector(triggerSelector || '[name="webauthn_register_trigger"]')
    var resultEl = document.querySelector(resultSelector || '[name="webauthn_register"]')
    if (!resultEl) {
      return Promise.reject(fail(where, new Error("The webauthn_register input is missing.")))
    }
    return Promise.resolve()
      .then(function () {
        return register(resultEl, options(opt, triggerEl, "webauthn_register_trigger").publicKey)
      })
      .catch(function (err) {
        throw fail(where, err)
      })
  }

  var functions = {
    oryPasskeyLogin: passkeyLogin,
    oryPasskeyLoginAutocompleteInit: passkeyLoginAutocompleteInit,
    oryPasskeyRegistration: passkeyRegistration,
    oryPasskeySettingsRegistration: passkeySettingsRegistration,
    oryWebAuthnLogin: webAuthnLogin,
    oryWebAuthnRegistration: webAuthnRegistration,
  }
  // Both spellings: onclickTrigger names (oryPasskeyLogin, used by
  // @ory/elements-react) and the older __ory… names in onclick attributes.
  Object.keys(functions).forEach(function (name) {
    window[name] = functions[name]
    window["__" + name] = functions[name]
  })
  window.__oryWebAuthnInitialized = true

  // Pages without inline handlers mark their elements with data attributes.
  function wire() {
    var clicks = document.querySelectorAll("[data-latchkey-onclick]")
    for (var i = 0; i < clicks.length; i++) {
      ;(function (el) {
        var fn = functions[el.getAttribute("data-latchkey-onclick")]
        if (!fn || el.__latchkeyWired) {
          return
        }
        el.__latchkeyWired = true
        el.addEventListener("click", function (ev) {
          ev.preventDefault()
          fn().catch(function () {})
        })
      })(clicks[i])
    }
    var loads = document.querySelectorAll("[data-latchkey-onload]")
    for (var j = 0; j < loads.length; j++) {
      var fn = functions[loads[j].getAttribute("data-latchkey-onload")]
      if (fn) {
        fn()
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire)
  } else {
    wire()
  }
})()
