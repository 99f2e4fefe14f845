// Third-party sign-in on Latchkey's hosted pages (/ui) in headless
// Chromium, through the local OpenID Connect provider e2e/run.sh starts
// (e2e/oidcprovider: a sign-in page where the person types an e-mail
// address; PKCE, nonce and registered redirect URIs enforced), configured
// as the generic provider "e2e" labelled "E2E provider": a person signs up
// with "Sign up with E2E provider", logs out, signs in with "Sign in with
// E2E provider" as the same account, sets a password, unlinks and links
// the provider again in the settings. A password user whose address a
// provider account names (the provider not vouching for it) gets the
// duplicate-credentials answer on the sign-in page, proves the account
// with the password there, and only then is the provider linked.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { admin, artifacts, atPage, base, createUser, formWith, launch, newPage, step as pageStep, whoami as pageWhoami } from './browser.js'

const email = `kratos-ui-oidc-${randomUUID().slice(0, 8)}@example.com`
const password = 'a long provider user password'

let browser, page

before(async () => {
  browser = await launch()
  page = await newPage(browser, { autofill: false })
})

after(async () => {
  await browser?.close()
})

const step = (name, fn) => pageStep(page, `oidc-${name}`, fn)
const whoami = () => pageWhoami(page)

async function shot(name) {
  await page.screenshot({ path: `${artifacts}/kratos-ui-oidc-${name}.png`, fullPage: true })
}

// atProvider signs in at the provider's page as address (the provider
// vouching for it or not) and waits until the browser is back on the site.
async function atProvider(address, { verified = true, shotName } = {}) {
  await page.waitForURL((u) => u.pathname === '/oidc/authorize')
  const u = new URL(page.url())
  assert.equal(u.searchParams.get('code_challenge_method'), 'S256', 'PKCE')
  assert.ok(u.searchParams.get('nonce'), 'a nonce')
  await page.getByLabel('E-mail address').fill(address)
  await page.getByLabel(/verified this address/).setChecked(verified)
  if (shotName) await shot(shotName)
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.waitForURL((u) => u.origin === base)
}

async function signOut() {
  await page.goto(`${base}/ui/`)
  await page.getByRole('link', { name: 'Log out' }).click()
  await atPage(page, '/ui/login')
  assert.equal(await whoami(), null)
}

let identityID

test('sign up with the provider button', async () => {
  await step('signup', async () => {
    await page.goto(`${base}/ui/registration`)
    await shot('1-registration')
    await page.getByRole('button', { name: 'Sign up with E2E provider' }).click()
    await atProvider(email, { shotName: '2-provider' })
    const s = await whoami()
    assert.ok(s, 'signed in after the provider')
    assert.equal(s.identity.traits.email, email)
    assert.equal(s.identity.verifiable_addresses[0].verified, true, "the provider's verified address is verified")
    assert.deepEqual(s.authentication_methods.map((m) => m.method), ['oidc'])
    identityID = s.identity.id
    await shot('3-signed-up')
  })
})

test('log out, sign in with the provider button', async () => {
  await step('signin', async () => {
    await signOut()
    await page.getByRole('button', { name: 'Sign in with E2E provider' }).click()
    await atProvider(email)
    const s = await whoami()
    assert.ok(s, 'signed in')
    assert.equal(s.identity.id, identityID, 'the same account')
    await shot('4-signed-in')
  })
})

test('settings: set a password, unlink and link the provider', async () => {
  await step('settings', async () => {
    await page.goto(`${base}/ui/settings`)
    // The only way to sign in cannot be unlinked.
    await page.getByRole('button', { name: 'Unlink E2E provider' }).click()
    await page.getByText(/last way to sign in/).waitFor()
    await page.locator('input[name="password"]').fill(password)
    await formWith(page, 'password').getByRole('button', { name: 'Save' }).click()
    await page.getByText('Your changes have been saved!').waitFor()
    await shot('5-settings')
    await page.getByRole('button', { name: 'Unlink E2E provider' }).click()
    await page.getByText('Your changes have been saved!').waitFor()
    await page.getByRole('button', { name: 'Link E2E provider' }).waitFor()
    await shot('6-unlinked')
    await page.getByRole('button', { name: 'Link E2E provider' }).click()
    await atProvider(email)
    await page.getByText('Your changes have been saved!').waitFor()
    await page.getByRole('button', { name: 'Unlink E2E provider' }).waitFor()
    await shot('7-linked')
    await signOut()
    await page.getByRole('button', { name: 'Sign in with E2E provider' }).click()
    await atProvider(email)
    assert.equal((await whoami())?.identity.id, identityID, 'the relinked provider signs the same account in')
  })
})

test('an address in use: the hint answer, then linked after the password', async () => {
  await step('duplicate', async () => {
    await signOut()
    const owner = `kratos-ui-owner-${randomUUID().slice(0, 8)}@example.com`
    const { id: ownerID } = await createUser(owner, password)
    await page.goto(`${base}/ui/registration`)
    await page.getByRole('button', { name: 'Sign up with E2E provider' }).click()
    await atProvider(owner, { verified: false })
    // The sign-in page of a new login flow: Kratos' 4000028 with the ways
    // the account signs in, 1010016, the address filled in, "Sign in and
    // link" and "Confirm with E2E provider".
    await atPage(page, '/ui/login')
    await page.getByText(/already in use by another account\. You can sign in using your password\./).waitFor()
    assert.equal(await page.locator('input[name="identifier"]').inputValue(), owner)
    await page.getByRole('button', { name: 'Confirm with E2E provider' }).waitFor()
    assert.equal(await whoami(), null, 'nobody is signed in')
    await shot('8-duplicate')
    await page.locator('input[name="password"]').fill(password)
    await page.getByRole('button', { name: 'Sign in and link' }).click()
    await page.waitForURL((u) => u.pathname !== '/ui/login')
    assert.equal((await whoami())?.identity.id, ownerID, 'the owner is signed in')
    const ident = await (await fetch(`${admin}/admin/identities/${ownerID}?include_credential=oidc`)).json()
    assert.equal(ident.credentials.oidc?.identifiers?.length, 1, 'the provider is linked after the password')
    // The provider account now signs the owner in.
    await signOut()
    await page.getByRole('button', { name: 'Sign in with E2E provider' }).click()
    await atProvider(owner, { verified: false })
    assert.equal((await whoami())?.identity.id, ownerID)
    await shot('9-linked-owner')
  })
})
