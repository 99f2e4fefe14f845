// A tiny static server for the built app (dist/, from `vite build`), as an
// app's web server would serve it: files from dist/, index.html for every
// other path (the app routes by path: /login, /registration, …), and
// /config.js telling the page where Latchkey is.
import http from 'node:http'
import { readFile } from 'node:fs/promises'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

// startPageServer listens on host:port (port 0 picks one) and serves the app
// with sdkURL as Latchkey's public URL. It resolves to the server and its
// origin as the browser sees it (http://localhost:PORT).
export async function startPageServer({ sdkURL, host = '127.0.0.1', port = 0 }) {
  const configJS = `window.LATCHKEY_SDK_URL = ${JSON.stringify(sdkURL)}\n`
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end()
      return
    }
    if (path === '/config.js') {
      res.writeHead(200, { 'Content-Type': types['.js'], 'Cache-Control': 'no-store' }).end(configJS)
      return
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end()
      return
    }
    const file = path.startsWith('/assets/') ? normalize(join(dist, path)) : join(dist, 'index.html')
    if (!file.startsWith(dist)) {
      res.writeHead(404).end('not found')
      return
    }
    try {
      const body = await readFile(file)
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' }).end(body)
    } catch {
      res.writeHead(404).end('not found')
    }
  })
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return { server, origin: `http://localhost:${server.address().port}` }
}
