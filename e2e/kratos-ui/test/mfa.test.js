// Second factors on the hosted pages (/ui) in headless Chromium: a person
// signs up with a password, sets up an authenticator app (TOTP: the code
// computed with npm otpauth from the secret the page shows, a wrong code
// refused first) and backup codes in the settings, then signs in at aal2
// with each: password, then the TOTP code; password, then a backup code
// (and that code is refused the second time). axe-core checks the TOTP
// settings, the backup codes and the second-factor page (light and dark,
// 0 serious or critical violations); every page is kept as a screenshot.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { atPage, audit, authenticatorApp, base, formWith, launch, leftPage, newPage, shots, step, totpSecret, whoami } from './browser.js'

const email = `kratos-ui-mfa-${randomUUID().slice(0, 8)}@example.com`
const password = `Mfa-${randomUUID()}`

let browser, page, app, codes

before(async () => {
  browser = await launch()
  page = await newPage(browser)
})
after(async () => { await browser?.close() })

// passwordSignIn signs in with the password in a fresh browser; the
// identity has a second factor, so the sign-in stops at the aal2 page.
async function passwordSignIn() {
  const p = await newPage(browser)
  await p.goto(`${base}/ui/login`)
  await p.locator('input[name="identifier"]').fill(email)
  await p.locator('input[name="password"]').fill(password)
  await p.getByRole('button', { name: 'Sign in with password' }).click()
  await p.getByRole('heading', { name: 'Second factor' }).waitFor()
  assert.equal(await whoami(p), null, 'whoami asks for the second factor first')
  return p
}

test('sign up with a password', async () => {
  await step(page, 'mfa-signup', async () => {
    await page.goto(`${base}/ui/registration`)
    await page.locator('input[name="traits.email"]').fill(email)
    await shots(page, 'mfa-1-registration')
    await page.getByRole('button', { name: 'Sign up', exact: true }).click()
    await page.locator('input[name="password"]').fill(password)
    await shots(page, 'mfa-2-registration-password')
    await page.getByRole('button', { name: 'Sign up', exact: true }).click()
    await leftPage(page, '/ui/registration')
    const s = await whoami(page)
    assert.equal(s?.identity?.traits?.email, email)
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['password'])
    await shots(page, 'mfa-3-signed-up')
  })
})

test('set up an authenticator app (TOTP) in settings', async () => {
  await step(page, 'mfa-totp', async () => {
    await page.goto(`${base}/ui/settings`)
    await atPage(page, '/ui/settings')
    const totp = formWith(page, 'totp_code')
    assert.ok(await totp.locator('img[src^="data:image/png;base64,"]').isVisible(), 'the QR code')
    await audit(page, 'mfa-4-settings-totp')
    app = authenticatorApp(await totpSecret(page))
    await totp.locator('input[name="totp_code"]').fill(app.wrong())
    await totp.getByRole('button', { name: 'Save' }).click()
    await formWith(page, 'totp_code').locator('[role="alert"]').first().waitFor()
    assert.equal(await formWith(page, 'totp_code').locator('input[name="totp_code"]').getAttribute('aria-invalid'), 'true')
    await shots(page, 'mfa-5-settings-totp-wrong')
    await formWith(page, 'totp_code').locator('input[name="totp_code"]').fill(await app.code())
    await formWith(page, 'totp_code').getByRole('button', { name: 'Save' }).click()
    // The identity now has a second factor and the settings need aal2
    // (highest_available): the browser goes on to the second-factor page,
    // which steps this session up with a code.
    await page.getByRole('heading', { name: 'Second factor' }).waitFor()
    await audit(page, 'mfa-6-login-aal2-totp')
    await page.locator('input[name="totp_code"]').fill(await app.code())
    await page.locator('button[name="method"][value="totp"]').click()
    await atPage(page, '/ui/settings')
    await page.getByRole('button', { name: 'Unlink TOTP Authenticator App' }).waitFor()
    assert.equal((await whoami(page))?.authenticator_assurance_level, 'aal2')
    await shots(page, 'mfa-7-settings-totp-linked')
  })
})

test('set up backup codes in settings', async () => {
  await step(page, 'mfa-lookup', async () => {
    await page.locator('button[name="lookup_secret_regenerate"]').click()
    await page.locator('button[name="lookup_secret_confirm"]').waitFor()
    codes = (await page.locator('ul.secrets code').allInnerTexts()).map((c) => c.trim())
    assert.equal(codes.length, 12, `twelve codes: ${codes}`)
    await audit(page, 'mfa-8-settings-lookup-codes')
    await page.locator('button[name="lookup_secret_confirm"]').click()
    await page.getByText('Your changes have been saved!').waitFor()
    await page.locator('button[name="lookup_secret_reveal"]').waitFor()
    await shots(page, 'mfa-9-settings-lookup-confirmed')
  })
})

test('sign in at aal2 with the authenticator app', async () => {
  const p = await passwordSignIn()
  await step(p, 'mfa-login-totp', async () => {
    assert.equal(await p.locator('input[name="totp_code"]').getAttribute('autocomplete'), 'one-time-code')
    await audit(p, 'mfa-10-login-aal2')
    await p.locator('input[name="totp_code"]').fill(await app.code())
    await p.locator('button[name="method"][value="totp"]').click()
    await leftPage(p, '/ui/login')
    const s = await whoami(p)
    assert.equal(s?.authenticator_assurance_level, 'aal2')
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['password', 'totp'])
    await shots(p, 'mfa-11-signed-in-totp')
  })
  await p.context().close()
})

test('sign in at aal2 with a backup code, once', async () => {
  const p = await passwordSignIn()
  await step(p, 'mfa-login-lookup', async () => {
    await p.locator('input[name="lookup_secret"]').fill(codes[0])
    await p.locator('button[name="method"][value="lookup_secret"]').click()
    await leftPage(p, '/ui/login')
    const s = await whoami(p)
    assert.equal(s?.authenticator_assurance_level, 'aal2')
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['password', 'lookup_secret'])
    await shots(p, 'mfa-12-signed-in-lookup')
  })
  await p.context().close()
  // The same code again is refused.
  const q = await passwordSignIn()
  await step(q, 'mfa-login-lookup-used', async () => {
    await q.locator('input[name="lookup_secret"]').fill(codes[0])
    await q.locator('button[name="method"][value="lookup_secret"]').click()
    await q.locator('[role="alert"]').first().waitFor()
    assert.equal(await whoami(q), null)
    await shots(q, 'mfa-13-lookup-used')
  })
  await q.context().close()
})
