#!/usr/bin/env node
// Browser scenarios for the Rust end-to-end tests: Debian's Chromium driven by playwright-core
// against a running Nouage server. Each scenario prints one JSON line of observations on
// stdout (the Rust test asserts on them) and exits 0, or prints the error and exits 1.
//
// usage: browser.mjs SCENARIO --base http://127.0.0.1:PORT --shots DIR
import { parseArgs } from 'node:util'
import { mkdirSync } from 'node:fs'
import { chromium } from 'playwright-core'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const STEP_TIMEOUT_MS = 10000

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: { base: { type: 'string' }, shots: { type: 'string' }, nodes: { type: 'string' } }
})
const scenario = positionals[0]
const base = opts.base
const shots = opts.shots ?? 'artifacts'
mkdirSync(shots, { recursive: true })

async function createBoard (kind, title) {
  const response = await fetch(`${base}/api/boards`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind, title })
  })
  if (response.status !== 201) throw new Error(`board creation answered ${response.status}`)
  return response.json()
}

// Opens a board link in a new page and joins as `name`.
async function join (browser, link, name, org = '') {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  page.on('pageerror', (e) => process.stderr.write(`pageerror (${name}): ${e.message}\n`))
  await page.goto(link)
  await page.waitForSelector('form.join')
  await page.fill('input[name=name]', name)
  if (org) await page.fill('input[name=org]', org)
  await page.click('form.join button[type=submit]')
  await page.waitForSelector('[data-status=Connected]')
  await page.waitForSelector('[role=treeitem]')
  return page
}

const labels = (page) => page.$$eval('[role=treeitem]', (els) => els.map((e) => e.querySelector('.node-text').textContent))

async function typeChild (page, text) {
  await page.focus('.viewport')
  await page.keyboard.press('Tab')
  await page.keyboard.type(text)
  await page.keyboard.press('Enter')
}

async function waitForLabel (page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('[role=treeitem] .node-text')].some((e) => e.textContent === t), text)
}

function yjsClient (board, token, pid) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(base.replace('http', 'ws') + '/ws', board, doc,
    { params: { token, pid, name: 'Node client' }, WebSocketPolyfill: WebSocket, disableBc: true })
  return { doc, provider }
}

async function until (check, what) {
  const deadline = Date.now() + STEP_TIMEOUT_MS
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const scenarios = {
  // Two people on one map: what one types shows on the other's screen, and who is there.
  async 'two-pages' (browser) {
    const board = await createBoard('mindmap', 'Mobilités douces')
    const anne = await join(browser, board.links.editor, 'Anne Bérubé', 'Baie-Saint-Paul')
    const bruno = await join(browser, board.links.editor, 'Bruno Tremblay', 'MRC de Charlevoix')
    await typeChild(anne, 'Navette estivale')
    const typed = Date.now()
    await waitForLabel(bruno, 'Navette estivale')
    const remoteMs = Date.now() - typed
    // A short text keeps the node's size: it must show all the same.
    await typeChild(anne, 'A1')
    await waitForLabel(bruno, 'A1')
    await bruno.waitForFunction(() => document.querySelector('.people').textContent.includes('Anne Bérubé'))
    const presence = await bruno.$eval('.people', (e) => e.textContent)
    // Bruno selects Anne's node; Anne sees his selection outlined with his name.
    await bruno.click('text=Navette estivale')
    await anne.waitForSelector('.peer-selection .peer-tag')
    const outline = await anne.$eval('.peer-selection .peer-tag', (e) => e.textContent)
    await anne.screenshot({ path: `${shots}/mindmap-two-pages-anne.png` })
    await bruno.screenshot({ path: `${shots}/mindmap-two-pages-bruno.png` })
    await bruno.close()
    await anne.waitForFunction(() => !document.querySelector('.people').textContent.includes('Bruno'), null, { timeout: 5000 })
    await anne.waitForFunction(() => !document.querySelector('.peer-selection'), null, { timeout: 5000 })
    return { remoteMs, presence, outline, annesLabels: await labels(anne), left: true }
  },

  // A stock Yjs client and the page see each other's nodes.
  async 'yjs-interop' (browser) {
    const board = await createBoard('mindmap', 'Interop')
    const page = await join(browser, board.links.editor, 'Claire')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'node-pid')
    await until(() => provider.synced, 'the Node client to sync')
    doc.transact(() => {
      const node = new Y.Map()
      node.set('text', new Y.Text('Écrit par Node.js'))
      node.set('parent', 'root')
      node.set('order', 5)
      node.set('collapsed', false)
      node.set('author', 'node-pid')
      doc.getMap('nodes').set('from-node', node)
    })
    await waitForLabel(page, 'Écrit par Node.js')
    await typeChild(page, 'Tapé dans la page')
    const nodes = doc.getMap('nodes')
    await until(() => [...nodes.values()].some((n) => n.get('text')?.toString() === 'Tapé dans la page'), 'the page node in Node')
    const fromPage = [...nodes.values()].find((n) => n.get('text')?.toString() === 'Tapé dans la page')
    provider.destroy()
    return { pageLabels: await labels(page), nodeSawParent: fromPage.get('parent'), nodeSawAuthor: fromPage.get('author') }
  },

  // Edits made while one page is cut off merge when its connection returns.
  async offline (browser) {
    const board = await createBoard('mindmap', 'Hors ligne')
    const a = await join(browser, board.links.editor, 'Alice')
    const b = await join(browser, board.links.editor, 'Benoît')
    await b.evaluate(() => window.nouage.offline())
    await b.waitForSelector('[data-status=Offline]')
    await typeChild(a, 'Idée en ligne')
    await typeChild(b, 'Idée hors ligne')
    await b.screenshot({ path: `${shots}/mindmap-offline.png` })
    const bWhileOffline = await labels(b)
    await b.evaluate(() => window.nouage.online())
    await b.waitForSelector('[data-status=Connected]')
    await waitForLabel(a, 'Idée hors ligne')
    await waitForLabel(b, 'Idée en ligne')
    return { a: (await labels(a)).sort(), b: (await labels(b)).sort(), bWhileOffline }
  },

  // A viewer sees the map but nothing it does changes it.
  async viewer (browser) {
    const board = await createBoard('mindmap', 'Lecture')
    const editor = await join(browser, board.links.editor, 'Éditrice')
    await typeChild(editor, 'Visible par tous')
    const viewer = await join(browser, board.links.viewer, 'Lecteur')
    await waitForLabel(viewer, 'Visible par tous')
    await viewer.focus('.viewport')
    await viewer.keyboard.press('Tab')
    await viewer.keyboard.type('Intrus')
    await viewer.keyboard.press('Enter')
    await viewer.keyboard.press('Delete')
    await viewer.waitForTimeout(500)
    await viewer.screenshot({ path: `${shots}/mindmap-viewer.png` })
    return {
      viewerLabels: await labels(viewer),
      editorLabels: await labels(editor),
      editButtons: await viewer.$$eval('.toolbar button', (els) => els.map((e) => e.textContent)),
      readOnlyBadge: await viewer.$eval('.readonly', (e) => e.textContent)
    }
  },

  // Undo takes back one's own edits only, never somebody else's.
  async undo (browser) {
    const board = await createBoard('mindmap', 'Annuler')
    const alice = await join(browser, board.links.editor, 'Alice')
    const bob = await join(browser, board.links.editor, 'Bob')
    await typeChild(alice, 'Idée d’Alice')
    await typeChild(bob, 'Idée de Bob')
    await waitForLabel(alice, 'Idée de Bob')
    await waitForLabel(bob, 'Idée d’Alice')
    await alice.focus('.viewport')
    await alice.keyboard.press('Control+z')
    await alice.keyboard.press('Control+z')
    await bob.waitForFunction(() => ![...document.querySelectorAll('[role=treeitem] .node-text')].some((e) => e.textContent.includes('Alice')))
    const afterUndo = { alice: (await labels(alice)).sort(), bob: (await labels(bob)).sort() }
    await alice.keyboard.press('Control+y')
    await alice.keyboard.press('Control+y')
    await waitForLabel(bob, 'Idée d’Alice')
    return { afterUndo, afterRedo: (await labels(bob)).sort() }
  },

  // Dragging an idea onto another makes it its child, for everybody.
  async drag (browser) {
    const board = await createBoard('mindmap', 'Glisser')
    const page = await join(browser, board.links.editor, 'Dora')
    const other = await join(browser, board.links.editor, 'Émile')
    await typeChild(page, 'Parent visé')
    await page.click('[data-node=root]')
    await typeChild(page, 'À déplacer')
    const box = async (text) => {
      const b = await page.locator('[role=treeitem]', { hasText: text }).boundingBox()
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 }
    }
    const from = await box('À déplacer')
    const to = await box('Parent visé')
    await page.mouse.move(from.x, from.y)
    await page.mouse.down()
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 5 })
    await page.mouse.move(to.x, to.y, { steps: 5 })
    await page.mouse.up()
    const level = (p) => p.locator('[role=treeitem]', { hasText: 'À déplacer' }).getAttribute('aria-level')
    await other.waitForFunction(() => [...document.querySelectorAll('[role=treeitem]')].some((e) => e.textContent.includes('À déplacer') && e.getAttribute('aria-level') === '3'))
    await page.screenshot({ path: `${shots}/mindmap-drag.png` })
    return { levelHere: await level(page), levelThere: await level(other) }
  },

  // French by default; one click switches the whole interface to English.
  async language (browser) {
    const board = await createBoard('mindmap', 'Langue')
    const page = await join(browser, board.links.editor, 'Zoé')
    const before = { lang: await page.getAttribute('html', 'lang'), toolbar: await page.$eval('.toolbar', (e) => e.textContent) }
    await page.click('.lang-switch')
    await page.waitForFunction(() => document.documentElement.lang === 'en')
    const after = { lang: await page.getAttribute('html', 'lang'), toolbar: await page.$eval('.toolbar', (e) => e.textContent), status: await page.$eval('[role=status]', (e) => e.textContent) }
    await page.screenshot({ path: `${shots}/mindmap-english.png` })
    return { before, after }
  },

  // Figures for the closing note: first render of a large map, keystroke-to-remote-render.
  async measure (browser) {
    const count = Number(opts.nodes ?? 2000)
    const board = await createBoard('mindmap', 'Grande carte')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'seed')
    await until(() => provider.synced, 'seeding client sync')
    doc.transact(() => {
      const nodes = doc.getMap('nodes')
      for (let i = 0; i < count; i++) {
        const node = new Y.Map()
        node.set('text', new Y.Text(`Idée ${i}`))
        node.set('parent', i < 12 ? 'root' : `n${Math.floor((i - 12) / 8)}`)
        node.set('order', i)
        node.set('collapsed', false)
        node.set('author', 'seed')
        nodes.set(`n${i}`, node)
      }
    })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    provider.destroy()
    const started = Date.now()
    const a = await join(browser, board.links.editor, 'Mesure A')
    await a.waitForFunction((n) => document.querySelectorAll('[role=treeitem]').length >= n, count + 1, { timeout: 60000 })
    const firstRenderMs = Date.now() - started
    await a.screenshot({ path: `${shots}/mindmap-${count}-nodes.png` })
    const b = await join(browser, board.links.editor, 'Mesure B')
    const latencies = []
    for (let i = 0; i < 100; i++) {
      await a.focus('.viewport')
      await a.keyboard.press('Tab')
      const t0 = Date.now()
      await a.keyboard.type(`k${i}`)
      await waitForLabel(b, `k${i}`)
      latencies.push(Date.now() - t0)
      await a.keyboard.press('Enter')
    }
    latencies.sort((x, y) => x - y)
    return { count, firstRenderMs, medianMs: latencies[50], worstMs: latencies[99] }
  }
}

async function main () {
  if (!scenarios[scenario] || !base) throw new Error(`usage: browser.mjs ${Object.keys(scenarios).join('|')} --base URL [--shots DIR]`)
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS })
  try {
    const result = await scenarios[scenario](browser)
    process.stdout.write(JSON.stringify(result) + '\n')
  } finally {
    await browser.close()
  }
}

main().then(() => process.exit(0), (error) => {
  process.stderr.write(`browser ${scenario}: ${error.stack ?? error}\n`)
  process.exit(1)
})
