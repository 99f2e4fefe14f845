// Hanko's <hanko-auth> (hanko-elements, unchanged) in headless Chromium
// against `latchkey serve --dev`: registration with e-mail verification and
// a password, logout, password login, passcode login, then the frontend SDK's
// own calls (/me, /users/{id}, /sessions/validate) from the page, and
// passkeys: one created in <hanko-profile> with Chromium's virtual
// authenticator (CDP WebAuthn domain) signs in with "Sign in with a passkey"
// and through autofill (conditional mediation). Last, an authenticator app
// set up in <hanko-profile> is asked for after the password (TOTP, each code
// once).
//
// Configuration (set by e2e/run.sh): LATCHKEY_PUBLIC_URL (the API as the
// page calls it, on host localhost so page and API are same-site),
// E2E_PAGE_PORT (the page's port; the server allows its origin through
// LATCHKEY_HANKO_CORS_ALLOW_ORIGINS), LATCHKEY_LOG_FILE (the server's JSON
// log, where the dev courier writes passcodes), E2E_ARTIFACTS (where
// screenshots go), E2E_CHROMIUM (the browser, default /usr/bin/chromium).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { TOTP } from 'otpauth'
import { adminAPIKey, adminURL, courierCode, courierMessages } from '../../lib/server.js'
import { api, openBrowser } from './browser.js'

const email = `elements-${randomUUID().slice(0, 8)}@example.com`
const password = 'elements password 1'
const newPassword = 'elements password 2'
const recoveredPassword = 'elements password 3'
const timeout = 15_000

let b, context, page, pageOrigin, shot, step

before(async () => {
  // ?noautofill makes the page report no conditional mediation, as a
  // browser without autofill for passkeys would: hanko-elements then offers
  // only the "Sign in with a passkey" button.
  b = await openBrowser({
    timeout,
    initScript: () => {
      if (new URLSearchParams(location.search).has('noautofill') && window.PublicKeyCredential) {
        window.PublicKeyCredential.isConditionalMediationAvailable = async () => false
      }
    },
  })
  ;({ context, page, pageOrigin, shot, step } = b)
})

after(() => b?.close())

// open loads the page and waits until hanko-elements is registered and
// <hanko-auth> shows its first page (view "profile": <hanko-profile> shows
// the user's e-mail addresses).
async function open(view = 'auth', extra = '') {
  await page.goto(`${pageOrigin}/?api=${encodeURIComponent(api)}&view=${view}${extra}`)
  await page.waitForFunction(() => window.hankoReady || window.hankoError)
  assert.equal(await page.evaluate(() => window.hankoError), undefined)
  await page.getByRole('heading', { name: view === 'profile' ? /emails/i : /sign in|create account/i }).waitFor()
  await settle()
}

// settle waits out hanko-elements' re-render of a new flow's first state:
// after creating a flow, elements 2.7.0 dispatches the first state's
// after-state-change event again 500 ms later (a setTimeout in its
// AppProvider), which puts the first page back even if the user moved on
// (hanko-protocol notes §7). A person never types that fast; the test must
// not either.
async function settle() {
  await page.waitForLoadState('networkidle')
  await page.waitForTimeout(800)
}

// sessionCreated waits for the n-th hanko-session-created event since the
// page was loaded.
async function sessionCreated(n = 1) {
  await page.waitForFunction(
    (n) => window.hankoEvents.filter((e) => e.type === 'session-created').length >= n,
    n,
  )
  const events = await page.evaluate(() => window.hankoEvents.filter((e) => e.type === 'session-created'))
  return events[n - 1].detail
}

// skipOnboarding waits for the hanko-session-created event, clicking "Skip"
// whenever hanko-elements offers to create a passkey first (a Hanko server
// with passkeys on does so when Chromium reports WebAuthn). Only the passkey
// page's skip is clicked: the password page has a "Skip" link too.
async function skipOnboarding() {
  const passkeyPage = page.getByRole('heading', { name: /passkey/i })
  for (;;) {
    const done = page.waitForFunction(() => window.hankoEvents.some((e) => e.type === 'session-created'))
    const which = await Promise.race([done.then(() => 'done'), passkeyPage.waitFor().then(() => 'passkey')])
    if (which === 'done') return
    await page.getByText(/^skip$/i).click()
    // After the last step <hanko-auth> may keep showing the page it left;
    // the session event ends the wait as well.
    await Promise.race([done, passkeyPage.waitFor({ state: 'detached' })])
  }
}

// Hanko's passcode templates, by what the passcode is for.
const templates = { registration: 'email_verification', login: 'login', recovery: 'recovery' }

// seen counts the passcode mails of template to to so far.
async function seen(template, to = email) {
  return (await courierMessages(to, { template })).length
}

// enterPasscode types the newest code of template the dev courier logged
// for the address after the first `before` ones.
async function enterPasscode(template, before) {
  const code = await courierCode(email, { template, after: before })
  assert.match(code, /^\d{6}$/)
  await page.getByRole('heading', { name: /enter passcode/i }).waitFor()
  const first = page.locator('hanko-auth input:not([type="hidden"])').first()
  await first.waitFor()
  await first.click()
  // One digit per box; hanko-elements submits by itself once all are there.
  await page.keyboard.type(code, { delay: 30 })
}

// hankoCookie is the session cookie the API set for host localhost.
async function hankoCookie() {
  return (await context.cookies(api)).find((c) => c.name === 'hanko')
}

async function assertSessionCookie() {
  const c = await hankoCookie()
  assert.ok(c, 'hanko cookie set')
  assert.equal(c.httpOnly, true)
  assert.equal(c.sameSite, 'Strict')
  assert.match(c.value, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'the cookie holds a JWT')
  return c
}

let userID

test('registration with e-mail verification and a password', async () => {
  await step('registration', async () => {
    await open()
    await page.getByText('Create account', { exact: true }).click()
    await page.getByRole('heading', { name: /create account/i }).waitFor()
    await settle()
    await page.getByPlaceholder(/email/i).fill(email)
    const before = await seen(templates.registration)
    await page.getByRole('button', { name: /^continue$/i }).click()
    await enterPasscode(templates.registration, before)
    // With passkeys on, registration offers a passkey before the password
    // (Hanko's order): skip it, as a user without one would.
    const pw = page.getByPlaceholder(/password/i).first()
    const passkeyPage = page.getByRole('heading', { name: /passkey/i })
    await pw.or(passkeyPage).first().waitFor()
    if (await passkeyPage.isVisible()) {
      await page.getByText(/^skip$/i).click()
      await passkeyPage.waitFor({ state: 'detached' })
    }
    await pw.waitFor()
    await page.getByPlaceholder(/password/i).first().fill(password)
    await page.getByRole('button', { name: /^continue$/i }).click()
    await skipOnboarding()
    const detail = await sessionCreated()
    assert.ok(detail.claims?.subject ?? detail.userID, `session detail ${JSON.stringify(detail)}`)
    userID = detail.claims?.subject ?? detail.userID
    await assertSessionCookie()
    await shot('1-registration')
  })
})

test('logout through the SDK', async () => {
  await step('logout', async () => {
    await page.evaluate(() => window.hanko.user.logout())
    await page.waitForFunction(() => window.hankoEvents.some((e) => e.type === 'user-logged-out'))
    const c = await hankoCookie()
    assert.ok(!c || c.value === '', 'hanko cookie removed')
    const valid = await page.evaluate(() => window.hanko.session.validate())
    assert.equal(valid.is_valid, false)
    await open()
    await shot('2-logout')
  })
})

// passwordLogin logs in on the open login page with pw, first trying
// wrongPassword when given (the page must show the error and stay; its
// screenshot is <label>-wrong-password). Hanko counts every password attempt
// against hanko.rate_limiter.password_limits (5 a minute per user by
// default), so the suite makes at most 5.
async function passwordLogin(label, pw, wrongPassword) {
  await page.getByPlaceholder(/email/i).fill(email)
  await page.getByRole('button', { name: /^continue$/i }).click()
  // Passwords and passcodes are both on: the method chooser comes first.
  const choose = page.getByRole('button', { name: /password/i })
  const input = page.getByPlaceholder(/password/i)
  await choose.or(input).first().waitFor()
  if (!(await input.isVisible())) await choose.click()
  const signIn = page.getByRole('button', { name: /^sign in$/i })
  if (wrongPassword) {
    await input.fill(wrongPassword)
    const answer = page.waitForResponse((r) => r.url().includes('action=password_login'))
    await signIn.click()
    assert.equal((await answer).status(), 400)
    await page.getByText(/invalid/i).first().waitFor()
    await shot(`${label}-wrong-password`)
  }
  await input.fill(pw)
  await signIn.click()
  await skipOnboarding()
  const detail = await sessionCreated()
  assert.equal(detail.claims?.subject ?? detail.userID, userID)
  await assertSessionCookie()
}

test('password login (a wrong password first)', async () => {
  await step('password-login', async () => {
    await passwordLogin('3-password-login', password, 'not the password')
    await shot('3-password-login')
  })
})

test('passcode login', async () => {
  await step('passcode-login', async () => {
    await page.context().clearCookies()
    await page.evaluate(() => localStorage.clear())
    await open()
    await page.getByPlaceholder(/email/i).fill(email)
    const before = await seen(templates.login)
    await page.getByRole('button', { name: /^continue$/i }).click()
    const chooser = page.getByRole('button', { name: /passcode|code/i })
    const codeInput = page.getByRole('heading', { name: /enter passcode/i })
    await chooser.or(codeInput).first().waitFor()
    if (!(await codeInput.isVisible())) await chooser.first().click()
    await enterPasscode(templates.login, before)
    await skipOnboarding()
    const detail = await sessionCreated()
    assert.equal(detail.claims?.subject ?? detail.userID, userID)
    await assertSessionCookie()
    await shot('4-passcode-login')
  })
})

test('the SDK reads the user and validates the session with the cookie', async () => {
  await step('sdk', async () => {
    const out = await page.evaluate(async () => {
      const h = window.hanko
      return {
        current: await h.user.getCurrent(),
        currentUser: await h.user.getCurrentUser(),
        validate: await h.session.validate(),
      }
    })
    assert.equal(out.current.id, userID)
    assert.ok(out.current.emails.some((e) => e.address === email && e.is_verified), JSON.stringify(out.current))
    assert.equal(out.currentUser.id, userID)
    assert.equal(out.validate.is_valid, true)
    assert.equal(out.validate.user_id ?? out.validate.claims?.subject, userID)
    await page.evaluate((u) => {
      document.getElementById('status').textContent = 'SDK: /me, /users/' + u.id + ', /sessions/validate ok\n' + JSON.stringify(u, null, 1)
    }, out.current)
    await shot('5-sdk')
  })
})

test('<hanko-profile> adds, verifies and deletes an address, revokes a session', async () => {
  await step('profile-emails', async () => {
    await open('profile')
    await page.getByText(email).first().waitFor()
    const second = `second-${email}`
    await page.getByText(/^add email$/i).click()
    const input = page.getByPlaceholder(/new email/i)
    await input.fill(second)
    const before = await seen(templates.registration, second)
    await input.press('Enter')
    const code = await courierCode(second, { template: templates.registration, after: before })
    await page.locator('hanko-profile input[name="passcode0"]').click()
    await page.keyboard.type(code, { delay: 30 })
    // Back on the profile: the new address is listed; open it and delete it.
    const row = page.getByText(second, { exact: true })
    await row.waitFor()
    await settle()
    await row.click()
    // Collapsed accordion items stay in the DOM: work inside the open one.
    const item = page.locator('hanko-profile .hanko_accordionItem', { has: row })
    await item.getByText(/this email address has been verified/i).waitFor()
    await shot('6-profile-second-address')
    const deleted = page.waitForResponse((r) => r.url().includes('action=email_delete'))
    await item.getByRole('button', { name: /^delete$/i }).click()
    await item.getByRole('button', { name: /^yes$/i }).click() // "Delete no / yes"
    assert.equal((await deleted).status(), 200)
    await row.waitFor({ state: 'detached' })

    // Earlier logins left other sessions: revoke one (never the current).
    const sessions = page.getByText(/HeadlessChrome|Mozilla/)
    const listed = await sessions.count()
    assert.ok(listed >= 2, `${listed} sessions listed`)
    const other = page.locator('hanko-profile .hanko_accordionItem', { hasText: /HeadlessChrome|Mozilla/ }).filter({
      has: page.getByRole('button', { name: /^revoke$/i }),
    })
    await other.first().getByText(/HeadlessChrome|Mozilla/).first().click()
    const revoked = page.waitForResponse((r) => r.url().includes('action=session_delete'))
    await other.first().getByRole('button', { name: /^revoke$/i }).click()
    await other.first().getByRole('button', { name: /^yes$/i }).click()
    assert.equal((await revoked).status(), 200)
    await settle()
    assert.equal(await sessions.count(), listed - 1)
    await shot('6-profile-session-revoked')
  })
})

test('<hanko-profile> changes the password; the new one logs in', async () => {
  await step('profile', async () => {
    await open('profile')
    await page.getByText(email).first().waitFor()
    await page.getByText(/^change password$/i).click()
    const input = page.getByPlaceholder(/new password/i)
    await input.fill(newPassword)
    const answer = page.waitForResponse((r) => r.url().includes('action=password_update'))
    await input.press('Enter')
    assert.equal((await answer).status(), 200)
    await settle() // let the spinner finish before the screenshot
    await shot('7-profile-password-changed')

    await page.evaluate(() => window.hanko.user.logout())
    await open()
    await passwordLogin('8-login-with-new-password', newPassword)
    await shot('8-login-with-new-password')
  })
})

test('forgotten password: a passcode, then a new password', async () => {
  await step('password-recovery', async () => {
    await page.evaluate(() => window.hanko.user.logout())
    await open()
    await page.getByPlaceholder(/email/i).fill(email)
    await page.getByRole('button', { name: /^continue$/i }).click()
    const choose = page.getByRole('button', { name: /password/i })
    const input = page.getByPlaceholder(/password/i)
    await choose.or(input).first().waitFor()
    if (!(await input.isVisible())) await choose.click()
    const before = await seen(templates.recovery)
    await page.getByText(/forgot your password/i).click()
    await enterPasscode(templates.recovery, before)
    await page.getByRole('heading', { name: /new password/i }).waitFor()
    await page.getByPlaceholder(/password/i).first().fill(recoveredPassword)
    await page.getByRole('button', { name: /^continue$/i }).click()
    await skipOnboarding()
    const detail = await sessionCreated()
    assert.equal(detail.claims?.subject ?? detail.userID, userID)
    await assertSessionCookie()
    await shot('9-password-recovered')

    await page.evaluate(() => window.hanko.user.logout())
    await open()
    await passwordLogin('10-login-with-recovered-password', recoveredPassword)
    await shot('10-login-with-recovered-password')
  })
})

test('a session revoked through the admin API expires in the page', async () => {
  await step('session-expired', async () => {
    const detail = await sessionCreated()
    const sid = detail.claims.session_id
    assert.ok(sid, 'the session JWT names its session')
    // Kratos' admin API revokes sessions of either face.
    const res = await fetch(`${adminURL}/admin/sessions/${sid}`, {
      method: 'DELETE',
      headers: adminAPIKey ? { Authorization: `Bearer ${adminAPIKey}` } : {},
    })
    assert.equal(res.status, 204)
    // The SDK polls /sessions/validate (every 3 s on this page) and tells
    // the app the session is gone.
    await page.waitForFunction(() => window.hankoEvents.some((e) => e.type === 'session-expired'), null, {
      timeout: 15_000,
    })
    const valid = await page.evaluate(() => window.hanko.session.validate())
    assert.equal(valid.is_valid, false)
    await shot('11-session-expired')
  })
})

// amrOf returns the amr claim of the session JWT in the hanko cookie.
async function amrOf() {
  const c = await assertSessionCookie()
  const claims = JSON.parse(Buffer.from(c.value.split('.')[1], 'base64url').toString())
  return claims.amr
}

// loggedOut logs out and waits until the page has noticed.
async function loggedOut() {
  const n = await page.evaluate(() => window.hankoEvents.filter((e) => e.type === 'user-logged-out').length)
  await page.evaluate(() => window.hanko.user.logout())
  await page.waitForFunction((n) => window.hankoEvents.filter((e) => e.type === 'user-logged-out').length > n, n)
}

test('passkeys: created in <hanko-profile>, then sign-in with the button and by autofill', async () => {
  await step('passkey', async () => {
    // Chromium's virtual authenticator: a platform authenticator with
    // user verification that answers by itself.
    const cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    })

    // The last test's session was revoked: sign in with the password (the
    // page reports no autofill, so nothing answers a conditional request).
    await open('auth', '&noautofill')
    await passwordLogin('12-login-before-passkey', recoveredPassword)

    await open('profile')
    await page.getByText(email).first().waitFor()
    await page.getByText(/^create a passkey$/i).first().click()
    const created = page.waitForResponse((r) => r.url().includes('action=webauthn_verify_attestation_response'))
    await page.getByRole('button', { name: /^create a passkey$/i }).click()
    assert.equal((await created).status(), 200)
    await settle()
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    assert.equal(credentials.length, 1, 'the authenticator holds one passkey')
    assert.equal(credentials[0].rpId, 'localhost')
    // /me lists it as a passkey; the 2.x SDK's /users/{id} as a credential.
    const me = await page.evaluate((api) => fetch(`${api}/me`, { credentials: 'include' }).then((r) => r.json()), api)
    assert.equal(me.passkeys?.length, 1, JSON.stringify(me))
    const current = await page.evaluate(() => window.hanko.user.getCurrent())
    assert.equal(current.webauthn_credentials?.length, 1, JSON.stringify(current))
    await shot('12-profile-passkey-created')

    // Log out, then "Sign in with a passkey".
    await loggedOut()
    await open('auth', '&noautofill')
    const generated = page.waitForResponse((r) => r.url().includes('action=webauthn_generate_request_options'))
    const verified = page.waitForResponse((r) => r.url().includes('action=webauthn_verify_assertion_response'))
    await page.getByRole('button', { name: /sign in with a passkey/i }).click()
    assert.equal((await generated).status(), 200)
    assert.equal((await verified).status(), 200)
    await sessionCreated() // events start afresh with every page load
    assert.deepEqual(await amrOf(), ['passkey'])
    await shot('13-passkey-login-button')

    // Log out, then autofill: Chromium answers the conditional request of
    // login_init by itself, no click.
    await loggedOut()
    const autofilled = page.waitForResponse((r) => r.url().includes('action=webauthn_verify_assertion_response'))
    await page.goto(`${pageOrigin}/?api=${encodeURIComponent(api)}&view=auth`)
    assert.equal((await autofilled).status(), 200)
    await sessionCreated()
    assert.deepEqual(await amrOf(), ['passkey'])
    await shot('14-passkey-login-autofill')
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId })
  })
})

// totpCode is the authenticator app's code for secret at time at (RFC 6238,
// SHA1, 6 digits, 30 s).
function totpCode(secret, at = Date.now()) {
  return new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at })
}

// typeCode types a one-time code into the first box of the current page's
// code input; hanko-elements submits by itself once all six are there.
async function typeCode(scope, code) {
  const first = page.locator(`${scope} input:not([type="hidden"])`).first()
  await first.waitFor()
  await first.click()
  await page.keyboard.type(code, { delay: 30 })
}

test('authenticator app: set up in <hanko-profile>, then password + TOTP login', async () => {
  await step('totp', async () => {
    // The passkey test left a passkey session.
    await open('profile')
    await page.getByText(email).first().waitFor()
    await page.getByText('Manage authenticator app').first().click()
    const offered = page.waitForResponse((r) => r.url().includes('action=continue_to_otp_secret_creation'))
    await page.getByRole('button', { name: /^set up$/i }).click()
    const created = await offered
    assert.equal(created.status(), 200)
    const { payload } = await created.json()
    assert.match(payload.otp_image_source, /^data:image\/png;base64,/)
    const secret = payload.otp_secret
    await page.getByText(secret).first().waitFor()
    await shot('15-profile-otp-secret')
    // A wrong code is refused, the right one sets the app up.
    let answer = page.waitForResponse((r) => r.url().includes('action=otp_code_verify'))
    await typeCode('hanko-profile', '000000')
    assert.equal((await answer).status(), 400)
    await settle()
    answer = page.waitForResponse((r) => r.url().includes('action=otp_code_verify'))
    await typeCode('hanko-profile', totpCode(secret))
    assert.equal((await answer).status(), 200)
    await page.getByText(/authenticator app is set up/i).first().waitFor()
    const me = await page.evaluate((api) => fetch(`${api}/me`, { credentials: 'include' }).then((r) => r.json()), api)
    assert.equal(me.mfa_config?.auth_app_set_up, true, JSON.stringify(me))
    await shot('15-profile-otp-set-up')

    // Password login: the authenticator app is asked for next.
    await loggedOut()
    await open('auth', '&noautofill')
    await page.getByPlaceholder(/email/i).fill(email)
    await page.getByRole('button', { name: /^continue$/i }).click()
    const choose = page.getByRole('button', { name: /password/i })
    const input = page.getByPlaceholder(/password/i)
    await choose.or(input).first().waitFor()
    if (!(await input.isVisible())) await choose.first().click()
    await input.fill(recoveredPassword)
    await page.getByRole('button', { name: /^sign in$/i }).click()
    await page.getByText(/open your authenticator app/i).waitFor()
    await shot('16-login-otp')
    // The set-up code's step is used up (the Go tests cover the refusal);
    // the next code logs in.
    answer = page.waitForResponse((r) => r.url().includes('action=otp_code_validate'))
    await typeCode('hanko-auth', totpCode(secret, Date.now() + 30_000))
    assert.equal((await answer).status(), 200)
    // hanko.mfa.device_trust_policy is prompt (Hanko's default): the user
    // trusts this browser.
    await page.getByText(/trust this browser\?/i).waitFor()
    await shot('16-login-device-trust')
    const trusted = page.waitForResponse((r) => r.url().includes('action=trust_device'))
    await page.getByRole('button', { name: /^trust this browser$/i }).click()
    assert.equal((await trusted).status(), 200)
    await sessionCreated()
    assert.deepEqual(await amrOf(), ['pwd', 'totp'])
    await shot('16-login-password-totp')

    // The trusted browser is not asked for the code again.
    await loggedOut()
    await open('auth', '&noautofill')
    await page.getByPlaceholder(/email/i).fill(email)
    await page.getByRole('button', { name: /^continue$/i }).click()
    await choose.or(input).first().waitFor()
    if (!(await input.isVisible())) await choose.first().click()
    await input.fill(recoveredPassword)
    await page.getByRole('button', { name: /^sign in$/i }).click()
    await sessionCreated()
    assert.deepEqual(await amrOf(), ['pwd'])
    await shot('16-login-trusted-browser')
  })
})
