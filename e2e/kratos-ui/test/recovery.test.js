// A lost password recovered on the hosted pages (/ui) in headless
// Chromium: "Recover your account" from the sign-in page, the address, the
// code the dev courier logged (read from the server's log, as the other
// suites do), the settings page the code signs in to, a new password
// there; then the old password is refused and the new one signs in.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { atPage, base, courierCode, courierMessages, createUser, formWith, launch, leftPage, newPage, shots, step, whoami } from './browser.js'

const email = `kratos-ui-recovery-${randomUUID().slice(0, 8)}@example.com`
const lost = `Lost-${randomUUID()}`
const fresh = `Fresh-${randomUUID()}`

let browser

before(async () => {
  browser = await launch()
  await createUser(email, lost)
})
after(async () => { await browser?.close() })

async function signIn(page, password) {
  await page.goto(`${base}/ui/login`)
  await page.locator('input[name="identifier"]').fill(email)
  await page.locator('input[name="password"]').fill(password)
  await page.getByRole('button', { name: 'Sign in with password' }).click()
}

test('recover a lost password by code', async () => {
  const page = await newPage(browser)
  await step(page, 'recovery', async () => {
    await page.goto(`${base}/ui/login`)
    await page.getByRole('link', { name: 'Recover your account' }).click()
    await atPage(page, '/ui/recovery')
    const template = 'recovery_code_valid'
    const before = (await courierMessages(email, { template })).length
    await page.locator('input[name="email"]').fill(email)
    await shots(page, 'recovery-1-address')
    await page.locator('button[type="submit"]').first().click()
    const code = page.locator('input[name="code"]')
    await code.waitFor()
    assert.equal(await code.getAttribute('autocomplete'), 'one-time-code')
    await shots(page, 'recovery-2-code')
    // A wrong code first.
    await code.fill('000000')
    await page.locator('button[name="method"][value="code"]').click()
    await page.locator('[role="alert"]').first().waitFor()
    await shots(page, 'recovery-3-wrong-code')
    await page.locator('input[name="code"]').fill(await courierCode(email, { template, after: before }))
    await page.locator('button[name="method"][value="code"]').click()
    // The code signs in and opens the settings, where the password is set.
    await atPage(page, '/ui/settings')
    await shots(page, 'recovery-4-settings')
    const form = formWith(page, 'password')
    await form.locator('input[name="password"]').fill(fresh)
    await form.getByRole('button', { name: 'Save' }).click()
    await page.getByText('Your changes have been saved!').waitFor()
    await shots(page, 'recovery-5-saved')
  })
  await page.context().close()

  const again = await newPage(browser)
  await step(again, 'recovery-login', async () => {
    await signIn(again, lost)
    await again.locator('[role="alert"]').first().waitFor()
    assert.equal(await whoami(again), null, 'the old password is refused')
    await signIn(again, fresh)
    await leftPage(again, '/ui/login')
    assert.equal((await whoami(again))?.identity?.traits?.email, email)
    await shots(again, 'recovery-6-signed-in')
  })
  await again.context().close()
})
