// Issue #15's "done when", as one test in German: a person who has never
// seen Latchkey opens the hosted pages (/ui) with nothing else running,
// signs up, adds a passkey and an authenticator app (TOTP), logs out, logs
// in with the passkey (and the TOTP code: the identity has a second
// factor, and Kratos' default highest_available asks for it), and
// recovers a lost password by the code the dev courier logged; then signs
// in with the new password. Every page must be German (?lang=de on the
// first one, remembered, and Accept-Language de-DE); each is kept as a
// screenshot in light and dark.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import {
  atPage, authenticator, authenticatorApp, base, courierCode, courierMessages, formWith, launch, leftPage, newPage, shots, step,
  totpSecret, whoami,
} from './browser.js'

const email = `kratos-ui-journey-${randomUUID().slice(0, 8)}@example.com`
const password = `Erstes-${randomUUID()}`
const newPassword = `Neues-${randomUUID()}`

let browser, page, device, app
let n = 0

before(async () => {
  browser = await launch()
  // A browser whose passkey sign-in is a button (no autofill request on
  // load, which the virtual authenticator would answer at once).
  page = await newPage(browser, { locale: 'de-DE', autofill: false })
  device = await authenticator(page)
})
after(async () => { await browser?.close() })

// german checks that the page is in German and keeps its screenshots.
async function germanPage(name) {
  await page.locator('html[lang="de"]').waitFor()
  await shots(page, `journey-${String(++n).padStart(2, '0')}-${name}`)
}

// submit clicks a button that sends a form (itself, or through
// webauthn.js) and waits for the next page.
async function submit(button) {
  const from = page.url()
  await button.click()
  await page.waitForURL((u) => u.href !== from)
}

// secondFactor answers the second-factor page, where the browser must be
// (the identity has TOTP; whoami and settings ask for the highest
// available level), with a TOTP code.
async function secondFactor(name) {
  await atPage(page, '/ui/login')
  await page.getByRole('heading', { name: 'Zweiter Faktor' }).waitFor()
  await germanPage(name)
  await page.locator('input[name="totp_code"]').fill(await app.code())
  await submit(page.locator('button[name="method"][value="totp"]'))
}

async function logOut(name) {
  await page.goto(`${base}/ui/`)
  await germanPage(name)
  await page.locator('a[href*="/self-service/logout?token="]').click()
  await atPage(page, '/ui/login')
  assert.equal(await whoami(page), null)
}

test('done when: sign up, passkey, TOTP, log out, passkey login, lost password — in German', async () => {
  await step(page, 'journey', async () => {
    // Sign up: the address, then a password.
    await page.goto(`${base}/ui/registration?lang=de`)
    assert.equal(await page.locator('h1').innerText(), 'Konto erstellen')
    await page.locator('input[name="traits.email"]').fill(email)
    await page.locator('input[name="traits.name"]').fill('Ada Lovelace')
    await germanPage('registration')
    await page.locator('button[name="method"][value="profile"]').click()
    await page.locator('input[name="password"]').fill(password)
    await germanPage('registration-password')
    await submit(page.locator('button[name="method"][value="password"]'))
    await leftPage(page, '/ui/registration')
    assert.equal((await whoami(page))?.identity?.traits?.email, email)

    // Add a passkey in the settings.
    await page.goto(`${base}/ui/settings`)
    await atPage(page, '/ui/settings')
    assert.equal(await page.locator('h1').innerText(), 'Kontoeinstellungen')
    await germanPage('settings')
    await page.waitForFunction(() => typeof window.oryPasskeySettingsRegistration === 'function')
    await page.locator('button[data-latchkey-onclick="oryPasskeySettingsRegistration"]').click()
    await page.locator('[data-id="1050001"]').waitFor()
    assert.equal((await device.credentials()).length, 1, 'the device holds the passkey')
    assert.equal(await page.locator('button[name="passkey_remove"]').count(), 1)
    await germanPage('settings-passkey-added')

    // Add an authenticator app: the secret on the page, a code from it.
    app = authenticatorApp(await totpSecret(page))
    await formWith(page, 'totp_code').locator('input[name="totp_code"]').fill(await app.code())
    await submit(formWith(page, 'totp_code').locator('button[name="method"][value="totp"]'))
    // The settings now need the second factor: the second-factor page
    // steps this session up.
    await secondFactor('login-aal2-after-totp')
    await atPage(page, '/ui/settings')
    await page.locator('button[name="totp_unlink"]').waitFor()
    await germanPage('settings-totp-linked')
    assert.equal((await whoami(page))?.authenticator_assurance_level, 'aal2')

    // Log out, then in with the passkey (and the code).
    await logOut('welcome-signed-in')
    await germanPage('login')
    await page.waitForFunction(() => typeof window.oryPasskeyLogin === 'function')
    await submit(page.locator('button[data-latchkey-onclick="oryPasskeyLogin"]'))
    await secondFactor('login-aal2-after-passkey')
    let s = await whoami(page)
    assert.equal(s?.identity?.traits?.email, email)
    assert.equal(s.authentication_methods[0].method, 'passkey', `signed in with the passkey: ${JSON.stringify(s.authentication_methods)}`)
    await germanPage('signed-in-with-passkey')

    // The password is lost: recover the account by code.
    await logOut('welcome-before-recovery')
    await page.locator('a[href*="/ui/recovery"]').click()
    await atPage(page, '/ui/recovery')
    assert.equal(await page.locator('h1').innerText(), 'Konto wiederherstellen')
    const template = 'recovery_code_valid'
    const sent = (await courierMessages(email, { template })).length
    await page.locator('input[name="email"]').fill(email)
    await germanPage('recovery')
    await page.locator('button[type="submit"]').first().click()
    await page.locator('input[name="code"]').fill(await courierCode(email, { template, after: sent }))
    await germanPage('recovery-code')
    await submit(page.locator('button[name="method"][value="code"]'))
    // The code signs in; the settings need the second factor too.
    await secondFactor('login-aal2-after-recovery')
    await atPage(page, '/ui/settings')
    await germanPage('settings-after-recovery')
    await formWith(page, 'password').locator('input[name="password"]').fill(newPassword)
    await formWith(page, 'password').locator('button[name="method"][value="password"]').click()
    await page.locator('[data-id="1050001"]').waitFor()
    await germanPage('settings-new-password')

    // The new password (and the code) signs in.
    await logOut('welcome-after-recovery')
    await page.locator('input[name="identifier"]').fill(email)
    await page.locator('input[name="password"]').fill(newPassword)
    await submit(page.locator('button[name="method"][value="password"]'))
    await secondFactor('login-aal2-new-password')
    s = await whoami(page)
    assert.equal(s?.authenticator_assurance_level, 'aal2')
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['password', 'totp'])
    await page.goto(`${base}/ui/`)
    await germanPage('welcome-done')
  })
})
