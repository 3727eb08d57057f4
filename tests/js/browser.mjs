#!/usr/bin/env node
// Browser scenarios for the Rust end-to-end tests: Debian's Chromium driven by playwright-core
// against a running Nouage server. Each scenario prints one JSON line of observations on
// stdout (the Rust test asserts on them) and exits 0, or prints the error and exits 1.
//
// usage: browser.mjs SCENARIO --base http://127.0.0.1:PORT --shots DIR
import { parseArgs } from 'node:util'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { chromium } from 'playwright-core'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import jsQR from 'jsqr'
import { PNG } from 'pngjs'

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const STEP_TIMEOUT_MS = 10000

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: { base: { type: 'string' }, shots: { type: 'string' }, nodes: { type: 'string' }, profile: { type: 'string' }, keystrokes: { type: 'string' }, targets: { type: 'string' }, frames: { type: 'string' } }
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

// Opens a mind map link in a new page, joins as `name` and waits for its nodes.
async function join (browser, link, name, org = '') {
  const page = await joinBoard(browser, link, name, org, '')
  await page.waitForSelector('[role=treeitem]')
  return page
}

// Opens `link` in a new page of `context` and joins as `name`, pressing the button with a
// finger when the context has touch; resolves once the first sync is in.
async function joinIn (context, link, name, { touch = false } = {}) {
  const page = await context.newPage()
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  await page.goto(link)
  await page.waitForSelector('form.join')
  await page.fill('input[name=name]', name)
  if (touch) await page.tap('form.join button[type=submit]')
  else await page.click('form.join button[type=submit]')
  await page.waitForSelector('[data-synced=true]')
  return page
}

// Opens `link` in a new page of `context`: joins as `name` (and `org`) when the page asks,
// which it does not when this browser already joined a board; resolves once the first sync
// is in.
async function openAs (context, link, name, org) {
  const page = await context.newPage()
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  page.on('pageerror', (e) => process.stderr.write(`pageerror (${name}): ${e.message}\n`))
  await page.goto(link)
  await page.waitForSelector('form.join, [data-synced=true]')
  if (await page.$('form.join')) {
    await page.fill('input[name=name]', name)
    if (org) await page.fill('input[name=org]', org)
    await page.click('form.join button[type=submit]')
  }
  await page.waitForSelector('[data-synced=true]')
  return page
}

// The id of the canvas note whose text is `text`.
const noteId = (page, text) => page.$$eval('.note', (notes, t) => notes.find((n) => n.querySelector('.note-text')?.textContent === t)?.dataset.note, text)

// Joins any kind of board (the mind map helper also waits for its nodes).
async function joinBoard (browser, link, name, org, orgKind, color) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  page.setDefaultTimeout(STEP_TIMEOUT_MS)
  page.on('pageerror', (e) => process.stderr.write(`pageerror (${name}): ${e.message}\n`))
  await page.goto(link)
  await page.waitForSelector('form.join')
  await page.fill('input[name=name]', name)
  if (org) await page.fill('input[name=org]', org)
  if (orgKind) await page.selectOption('select[name=orgKind]', orgKind)
  if (color) await page.check(`input[name=color][value="${color}"]`)
  await page.click('form.join button[type=submit]')
  await page.waitForSelector('[data-status=Connected]')
  return page
}

async function addNote (page, section, text) {
  await page.click(`[data-section=${section}] [data-action=add-note]`)
  await page.waitForSelector('.note-editor:focus')
  await page.keyboard.type(text)
  await page.keyboard.press('Enter')
}

async function waitForNote (page, text) {
  await page.waitForFunction((t) => [...document.querySelectorAll('.note .note-text')].some((e) => e.textContent === t), text)
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

// Writes a canvas note from a stock Yjs client, in the contract's shape.
function stockNote (doc, id, section, text, color, author) {
  doc.transact(() => {
    const note = new Y.Map()
    note.set('section', section)
    note.set('text', new Y.Text(text))
    note.set('color', color)
    note.set('author', author)
    note.set('votes', new Y.Map())
    doc.getMap('notes').set(id, note)
  })
}

async function until (check, what) {
  const deadline = Date.now() + STEP_TIMEOUT_MS
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const scenarios = {
  // The facilitator renames the board (everybody sees it), downloads exports from the menu,
  // and a map exported as OPML is imported from the home page as a new board.
  async 'export-import' (browser) {
    const board = await createBoard('mindmap', 'Carte du territoire')
    const anne = await join(browser, board.links.facilitator, 'Anne Bérubé', 'Lodève')
    const bruno = await join(browser, board.links.editor, 'Bruno Tremblay', 'Vélo Vert')
    await typeChild(anne, 'Gare de Lodève')
    await waitForLabel(bruno, 'Gare de Lodève')
    anne.once('dialog', (dialog) => dialog.accept('Carte des mobilités du Lodévois'))
    await anne.click('button.rename')
    await bruno.waitForFunction(() => document.querySelector('.board-title').textContent === 'Carte des mobilités du Lodévois')
    const renamedOnOther = await bruno.$eval('.board-title', (e) => e.textContent)
    // Bruno has no rename button: only the facilitator does.
    const brunoCanRename = await bruno.$('button.rename') !== null
    await anne.click('.export-menu summary')
    await anne.screenshot({ path: `${shots}/export-menu.png` })
    const download = async (format) => {
      const [file] = await Promise.all([anne.waitForEvent('download'), anne.click(`.export-menu button[data-format="${format}"]`)])
      const path = `${shots}/export-from-menu.${file.suggestedFilename().split('.').slice(1).join('.')}`
      await file.saveAs(path)
      return { name: file.suggestedFilename(), bytes: readFileSync(path) }
    }
    const pdf = await download('pdf')
    const opml = await download('opml')
    const md = await download('md')
    const formats = await anne.$$eval('.export-menu button', (els) => els.map((e) => e.dataset.format))
    // Import the OPML from the home page.
    const home = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    home.setDefaultTimeout(STEP_TIMEOUT_MS)
    await home.goto(`${base}/`)
    await home.setInputFiles('#import-file', { name: 'carte.opml', mimeType: 'text/x-opml', buffer: opml.bytes })
    await home.click('form.import button[type=submit]')
    await home.waitForSelector('.links [data-role=facilitator] input')
    await home.screenshot({ path: `${shots}/import-done.png` })
    const importedLink = await home.$eval('.links [data-role=facilitator] input', (e) => e.value)
    const imported = await join(browser, importedLink, 'Claire')
    await waitForLabel(imported, 'Gare de Lodève')
    return {
      renamedOnOther,
      brunoCanRename,
      formats,
      pdfName: pdf.name,
      pdfHead: pdf.bytes.subarray(0, 5).toString(),
      md: md.bytes.toString(),
      importedLabels: await labels(imported),
      importedTitle: await imported.$eval('.board-title', (e) => e.textContent)
    }
  },

  // Two people on one map: what one types shows on the other's screen, and who is there.
  // The facilitator locks a note and a node: the editor can no longer change them (votes still
  // count); unlocked, they are editable again.
  async locks (browser) {
    const canvas = await createBoard('diagnosis', 'Diagnostic')
    const anne = await joinBoard(browser, canvas.links.facilitator, 'Anne', 'Lodève', 'commune')
    const bruno = await joinBoard(browser, canvas.links.editor, 'Bruno', 'Vélo Vert', 'association')
    await addNote(anne, 's1', 'Constat validé en séance')
    await waitForNote(bruno, 'Constat validé en séance')
    // Enter closed the editor (it does not reopen it).
    await anne.waitForSelector('.note-editor', { state: 'detached' })
    const note = '[data-section=s1] .note'
    await anne.click(`${note} [data-action=lock]`)
    await bruno.waitForSelector(`${note}.locked`)
    const lockedNote = {
      deleteButton: await bruno.$(`${note} [data-action=delete]`) !== null,
      draggable: await bruno.$eval(note, (e) => e.getAttribute('draggable')),
      lockButton: await bruno.$(`${note} [data-action=lock]`) !== null
    }
    await bruno.dblclick(`${note} .note-text`)
    await bruno.focus(note)
    await bruno.keyboard.press('Delete')
    await new Promise((resolve) => setTimeout(resolve, 300))
    lockedNote.editorOpened = await bruno.$('.note-editor') !== null
    lockedNote.stillThere = await bruno.$eval(`${note} .note-text`, (e) => e.textContent)
    await bruno.screenshot({ path: `${shots}/locked-note.png` })
    await anne.click(`${note} [data-action=lock]`)
    await bruno.waitForSelector(`${note}:not(.locked) [data-action=delete]`)

    const map = await createBoard('mindmap', 'Carte')
    const claire = await join(browser, map.links.facilitator, 'Claire')
    const denis = await join(browser, map.links.editor, 'Denis')
    await typeChild(claire, 'Idée validée')
    await waitForLabel(denis, 'Idée validée')
    await claire.click('text=Idée validée')
    await claire.focus('.viewport')
    await claire.keyboard.press('l')
    await denis.waitForSelector('[role=treeitem].locked')
    await denis.click('text=Idée validée')
    await denis.focus('.viewport')
    await denis.keyboard.type('x')
    await denis.keyboard.press('Delete')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const lockedNode = { labels: await labels(denis), ariaLabel: await denis.$eval('[role=treeitem].locked', (e) => e.getAttribute('aria-label')) }
    await denis.screenshot({ path: `${shots}/locked-node.png` })
    return { lockedNote, lockedNode, claireLabels: await labels(claire) }
  },

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

  // A diagnosis canvas in a working session: notes, a stock client's note, votes, moves.
  async diagnosis (browser) {
    const board = await createBoard('diagnosis', 'Diagnostic de Charlevoix')
    const anne = await joinBoard(browser, board.links.facilitator, 'Anne Bérubé', 'MRC de Charlevoix', 'epci')
    const bruno = await joinBoard(browser, board.links.editor, 'Bruno Tremblay', 'Baie-Saint-Paul', 'commune')
    const sections = await anne.$$eval('.section .section-title', (els) => els.map((e) => e.value ?? e.textContent))
    await addNote(anne, 's1', 'Villages éloignés des services')
    await waitForNote(bruno, 'Villages éloignés des services')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'node-pid')
    await until(() => provider.synced, 'the Node client to sync')
    stockNote(doc, 'from-node', 's5', 'Écrit par Node.js', '#bfdbfe', 'node-pid')
    await waitForNote(anne, 'Écrit par Node.js')
    await waitForNote(bruno, 'Écrit par Node.js')
    // Dot voting: Anne opens it, both vote on the Node note, totals agree everywhere.
    await anne.click('[data-action=toggle-vote]')
    await bruno.waitForSelector('[data-note=from-node] [data-action=vote]')
    await anne.click('[data-note=from-node] [data-action=vote]')
    await bruno.click('[data-note=from-node] [data-action=vote]')
    await bruno.waitForTimeout(100)
    await bruno.click('[data-note=from-node] [data-action=vote]')
    const total = (page) => page.$eval('[data-note=from-node] .votes', (e) => e.dataset.total)
    await anne.waitForFunction(() => document.querySelector('[data-note=from-node] .votes').dataset.total === '3')
    await bruno.waitForFunction(() => document.querySelector('[data-note=from-node] .votes').dataset.total === '3')
    const nodeVotes = doc.getMap('notes').get('from-node').get('votes').toJSON()
    const totals = { anne: await total(anne), bruno: await total(bruno), node: Object.values(nodeVotes).reduce((a, b) => a + b, 0) }
    await anne.click('[data-action=toggle-hidden]')
    await bruno.waitForFunction(() => document.querySelector('[data-note=from-node] .votes').dataset.total === '?')
    // Bruno moves the first note to the next section with the keyboard.
    const first = await bruno.locator('.note', { hasText: 'Villages éloignés' }).getAttribute('data-note')
    await bruno.focus(`[data-note="${first}"]`)
    await bruno.keyboard.press('Alt+ArrowRight')
    await anne.waitForSelector(`[data-section=s2] [data-note="${first}"]`)
    const viewer = await joinBoard(browser, board.links.viewer, 'Claire', '', '')
    await waitForNote(viewer, 'Écrit par Node.js')
    await viewer.focus(`[data-note="${first}"]`)
    await viewer.keyboard.press('Enter')
    await viewer.keyboard.type('intrus')
    const viewerCanEdit = (await viewer.$$('.note-editor, [data-action=add-note], .note-actions')).length
    // Thirty notes from the partners, for the record.
    doc.transact(() => {
      const ideas = ['Vieillissement de la population', 'Transport collectif rare', 'Tourisme saisonnier', 'Logement des travailleurs', 'Circuits courts agricoles', 'Fibre optique incomplète', 'Bénévoles épuisés', 'Écoles menacées de fermeture', 'Patrimoine bâti', 'Eau potable', 'Désaccord sur les éoliennes', 'Cohésion entre communes']
      for (let i = 0; i < 28; i++) {
        const note = new Y.Map()
        note.set('section', `s${1 + (i % 7)}`)
        note.set('text', new Y.Text(`${ideas[i % ideas.length]} (${i + 1})`))
        note.set('color', ['#fef08a', '#bbf7d0', '#bfdbfe', '#fbcfe8'][i % 4])
        note.set('author', 'node-pid')
        note.set('votes', new Y.Map())
        doc.getMap('notes').set(`seed-${String(i).padStart(2, '0')}`, note)
      }
    })
    await anne.waitForFunction(() => document.querySelectorAll('.note').length >= 30)
    // Bruno links his moved note to the Node note; both pages show the link.
    await bruno.click(`[data-note="${first}"] [data-action=link]`)
    await bruno.click('[data-note=from-node] [data-action=link]')
    await anne.waitForFunction(() => document.querySelector('[data-note=from-node] .note-links').textContent.includes('Villages éloignés'))
    // Filters: only what Anne's organisation wrote, then everyone again.
    await bruno.selectOption('[data-filter=org]', 'MRC de Charlevoix')
    const filteredNotes = await bruno.$$eval('.note .note-text', (els) => els.map((e) => e.textContent))
    await bruno.selectOption('[data-filter=org]', '')
    // The facilitator removes the last section and sends its notes to the one before.
    const inS7 = await anne.$$eval('[data-section=s7] .note', (els) => els.length)
    anne.once('dialog', (d) => d.accept())
    await anne.click('[data-section=s7] [data-action=remove-section]')
    await anne.selectOption('[data-section=s7] [data-field=notes-to]', 's6')
    await anne.click('[data-section=s7] [data-action=confirm-remove]')
    await bruno.waitForFunction(() => !document.querySelector('[data-section=s7]'))
    const inS6 = await bruno.$$eval('[data-section=s6] .note', (els) => els.length)
    await anne.click('[data-action=toggle-hidden]')
    await anne.screenshot({ path: `${shots}/diagnosis-30-notes.png`, fullPage: true })
    provider.destroy()
    return { sections, totals, notesOnAnne: await anne.$$eval('.note', (e) => e.length), viewerCanEdit, filteredNotes, inS7, inS6, sectionsAfter: await anne.$$eval('.section', (e) => e.length) }
  },

  // A project portfolio: cards by stage, a stock client's project, moves, the table.
  async portfolio (browser) {
    const board = await createBoard('portfolio', 'Projets du bloc local')
    const anne = await joinBoard(browser, board.links.editor, 'Anne Bérubé', 'MRC de Charlevoix', 'epci')
    const bruno = await joinBoard(browser, board.links.editor, 'Bruno Tremblay', 'Baie-Saint-Paul', 'commune')
    await anne.click('[data-action=add-project]')
    await anne.waitForSelector('.project-panel input[name=title]')
    await anne.fill('.project-panel input[name=title]', 'Navette estivale')
    await anne.fill('.project-panel input[name=lead]', 'MRC de Charlevoix')
    await anne.press('.project-panel input[name=lead]', 'Tab')
    await bruno.waitForSelector('[data-stage=codiagnose] .card-project:has-text("Navette estivale")')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'node-pid')
    await until(() => provider.synced, 'the Node client to sync')
    const addProject = (id, title, stage, lead, partners) => {
      const project = new Y.Map()
      project.set('title', new Y.Text(title))
      project.set('description', new Y.Text(''))
      project.set('stage', stage)
      project.set('status', 'en cours')
      project.set('leadMode', 'commune')
      project.set('lead', lead)
      const list = new Y.Array()
      list.push(partners)
      project.set('partners', list)
      project.set('author', 'node-pid')
      doc.getMap('projects').set(id, project)
    }
    doc.transact(() => addProject('from-node', 'Maison des aînés', 'cofund', 'Les Éboulements', ['CISSS', 'Région']))
    await anne.waitForSelector('[data-stage=cofund] [data-project=from-node]')
    await bruno.focus('[data-project=from-node]')
    await bruno.keyboard.press('Alt+ArrowRight')
    await anne.waitForSelector('[data-stage=coproduce] [data-project=from-node]')
    const nodeSawStage = await (async () => {
      await until(() => doc.getMap('projects').get('from-node').get('stage') === 'coproduce', 'the stage in Node')
      return doc.getMap('projects').get('from-node').get('stage')
    })()
    const titles = ['Navette vers les plages', 'Fibre pour tous', 'Marché de producteurs', 'Halte-garderie', 'Sentier du fleuve', 'Guichet unique', 'Coopérative d’habitation', 'Jardin collectif', 'Rénovation de l’église', 'Covoiturage rural']
    const stages = ['codiagnose', 'codesign', 'cofund', 'coproduce', 'costeer', 'coevaluate']
    doc.transact(() => {
      for (let i = 0; i < 18; i++) addProject(`seed-${String(i).padStart(2, '0')}`, `${titles[i % titles.length]} ${i + 1}`, stages[i % 6], ['Baie-Saint-Paul', 'La Malbaie', 'MRC de Charlevoix'][i % 3], ['Région', 'Association Vélo'].slice(0, 1 + (i % 2)))
    })
    await anne.waitForFunction(() => document.querySelectorAll('.card-project').length >= 20)
    await bruno.waitForFunction(() => document.querySelectorAll('.card-project').length >= 20)
    // Anne goes on typing the title in her panel: Bruno's columns update the one card in place
    // (every card keeps its element) and Anne's title field keeps the focus throughout.
    await bruno.evaluate(() => { window.__cards = new Map([...document.querySelectorAll('.card-project')].map((e) => [e.dataset.project, e])) })
    await anne.focus('.project-panel input[name=title]')
    await anne.keyboard.press('End')
    await anne.keyboard.type(' des deux rives')
    await bruno.waitForSelector('.card-project .project-title:text-is("Navette estivale des deux rives")')
    const typedTitle = await anne.$eval('.project-panel input[name=title]', (e) => e.value)
    const titleKeptFocus = await anne.evaluate(() => document.activeElement?.name === 'title')
    const keptCards = await bruno.evaluate(() => [...document.querySelectorAll('.card-project')].filter((e) => window.__cards.get(e.dataset.project) === e).length)
    await anne.click('.project-panel .close')
    const cards = await anne.$$eval('.card-project', (e) => e.length)
    // Bruno has a card in hand (keyboard focus) when a project above it in its column goes:
    // his focus stays on the same project.
    await bruno.focus('[data-project=seed-12]')
    doc.transact(() => doc.getMap('projects').delete('seed-00'))
    await bruno.waitForFunction(() => !document.querySelector('[data-project=seed-00]'))
    const focusAfterDelete = await bruno.evaluate(() => document.activeElement?.dataset?.project ?? null)
    await anne.screenshot({ path: `${shots}/portfolio-20-projects-columns.png`, fullPage: true })
    await anne.click('text=Tableau')
    await anne.waitForSelector('.projects-table')
    await anne.selectOption('[data-filter=stage]', 'cofund')
    const filtered = await anne.$$eval('.projects-table tbody tr', (rows) => rows.length)
    await anne.selectOption('[data-filter=stage]', '')
    await anne.click('th >> text=Projet')
    const sortedTitles = await anne.$$eval('.projects-table tbody tr td:first-child', (cells) => cells.map((c) => c.textContent))
    await anne.screenshot({ path: `${shots}/portfolio-20-projects-table.png`, fullPage: true })
    const viewer = await joinBoard(browser, board.links.viewer, 'Claire', '', '')
    await viewer.waitForSelector('[data-project=from-node]')
    await viewer.click('[data-project=from-node]')
    await viewer.waitForSelector('.project-panel')
    const viewerAdd = (await viewer.$$('[data-action=add-project]')).length
    const viewerReadonly = await viewer.$eval('.project-panel input[name=title]', (e) => e.readOnly)
    provider.destroy()
    return { nodeSawStage, filtered, sortedTitles, cards, viewerAdd, viewerReadonly, typedTitle, titleKeptFocus, keptCards, focusAfterDelete }
  },

  // The contributions panel credits each participant with what they did.
  // A note deleted by mistake is listed in the contributions panel and restored from there.
  async restore (browser) {
    const board = await createBoard('diagnosis', 'Diagnostic')
    const anne = await joinBoard(browser, board.links.editor, 'Anne', 'Lodève', 'commune')
    const bruno = await joinBoard(browser, board.links.editor, 'Bruno', 'Vélo Vert', 'association')
    await addNote(anne, 's2', 'Peu de bus le dimanche')
    await waitForNote(bruno, 'Peu de bus le dimanche')
    bruno.once('dialog', (dialog) => dialog.accept())
    await bruno.focus('[data-section=s2] .note')
    await bruno.keyboard.press('Delete')
    await anne.waitForFunction(() => document.querySelectorAll('.note').length === 0)
    await anne.click('.contributions-toggle')
    await anne.waitForSelector('.deleted li [data-action=restore]')
    const listed = await anne.$eval('.deleted li', (e) => e.textContent)
    await anne.screenshot({ path: `${shots}/deleted-elements.png` })
    await anne.click('.deleted li [data-action=restore]')
    await waitForNote(anne, 'Peu de bus le dimanche')
    await waitForNote(bruno, 'Peu de bus le dimanche')
    await anne.waitForFunction(() => document.querySelectorAll('.deleted li').length === 0)
    const author = await bruno.$eval('[data-section=s2] .note .author', (e) => e.textContent)
    return { listed, author }
  },

  // The history panel lists the changes, and its slider shows the board as it was.
  async history (browser) {
    const board = await createBoard('mindmap', 'Carte')
    const anne = await join(browser, board.links.editor, 'Anne', 'Lodève')
    await typeChild(anne, 'Première idée')
    await new Promise((resolve) => setTimeout(resolve, 300))
    await typeChild(anne, 'Deuxième idée')
    // The panel lists what the journal holds: wait until the last keystroke is committed there
    // (the board as of now, read from the journal, shows the whole text), however busy the
    // machine.
    await until(async () => {
      const now = await fetch(`${base}/api/boards/${board.id}/export?format=md&at=${Date.now()}`, { headers: { Authorization: `Bearer ${board.tokens.viewer}` } })
      return now.ok && (await now.text()).includes('Deuxième idée')
    }, 'the second idea in the journal')
    await anne.click('.history-toggle')
    await anne.waitForSelector('.history-panel input[type=range]')
    const lines = await anne.$$eval('.history-panel .timeline li', (els) => els.map((e) => e.textContent))
    const stops = await anne.$eval('.history-panel input[type=range]', (e) => Number(e.max) + 1)
    // Moves the slider and returns the drawing the page fetched (the page's own fetch of a
    // blob: URL is not allowed by its Content-Security-Policy, so the response is read here).
    const slide = async (to) => {
      const before = await anne.$eval('.history-panel', (e) => e.querySelector('.past-board img')?.getAttribute('src') ?? '')
      const [response] = await Promise.all([
        anne.waitForResponse((r) => r.url().includes('format=svg&at=')),
        anne.$eval('.history-panel input[type=range]', (e, v) => {
          e.value = v === 'max' ? e.max : String(v)
          e.dispatchEvent(new Event('input', { bubbles: true }))
          e.dispatchEvent(new Event('change', { bubbles: true }))
        }, to)
      ])
      await anne.waitForFunction((b) => { const img = document.querySelector('.past-board img'); return img && img.getAttribute('src') && img.getAttribute('src') !== b }, before)
      const again = await fetch(response.url(), { headers: { Authorization: `Bearer ${board.tokens.viewer}` } })
      return again.text()
    }
    const first = await slide(0)
    const last = await slide('max')
    const middle = await anne.$eval('.history-panel input[type=range]', (e) => Math.floor(Number(e.max) / 2))
    const atMiddle = await slide(middle)
    await anne.screenshot({ path: `${shots}/history-time-travel.png` })
    return {
      lines,
      stops,
      firstHasSecond: first.includes('Deuxième idée'),
      lastHasBoth: last.includes('Première idée') && last.includes('Deuxième idée'),
      middleIsSvg: atMiddle.startsWith('<svg'),
      label: await anne.$eval('.time-label', (e) => e.textContent)
    }
  },

  // A long timeline is read a page at a time: the latest changes first, then earlier ones, and
  // back to the latest.
  async 'history-pages' (browser) {
    const board = await createBoard('mindmap', 'Carte')
    // Six stock clients add 1,200 ideas, more than the panel's page of 1,000 changes: 200
    // updates each, sent at once (the relay lets a connection send 400 in a burst).
    const writers = [0, 1, 2, 3, 4, 5].map((i) => yjsClient(board.id, board.tokens.editor, `writer-${i}`))
    const watcher = yjsClient(board.id, board.tokens.viewer, 'watcher')
    try {
      await until(() => writers.every((w) => w.provider.synced), 'the writers to sync')
      for (let round = 0; round < 200; round++) {
        writers.forEach(({ doc }, i) => doc.transact(() => {
          const node = new Y.Map()
          const text = new Y.Text()
          text.insert(0, `Idée ${round}-${i}`)
          node.set('text', text)
          node.set('parent', 'root')
          node.set('order', round)
          node.set('collapsed', false)
          node.set('author', `writer-${i}`)
          doc.getMap('nodes').set(`w${i}-${round}`, node)
        }))
      }
      // Relayed means committed: once another client has them all, the journal has them.
      await until(() => watcher.doc.getMap('nodes').size >= 1 + 1200, 'the 1,200 ideas to be stored')
    } finally {
      for (const w of [...writers, watcher]) w.provider.destroy()
    }
    const anne = await join(browser, board.links.editor, 'Anne', 'Lodève')
    await anne.click('.history-toggle')
    await anne.waitForSelector('.history-panel button.older')
    const count = () => anne.$eval('.history-panel .hint', (e) => Number(/· (\d+)/.exec(e.textContent)?.[1] ?? -1))
    const latest = await count()
    await anne.click('.history-panel button.older')
    await anne.waitForSelector('.history-panel button.newer')
    const earlier = await count()
    const earlierStillOlder = (await anne.$('.history-panel button.older')) !== null
    await anne.screenshot({ path: `${shots}/history-earlier-page.png` })
    await anne.click('.history-panel button.latest')
    await anne.waitForSelector('.history-panel button.older')
    const back = await count()
    return { latest, earlier, earlierStillOlder, back }
  },

  // Colour by author, and a participant's contributions highlighted from the panel.
  async 'by-author' (browser) {
    const board = await createBoard('mindmap', 'Carte')
    // Colours chosen apart: the join form picks one at random otherwise.
    const anne = await joinBoard(browser, board.links.editor, 'Anne', 'Lodève', 'commune', '#2563eb')
    await anne.waitForSelector('[role=treeitem]')
    const bruno = await joinBoard(browser, board.links.editor, 'Bruno', 'Vélo Vert', 'association', '#059669')
    await bruno.waitForSelector('[role=treeitem]')
    await typeChild(anne, 'Idée d’Anne')
    await typeChild(bruno, 'Idée de Bruno')
    await waitForLabel(anne, 'Idée de Bruno')
    const border = (text) => anne.$$eval('[role=treeitem]', (els, t) => getComputedStyle(els.find((e) => e.querySelector('.node-text').textContent === t)).borderTopColor, text)
    const opacity = (text) => anne.$$eval('[role=treeitem]', (els, t) => getComputedStyle(els.find((e) => e.querySelector('.node-text').textContent === t)).opacity, text)
    await anne.click('.by-author-toggle')
    await anne.waitForSelector('.board.by-author')
    const colours = [await border('Idée d’Anne'), await border('Idée de Bruno')]
    await anne.click('.contributions-toggle')
    await anne.waitForSelector('table.contributions tbody tr')
    await anne.click('table.contributions tbody tr:has-text("Bruno")')
    await anne.waitForFunction(() => [...document.querySelectorAll('[role=treeitem]')].some((e) => getComputedStyle(e).opacity === '0.25'))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const highlighted = { anne: await opacity('Idée d’Anne'), bruno: await opacity('Idée de Bruno') }
    await anne.screenshot({ path: `${shots}/colour-by-author-highlight.png` })
    // Clicking an organisation highlights the elements of its members.
    await anne.click('table.contributions-orgs tr:has-text("Lodève")')
    await anne.waitForFunction(() => [...document.querySelectorAll('[role=treeitem]')].some((e) => e.textContent.includes('Bruno') && getComputedStyle(e).opacity === '0.25'))
    await new Promise((resolve) => setTimeout(resolve, 300))
    const byOrganisation = { anne: await opacity('Idée d’Anne'), bruno: await opacity('Idée de Bruno') }
    // Hovering the board loads the server's record: an element's hover text says who made it.
    const bruno_node = '[role=treeitem]:has-text("Idée de Bruno")'
    await anne.hover(bruno_node)
    await anne.waitForFunction(() => [...document.querySelectorAll('[role=treeitem]')].some((e) => e.textContent.includes('Idée de Bruno') && (e.getAttribute('title') ?? '').startsWith('Créé par')))
    const hover = await anne.$$eval('[role=treeitem]', (els) => els.find((e) => e.querySelector('.node-text').textContent === 'Idée de Bruno').getAttribute('title'))
    // The element panel tells the story of the node clicked.
    await anne.click('.story-toggle')
    await anne.click(bruno_node)
    await anne.waitForSelector('.element-story li')
    const story = await anne.$$eval('.element-story li', (els) => els.map((e) => e.textContent))
    await anne.$eval('.element-panel', (e) => e.scrollIntoView())
    await anne.screenshot({ path: `${shots}/element-story.png` })
    return { colours, highlighted, byOrganisation, hover, story }
  },

  async contributions (browser) {
    const board = await createBoard('mindmap', 'Qui a contribué')
    const anne = await joinBoard(browser, board.links.editor, 'Anne Bérubé', 'Baie-Saint-Paul', 'commune')
    await anne.waitForSelector('[role=treeitem]')
    const bruno = await joinBoard(browser, board.links.editor, 'Bruno Tremblay', 'Vélo Charlevoix', 'association')
    await bruno.waitForSelector('[role=treeitem]')
    await typeChild(anne, 'Navette')
    await typeChild(anne, 'Train')
    await typeChild(bruno, 'Vélos')
    await waitForLabel(anne, 'Vélos')
    await anne.click('.contributions-toggle')
    await anne.waitForFunction(() => document.querySelectorAll('table.contributions tbody tr').length === 2)
    const rows = await anne.$$eval('table.contributions tbody tr', (trs) => trs.map((tr) => [tr.cells[0].firstChild.textContent, tr.cells[1].textContent, tr.cells[2].textContent]))
    const parity = await anne.$$eval('.parity li', (lis) => lis.map((li) => li.textContent))
    await anne.screenshot({ path: `${shots}/contributions-panel.png` })
    return { rows: rows.sort(), parity }
  },

  // Renaming the central topic moves every idea on the other page, and each keeps its
  // element: the page updates what moved in place instead of drawing the map again.
  async 'rename-central' (browser) {
    const board = await createBoard('mindmap', 'Centre')
    const anne = await join(browser, board.links.editor, 'Anne')
    for (const text of ['Mobilités', 'Habitat', 'Santé', 'Culture']) await typeChild(anne, text)
    const bruno = await join(browser, board.links.editor, 'Bruno')
    await waitForLabel(bruno, 'Culture')
    const before = await bruno.evaluate(() => {
      const nodes = [...document.querySelectorAll('[role=treeitem]')]
      window.__kept = new Map(nodes.map((e) => [e.dataset.node, e]))
      return nodes.map((e) => [e.dataset.node, e.getBoundingClientRect().x])
    })
    await anne.focus('.viewport')
    await anne.keyboard.press('Escape')
    await anne.click('[data-node=root]')
    await anne.keyboard.press('F2')
    await anne.keyboard.press('End')
    await anne.keyboard.type(' de la communauté de communes')
    await anne.keyboard.press('Enter')
    await waitForLabel(bruno, 'Centre de la communauté de communes')
    const after = await bruno.evaluate(() => [...document.querySelectorAll('[role=treeitem]')].map((e) => [e.dataset.node, e.getBoundingClientRect().x, window.__kept.get(e.dataset.node) === e]))
    const moved = after.filter(([id, x]) => before.some(([b, bx]) => b === id && Math.abs(bx - x) > 1)).length
    return { nodes: after.length, moved, sameElements: after.filter(([, , same]) => same).length }
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

  // Joining from the room: a phone opens the join link read off the projector, joins with a
  // name and adds an idea; a wrong code gets a page that says so; the home page's code field
  // joins too; the facilitator's panel shows the code and its QR code.
  async 'join-code' (browser) {
    const board = await createBoard('mindmap', 'Réunion du comité')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'node-pid')
    await until(() => provider.synced, 'the Node client to sync')
    const phoneContext = await browser.newContext({ viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    const phone = await phoneContext.newPage()
    phone.setDefaultTimeout(STEP_TIMEOUT_MS)
    await phone.goto(board.links.join)
    await phone.waitForSelector('form.join')
    const joinedPath = new URL(phone.url()).pathname
    await phone.fill('input[name=name]', 'Chloé au fond de la salle')
    await phone.tap('form.join button[type=submit]')
    await phone.waitForSelector('[data-status=Connected]')
    await phone.waitForSelector('[data-node=root]')
    await phone.tap('[data-node=root]')
    await phone.tap('.mindmap .toolbar button:first-child')
    await phone.waitForSelector('.node-editor:focus')
    await phone.keyboard.type('Navette du marché')
    await phone.keyboard.press('Enter')
    const nodes = doc.getMap('nodes')
    await until(() => [...nodes.values()].some((n) => n.get('text')?.toString() === 'Navette du marché'), 'the idea in the Node client')
    await phone.screenshot({ path: `${shots}/join-phone-board.png` })

    const stranger = await browser.newPage({ viewport: { width: 412, height: 915 } })
    await stranger.goto(`${base}/j/ZZZZ22`)
    await stranger.waitForSelector('.join-page .error[role=alert]')
    const refusedText = await stranger.$eval('.join-page .error[role=alert]', (e) => e.textContent)
    await stranger.screenshot({ path: `${shots}/join-refused.png` })

    const home = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    await home.goto(base)
    await home.fill('.join-code input[name=code]', ` ${board.joinCode.toLowerCase()} `)
    await home.click('.join-code button[type=submit]')
    await home.waitForSelector('form.join')
    const fromHomePath = new URL(home.url()).pathname
    // Keyboard-first: right after joining, Tab adds a child to the central topic.
    await home.fill('input[name=name]', 'Denis au clavier')
    await home.press('input[name=name]', 'Enter')
    await home.waitForSelector('[data-status=Connected]')
    await home.waitForFunction(() => document.activeElement?.classList.contains('viewport'))
    await home.keyboard.press('Tab')
    await home.waitForSelector('.node-editor:focus')
    await home.keyboard.type('Idée au clavier')
    await home.keyboard.press('Enter')
    await until(() => [...nodes.values()].some((n) => n.get('text')?.toString() === 'Idée au clavier'), 'the keyboard idea in the Node client')

    const anne = await join(browser, board.links.facilitator, 'Anne Bérubé')
    await anne.click('.join-code-toggle')
    await anne.waitForSelector('.join-qr svg')
    const shownCode = await anne.$eval('.join-code-big', (e) => e.textContent)
    await anne.screenshot({ path: `${shots}/join-code-panel.png` })
    await anne.click('[data-action=renew-code]')
    await anne.waitForFunction((old) => document.querySelector('.join-code-big')?.textContent !== old, shownCode)
    const renewed = await anne.$eval('.join-code-big', (e) => e.textContent)
    // The phone that came in with the old code is still connected after the renewal.
    const phoneStatus = await phone.getAttribute('[role=status][data-status]', 'data-status')
    provider.destroy()
    return { joinedPath, refusedText, fromHomePath, shownCode, code: board.joinCode, renewed, phoneStatus }
  },

  // Each board kind at phone, tablet, desktop and projector sizes: a screenshot of each, and
  // what a person would notice: the page never scrolls sideways, and on a phone the board
  // (the map, the sections, the columns) takes most of the screen.
  async screens (browser) {
    const boards = {}
    for (const kind of ['mindmap', 'diagnosis', 'portfolio']) {
      const board = await createBoard(kind, { mindmap: 'Mobilités du bassin de vie', diagnosis: 'Diagnostic partagé du territoire', portfolio: 'Projets du bloc local' }[kind])
      const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'seed')
      await until(() => provider.synced, 'the seeding client to sync')
      doc.transact(() => {
        for (let i = 0; i < 9; i++) {
          const item = new Y.Map()
          if (kind === 'mindmap') {
            item.set('text', new Y.Text(['Transports scolaires', 'Covoiturage', 'Vélo', 'Navettes', 'Gares', 'Parkings relais', 'Piétons', 'Fret', 'Tarifs'][i]))
            item.set('parent', i < 4 ? 'root' : `n${i % 4}`)
            item.set('order', i)
            item.set('collapsed', false)
            item.set('author', 'seed')
            doc.getMap('nodes').set(`n${i}`, item)
          } else if (kind === 'diagnosis') {
            item.set('section', `s${1 + (i % 7)}`)
            item.set('text', new Y.Text(`Constat ${i + 1} : l'offre de soins recule dans les bourgs`))
            item.set('color', '#fef08a')
            item.set('author', 'seed')
            item.set('votes', new Y.Map())
            doc.getMap('notes').set(`m${i}`, item)
          } else {
            item.set('title', new Y.Text(`Projet ${i + 1}`))
            item.set('description', new Y.Text(''))
            item.set('stage', ['codiagnose', 'codesign', 'cofund', 'coproduce', 'costeer', 'coevaluate'][i % 6])
            item.set('status', 'en cours')
            item.set('leadMode', 'commune')
            item.set('lead', 'Commune de Lodève')
            item.set('partners', new Y.Array())
            item.set('author', 'seed')
            doc.getMap('projects').set(`p${i}`, item)
          }
        }
      })
      boards[kind] = { board, provider }
    }
    const sizes = {
      phone: { viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
      tablet: { viewport: { width: 820, height: 1180 }, isMobile: true, hasTouch: true },
      desktop: { viewport: { width: 1400, height: 900 } },
      projector: { viewport: { width: 1920, height: 1080 } }
    }
    const metrics = {}
    for (const [size, options] of Object.entries(sizes)) {
      const context = await browser.newContext(options)
      await context.addInitScript(() => localStorage.setItem('nouage.profile',
        JSON.stringify({ pid: 'p-screens', name: 'Écrans', org: '', orgKind: '', color: '' })))
      for (const kind of Object.keys(boards)) {
        const page = await context.newPage()
        page.setDefaultTimeout(STEP_TIMEOUT_MS)
        await page.goto(boards[kind].board.links.editor)
        await page.waitForSelector('[data-status=Connected]')
        const area = { mindmap: '.viewport', diagnosis: '.sections', portfolio: '.stages' }[kind]
        await page.waitForSelector({ mindmap: '[data-node=n8]', diagnosis: '[data-note=m8]', portfolio: '[data-project=p8]' }[kind])
        await page.screenshot({ path: `${shots}/screens-${kind}-${size}.png` })
        metrics[`${kind}-${size}`] = await page.evaluate((area) => {
          // The part of the board inside the window (a board taller than the screen counts
          // for what shows).
          const r = document.querySelector(area).getBoundingClientRect()
          const width = Math.max(0, Math.min(r.right, window.innerWidth) - Math.max(r.left, 0))
          const height = Math.max(0, Math.min(r.bottom, window.innerHeight) - Math.max(r.top, 0))
          return {
            horizontalScroll: document.documentElement.scrollWidth > window.innerWidth + 1,
            pageScrolls: document.documentElement.scrollHeight > window.innerHeight + 1,
            boardShare: Math.round((100 * width * height) / (window.innerWidth * window.innerHeight)) / 100
          }
        }, area)
        await page.close()
      }
      await context.close()
    }
    for (const { provider } of Object.values(boards)) provider.destroy()
    return metrics
  },

  // Touch editing on a phone: two fingers zoom the map, a long press opens an idea's menu
  // whose "add a child" a Yjs client sees, a double tap edits; on the canvas a note is added
  // and voted with taps.
  async touch (browser) {
    const board = await createBoard('mindmap', 'Au doigt')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'node-pid')
    await until(() => provider.synced, 'the Node client to sync')
    const context = await browser.newContext({ viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true })
    const phone = await joinIn(context, board.links.editor, 'Emma', { touch: true })
    const cdp = await context.newCDPSession(phone)
    const touch = (type, points) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x, y, id })) })
    const scale = () => phone.$eval('.canvas', (e) => Number(/scale\(([\d.]+)\)/.exec(e.style.transform)?.[1] ?? 1))
    const box = await phone.$eval('.viewport', (e) => { const r = e.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 3 } })
    const before = await scale()
    // Two fingers 60 px apart move to 240 px apart, in steps, then lift.
    await touch('touchStart', [[box.x - 30, box.y], [box.x + 30, box.y]])
    for (let step = 1; step <= 6; step++) await touch('touchMove', [[box.x - 30 - 15 * step, box.y], [box.x + 30 + 15 * step, box.y]])
    await touch('touchEnd', [])
    const afterPinch = await scale()
    // A long press on the central topic opens its menu: held until the menu shows.
    const root = await phone.$eval('[data-node=root]', (e) => { const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2] })
    await touch('touchStart', [root])
    await phone.waitForSelector('.node-menu [data-action=add-child]')
    await touch('touchEnd', [])
    await phone.screenshot({ path: `${shots}/touch-node-menu.png` })
    await phone.tap('.node-menu [data-action=add-child]')
    await phone.waitForSelector('.node-editor:focus')
    await phone.keyboard.type('Au doigt et à l\'œil')
    await phone.keyboard.press('Enter')
    const nodes = doc.getMap('nodes')
    await until(() => [...nodes.values()].some((n) => n.get('text')?.toString() === 'Au doigt et à l\'œil'), 'the idea in the Node client')
    // A double tap on that idea edits it.
    const added = [...nodes.entries()].find(([, n]) => n.get('text')?.toString() === 'Au doigt et à l\'œil')[0]
    await phone.tap(`[data-node="${added}"]`)
    await phone.tap(`[data-node="${added}"]`)
    await phone.waitForSelector('.node-editor:focus')
    await phone.keyboard.press('End')
    await phone.keyboard.type(' !')
    await phone.keyboard.press('Enter')
    await until(() => nodes.get(added).get('text').toString() === 'Au doigt et à l\'œil !', 'the edit in the Node client')
    provider.destroy()

    // The canvas: a note added and voted with taps.
    const canvas = await createBoard('diagnosis', 'Diagnostic au doigt')
    const c = yjsClient(canvas.id, canvas.tokens.facilitator, 'node-pid')
    await until(() => c.provider.synced, 'the Node client to sync')
    c.doc.getMap('voting').set('open', true)
    await phone.goto(canvas.links.editor)
    await phone.waitForSelector('[data-synced=true]')
    await phone.tap('[data-section=s1] [data-action=add-note]')
    await phone.waitForSelector('.note-editor:focus')
    await phone.keyboard.type('Plus de bus le dimanche')
    await phone.keyboard.press('Enter')
    await phone.waitForSelector('[data-section=s1] .note [data-action=vote]')
    await phone.tap('[data-section=s1] .note [data-action=vote]')
    const notes = c.doc.getMap('notes')
    await until(() => [...notes.values()].some((n) => n.get('text')?.toString() === 'Plus de bus le dimanche' && Object.values(n.get('votes').toJSON()).reduce((a, b) => a + b, 0) === 1), 'the note and its vote in the Node client')
    // A finger cannot drag a note: the tapped note offers "move to" another section.
    await phone.tap('[data-section=s1] .note .note-text')
    await phone.tap('[data-section=s1] .note [data-action=move]')
    await phone.waitForSelector('[data-section=s1] .note select[data-action=move-to]')
    await phone.screenshot({ path: `${shots}/touch-canvas.png` })
    await phone.selectOption('[data-section=s1] .note select[data-action=move-to]', 's2')
    await until(() => [...notes.values()].some((n) => n.get('text')?.toString() === 'Plus de bus le dimanche' && n.get('section') === 's2'), 'the note moved to s2 in the Node client')
    await phone.waitForSelector('[data-section=s2] .note')
    // A finger held on a note shows its tools instead of the browser's menu.
    await phone.tap('[data-section=s1] [data-action=add-note]')
    await phone.waitForSelector('.note-editor:focus')
    await phone.keyboard.type('Un marché le samedi')
    await phone.keyboard.press('Enter')
    const held = await phone.$eval('[data-section=s1] .note .note-text', (e) => { const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2] })
    await touch('touchStart', [held])
    await phone.waitForSelector('[data-section=s1] .note:focus')
    await touch('touchEnd', [])
    const noteToolsShown = await phone.$eval('[data-section=s1] .note [data-action=move]', (e) => getComputedStyle(e).visibility)
    c.provider.destroy()

    // The portfolio: a project added and named with the finger, its stage changed from its
    // panel, which a finger held on the card opens too.
    const portfolio = await createBoard('portfolio', 'Projets au doigt')
    const p = yjsClient(portfolio.id, portfolio.tokens.editor, 'node-pid')
    await until(() => p.provider.synced, 'the Node client to sync')
    await phone.goto(portfolio.links.editor)
    await phone.waitForSelector('[data-synced=true]')
    await phone.tap('[data-action=add-project]')
    await phone.waitForSelector('.project-panel input[name=title]')
    await phone.fill('.project-panel input[name=title]', 'Navette des marchés')
    await phone.selectOption('.project-panel select[name=stage]', 'cofund')
    await phone.tap('.project-panel .close')
    const projects = p.doc.getMap('projects')
    await until(() => [...projects.values()].some((x) => x.get('title')?.toString() === 'Navette des marchés' && x.get('stage') === 'cofund'), 'the project and its stage in the Node client')
    await phone.waitForSelector('[data-stage=cofund] .card-project')
    const card = await phone.$eval('[data-stage=cofund] .card-project', (e) => { e.scrollIntoView(); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2] })
    await touch('touchStart', [card])
    await phone.waitForSelector('.project-panel select[name=stage]')
    await touch('touchEnd', [])
    await phone.screenshot({ path: `${shots}/touch-portfolio-panel.png` })
    p.provider.destroy()
    return { before, afterPinch, noteToolsShown }
  },

  // The meeting's timer: the facilitator starts it, and three screens whose clocks disagree
  // with the server's (one 47 s ahead, one 23 s behind) show the same remaining time, paused,
  // resumed, after one reloads (a reconnection), extended; a stock Yjs client reads it in
  // meta.timer; stopped, it goes from every screen.
  async timer (browser) {
    const board = await createBoard('diagnosis', 'Atelier mobilités')
    const skewed = async (name, skewMs) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      await context.addInitScript((ms) => { const real = Date.now.bind(Date); Date.now = () => real() + ms }, skewMs)
      return joinIn(context, board.links.editor, name)
    }
    const facilitator = await joinIn(await browser.newContext({ viewport: { width: 1280, height: 800 } }), board.links.facilitator, 'Animatrice')
    const ahead = await skewed('Lina', 47000)
    const behind = await skewed('Marc', -23000)
    const pages = [facilitator, ahead, behind]
    const shown = () => Promise.all(pages.map((p) => p.$eval('.timer-clock', (e) => ({ ms: Number(e.dataset.remainingMs), text: e.textContent }), null).catch(() => null)))
    // The remaining time on every page, read at once; `settled` must hold on all of them.
    const agree = async (what, settled) => {
      let last
      await until(async () => {
        last = await shown()
        if (last.some((x) => !x || !settled(x))) return false
        const ms = last.map((x) => x.ms)
        return Math.max(...ms) - Math.min(...ms) <= 1000
      }, `${what}: the three screens to agree within a second (${JSON.stringify(last)})`)
      return last
    }
    await facilitator.click('[data-action=timer-setup]')
    await facilitator.fill('[data-action=timer-minutes]', '3')
    await facilitator.click('[data-action=timer-start]')
    const started = await agree('started', (x) => x.ms > 170000 && x.ms <= 180000)
    await facilitator.screenshot({ path: `${shots}/timer-facilitator.png` })
    await ahead.screenshot({ path: `${shots}/timer-participant.png` })
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'node-pid')
    await until(() => provider.synced && doc.getMap('meta').get('timer'), 'the timer in the Node client')
    const inDocument = doc.getMap('meta').get('timer')
    provider.destroy()

    await facilitator.click('[data-action=timer-pause]')
    await until(async () => (await Promise.all(pages.map((p) => p.$eval('.meeting-timer', (e) => e.dataset.state)))).every((s) => s === 'paused'), 'every screen paused')
    const paused = await agree('paused', () => true)
    await facilitator.click('[data-action=timer-resume]')
    await until(async () => (await Promise.all(pages.map((p) => p.$eval('.meeting-timer', (e) => e.dataset.state)))).every((s) => s === 'running'), 'every screen running again')
    // One reloads (its connection goes and comes back, its clock estimated again).
    await behind.reload()
    await behind.waitForSelector('[data-synced=true]')
    const afterReload = await agree('after a reload', () => true)
    await facilitator.click('[data-action=timer-extend]')
    const extended = await agree('extended', (x) => x.ms > afterReload[0].ms + 50000)
    // Only the facilitator runs the timer.
    const refused = await fetch(`${base}/api/boards/${board.id}/timer`, {
      method: 'POST', headers: { authorization: `Bearer ${board.tokens.editor}`, 'content-type': 'application/json' }, body: '{"action":"stop"}'
    })
    await facilitator.click('[data-action=timer-stop]')
    await until(async () => (await shown()).every((x) => x === null), 'the timer gone from every screen')
    return { started, paused, afterReload, extended, inDocument, editorStop: refused.status }
  },

  // Reactions on a note: three participants react, each counted once per reaction; one takes
  // a reaction back; the counts are live on every page, survive a reload, and reach the CSV.
  async reactions (browser) {
    const board = await createBoard('diagnosis', 'Atelier habitat')
    const pages = []
    for (const [link, name] of [[board.links.facilitator, 'Animatrice'], [board.links.editor, 'Lina'], [board.links.editor, 'Marc']]) {
      pages.push(await joinIn(await browser.newContext({ viewport: { width: 1280, height: 800 } }), link, name))
    }
    const [facilitator, lina, marc] = pages
    await addNote(facilitator, 's1', 'Des logements pour les saisonniers')
    const note = '[data-section=s1] .note'
    const react = async (page, emoji) => {
      await page.waitForSelector(`${note} [data-action=react]`)
      if (!(await page.$(`${note} .reaction-picker`))) await page.click(`${note} [data-action=react]`)
      await page.click(`${note} .reaction-picker [data-reaction="${emoji}"]`)
    }
    await react(lina, '👍')
    await react(lina, '💡')
    await react(marc, '👍')
    await react(facilitator, '👍')
    // Marc presses 👍 twice more in the picker: taken back, then given again, counted once.
    await react(marc, '👍')
    await react(marc, '👍')
    const counts = (page) => page.$$eval(`${note} .reactions .reaction`, (els) => Object.fromEntries(els.map((e) => [e.dataset.reaction, [Number(e.querySelector('.count')?.textContent ?? 0), e.getAttribute('aria-pressed')]])))
    const everywhere = async (expected, what) => {
      let last
      await until(async () => {
        last = await Promise.all(pages.map(async (p) => Object.fromEntries(Object.entries(await counts(p)).map(([k, [n]]) => [k, n]))))
        return last.every((c) => JSON.stringify(c) === JSON.stringify(expected))
      }, `${what}: ${JSON.stringify(expected)} on every page (${JSON.stringify(last)})`)
    }
    await everywhere({ '👍': 3, '💡': 1 }, 'three thumbs, one idea')
    // Lina takes her 👍 back by tapping it under the note.
    await lina.click(`${note} .reactions [data-reaction="👍"]`)
    await everywhere({ '👍': 2, '💡': 1 }, 'one thumb taken back')
    await facilitator.screenshot({ path: `${shots}/reactions-canvas.png` })
    await lina.reload()
    await lina.waitForSelector('[data-synced=true]')
    await lina.waitForSelector(`${note} .reactions`)
    const afterReload = await counts(lina)
    const csv = await (await fetch(`${base}/api/boards/${board.id}/export?format=csv`, { headers: { authorization: `Bearer ${board.tokens.viewer}` } })).text()
    return { afterReload, marcsOwn: await counts(marc), csv }
  },

  // Proxy entry: Lina types ideas for the citizens' table (no device) on a canvas; the
  // facilitator's page shows whose they are and who typed them; a name already used is
  // offered with its organisation; a stock Yjs client adding onBehalfOf to Lina's own note
  // later changes nobody's credit in the record.
  async proxy (browser) {
    const board = await createBoard('diagnosis', 'Atelier mobilités')
    const facilitator = await joinBoard(browser, board.links.facilitator, 'Animatrice', 'MRC', 'epci')
    const lina = await joinBoard(browser, board.links.editor, 'Lina', 'Commune de Lodève', 'commune')
    await lina.waitForSelector('[data-synced=true]')
    const enterFor = async (name, org, kind) => {
      await lina.click('[data-action=enter-for]')
      await lina.waitForSelector('.enter-for-form')
      await lina.fill('input[name=proxy-name]', name)
      if (org !== undefined) await lina.fill('input[name=proxy-org]', org)
      if (kind !== undefined) await lina.selectOption('select[name=proxy-org-kind]', kind)
    }
    await enterFor('Table des citoyens', 'Saint-Camille', 'citizen')
    await lina.click('[data-action=enter-for-start]')
    const banner = await lina.$eval('.entering-for-banner', (e) => e.textContent)
    await addNote(lina, 's1', 'Une navette le samedi')
    await lina.click('[data-action=enter-for-stop]')
    await lina.waitForSelector('.entering-for-banner', { state: 'detached' })
    await addNote(lina, 's1', 'Un marché de producteurs')
    // The second time, the name is offered and its organisation comes with it.
    await enterFor('Table des citoyens')
    const offered = await lina.$$eval('#proxy-names option', (os) => os.map((o) => o.value))
    const orgFilled = await lina.inputValue('input[name=proxy-org]')
    const kindFilled = await lina.inputValue('select[name=proxy-org-kind]')
    await lina.click('[data-action=enter-for-start]')
    await addNote(lina, 's2', 'Un café associatif')
    await lina.click('[data-action=enter-for-stop]')
    await waitForNote(facilitator, 'Un café associatif')
    await waitForNote(facilitator, 'Un marché de producteurs')
    const byline = (page, text) => page.$$eval('.note', (notes, t) => notes.find((n) => n.querySelector('.note-text')?.textContent === t)?.querySelector('.author')?.textContent, text)
    const bylines = {
      navette: await byline(facilitator, 'Une navette le samedi'),
      marche: await byline(facilitator, 'Un marché de producteurs')
    }
    await facilitator.screenshot({ path: `${shots}/proxy-canvas.png` })
    await lina.screenshot({ path: `${shots}/proxy-typist.png` })
    // A stock Yjs client claims Lina's own note for somebody else, after its creation.
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'p-stock')
    await until(() => provider.synced && doc.getMap('notes').size === 3, 'the stock client to see the notes')
    const [ownId] = [...doc.getMap('notes').entries()].find(([, n]) => n.get('text').toString() === 'Un marché de producteurs')
    doc.getMap('notes').get(ownId).set('onBehalfOf', { name: 'Quelqu\'un d\'autre', org: 'Ailleurs', orgKind: '' })
    // The claim is stored (the relay stores before it relays) once the record counts the
    // stock client's edit.
    await until(async () => {
      const c = await (await fetch(`${base}/api/boards/${board.id}/contributions`, { headers: { authorization: `Bearer ${board.tokens.viewer}` } })).json()
      return c.participants.some((p) => p.pid === 'p-stock' && p.edited === 1)
    }, 'the claim to be stored')
    // Once the page reads the record again (the pointer over the board), the byline is the
    // record's: still Lina's.
    let claimedByline
    await until(async () => {
      await facilitator.mouse.move(300 + Math.random() * 200, 400)
      claimedByline = await byline(facilitator, 'Un marché de producteurs')
      return claimedByline === 'Lina (Commune de Lodève)'
    }, 'the record\'s byline on the claimed note')
    const claimedInDoc = doc.getMap('notes').get(ownId).get('onBehalfOf').name
    provider.destroy()
    await facilitator.click('.contributions-toggle')
    await facilitator.waitForSelector('table.contributions tr.represented')
    const rows = await facilitator.$$eval('table.contributions tbody tr', (trs) => trs.map((tr) => [tr.cells[0].textContent, tr.cells[1].textContent, tr.classList.contains('represented')]))
    await facilitator.screenshot({ path: `${shots}/proxy-contributions.png` })
    const csv = await (await fetch(`${base}/api/boards/${board.id}/export?format=csv`, { headers: { authorization: `Bearer ${board.tokens.viewer}` } })).text()
    return { banner, offered, orgFilled, kindFilled, bylines, claimedByline, claimedInDoc, rows, csv }
  },

  // From idea to project: Lina proposes ideas and groups two under a heading; the
  // facilitator opens the vote, keeps one, sets one aside with a reason, and turns the kept
  // one into a project of the portfolio this browser holds a link to. Both boards show the
  // link; the Rust test reads the path in the ODT and record-pdf.
  async path (browser) {
    const canvas = await createBoard('diagnosis', 'Atelier mobilités')
    const portfolio = await createBoard('portfolio', 'Projets du territoire')
    const open = openAs
    const viewport = { width: 1400, height: 900 }
    const animContext = await browser.newContext({ viewport })
    // The facilitator opened the portfolio once: this browser holds its link.
    const first = await open(animContext, portfolio.links.facilitator, 'Animatrice')
    await first.close()
    const anim = await open(animContext, canvas.links.facilitator, 'Animatrice')
    const lina = await open(await browser.newContext({ viewport }), canvas.links.editor, 'Lina')
    for (const text of ['Se déplacer sans voiture', 'Une navette le samedi', 'Un téléphérique', 'Du covoiturage']) {
      await addNote(lina, 's1', text)
    }
    await waitForNote(anim, 'Du covoiturage')
    const head = await noteId(lina, 'Se déplacer sans voiture')
    const navette = await noteId(lina, 'Une navette le samedi')
    const telepherique = await noteId(lina, 'Un téléphérique')
    const covoiturage = await noteId(lina, 'Du covoiturage')
    for (const id of [navette, covoiturage]) {
      await lina.click(`[data-note="${id}"] [data-action=group]`)
      await lina.selectOption(`[data-note="${id}"] [data-action=group-under]`, head)
    }
    await anim.waitForSelector(`[data-note="${head}"] .group-count`)
    const groupCount = await anim.$eval(`[data-note="${head}"] .group-count`, (e) => e.textContent)
    const order = await anim.$$eval('[data-section=s1] .note', (ns) => ns.map((n) => [n.querySelector('.note-text').textContent, n.classList.contains('grouped')]))
    await anim.click('[data-action=toggle-vote]')
    await lina.waitForSelector(`[data-note="${navette}"] [data-action=vote]`)
    await lina.click(`[data-note="${navette}"] [data-action=vote]`)
    await lina.click(`[data-note="${navette}"] [data-action=vote]`)
    await anim.waitForFunction((id) => document.querySelector(`[data-note="${id}"] .votes`).dataset.total === '2', navette)
    await anim.click(`[data-note="${navette}"] [data-action=keep]`)
    anim.once('dialog', (dialog) => dialog.accept('Hors de portée du budget'))
    await anim.click(`[data-note="${telepherique}"] [data-action=set-aside]`)
    await lina.waitForSelector(`[data-note="${telepherique}"] .decision[data-status=setAside]`)
    await lina.waitForSelector(`[data-note="${navette}"] .decision[data-status=kept]`)
    const decisions = {
      kept: await lina.$eval(`[data-note="${navette}"] .decision`, (e) => e.textContent),
      setAside: await lina.$eval(`[data-note="${telepherique}"] .decision`, (e) => e.textContent)
    }
    await anim.click(`[data-note="${navette}"] [data-action=to-project]`)
    const offered = await anim.$$eval(`[data-note="${navette}"] .project-picker select[name=portfolio] option`, (os) => os.map((o) => o.textContent))
    await anim.screenshot({ path: `${shots}/path-picker.png` })
    await anim.click(`[data-note="${navette}"] [data-action=to-project-create]`)
    await anim.waitForSelector(`[data-note="${navette}"] .note-project a`)
    await lina.waitForSelector(`[data-note="${navette}"] .note-project`)
    const linaSees = await lina.$eval(`[data-note="${navette}"] .note-project`, (e) => e.textContent)
    await anim.screenshot({ path: `${shots}/path-canvas.png` })
    await lina.screenshot({ path: `${shots}/path-canvas-participant.png` })
    // The note's link opens the portfolio, where the project points back to the note.
    const projectHref = await anim.$eval(`[data-note="${navette}"] .note-project a`, (e) => e.getAttribute('href'))
    await anim.click(`[data-note="${navette}"] .note-project a`)
    await anim.waitForSelector('.card-project')
    const cards = await anim.$$eval('.card-project', (cs) => cs.map((c) => [c.closest('[data-stage]')?.dataset.stage, c.textContent]))
    await anim.click('.card-project')
    await anim.waitForSelector('.project-panel .origin-link')
    const stake = await anim.$eval('.project-panel .origin-link', (a) => [a.textContent, a.getAttribute('href'), a.dataset.note])
    await anim.screenshot({ path: `${shots}/path-portfolio.png` })
    return { canvas: { id: canvas.id, viewer: canvas.tokens.viewer }, navette, groupCount, order, decisions, offered, linaSees, projectHref, cards, stake }
  },

  // One scripted meeting on a canvas, screenshot at each step for people to look at
  // (meeting-NN-*.png): the timer, a summons, proxy entry, reactions, grouping and the vote,
  // the decisions, an idea turned into a project, and the report it leaves.
  async meeting (browser) {
    const canvas = await createBoard('diagnosis', 'Comité de pilotage — mobilités')
    const portfolio = await createBoard('portfolio', 'Projets du territoire')
    const open = openAs
    const desktop = { viewport: { width: 1280, height: 800 } }
    const animContext = await browser.newContext(desktop)
    const first = await open(animContext, portfolio.links.facilitator, 'Animatrice', 'PETR')
    await first.close()
    const anim = await open(animContext, canvas.links.facilitator, 'Animatrice', 'PETR')
    const lina = await open(await browser.newContext(desktop), canvas.links.editor, 'Lina', 'Commune de Lodève')
    const marc = await open(await browser.newContext({ viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 }), canvas.links.editor, 'Marc', 'Vélo Vert')
    const shot = (page, name) => page.screenshot({ path: `${shots}/meeting-${name}.png` })
    // 1. The timer: ten minutes for the round of ideas.
    await anim.click('[data-action=timer-setup]')
    await anim.fill('[data-action=timer-minutes]', '10')
    await anim.click('[data-action=timer-start]')
    await marc.waitForSelector('.meeting-timer[data-state=running]')
    await shot(anim, '01-timer')
    await shot(marc, '01-timer-phone')
    // 2. Ideas, then a summons to the last section.
    for (const text of ['Se déplacer sans voiture', 'Une navette le samedi', 'Un téléphérique']) await addNote(lina, 's1', text)
    await addNote(anim, 's7', 'Un plan de mobilité intercommunal')
    const plan = await noteId(anim, 'Un plan de mobilité intercommunal')
    await anim.click(`[data-note="${plan}"] .note-text`)
    await anim.click('[data-action=summon]')
    await marc.waitForSelector('.following-banner')
    await until(() => marc.$eval(`[data-note="${plan}"]`, (e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight }).catch(() => false), 'the summoned note on Marc\'s screen')
    const summoned = await marc.$eval('.following-banner', (e) => e.textContent)
    await shot(marc, '02-summon-phone')
    await marc.click('[data-action=unfollow]')
    // 3. Proxy entry: Lina types for the citizens' table.
    await lina.click('[data-action=enter-for]')
    await lina.fill('input[name=proxy-name]', 'Table des citoyens')
    await lina.fill('input[name=proxy-org]', 'Saint-Camille')
    await lina.selectOption('select[name=proxy-org-kind]', 'citizen')
    await lina.click('[data-action=enter-for-start]')
    await addNote(lina, 's1', 'Un café associatif')
    await shot(lina, '03-proxy')
    await lina.click('[data-action=enter-for-stop]')
    const cafe = await noteId(lina, 'Un café associatif')
    await anim.waitForSelector(`[data-note="${cafe}"]`)
    // 4. Reactions.
    for (const page of [anim, lina]) {
      await page.click(`[data-note="${cafe}"] [data-action=react]`)
      await page.click(`[data-note="${cafe}"] .reaction-picker [data-reaction="👍"]`)
    }
    await anim.waitForFunction((id) => document.querySelector(`[data-note="${id}"] .reactions [data-reaction="👍"] .count`)?.textContent === '2', cafe)
    await shot(anim, '04-reactions')
    // 5. Grouping and the vote.
    const head = await noteId(lina, 'Se déplacer sans voiture')
    const navette = await noteId(lina, 'Une navette le samedi')
    const telepherique = await noteId(lina, 'Un téléphérique')
    for (const id of [navette, telepherique]) {
      await lina.click(`[data-note="${id}"] [data-action=group]`)
      await lina.selectOption(`[data-note="${id}"] [data-action=group-under]`, head)
    }
    await anim.click('[data-action=toggle-vote]')
    await lina.waitForSelector(`[data-note="${navette}"] [data-action=vote]`)
    for (const id of [navette, navette, cafe]) await lina.click(`[data-note="${id}"] [data-action=vote]`)
    await anim.waitForFunction((id) => document.querySelector(`[data-note="${id}"] .votes`).dataset.total === '2', navette)
    await shot(anim, '05-vote')
    // 6. Decisions.
    await anim.click(`[data-note="${navette}"] [data-action=keep]`)
    await anim.click(`[data-note="${cafe}"] [data-action=keep]`)
    anim.once('dialog', (dialog) => dialog.accept('Hors de portée du budget'))
    await anim.click(`[data-note="${telepherique}"] [data-action=set-aside]`)
    await lina.waitForSelector(`[data-note="${telepherique}"] .decision[data-status=setAside]`)
    await shot(lina, '06-decisions')
    // 7. The kept idea becomes a project of the portfolio.
    await anim.click(`[data-note="${navette}"] [data-action=to-project]`)
    await anim.click(`[data-note="${navette}"] [data-action=to-project-create]`)
    await anim.waitForSelector(`[data-note="${navette}"] .note-project a`)
    await shot(anim, '07-project')
    await anim.click(`[data-note="${navette}"] .note-project a`)
    await anim.waitForSelector('.card-project')
    await anim.click('.card-project')
    await anim.waitForSelector('.project-panel .origin-link')
    await shot(anim, '08-portfolio')
    // 8. The report it leaves.
    const get = async (format) => Buffer.from(await (await fetch(`${base}/api/boards/${canvas.id}/export?format=${format}`, { headers: { authorization: `Bearer ${canvas.tokens.viewer}` } })).arrayBuffer())
    writeFileSync(`${shots}/meeting-report.odt`, await get('odt'))
    writeFileSync(`${shots}/meeting-record.pdf`, await get('record-pdf'))
    const timerText = await marc.$eval('.timer-clock', (e) => e.textContent)
    return { timerText, summoned, cafeByline: await lina.$eval(`[data-note="${cafe}"] .author`, (e) => e.textContent), shots }
  },

  // Pseudonyms: the facilitator turns them on; the participants' pages (presence, bylines,
  // the contributions panel) show "Participant·e N", the facilitator's panel the names.
  async pseudonyms (browser) {
    const board = await createBoard('diagnosis', 'Atelier discret')
    const desktop = { viewport: { width: 1280, height: 800 } }
    const anim = await openAs(await browser.newContext(desktop), board.links.facilitator, 'Animatrice', 'PETR')
    await anim.click('[data-action=pseudonyms]')
    await anim.waitForSelector('[data-action=pseudonyms][aria-pressed=true]')
    const lina = await openAs(await browser.newContext(desktop), board.links.editor, 'Lina Roy', 'Vélo Vert')
    await addNote(lina, 's1', 'Une navette le samedi')
    await waitForNote(anim, 'Une navette le samedi')
    const presence = (page) => page.$$eval('.people .person-name', (els) => els.map((e) => e.textContent))
    await until(async () => (await presence(anim)).some((n) => n.startsWith('Participant·e')), 'pseudonyms in the presence list')
    const seen = { animPresence: await presence(anim), linaPresence: await presence(lina) }
    seen.linaByline = await lina.$eval('.note .author', (e) => e.textContent)
    for (const [who, page] of [['anim', anim], ['lina', lina]]) {
      await page.click('.contributions-toggle')
      await page.waitForSelector('table.contributions tbody tr')
      seen[`${who}Panel`] = await page.$eval('table.contributions', (t) => t.textContent)
    }
    await lina.screenshot({ path: `${shots}/pseudonyms-participant.png` })
    await anim.screenshot({ path: `${shots}/pseudonyms-facilitator.png` })
    return seen
  },

  // A private writing round on a canvas: three pages (the facilitator, Anne, Lina) and a stock
  // Yjs client with the editor link. What Anne writes (in the round's panel, and with the
  // canvas's own "add a note", which goes to her space while the round is open) reaches no
  // other page, not the stock client, not somebody trying her pid with another secret; she
  // finds it after a reload; the reveal brings it to every page, credited to her.
  async privateRound (browser) {
    const board = await createBoard('diagnosis', 'Atelier mobilités')
    const desktop = { viewport: { width: 1280, height: 800 } }
    const anim = await openAs(await browser.newContext(desktop), board.links.facilitator, 'Animatrice', 'PETR')
    const anne = await openAs(await browser.newContext(desktop), board.links.editor, 'Anne Bérubé', 'Commune de Lodève')
    const lina = await openAs(await browser.newContext(desktop), board.links.editor, 'Lina Roy', 'Vélo Vert')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'stock')
    await until(() => provider.synced, 'the stock client to sync')
    await anim.click('[data-action=open-round]')
    for (const page of [anim, anne, lina]) await page.waitForSelector('.private-round')
    const texts = (page) => page.$$eval('.private-idea textarea', (els) => els.map((e) => e.value))
    // Anne writes one idea in the panel, another with the canvas's own button.
    await anne.selectOption('.private-add select', 's2')
    await anne.fill('[data-field=private-idea]', 'Une navette le samedi')
    await anne.click('[data-action=add-private]')
    await anne.click('[data-section=s3] [data-action=add-note]')
    await until(async () => (await texts(anne)).length === 2, "Anne's two private ideas")
    await anne.fill('.private-idea textarea >> nth=1', 'Des arceaux vélo')
    await anne.press('.private-idea textarea >> nth=1', 'Tab')
    await until(async () => (await texts(anne)).includes('Des arceaux vélo'), 'the second idea written')
    await lina.fill('[data-field=private-idea]', 'Un atelier de réparation')
    await lina.click('[data-action=add-private]')
    await until(async () => (await texts(lina)).length === 1, "Lina's private idea")
    // A public note of the stock client still reaches everybody while the round is open.
    stockNote(doc, 'public1', 's1', 'Un marché le jeudi', '#fff', 'stock')
    for (const page of [anim, anne, lina]) await waitForNote(page, 'Un marché le jeudi')
    // The facilitator sees how many opened their space (Anne, Lina and the facilitator's own).
    await anim.waitForSelector('.private-writers[data-writers="3"]')
    // Somebody using Anne's pid with a secret of their own is turned away.
    const annePid = await anne.evaluate(() => JSON.parse(localStorage.getItem('nouage.profile')).pid)
    const thiefDoc = new Y.Doc()
    const thief = new WebsocketProvider(base.replace('http', 'ws') + '/ws', `${board.id}/private`, thiefDoc,
      { params: { token: board.tokens.editor, pid: annePid, name: 'Intrus', secret: 'f'.repeat(64) }, WebSocketPolyfill: WebSocket, disableBc: true, connect: false })
    const thiefClosed = new Promise((resolve) => thief.on('connection-close', (event) => resolve(event?.code)))
    thief.connect()
    const seen = { thiefCloseCode: await thiefClosed, animWriters: await anim.$eval('.private-writers', (e) => e.textContent) }
    thief.destroy()
    seen.thiefNotes = thiefDoc.getMap('notes').size
    const pageText = (page) => page.evaluate(() => document.body.innerText)
    seen.beforeReveal = {
      animText: await pageText(anim),
      linaText: await pageText(lina),
      stockNotes: JSON.stringify(doc.getMap('notes').toJSON()),
      anneCanvas: await anne.$$eval('.canvas-board .note .note-text', (els) => els.map((e) => e.textContent))
    }
    // Anne reloads: her ideas are still hers.
    await anne.reload()
    await anne.waitForSelector('[data-synced=true]')
    await until(async () => (await texts(anne)).length === 2, "Anne's ideas after a reload")
    seen.anneAfterReload = (await texts(anne)).sort()
    await anne.screenshot({ path: `${shots}/private-01-participant.png` })
    await anim.screenshot({ path: `${shots}/private-01-facilitator.png` })
    await anne.setViewportSize({ width: 390, height: 844 })
    await anne.screenshot({ path: `${shots}/private-01-participant-phone.png` })
    await anne.setViewportSize({ width: 1280, height: 800 })
    await anim.click('[data-action=reveal-round]')
    for (const page of [anim, anne, lina]) {
      await page.waitForSelector('.private-round', { state: 'detached' })
      for (const text of ['Une navette le samedi', 'Des arceaux vélo', 'Un atelier de réparation']) await waitForNote(page, text)
    }
    await until(() => doc.getMap('notes').size === 4, 'the stock client to receive the revealed notes')
    seen.stockAfter = [...doc.getMap('notes').values()].map((n) => n.get('text').toString()).sort()
    const byline = (page, text) => page.$$eval('.note', (notes, t) => notes.find((n) => n.querySelector('.note-text')?.textContent === t)?.querySelector('.author')?.textContent, text)
    await until(async () => (await byline(lina, 'Une navette le samedi'))?.includes('Anne'), "Anne's byline on Lina's page")
    seen.linaByline = await byline(lina, 'Une navette le samedi')
    await anim.click('.contributions-toggle')
    await anim.waitForSelector('table.contributions tbody tr')
    seen.animPanel = await anim.$eval('table.contributions', (t) => t.textContent)
    const csv = await (await fetch(`${base}/api/boards/${board.id}/export?format=csv&token=${board.tokens.viewer}`)).text()
    seen.csvLine = csv.split('\n').find((l) => l.includes('Une navette le samedi'))
    await anim.screenshot({ path: `${shots}/private-02-revealed.png` })
    await anne.screenshot({ path: `${shots}/private-02-participant.png` })
    provider.destroy()
    return seen
  },

  // Follow and summon on a mind map: the facilitator moves the map and brings everybody to
  // their view (screens of other sizes centre on the same place at the same zoom); one
  // participant leaves with a drag of their own and stays where they are when the
  // facilitator moves on, while the other keeps following.
  async follow (browser) {
    const board = await createBoard('mindmap', 'Plan de mobilité')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'seed')
    await until(() => provider.synced, 'the seeding client to sync')
    doc.transact(() => {
      for (let i = 0; i < 12; i++) {
        const node = new Y.Map()
        node.set('text', new Y.Text(`Piste ${i + 1}`))
        node.set('parent', 'root')
        node.set('order', i)
        node.set('collapsed', false)
        node.set('author', 'seed')
        doc.getMap('nodes').set(`b${i}`, node)
      }
    })
    provider.destroy()
    const open = async (link, name, viewport) => {
      const page = await joinIn(await browser.newContext({ viewport }), link, name)
      await page.waitForSelector('[data-node=b11]')
      return page
    }
    const facilitator = await open(board.links.facilitator, 'Animatrice', { width: 1280, height: 800 })
    const lina = await open(board.links.editor, 'Lina', { width: 1000, height: 700 })
    const marc = await open(board.links.editor, 'Marc', { width: 1400, height: 900 })
    // The map point at the centre of a page's map, and its zoom.
    const centre = (page) => page.evaluate(() => {
      const viewport = document.querySelector('.viewport')
      const m = /translate\(([-\d.]+)px,\s*([-\d.]+)px\) scale\(([\d.]+)\)/.exec(document.querySelector('.canvas').style.transform)
      const [x, y, scale] = [Number(m[1]), Number(m[2]), Number(m[3])]
      return { x: (viewport.clientWidth / 2 - x) / scale, y: (viewport.clientHeight / 2 - y) / scale, scale }
    })
    const drag = async (page, dx, dy) => {
      // A press on empty map (a press on an idea would drag the idea).
      const box = await page.$eval('.viewport', (e) => {
        const r = e.getBoundingClientRect()
        for (const [fx, fy] of [[0.05, 0.9], [0.95, 0.9], [0.05, 0.15], [0.95, 0.15], [0.5, 0.95], [0.3, 0.6]]) {
          const [x, y] = [r.x + r.width * fx, r.y + r.height * fy]
          const hit = document.elementFromPoint(x, y)
          if (hit && e.contains(hit) && !hit.closest('[data-node], .following-banner, .presence, .node-menu')) return { x, y }
        }
        throw new Error('no empty place on the map to press')
      })
      await page.mouse.move(box.x, box.y)
      await page.mouse.down()
      await page.mouse.move(box.x + dx / 2, box.y + dy / 2, { steps: 4 })
      await page.mouse.move(box.x + dx, box.y + dy, { steps: 4 })
      await page.mouse.up()
    }
    const same = (a, b) => Math.abs(a.x - b.x) < 1 && Math.abs(a.y - b.y) < 1 && Math.abs(a.scale - b.scale) < 1e-6
    const follows = async (page, what) => {
      let last
      await until(async () => { last = [await centre(page), await centre(facilitator)]; return same(...last) }, `${what} (${JSON.stringify(last)})`)
      return last[0]
    }
    // The facilitator zooms in and moves the map, then summons everybody.
    await facilitator.click('.toolbar button[aria-label="Zoom avant"]')
    await drag(facilitator, 220, -140)
    const before = await centre(lina)
    await facilitator.click('[data-action=summon]')
    await lina.waitForSelector('.following-banner')
    await marc.waitForSelector('.following-banner')
    const linaSummoned = await follows(lina, 'Lina brought to the facilitator\'s view')
    const marcSummoned = await follows(marc, 'Marc brought to the facilitator\'s view')
    const banner = await lina.$eval('.following-banner', (e) => e.textContent)
    await lina.screenshot({ path: `${shots}/follow-summoned.png` })
    // Lina leaves with a drag of her own; the facilitator moves on.
    await drag(lina, -80, 60)
    await until(async () => !(await lina.$('.following-banner')), 'Lina\'s banner to go')
    const linaLeft = await centre(lina)
    await drag(facilitator, -300, 90)
    const marcFollowed = await follows(marc, 'Marc following the facilitator\'s next move')
    const linaAfter = await centre(lina)
    return { before, linaSummoned, marcSummoned, banner, linaLeft, marcFollowed, linaAfter, facilitator: await centre(facilitator) }
  },

  // The presenter view on a 1920 × 1080 projector, opened with the viewer link: the map
  // large enough to read from the back of the room, no editing tools, and on demand the join
  // code with a QR code that a phone's camera reads as the join link.
  async presenter (browser) {
    const board = await createBoard('mindmap', 'Comité de pilotage')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'seed')
    await until(() => provider.synced, 'the seeding client to sync')
    doc.transact(() => {
      const texts = ['Mobilités', 'Habitat', 'Santé', 'Culture', 'Écoles', 'Commerces']
      texts.forEach((text, i) => {
        const node = new Y.Map()
        node.set('text', new Y.Text(text))
        node.set('parent', 'root')
        node.set('order', i)
        node.set('collapsed', false)
        node.set('author', 'seed')
        doc.getMap('nodes').set(`b${i}`, node)
      })
    })
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } })
    await context.addInitScript(() => localStorage.setItem('nouage.profile',
      JSON.stringify({ pid: 'p-projector', name: 'Vidéoprojecteur', org: '', orgKind: '', color: '' })))
    const projector = await context.newPage()
    projector.setDefaultTimeout(STEP_TIMEOUT_MS)
    await projector.goto(board.links.viewer.replace('#', '?present#'))
    await projector.waitForSelector('.board.presenting [data-node=b5]')
    // The view settles once the nodes are in: the rendered size of the central topic's text
    // and of a main branch's (font size × the map's scale).
    await projector.waitForFunction(() => /scale\(([\d.]+)\)/.exec(document.querySelector('.canvas').style.transform)?.[1] >= 2)
    const sizes = await projector.evaluate(() => {
      const scale = Number(/scale\(([\d.]+)\)/.exec(document.querySelector('.canvas').style.transform)[1])
      const px = (selector) => parseFloat(getComputedStyle(document.querySelector(selector)).fontSize) * scale
      const shown = (selector) => [...document.querySelectorAll(selector)].some((e) => e.getBoundingClientRect().width > 0)
      return { centralPx: px('[data-node=root]'), branchPx: px('[data-node=b0]'), toolbarShown: shown('.toolbar') }
    })
    await projector.screenshot({ path: `${shots}/presenter-map.png` })
    await projector.click('.join-code-toggle')
    await projector.waitForSelector('.join-qr svg')
    const shownCode = await projector.$eval('.join-code-big', (e) => e.textContent)
    await projector.screenshot({ path: `${shots}/presenter-join-code.png` })
    const png = PNG.sync.read(await (await projector.$('.join-qr svg')).screenshot())
    const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data ?? null
    provider.destroy()
    return { ...sizes, shownCode, code: board.joinCode, decoded, joinLink: board.links.join }
  },

  // axe-core on every page a participant meets, desktop and phone: the home page, the join
  // form, the three kinds of board, the join code page, the presenter view. Answers the
  // violations of impact serious or critical, by page (rule id and how many elements).
  async axe (browser) {
    const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
    const boards = {}
    for (const kind of ['mindmap', 'diagnosis', 'portfolio']) boards[kind] = await createBoard(kind, `Accessibilité ${kind}`)
    const check = async (page) => {
      await page.addScriptTag({ content: source })
      const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }))
      return results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}, ${v.nodes.length}): ${v.nodes.slice(0, 2).map((n) => n.target.join(' ')).join(' | ')}`)
    }
    const found = {}
    for (const [size, options] of Object.entries({
      desktop: { viewport: { width: 1400, height: 900 } },
      phone: { viewport: { width: 412, height: 915 }, isMobile: true, hasTouch: true }
    })) {
      // (axe-core is injected as a script, which the app's Content-Security-Policy forbids.)
      const context = await browser.newContext({ ...options, bypassCSP: true })
      const page = await context.newPage()
      page.setDefaultTimeout(STEP_TIMEOUT_MS)
      await page.goto(base)
      await page.waitForSelector('.join-code')
      found[`home-${size}`] = await check(page)
      await page.goto(boards.mindmap.links.editor)
      await page.waitForSelector('form.join')
      found[`join-form-${size}`] = await check(page)
      await page.fill('input[name=name]', 'Axe')
      await page.click('form.join button[type=submit]')
      await page.waitForSelector('[data-synced=true]')
      found[`mindmap-${size}`] = await check(page)
      for (const kind of ['diagnosis', 'portfolio']) {
        await page.goto(boards[kind].links.editor)
        await page.waitForSelector('[data-synced=true]')
        found[`${kind}-${size}`] = await check(page)
      }
      await page.goto(`${base}/j/ZZZZ22`)
      await page.waitForSelector('.join-page .error')
      found[`join-refused-${size}`] = await check(page)
      await page.goto(boards.mindmap.links.viewer.replace('#', '?present#'))
      await page.waitForSelector('.board.presenting [data-synced=true]')
      await page.click('.join-code-toggle')
      await page.waitForSelector('.join-qr svg')
      found[`presenter-${size}`] = await check(page)
      await context.close()
    }
    return found
  },

  // The venue's Wi-Fi drops: an idea added offline survives a reload made without network
  // (the page comes from the service worker, the board from the copy on the device) and
  // reaches the others once the network is back.
  async 'offline-reload' (browser) {
    const board = await createBoard('mindmap', 'Wi-Fi capricieux')
    const { doc, provider } = yjsClient(board.id, board.tokens.editor, 'node-pid')
    await until(() => provider.synced, 'the Node client to sync')
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    const page = await joinIn(context, board.links.editor, 'Farid')
    // The service worker has the app shell and controls the page.
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null)
    // (Chromium's offline emulation leaves open websockets open: the page's own switch cuts it.)
    await context.setOffline(true)
    await page.evaluate(() => window.nouage.offline())
    await page.waitForSelector('[data-status]:not([data-status=Connected])')
    await page.focus('.viewport')
    await page.keyboard.press('Tab')
    await page.keyboard.type('Écrit hors ligne')
    await page.keyboard.press('Enter')
    await waitForLabel(page, 'Écrit hors ligne')
    // The idea is in the device's copy (IndexedDB) before the page goes away.
    await page.evaluate(() => window.nouageLocalDoc.settled())
    await page.reload()
    await page.waitForSelector('.viewport')
    await waitForLabel(page, 'Écrit hors ligne')
    const afterReload = await page.$$eval('[role=treeitem] .node-text', (els) => els.map((e) => e.textContent))
    await page.screenshot({ path: `${shots}/offline-after-reload.png` })
    await context.setOffline(false)
    // The page would retry after its backoff; its switch drops any attempt made while offline
    // and reconnects at once.
    await page.evaluate(() => { window.nouage.offline(); window.nouage.online() })
    const nodes = doc.getMap('nodes')
    await until(() => [...nodes.values()].some((n) => n.get('text')?.toString() === 'Écrit hors ligne'), 'the offline idea in the Node client')
    provider.destroy()
    return { afterReload }
  },

  'measure-boards': measureBoards,

  // Figures for the closing note: first render of a large map, keystroke-to-remote-render.
  // With --profile DIR, Chromium's CPU profiles of the first render and of the typing (the
  // typist's page and the watcher's) are written there, with their heaviest functions.
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
    const a = await browser.newPage({ viewport: { width: 1400, height: 900 } })
    const stopFirst = await startProfile(a)
    await a.goto(board.links.editor)
    await a.waitForSelector('form.join')
    await a.fill('input[name=name]', 'Mesure A')
    await a.click('form.join button[type=submit]')
    await a.waitForFunction((n) => document.querySelectorAll('[role=treeitem]').length >= n, count + 1, { timeout: 60000 })
    const firstRenderMs = Date.now() - started
    await stopFirst('first-render')
    await a.screenshot({ path: `${shots}/mindmap-${count}-nodes.png` })
    // A participant whose name the browser remembers opens the board: from navigation start
    // to every node in the page, with a cold cache (a new browser context) and a warm one
    // (the same context, navigating again).
    const remembered = await browser.newContext({ viewport: { width: 1400, height: 900 } })
    await remembered.addInitScript(() => localStorage.setItem('nouage.profile',
      JSON.stringify({ pid: 'p-mesure-c', name: 'Mesure C', org: '', orgKind: '', color: '' })))
    const c = await remembered.newPage()
    const rendered = async () => {
      await c.waitForFunction((n) => {
        if (document.querySelectorAll('[role=treeitem]').length < n) return false
        window.__renderedAt ??= performance.now()
        return true
      }, count + 1, { timeout: 60000 })
      return Math.round(await c.evaluate(() => window.__renderedAt))
    }
    await c.goto(board.links.editor)
    const rememberedColdMs = await rendered()
    // (The link's token is in its fragment: going to it again would not load the page.)
    await c.reload()
    const rememberedWarmMs = await rendered()
    await remembered.close()
    const b = await join(browser, board.links.editor, 'Mesure B')
    await b.waitForFunction((n) => document.querySelectorAll('[role=treeitem]').length >= n, count + 1, { timeout: 60000 })
    // Keystroke to the other page's DOM: typed one character at a time into the central
    // topic, a main branch (it moves its whole subtree) and a leaf; the watcher page notes,
    // from a MutationObserver, when the node's text became what was typed (one clock: this
    // machine's). `--targets central,branch,leaf`, `--keystrokes N` (100 by default).
    const keystrokes = Number(opts.keystrokes ?? 100)
    const targets = { central: 'root', branch: 'n0', leaf: `n${count - 1}` }
    const chosen = (opts.targets ?? 'central,branch,leaf').split(',')
    const typing = {}
    for (const target of chosen) {
      const id = targets[target]
      if (!id) throw new Error(`unknown target ${target}`)
      const stopTypist = await startProfile(a)
      const stopWatcher = await startProfile(b)
      // A press on the node selects it, wherever it is on the map (the page pans to it).
      await a.$eval(`[data-node="${id}"]`, (e) => {
        const press = { bubbles: true, button: 0, isPrimary: true, pointerId: 1 }
        e.dispatchEvent(new PointerEvent('pointerdown', press))
        e.dispatchEvent(new PointerEvent('pointerup', press))
      })
      await a.keyboard.press('F2')
      await a.keyboard.press('End')
      let text = await a.$eval('.node-editor', (e) => e.value)
      // The typist's own page too: the node shows the text it is typed into.
      const latencies = []
      const own = []
      for (let i = 0; i < keystrokes; i++) {
        const ch = 'abcdefghij'[i % 10]
        text += ch
        await watchText(b, id, text)
        await watchText(a, id, text)
        const t0 = Date.now()
        await a.keyboard.type(ch)
        own.push(await a.evaluate(() => window.__seen) - t0)
        latencies.push(await b.evaluate(() => window.__seen) - t0)
      }
      await a.keyboard.press('Enter')
      await stopTypist(`typing-${target}-typist`)
      await stopWatcher(`typing-${target}-watcher`)
      typing[target] = { ...percentiles(latencies), typist: percentiles(own) }
    }
    // Panning (a drag on the map's background, one move per frame) and zooming (a wheel
    // notch per frame) the whole map on the first page: main-thread work per frame, from a
    // Chromium trace (`--frames 0` skips it).
    const frames = Number(opts.frames ?? 60)
    let panMs, zoomMs
    if (frames > 0) {
      await a.keyboard.press('Escape')
      const box = await a.$eval('.viewport', (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height } })
      const nextFrame = () => a.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve())))
      panMs = await mainThreadPerFrame(browser, a, 'pan', async () => {
        // A corner of the viewport: the map's background, where a press pans.
        let [x, y] = [box.x + 4, box.y + box.height - 4]
        await a.mouse.move(x, y)
        await a.mouse.down()
        for (let i = 0; i < frames; i++) {
          x += 6
          y -= 3
          await a.mouse.move(x, y)
          await nextFrame()
        }
        await a.mouse.up()
      })
      zoomMs = await mainThreadPerFrame(browser, a, 'zoom', async () => {
        await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
        for (let i = 0; i < frames; i++) {
          await a.mouse.wheel(0, i < frames / 2 ? -60 : 60)
          await nextFrame()
        }
      })
    }
    return { count, firstRenderMs, rememberedColdMs, rememberedWarmMs, typing, panMs, zoomMs }
  }
}

// p50, p95 and worst of `values` (ms).
function percentiles (values) {
  const sorted = [...values].sort((x, y) => x - y)
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
  return { p50Ms: at(0.5), p95Ms: at(0.95), worstMs: sorted[sorted.length - 1] }
}

// Main-thread work per frame while `act` runs on `page`, from a Chromium trace: the renderer
// whose main thread handled the input events, the time of its top-level tasks summed between
// one frame's start (`BeginMainThreadFrame`) and the next; p50, p95 and worst, ms.
// With --profile DIR the trace is written there as NAME.trace.json (Chromium's DevTools opens it).
async function mainThreadPerFrame (browser, page, name, act) {
  await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline', 'disabled-by-default-devtools.timeline.frame'] })
  await act()
  const trace = await browser.stopTracing()
  if (opts.profile) writeFileSync(`${opts.profile}/${name}.trace.json`, trace)
  const { traceEvents } = JSON.parse(trace.toString())
  const mains = new Set(traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`))
  const inputs = new Map()
  for (const e of traceEvents) {
    const thread = `${e.pid}:${e.tid}`
    if (mains.has(thread) && e.name === 'EventDispatch' && /^(pointermove|mousemove|wheel)$/.test(e.args?.data?.type)) inputs.set(thread, (inputs.get(thread) ?? 0) + 1)
  }
  const main = [...inputs.entries()].sort((x, y) => y[1] - x[1])[0]?.[0]
  if (!main) throw new Error('no renderer handled the gesture in the trace')
  const on = traceEvents.filter((e) => `${e.pid}:${e.tid}` === main)
  const starts = on.filter((e) => e.name === 'BeginMainThreadFrame').map((e) => e.ts).sort((x, y) => x - y)
  const tasks = on.filter((e) => e.ph === 'X' && (e.name === 'ThreadControllerImpl::RunTask' || e.name === 'RunTask')).sort((x, y) => x.ts - y.ts)
  // Nested task events (both names for one task) count once: a task inside another is skipped.
  const top = []
  for (const t of tasks) {
    const last = top[top.length - 1]
    if (last && t.ts < last.ts + last.dur) continue
    top.push(t)
  }
  const work = new Array(Math.max(0, starts.length - 1)).fill(0)
  let i = 0
  for (const t of top) {
    while (i < starts.length - 1 && t.ts >= starts[i + 1]) i++
    if (t.ts >= starts[0] && i < work.length) work[i] += t.dur / 1000
  }
  if (work.length === 0) throw new Error('no frame in the trace')
  const { p50Ms, p95Ms, worstMs } = percentiles(work)
  const round = (ms) => Math.round(ms * 10) / 10
  return { frames: work.length, p50Ms: round(p50Ms), p95Ms: round(p95Ms), worstMs: round(worstMs) }
}

// Keystroke to the other page on a diagnosis canvas of 500 notes in 7 sections and a
// portfolio of 200 projects (columns, then table view): one character at a time into a note's
// text and a project's title, `--keystrokes` each (100 by default).
async function measureBoards (browser) {
  const keystrokes = Number(opts.keystrokes ?? 100)
  const stats = percentiles
  // Types into `a` (focused where the text ends) while `b` shows `selector`'s text.
  const typeAndTime = async (a, b, selector, text, includes = false) => {
    const latencies = []
    for (let i = 0; i < keystrokes; i++) {
      text += 'abcdefghij'[i % 10]
      await watchSelector(b, selector, text, includes)
      const t0 = Date.now()
      await a.keyboard.type(text.slice(-1))
      latencies.push(await b.evaluate(() => window.__seen) - t0)
    }
    return { latencies, text }
  }
  const canvas = await createBoard('diagnosis', 'Grand diagnostic')
  const seeded = yjsClient(canvas.id, canvas.tokens.editor, 'seed')
  await until(() => seeded.provider.synced, 'seeding client sync')
  seeded.doc.transact(() => {
    for (let i = 0; i < 500; i++) {
      const note = new Y.Map()
      note.set('section', `s${1 + (i % 7)}`)
      note.set('text', new Y.Text(`Constat ${i}`))
      note.set('color', '#fef08a')
      note.set('author', 'seed')
      note.set('votes', new Y.Map())
      seeded.doc.getMap('notes').set(`m${i}`, note)
    }
  })
  const notesShown = (page) => page.waitForFunction(() => document.querySelectorAll('.note').length >= 500, null, { timeout: 60000 })
  let a = await joinBoard(browser, canvas.links.editor, 'Mesure A', '', '')
  let b = await joinBoard(browser, canvas.links.editor, 'Mesure B', '', '')
  await notesShown(a)
  await notesShown(b)
  await a.focus('[data-note="m250"]')
  await a.keyboard.press('Enter')
  await a.waitForSelector('.note-editor')
  await a.keyboard.press('End')
  const canvasTyping = await typeAndTime(a, b, '[data-note="m250"] .note-text', await a.$eval('.note-editor', (e) => e.value))
  seeded.provider.destroy()
  await a.close()
  await b.close()

  const portfolio = await createBoard('portfolio', 'Grand portefeuille')
  const seededP = yjsClient(portfolio.id, portfolio.tokens.editor, 'seed')
  await until(() => seededP.provider.synced, 'seeding client sync')
  const stages = ['codiagnose', 'codesign', 'cofund', 'coproduce', 'costeer', 'coevaluate']
  seededP.doc.transact(() => {
    for (let i = 0; i < 200; i++) {
      const project = new Y.Map()
      project.set('title', new Y.Text(`Projet ${i}`))
      project.set('description', new Y.Text(''))
      project.set('stage', stages[i % stages.length])
      project.set('status', 'en cours')
      project.set('leadMode', 'commune')
      project.set('lead', `Commune ${i % 12}`)
      project.set('partners', new Y.Array())
      project.set('author', 'seed')
      seededP.doc.getMap('projects').set(`p${i}`, project)
    }
  })
  a = await joinBoard(browser, portfolio.links.editor, 'Mesure A', '', '')
  b = await joinBoard(browser, portfolio.links.editor, 'Mesure B', '', '')
  const projectsShown = (page) => page.waitForFunction(() => document.querySelectorAll('[data-project]').length >= 200, null, { timeout: 60000 })
  await projectsShown(a)
  await projectsShown(b)
  await a.click('.card-project[data-project="p100"]')
  await a.focus('.project-panel input[name=title]')
  await a.keyboard.press('End')
  const columns = await typeAndTime(a, b, '.card-project[data-project="p100"] .project-title', await a.$eval('.project-panel input[name=title]', (e) => e.value))
  await b.click('.portfolio-board .toolbar button:nth-of-type(3)')
  await b.waitForSelector('tr[data-project="p100"]')
  const table = await typeAndTime(a, b, 'tr[data-project="p100"]', columns.text, true)
  seededP.provider.destroy()
  return { notes: 500, projects: 200, canvas: stats(canvasTyping.latencies), portfolioColumns: stats(columns.latencies), portfolioTable: stats(table.latencies) }
}

// Makes `page` note in `window.__seen` the time (Date.now) at which the first element matching
// `selector` shows `text` (or, with `includes`, contains it).
async function watchSelector (page, selector, text, includes) {
  await page.evaluate(({ selector, text, includes }) => {
    window.__seen = new Promise((resolve) => {
      const shows = () => {
        const now = document.querySelector(selector)?.textContent
        return includes ? now?.includes(text) : now === text
      }
      if (shows()) return resolve(Date.now())
      const observer = new MutationObserver(() => {
        if (shows()) {
          observer.disconnect()
          resolve(Date.now())
        }
      })
      observer.observe(document.body, { childList: true, subtree: true, characterData: true })
    })
  }, { selector, text, includes })
}

// Makes `page` note in `window.__seen` the time (Date.now) at which node `id` shows `text`.
async function watchText (page, id, text) {
  await page.evaluate(({ id, text }) => {
    window.__seen = new Promise((resolve) => {
      const shows = () => document.querySelector(`[data-node="${id}"] .node-text`)?.textContent === text
      if (shows()) return resolve(Date.now())
      const observer = new MutationObserver(() => {
        if (shows()) {
          observer.disconnect()
          resolve(Date.now())
        }
      })
      observer.observe(document.querySelector('.canvas'), { childList: true, subtree: true, characterData: true })
    })
  }, { id, text })
}

// Starts Chromium's sampling profiler on `page` when --profile is given; the function returned
// stops it and writes NAME.cpuprofile and NAME.top.json (self time per function) there.
async function startProfile (page) {
  if (!opts.profile) return async () => {}
  mkdirSync(opts.profile, { recursive: true })
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
  await cdp.send('Profiler.start')
  return async (name) => {
    const { profile } = await cdp.send('Profiler.stop')
    writeFileSync(`${opts.profile}/${name}.cpuprofile`, JSON.stringify(profile))
    const top = selfTimes(profile).slice(0, 40)
    writeFileSync(`${opts.profile}/${name}.top.json`, JSON.stringify(top, null, 1))
    process.stderr.write(`profile ${name}:\n${top.slice(0, 25).map(([f, ms, pct]) => `  ${ms.toFixed(0).padStart(7)} ms ${pct.toFixed(1).padStart(5)} %  ${f}`).join('\n')}\n`)
  }
}

// Self time per function of a CPU profile, heaviest first: [name, ms, percent].
function selfTimes (profile) {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]))
  const ms = new Map()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000
    const frame = byNode.get(id).callFrame
    const name = frame.functionName || `(${frame.url.split('/').pop()}:${frame.lineNumber})`
    ms.set(name, (ms.get(name) ?? 0) + dt)
    total += dt
  })
  return [...ms.entries()].sort((x, y) => y[1] - x[1]).map(([f, t]) => [f, t, (100 * t) / total])
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
