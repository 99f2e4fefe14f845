// Where the Latchkey server under test is, and how to read what its dev
// courier logged; shared by both suites. e2e/run.sh sets the variables; the defaults are those of a
// plain `latchkey serve --dev`.
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

export const publicURL = process.env.LATCHKEY_PUBLIC_URL ?? 'http://127.0.0.1:4433'
export const adminURL = process.env.LATCHKEY_ADMIN_URL ?? 'http://127.0.0.1:4434'
export const adminAPIKey = process.env.LATCHKEY_SERVE_ADMIN_API_KEY ?? ''

// serverLog is the JSON log (LATCHKEY_LOG_FORMAT=json) of the server.
const serverLog = process.env.LATCHKEY_LOG_FILE

// courierCode waits up to timeoutMs for the dev courier to log a message to
// recipient and returns its code. Without SMTP, `serve --dev` logs every
// message with its code instead of sending it. The courier works
// asynchronously, so a message queued earlier may be logged late: name the
// message by its template (and, for Kratos verification, its flow id, which
// the logged link carries), and skip the first `after` such messages (count
// them with courierMessages and the same template before asking for a new
// code).
export async function courierCode(recipient, { template, flow, after = 0, timeoutMs = 10_000 } = {}) {
  if (!serverLog) {
    throw new Error('LATCHKEY_LOG_FILE is not set: run the suite through e2e/run.sh')
  }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let found = await courierMessages(recipient, { template })
    if (flow) found = found.filter((m) => Object.values(m).some((v) => typeof v === 'string' && v.includes(`flow=${flow}`)))
    const code = found.length > after ? codeOf(found[found.length - 1]) : undefined
    if (code) {
      return code
    }
    if (Date.now() > deadline) {
      throw new Error(`no ${template ?? ''} code logged for ${recipient} within ${timeoutMs} ms (${found.length} messages seen)`)
    }
    await sleep(50)
  }
}

// codeOf is the code in a logged message: the dev courier logs the
// template's secret fields under their template names.
function codeOf(rec) {
  for (const k of ['RecoveryCode', 'VerificationCode', 'LoginCode', 'RegistrationCode', 'Code', 'code']) {
    if (typeof rec[k] === 'string' && rec[k] !== '') return rec[k]
  }
  return undefined
}

// courierMessages returns the messages the dev courier logged for recipient
// (of the template type, when given), oldest first.
export async function courierMessages(recipient, { template } = {}) {
  const text = await readFile(serverLog, 'utf8')
  const out = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    let rec
    try {
      rec = JSON.parse(line)
    } catch {
      continue
    }
    if (
      typeof rec.msg === 'string' &&
      rec.msg.startsWith('courier (dev mode)') &&
      rec.recipient === recipient &&
      (!template || rec.template_type === template)
    ) {
      out.push(rec)
    }
  }
  return out
}
