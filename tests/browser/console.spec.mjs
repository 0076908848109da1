// The operator console in a real browser: Debian's chromium driven by playwright-core (no
// browser downloaded). Run by cmd/yjshub/console_e2e_test.go against a hub it starts; by hand:
//
//   NODE_PATH=$(bash scripts/browser.sh path) YJSHUB_HUB=http://127.0.0.1:8080 \
//   YJSHUB_OPERATOR_KEY=yjk_… YJSHUB_PLATFORM_KEY=yjk_… YJSHUB_DEPARTMENT_CONTROL=http://… \
//   node tests/browser/console.spec.mjs
//
// YJSHUB_DEPARTMENT_CONTROL is a test department the hub's tobacco connector pushes to: it
// refuses every push (400) until POST …/accept. The script signs in, submits a case and watches
// it complete on the case page, sees a second case's tobacco delivery refused and dead-lettered
// on the case page and the connectors page, lets the department accept again and replays the
// dead letter from the connectors page, sees the sub-case delivered, pauses and resumes a
// connector, and saves a screenshot of every page under YJSHUB_SCREENSHOTS (build/screenshots).
// Any step that fails ends the script with exit 1 and a message naming the step.
import {createRequire} from 'node:module';
import {mkdtempSync, mkdirSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

// playwright-core is found through NODE_PATH, which only require() reads (an ES import does not).
const {chromium} = createRequire(import.meta.url)('playwright-core');

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') fail('setup', `${name} is not set`);
  return v;
};
const hub = env('YJSHUB_HUB').replace(/\/$/, '');
const operatorKey = env('YJSHUB_OPERATOR_KEY');
const platformKey = env('YJSHUB_PLATFORM_KEY');
const control = env('YJSHUB_DEPARTMENT_CONTROL').replace(/\/$/, '');
const shots = resolve(env('YJSHUB_SCREENSHOTS', join(repo, 'build', 'screenshots')));
const chromiumPath = env('YJSHUB_CHROMIUM', '/usr/bin/chromium');
const timeout = Number(process.env.YJSHUB_STEP_TIMEOUT_MS || 60000);

let step = 'setup';
const problems = []; // page errors and CSP violations, reported at the end

function fail(where, message) {
  console.error(`FAIL [${where}] ${message}`);
  process.exit(1);
}

function log(message) {
  console.log(`ok   [${step}] ${message}`);
}

// api calls the hub's API outside the browser (the platform's submissions, the checks).
async function api(path, {key, method = 'GET', body} = {}) {
  const res = await fetch(hub + '/api/v1' + path, {
    method,
    headers: {Authorization: 'Bearer ' + key, 'Content-Type': 'application/json', ...(body ? {'Idempotency-Key': crypto.randomUUID()} : {})},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function submit(example) {
  const app = JSON.parse(readFileSync(join(repo, 'examples', example + '.json'), 'utf8'));
  const c = await api('/cases', {key: platformKey, method: 'POST', body: app});
  if (!/^cs_/.test(c.id)) throw new Error('no case id in ' + JSON.stringify(c).slice(0, 200));
  return c.id;
}

// submitWithUploads submits the example with each material's file uploaded to the hub over tus
// (a small PDF made here), named by the material object's id, so that the departments read the
// files through their links.
async function submitWithUploads(example) {
  const app = JSON.parse(readFileSync(join(repo, 'examples', example + '.json'), 'utf8'));
  // The holder as the hub reads the application (cases.Holder): the enterprise's or the
  // individual business's USCC, else the person's ID number.
  const holder = app.applicant_type === 'enterprise' ? app.form['enterprise.uscc']
    : app.form['applicant.subject'] === '个体工商户' ? app.form['individual_business.uscc'] : app.form['applicant.id_number'];
  const b64 = (v) => Buffer.from(v).toString('base64');
  app.materials = await Promise.all(app.materials.map(async (m) => {
    const bytes = Buffer.from(`%PDF-1.7\n% ${m.type} ${crypto.randomUUID()}\n%%EOF\n`);
    const tus = {Authorization: 'Bearer ' + platformKey, 'Tus-Resumable': '1.0.0'};
    const created = await fetch(hub + '/api/v1/uploads', {method: 'POST', headers: {...tus, 'Upload-Length': String(bytes.length),
      'Upload-Metadata': `filename ${b64(m.filename)},type ${b64(m.type)},holder ${b64(holder)}`}});
    if (created.status !== 201) throw new Error(`creating the upload of ${m.type}: ${created.status} ${await created.text()}`);
    const done = await fetch(new URL(created.headers.get('Location'), hub), {method: 'PATCH', body: bytes,
      headers: {...tus, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream'}});
    const id = done.headers.get('Upload-Material-Id');
    if (done.status !== 204 || !id) throw new Error(`uploading ${m.type}: ${done.status} ${await done.text()}`);
    return {type: m.type, id};
  }));
  const c = await api('/cases', {key: platformKey, method: 'POST', body: app});
  if (!/^cs_/.test(c.id)) throw new Error('no case id in ' + JSON.stringify(c).slice(0, 200));
  return {id: c.id, materials: app.materials.length};
}

async function screenshot(page, name) {
  // The page marks <main> once it has drawn (app.js).
  await page.waitForSelector('main[data-ready]', {timeout});
  const path = join(shots, name + '.png');
  await page.screenshot({path, fullPage: true});
  log('screenshot ' + path);
}

async function run(name, f) {
  step = name;
  try {
    await f();
  } catch (e) {
    // What the page said when the step failed: its address and any alert on it.
    const alerts = await page.locator('.alert, #signin-message').allTextContents().catch(() => []);
    const url = page.url();
    await context.close().catch(() => {});
    rmSync(userDataDir, {recursive: true, force: true});
    fail(name, (e && e.message ? e.message : String(e)).split('\n').slice(0, 12).join('\n') +
      `\n  page: ${url}` + (alerts.filter((a) => a.trim()).length ? `\n  the page says: ${alerts.join(' | ')}` : ''));
  }
}

mkdirSync(shots, {recursive: true});
const userDataDir = mkdtempSync(join(tmpdir(), 'yjshub-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: {width: 1366, height: 768},
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
} catch (e) {
  rmSync(userDataDir, {recursive: true, force: true});
  fail('launch', `chromium (${chromiumPath}) did not start: ${e.message}`);
}
context.setDefaultTimeout(timeout);
const page = context.pages()[0] || (await context.newPage());
page.on('pageerror', (e) => problems.push(`[${step}] page error: ${e.message}`));
page.on('console', (m) => {
  // A 404 of a figure the hub does not serve yet is expected (the page shows 暂无数据); a CSP
  // violation or a script error is not.
  if (/Content Security Policy|Refused to|Uncaught/i.test(m.text())) problems.push(`[${step}] console ${m.type()}: ${m.text()}`);
});

// Text of an element, for messages.
const text = async (sel) => (await page.locator(sel).first().textContent({timeout: 2000}).catch(() => '(none)'))?.trim();

let completed, refused, refusedSubcase, letter;

await run('sign in', async () => {
  await page.goto(hub + '/ui');
  await page.waitForURL(/\/ui\/#\/signin$/);
  await screenshot(page, '00-signin');
  await page.fill('#operator-key', 'yjk_not-a-key-the-hub-knows');
  await page.click('#signin-submit');
  await page.waitForFunction(() => /密钥无效/.test(document.querySelector('#signin-message')?.textContent || ''));
  await page.fill('#operator-key', platformKey);
  await page.click('#signin-submit');
  await page.waitForFunction(() => /不是运维人员的密钥/.test(document.querySelector('#signin-message')?.textContent || ''));
  await page.fill('#operator-key', operatorKey);
  await page.click('#signin-submit');
  await page.waitForURL(/#\/connectors$/);
  await page.waitForSelector('#connectors tr[data-connector]');
  const rows = await page.locator('#connectors tr[data-connector]').count();
  const charts = await page.locator('#connectors tr[data-connector] td.chart-cell svg.chart').count();
  if (charts !== rows) throw new Error(`${charts} activity charts for ${rows} connectors`);
  const stored = await page.evaluate(() => Object.keys(sessionStorage).filter((k) => /key/.test(k)).length);
  const cookies = await context.cookies();
  if (stored !== 1 || cookies.length) throw new Error(`after sign-in: ${stored} keys in sessionStorage, ${cookies.length} cookies`);
  log(`signed in: an unknown key and a platform key refused, the operator key kept in sessionStorage, no cookie; ${rows} connectors, each with its last hour charted`);
});

await run('a case completes on the case page', async () => {
  const uploaded = await submitWithUploads('open-drink-shop-individual');
  completed = uploaded.id;
  await page.goto(`${hub}/ui/#/cases/${completed}`);
  await page.waitForSelector('#case-id');
  log(`submitted ${completed}; the case page shows ${await text('.case-state')}`);
  await page.waitForFunction(() => document.querySelector('.case-state')?.textContent === '已办结', null, {timeout: 2 * timeout});
  const subcases = await page.locator('[data-subcase]').count();
  const delivered = await page.locator('[data-subcase][data-delivery="delivered"]').count();
  const approved = await page.locator('.step[data-step="approved"]').count();
  if (subcases < 2 || delivered !== subcases || approved !== subcases) {
    throw new Error(`${subcases} sub-cases, ${delivered} delivered, ${approved} approved steps on the timeline`);
  }
  // Each material was uploaded to the hub; the departments read it through their links before
  // they approved, and the materials table lists those reads.
  const read = await page.locator('#case-materials [data-reads]').count();
  if (read !== uploaded.materials) throw new Error(`${read} of ${uploaded.materials} uploaded materials list their reads`);
  await screenshot(page, '03-case-completed');
  log(`${completed} completed: ${subcases} sub-cases delivered and approved; ${read} uploaded materials, each with its reads by the departments`);
});

await run('a refused delivery shows as failed', async () => {
  refused = await submit('open-bar-enterprise');
  await page.goto(`${hub}/ui/#/cases/${refused}`);
  await page.waitForSelector('[data-department="tobacco"][data-delivery="failed"]', {timeout: 2 * timeout});
  const box = page.locator('[data-department="tobacco"] .delivery-failed');
  const boxText = await box.textContent();
  letter = await box.locator('[data-dead-letter]').getAttribute('data-dead-letter');
  if (!/推送失败/.test(boxText) || !/^dl_/.test(letter || '') || !/400/.test(boxText)) {
    throw new Error('the tobacco sub-case shows: ' + boxText);
  }
  await page.waitForSelector('#case-delivery-alert');
  await screenshot(page, '04-case-delivery-failed');
  log(`${refused}: tobacco's delivery 推送失败 with dead letter ${letter} and the reason`);
  refusedSubcase = await page.locator('[data-department="tobacco"]').getAttribute('data-subcase');
  await page.goto(`${hub}/ui/#/deadlines`);
  const row = page.locator(`#deadline-list tr[data-subcase="${refusedSubcase}"]`);
  await row.waitFor();
  const standing = await row.getAttribute('data-standing');
  if (standing !== 'delivery_failed') throw new Error(`the deadline watch lists the refused sub-case as ${standing}, not apart as 推送失败`);
  await screenshot(page, '07-deadlines-delivery-failed');
  log('the deadline watch lists it apart: 推送失败');
});

await run('the dead letter is replayed from the connectors page', async () => {
  await page.goto(`${hub}/ui/#/connectors`);
  const row = page.locator(`tr[data-dead-letter="${letter}"]`);
  await row.waitFor();
  const reason = await row.locator('td.reason').textContent();
  if (!/400/.test(reason)) throw new Error('the dead letter row gives the reason: ' + reason);
  await screenshot(page, '01-connectors-dead-letter');
  const res = await fetch(control + '/accept', {method: 'POST'});
  if (!res.ok) throw new Error('the test department did not take /accept: ' + res.status);
  // In bulk: tick it, then 重放所选; the result shows in the log.
  await row.locator('input[type=checkbox]').check();
  await page.click('#dlq-replay-selected');
  await page.waitForFunction((id) => [...document.querySelectorAll('#dlq-log li')].some((li) => li.textContent.includes(id) && li.textContent.includes('已重放')), letter);
  const progress = await text('#dlq-progress');
  if (!/已重放 1 条/.test(progress)) throw new Error('the bulk replay reports: ' + progress);
  const l = await api('/dlq/' + letter, {key: operatorKey});
  if (l.state !== 'replayed') throw new Error('the dead letter is ' + l.state + ' after the replay');
  log(`replayed ${letter} (${progress})`);
  await page.goto(`${hub}/ui/#/cases/${refused}`);
  await page.waitForSelector('[data-department="tobacco"][data-delivery="delivered"]', {timeout: 2 * timeout});
  if (await page.locator('#case-delivery-alert').count()) throw new Error('the case still says a delivery failed');
  await screenshot(page, '05-case-after-replay');
  log(`${refused}: the tobacco sub-case is delivered`);
});

await run('a connector is paused and resumed', async () => {
  const name = 'restpush:market-regulation';
  await page.goto(`${hub}/ui/#/connectors`);
  const row = () => page.locator(`tr[data-connector="${name}"]`);
  await row().waitFor();
  await row().locator('button[data-action="pause"]').click();
  await page.waitForFunction((n) => document.querySelector(`tr[data-connector="${n}"] .connector-state`)?.textContent === '已暂停', name);
  let st = await api('/connectors/' + name, {key: operatorKey});
  if (st.state !== 'paused') throw new Error('the hub says ' + st.state + ' after 暂停');
  await screenshot(page, '02-connectors-paused');
  await row().locator('button[data-action="resume"]').click();
  await page.waitForFunction((n) => document.querySelector(`tr[data-connector="${n}"] .connector-state`)?.textContent === '运行中', name);
  st = await api('/connectors/' + name, {key: operatorKey});
  if (st.state !== 'running') throw new Error('the hub says ' + st.state + ' after 恢复');
  await screenshot(page, '01-connectors');
  log(`${name} paused and resumed`);
});

await run('cases list', async () => {
  await page.goto(`${hub}/ui/#/cases`);
  await page.waitForSelector(`tr[data-case-id="${completed}"]`);
  await page.waitForSelector(`tr[data-case-id="${refused}"]`);
  await screenshot(page, '06-cases');
  await page.selectOption('#case-bundle', 'open-bar');
  await page.selectOption('#case-department', 'tobacco');
  await page.click('#case-search-submit');
  await page.waitForURL(/#\/cases\?bundle=open-bar&department=tobacco/);
  await page.waitForSelector(`tr[data-case-id="${refused}"]`);
  const listed = await page.locator('#case-results tr[data-case-id]').evaluateAll((trs) => trs.map((tr) => tr.dataset.caseId));
  if (listed.includes(completed)) throw new Error(`the search for 开酒吧 at 区烟草局 lists ${completed}, a 开饮品店 case`);
  await screenshot(page, '06-cases-search');
  // The operator's key has no personal-data grant: a search by holder is refused, and the
  // page says so where it was typed.
  await page.fill('#case-holder', '91320707MA1XYZ0A0X');
  await page.click('#case-search-submit');
  await page.waitForSelector('#case-search-message .alert-error');
  const refusal = await text('#case-search-message');
  if (!/持证人/.test(refusal) || !/personal data/.test(refusal)) throw new Error('the search by holder says: ' + refusal);
  if (!/#\/cases/.test(page.url())) throw new Error('a refused holder search left the page for ' + page.url());
  if (page.url().includes('91320707MA1XYZ0A0X')) throw new Error('the holder searched for is in the address: ' + page.url());
  await screenshot(page, '06-cases-holder-refused');
  await page.fill('#case-id', completed);
  await page.click('#case-search-submit');
  await page.waitForURL(new RegExp('#/cases/' + completed + '$'));
  log(`the list shows both cases; by bundle and department ${listed.length} case(s); a search by holder refused without the grant; by case id`);
});

await run('deadlines', async () => {
  await page.goto(`${hub}/ui/#/deadlines`);
  await page.waitForSelector('#deadline-tiles .tile');
  await page.waitForSelector('#deadline-list tr[data-subcase]');
  const rows = await page.locator('#deadline-list tr[data-subcase]').count();
  await screenshot(page, '07-deadlines');
  log(`${rows} open sub-cases with their working days left`);
});

await run('catalogue and a bundle form', async () => {
  await page.goto(`${hub}/ui/#/catalogue`);
  await page.waitForSelector('tr[data-bundle="open-bar"]');
  const bundles = await page.locator('tr[data-bundle]').count();
  if (bundles !== 40) throw new Error(`${bundles} bundles listed`);
  await screenshot(page, '08-catalogue');
  await page.click('tr[data-bundle="open-bar"] a');
  await page.waitForSelector('#form-preview .form-field');
  const fields = await page.locator('#form-preview .form-field').count();
  const selects = await page.locator('#form-preview select').count();
  const required = await page.locator('#form-preview .form-field .required').count();
  if (fields < 20 || selects < 3 || required < 10) throw new Error(`the form shows ${fields} fields, ${selects} selects, ${required} required marks`);
  await page.waitForSelector('#reuse svg.chart');
  // Where the hub reports mapping coverage, open the first department form's.
  const coverage = await page.locator('#coverage details.coverage').count();
  if (coverage) await page.locator('#coverage details.coverage summary').first().click();
  await screenshot(page, '09-catalogue-form');
  log(`开酒吧's one form: ${fields} fields, ${selects} selects, ${required} required; coverage of ${coverage} department forms`);
});

await run('reform results', async () => {
  await page.goto(`${hub}/ui/#/reform`);
  await page.waitForSelector('#reform-tiles, #reform-body .empty');
  const figures = await page.locator('#reform-tiles .tile').count();
  await screenshot(page, '10-reform');
  log(figures ? `${figures} headline figures with their charts` : 'the hub serves no reform report: 暂无数据');
});

await run('sign out', async () => {
  await page.click('#signout');
  await page.waitForURL(/#\/signin$/);
  const left = await page.evaluate(() => Object.keys(sessionStorage).filter((k) => /key/.test(k)).length);
  if (left) throw new Error('the key is still in sessionStorage');
  log('signed out: the key is gone');
});

await context.close();
rmSync(userDataDir, {recursive: true, force: true});
if (problems.length) fail('page errors', problems.join('\n'));
console.log('PASS console.spec.mjs: screenshots in ' + shots);
