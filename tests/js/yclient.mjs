#!/usr/bin/env node
// Stock npm Yjs client driven by the Rust end-to-end tests: every command prints one JSON line
// on stdout and exits 0, or prints the error on stderr and exits 1.
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const USAGE = `usage: yclient.mjs COMMAND --url ws://HOST:PORT/ws --board ID [--token T]
  [--pid P] [--name N] [--org O] [--orgKind K] [--timeout-ms 10000]
commands:
  converge
  set --key K --value JSON
  get --key K
  dump
  add-node --id ID --text TEXT [--parent PARENT (default null)] [--order N (default 1)]
  wait-node --text TEXT
  awareness-stay --name N --ms MS
  expect-close`

const ROOTS = ['meta', 'participants', 'nodes', 'sections', 'notes', 'links', 'voting', 'projects']

const OPTIONS = ['url', 'board', 'token', 'pid', 'name', 'org', 'orgKind', 'timeout-ms', 'key',
  'value', 'id', 'parent', 'text', 'order', 'ms']

// Set by main() from the command line; every helper below reads them.
let opts = {}
let timeoutMs = 10000
const providers = []

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function need (name) {
  if (opts[name] === undefined) throw new Error(`missing --${name}\n${USAGE}`)
  return opts[name]
}

// Polls instead of listening to events, so one helper covers documents and awareness alike;
// `describe` explains to the test log what was still missing when time ran out.
async function waitFor (check, what, describe = () => '') {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const result = check()
    if (result) return result
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe()}`)
    }
    await sleep(25)
  }
}

// Only the parameters that were given go into the query string: lib0 would encode a missing
// one as the literal text "undefined".
function params (overrides = {}) {
  const all = { token: opts.token, pid: opts.pid, name: opts.name, org: opts.org, orgKind: opts.orgKind, ...overrides }
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined))
}

// Opens a provider on a fresh document and resolves once the first sync round trip is done.
// A 44xx close stops y-websocket from reconnecting, so it is reported at once, not as a timeout.
async function connect (overrides = {}) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(need('url'), need('board'), doc, {
    params: params(overrides),
    WebSocketPolyfill: WebSocket,
    disableBc: true
  })
  providers.push(provider)
  let closed = null
  let lastClose = null
  provider.on('closed', (event) => { closed = event })
  provider.on('connection-close', (event) => { if (event) lastClose = event })
  await waitFor(() => {
    if (closed) throw new Error(`server closed the connection: code ${closed.code} reason "${closed.reason}"`)
    return provider.synced
  }, `sync with ${provider.url}`, () => lastClose ? ` (last close: code ${lastClose.code} reason "${lastClose.reason}")` : '')
  return { doc, provider }
}

const userNames = (provider) =>
  [...provider.awareness.getStates().values()].map((s) => s?.user?.name).filter((n) => n !== undefined).sort()

// Map entries come out in insertion order, which differs between peers that merged concurrent
// sets, so equality is judged on a key-sorted serialization.
const canonical = (value) => JSON.stringify(value, (_key, v) =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v)

const toJSON = (value) => (value instanceof Y.AbstractType ? value.toJSON() : value) ?? null

// A second, independent connection seeing the change proves the relay accepted and served it,
// not merely that our own socket buffered it.
async function confirmFromServer (check, what) {
  const { doc } = await connect({ pid: opts.pid === undefined ? undefined : `${opts.pid}-check` })
  await waitFor(() => check(doc), `a second connection to see ${what}`)
}

const commands = {
  async converge () {
    const pid = opts.pid ?? 'interop'
    const [a, b] = await Promise.all([
      connect({ pid: `${pid}-a`, name: 'A' }),
      connect({ pid: `${pid}-b`, name: 'B' })
    ])
    // Both edits happen before either client hears of the other, so they are truly concurrent.
    a.doc.transact(() => {
      a.doc.getMap('interop').set('a', 1)
      a.doc.getText('interop-text').insert(0, 'Bonjour ')
      a.doc.getArray('interop-array').push(['a1'])
    })
    b.doc.transact(() => {
      b.doc.getMap('interop').set('b', 2)
      b.doc.getText('interop-text').insert(0, 'Québec')
      b.doc.getArray('interop-array').push(['b1'])
    })
    a.provider.awareness.setLocalStateField('user', { name: 'A' })
    b.provider.awareness.setLocalStateField('user', { name: 'B' })
    const snapshot = (doc) => ({
      map: doc.getMap('interop').toJSON(),
      text: doc.getText('interop-text').toString(),
      array: doc.getArray('interop-array').toJSON()
    })
    await waitFor(() => {
      const sa = snapshot(a.doc)
      return canonical(sa) === canonical(snapshot(b.doc)) &&
        sa.map.a === 1 && sa.map.b === 2 &&
        sa.text.includes('Bonjour ') && sa.text.includes('Québec') &&
        sa.array.includes('a1') && sa.array.includes('b1') &&
        userNames(a.provider).includes('B') && userNames(b.provider).includes('A')
    }, 'both documents and awarenesses to converge',
    () => `\nA: ${JSON.stringify(snapshot(a.doc))} ${userNames(a.provider)}\nB: ${JSON.stringify(snapshot(b.doc))} ${userNames(b.provider)}`)
    return { ...snapshot(a.doc), awarenessA: userNames(a.provider), awarenessB: userNames(b.provider) }
  },

  async set () {
    const key = need('key')
    let value
    try {
      value = JSON.parse(need('value'))
    } catch (err) {
      throw new Error(`--value is not valid JSON: ${err.message}`)
    }
    const { doc } = await connect()
    doc.getMap('interop').set(key, value)
    const expected = canonical(value)
    await confirmFromServer((d) => {
      const map = d.getMap('interop')
      return map.has(key) && canonical(toJSON(map.get(key))) === expected
    }, `interop.${key}`)
    return { ok: true }
  },

  async get () {
    const key = need('key')
    const { doc } = await connect()
    return { value: toJSON(doc.getMap('interop').get(key)) }
  },

  async dump () {
    const { doc } = await connect()
    return Object.fromEntries(ROOTS.map((root) => [root, doc.getMap(root).toJSON()]))
  },

  async 'add-node' () {
    const id = need('id')
    const text = need('text')
    const parent = opts.parent ?? null
    const order = Number(opts.order ?? 1)
    if (!Number.isFinite(order)) throw new Error(`--order must be a number, got ${opts.order}`)
    const { doc } = await connect()
    doc.transact(() => {
      const node = new Y.Map()
      doc.getMap('nodes').set(id, node)
      node.set('text', new Y.Text(text))
      node.set('parent', parent)
      node.set('order', order)
      node.set('collapsed', false)
      node.set('author', opts.pid ?? '')
    })
    await confirmFromServer((d) => {
      const node = d.getMap('nodes').get(id)
      return node instanceof Y.Map && node.get('text')?.toString() === text && node.get('parent') === parent
    }, `node ${id}`)
    return { ok: true }
  },

  async 'wait-node' () {
    const text = need('text')
    const { doc } = await connect()
    const nodes = doc.getMap('nodes')
    return waitFor(() => {
      for (const [id, node] of nodes.entries()) {
        if (node instanceof Y.Map && node.get('text')?.toString() === text) {
          return { id, parent: node.get('parent') ?? null }
        }
      }
      return null
    }, `a node with text ${JSON.stringify(text)}`)
  },

  async 'awareness-stay' () {
    const name = need('name')
    const ms = Number(need('ms'))
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`--ms must be a number, got ${opts.ms}`)
    const { provider } = await connect()
    // Names are collected over the whole stay, so a peer that left before the end still counts.
    const seen = new Set()
    const collect = () => userNames(provider).forEach((n) => seen.add(n))
    provider.awareness.on('change', collect)
    provider.awareness.setLocalStateField('user', { name })
    await sleep(ms)
    collect()
    return { seen: [...seen].sort() }
  },

  // A raw socket, because y-websocket would retry transient closes and hide the close code.
  // The token is escaped with encodeURIComponent, as y-websocket's own query string is.
  async 'expect-close' () {
    const query = opts.token === undefined ? '' : `?token=${encodeURIComponent(opts.token)}`
    const ws = new WebSocket(`${need('url')}/${need('board')}${query}`)
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for the server to close`)), timeoutMs)
        ws.on('close', (code, reason) => { clearTimeout(timer); resolve({ code, reason: reason.toString() }) })
        ws.on('error', (err) => { clearTimeout(timer); reject(err) })
      })
    } finally {
      ws.terminate()
    }
  }
}

async function main () {
  const parsed = parseArgs({
    allowPositionals: true,
    options: Object.fromEntries(OPTIONS.map((k) => [k, { type: 'string' }]))
  })
  opts = parsed.values
  timeoutMs = Number(opts['timeout-ms'] ?? 10000)
  const [command] = parsed.positionals
  if (!commands[command]) throw new Error(`unknown command ${JSON.stringify(command)}\n${USAGE}`)
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error('--timeout-ms must be a positive number')
  return commands[command]()
}

// Every path ends in process.exit so that a provider's reconnect timers can never keep the
// process alive; the short pause lets close frames reach the server for a clean disconnect.
let code = 0
try {
  process.stdout.write(JSON.stringify(await main()) + '\n')
} catch (err) {
  process.stderr.write(`yclient: ${err?.message ?? err}\n`)
  code = 1
}
for (const provider of providers) provider.destroy()
await sleep(50)
process.exit(code)
