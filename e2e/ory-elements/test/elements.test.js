// Ory's @ory/elements-react (unchanged: <Login>, <Registration>,
// <Settings>, <Verification>, <Recovery> of @ory/elements-react/theme) in
// headless Chromium against `latchkey serve --dev`, as one user's journey:
// profile-first registration with the method picker (password) and the
// address verified by code, logout, a wrong then the right password, the
// settings page (a trait saved), logout, account recovery by code and a new
// password in the settings flow it leads to, logout, a login with it; a
// passkey added in settings, passkey logins (autofill and the button); an
// authenticator app (TOTP) set up in settings, then password + TOTP at AAL2.
//
// Each test() is one step and runs after the ones before it in the same
// browser (journey.js: one cookie jar, one page). To add a step (a passkey
// added in settings, a passkey login, TOTP set-up, password + TOTP at AAL2),
// append a test() that drives the page with the helpers of journey.js
// (open, ready, input, submitButton, session, logout, passwordLogin, step,
// shot, authenticator); e2e/README.md has an example.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { TOTP } from 'otpauth'
import { adminAPIKey, adminURL } from '../../lib/server.js'
import {
  api,
  authenticator,
  context,
  courierCode,
  origin,
  courierMessages,
  email,
  input,
  logout,
  open,
  page,
  newPassword,
  password,
  passwordLogin,
  ready,
  session,
  sessionCookie,
  setup,
  shot,
  step,
  submitButton,
  teardown,
} from './journey.js'

before(setup)
after(teardown)

test('profile-first registration with the method picker (password)', async () => {
  await step('registration', async () => {
    await open('/registration')
    // Screen 1: the traits.
    await input('traits.email').fill(email)
    await shot('1-registration-profile')
    await submitButton('method', 'profile').click()
    // Screen 2: the credentials. Latchkey offers a code and a password,
    // so Ory Elements shows its method picker; the user picks the
    // password. (It showed the e-mail and Back only while Latchkey's
    // answer named "profile" as the active method.)
    const picker = page.getByRole('button', { name: /password/i }).first()
    await picker.waitFor()
    await shot('2-registration-method-picker')
    await picker.click()
    await input('password').waitFor()
    await input('password').fill(password)
    await shot('3-registration-password')
    await submitButton('method', 'password').click()
    // Latchkey answers with continue_with: verification first (the
    // show_verification_ui entry wins), then the app's home page.
    await ready('verification')
    const code = await courierCode(email, { template: 'verification_code_valid', timeoutMs: 30_000 }).catch(async (err) => {
      const seen = await courierMessages(email)
      throw new Error(`${err.message}; messages logged for ${email}: ${JSON.stringify(seen.map((m) => m.template_type))}`)
    })
    await shot('4-verification')
    await input('code').fill(code)
    await submitButton('method', 'code').click()
    await page.getByText(/verified|success/i).first().waitFor()
    await shot('5-verified')
    const s = await session()
    assert.ok(s?.active, 'a session after registration')
    assert.equal(s.identity.traits.email, email)
    assert.equal(s.identity.verifiable_addresses?.[0]?.verified, true, 'the address is verified')
    const c = await sessionCookie()
    assert.ok(c, 'ory_kratos_session cookie set')
    assert.equal(c.httpOnly, true)
  })
})

test('logout', async () => {
  await step('logout-1', async () => {
    await logout()
    await shot('6-logged-out')
  })
})

test('a wrong password, then the right one', async () => {
  await step('login', async () => {
    await open('/login')
    await passwordLogin(email, 'not the password')
    await page.getByText(/credentials are invalid/i).waitFor()
    await shot('7-login-wrong-password')
    assert.equal(await session(), null, 'no session after a wrong password')
    // The form stays usable: Ory Elements keeps the identifier.
    await input('password').fill(password)
    if (!(await input('identifier').isVisible())) throw new Error('the identifier field disappeared after a wrong password')
    await input('identifier').fill(email)
    await submitButton('method', 'password').click()
    await ready('home')
    await page.getByTestId('signed-in').waitFor()
    const s = await session()
    assert.equal(s?.identity?.traits?.email, email)
    assert.equal(s.authentication_methods?.at(-1)?.method, 'password')
    await shot('8-logged-in')
  })
})

test('the settings page renders', async () => {
  await step('settings', async () => {
    await open('/settings')
    assert.equal(await input('traits.email').inputValue(), email)
    await input('password').waitFor()
    await shot('9-settings')
    // Save a trait: Latchkey answers 200 with the flow (state success) and
    // continue_with, which Ory Elements follows back to the settings page.
    await input('traits.name').fill('Ada Elements')
    await submitButton('method', 'profile').click()
    await page.getByText(/your changes have been saved/i).first().waitFor()
    assert.equal((await session())?.identity?.traits?.name, 'Ada Elements')
    await shot('10-settings-saved')
  })
})

test('logout again', async () => {
  await step('logout-2', async () => {
    await logout()
    await shot('11-logged-out')
  })
})

test('account recovery by code, then a new password in settings', async () => {
  await step('recovery', async () => {
    await open('/login')
    // Elements' "Recover Account" link leads to the app's recovery page.
    await page.getByRole('link', { name: /recover account/i }).click()
    await ready('recovery')
    await input('email').fill(email)
    const before = (await courierMessages(email, { template: 'recovery_code_valid' })).length
    await submitButton('method', 'code').click()
    const code = await courierCode(email, { template: 'recovery_code_valid', after: before, timeoutMs: 30_000 })
    await input('code').waitFor()
    await shot('12-recovery-code')
    await input('code').fill(code)
    await submitButton('method', 'code').click()
    // Latchkey answers the SPA with 422 browser_location_change_required to
    // the settings flow it created; Elements follows it.
    await ready('settings')
    await page.getByText(/recovered your account/i).first().waitFor()
    await input('password').fill(newPassword)
    await submitButton('method', 'password').click()
    await page.getByText(/your changes have been saved/i).first().waitFor()
    await shot('13-recovered-new-password')
    const s = await session()
    assert.ok(s?.authentication_methods?.some((m) => m.method === 'code_recovery'), 'a recovery session')
  })
})

test('logout, then a login with the new password', async () => {
  await step('login-new-password', async () => {
    await logout()
    await open('/login')
    await passwordLogin(email, newPassword)
    await ready('home')
    await page.getByTestId('signed-in').waitFor()
    await shot('14-login-new-password')
  })
})

// Passkeys through Ory's components: "Add passkey" in <Settings> calls
// window.oryPasskeySettingsRegistration of Latchkey's webauthn.js (loaded
// from the flow's script node), which creates the passkey with Chromium's
// virtual authenticator and posts the form natively; Latchkey answers 303
// back to the settings page.
test('add a passkey in settings', async () => {
  await step('passkey-settings', async () => {
    await open('/settings')
    await page.getByRole('button', { name: /add passkey/i }).click()
    await page.getByText(/your changes have been saved/i).first().waitFor()
    const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId })
    assert.equal(credentials.length, 1, 'the authenticator holds the new passkey')
    assert.equal(credentials[0].rpId, 'localhost')
    await shot('15-passkey-added')
  })
})

test('logout, then a passkey login through autofill', async () => {
  await step('passkey-autofill', async () => {
    await logout()
    // The login page starts conditional mediation on load (the
    // passkey_login node's onload trigger); the virtual authenticator
    // answers it at once, as a person picking the passkey from the
    // identifier's autofill would.
    await page.goto(`${origin}/login`)
    await ready('home')
    await page.getByTestId('signed-in').waitFor()
    const s = await session()
    assert.equal(s?.identity?.traits?.email, email)
    assert.equal(s.authentication_methods?.at(-1)?.method, 'passkey')
    await shot('16-passkey-autofill')
  })
})

test('logout, then "Sign in with passkey"', async () => {
  await step('passkey-button', async () => {
    await logout()
    // A browser without conditional mediation: the button it is.
    await context.addInitScript(() => {
      if (window.PublicKeyCredential) window.PublicKeyCredential.isConditionalMediationAvailable = async () => false
    })
    await open('/login')
    await page.getByRole('button', { name: /passkey/i }).first().click()
    await ready('home')
    await page.getByTestId('signed-in').waitFor()
    assert.equal((await session())?.authentication_methods?.at(-1)?.method, 'passkey')
    await shot('17-passkey-button')
  })
})

// TOTP through Ory's components: <Settings> shows the QR code and the
// secret (the totp_secret_key node), the person types the authenticator
// app's code; a password login then asks for it (Latchkey answers the
// password with 422 browser_location_change_required to the aal2 login
// flow, which Elements follows) and the session is at AAL2.
test('TOTP set up in settings', async () => {
  await step('totp-settings', async () => {
    // The passkey steps left a passkey (aal1) session; settings needs aal1
    // (selfservice.flows.settings.required_aal, set by e2e/run.sh).
    await open('/settings')
    const flowID = new URL(page.url()).searchParams.get('flow')
    assert.ok(flowID, 'the settings page has a flow')
    const flow = await page.evaluate(async ({ api, flowID }) => {
      const r = await fetch(`${api}/self-service/settings/flows?id=${flowID}`, { credentials: 'include', headers: { Accept: 'application/json' } })
      return r.json()
    }, { api, flowID })
    const secretNode = flow.ui?.nodes?.find((n) => n.attributes?.id === 'totp_secret_key')
    assert.ok(secretNode, `a totp_secret_key node in ${JSON.stringify(flow.ui?.nodes?.map((n) => n.attributes?.id ?? n.attributes?.name))}`)
    totpSecret = secretNode.attributes.text.text
    assert.match(totpSecret, /^[A-Z2-7]+=*$/, 'a base32 secret')
    // Elements shows the secret in a read-only field beside the QR code.
    await page.waitForFunction((secret) => [...document.querySelectorAll('input')].some((i) => i.value === secret), totpSecret)
    await input('totp_code').waitFor()
    await shot('18-totp-qr')
    // A wrong code is refused, the right one links the app.
    await input('totp_code').fill(totpCode(totpSecret, Date.now() + 15 * 60_000))
    await submitButton('method', 'totp').click()
    await page.getByText(/invalid/i).first().waitFor()
    await shot('19-totp-wrong-code')
    await input('totp_code').fill(totpCode(totpSecret))
    await submitButton('method', 'totp').click()
    await page.getByText(/your changes have been saved/i).first().waitFor()
    await shot('20-totp-linked')
    const identity = await adminIdentity(email)
    assert.ok(identity.credentials?.totp, `a totp credential: ${JSON.stringify(Object.keys(identity.credentials ?? {}))}`)
  })
})

test('logout, then password + TOTP at AAL2', async () => {
  await step('login-aal2', async () => {
    await logout()
    await open('/login')
    await passwordLogin(email, newPassword)
    // Elements follows the 422 to the aal2 login flow, which asks for the
    // code.
    await input('totp_code').waitFor()
    await ready('login')
    await shot('21-login-aal2')
    // The set-up code's time step is used up; the next step's code is
    // within the accepted skew.
    await input('totp_code').fill(totpCode(totpSecret, Date.now() + 30_000))
    await submitButton('method', 'totp').click()
    await ready('home')
    await page.getByTestId('signed-in').waitFor()
    const s = await session()
    assert.ok(s?.active, 'whoami answers with a session')
    assert.equal(s.authenticator_assurance_level, 'aal2')
    assert.deepEqual(s.authentication_methods?.map((m) => m.method), ['password', 'totp'])
    await shot('22-login-aal2-done')
  })
})

let totpSecret

// totpCode is the authenticator app's code for secret at time at (RFC 6238,
// SHA1, 6 digits, 30 s).
function totpCode(secret, at = Date.now()) {
  return new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at })
}

// adminIdentity finds the identity with the address through the admin API.
async function adminIdentity(address) {
  const r = await fetch(`${adminURL}/admin/identities?credentials_identifier=${encodeURIComponent(address)}&include_credential=totp`, {
    headers: adminAPIKey ? { Authorization: `Bearer ${adminAPIKey}` } : {},
  })
  assert.equal(r.status, 200)
  const [identity] = await r.json()
  assert.ok(identity, `an identity for ${address}`)
  return identity
}
