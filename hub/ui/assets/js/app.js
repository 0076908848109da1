// The console's frame: sign-in state, the pages by their hash (#/connectors, #/cases,
// #/cases/{id}, #/deadlines, #/catalogue, #/catalogue/{code}, #/reform, #/signin) and the live
// refresh, which asks again every few seconds while the tab is visible and not at all while it
// is hidden.
import {h, replace, errorBox} from './dom.js';
import * as api from './api.js';
import {clockNow} from './format.js';
import * as connectors from './pages/connectors.js';
import * as cases from './pages/cases.js';
import * as casePage from './pages/case.js';
import * as deadlines from './pages/deadlines.js';
import * as catalogue from './pages/catalogue.js';
import * as reform from './pages/reform.js';
import * as signin from './pages/signin.js';

const nav = [
  {id: 'connectors', title: '连接器', hash: '#/connectors'},
  {id: 'cases', title: '办件', hash: '#/cases'},
  {id: 'deadlines', title: '时限', hash: '#/deadlines'},
  {id: 'catalogue', title: '目录', hash: '#/catalogue'},
  {id: 'reform', title: '改革成效', hash: '#/reform'},
];

const routes = [
  {re: /^\/connectors$/, page: connectors, nav: 'connectors', title: '连接器'},
  {re: /^\/cases$/, page: cases, nav: 'cases', title: '办件'},
  {re: /^\/cases\/([^/]+)$/, page: casePage, nav: 'cases', title: '办件详情'},
  {re: /^\/deadlines$/, page: deadlines, nav: 'deadlines', title: '时限'},
  {re: /^\/catalogue(?:\/([^/]+))?$/, page: catalogue, nav: 'catalogue', title: '目录'},
  {re: /^\/reform$/, page: reform, nav: 'reform', title: '改革成效'},
  {re: /^\/signin$/, page: signin, nav: '', title: '登录', public: true},
];

// auth is how this tab reaches the API: 'key' (an operator key is held), 'open' (the hub does
// not authenticate) or '' (not yet known, or signed out).
const state = {auth: '', deniedMessage: '', current: null, generation: 0};

const el = {
  navLinks: new Map(),
  who: h('span', {class: 'who', id: 'who'}),
  updated: h('span', {class: 'updated', id: 'updated', 'aria-live': 'polite'}),
  signout: h('button', {type: 'button', class: 'link', id: 'signout', onclick: signOut}, '退出'),
  main: h('main', {id: 'main', tabindex: '-1'}),
};

function shell() {
  const links = nav.map((n) => {
    const a = h('a', {href: n.hash, id: 'nav-' + n.id}, n.title);
    el.navLinks.set(n.id, a);
    return a;
  });
  document.body.replaceChildren(
    h('header', {class: 'top'},
      h('a', {class: 'brand', href: '#/connectors'}, h('span', {class: 'brand-mark'}, '一'), '一件事 集成枢纽 · 运维控制台'),
      h('nav', {class: 'nav', 'aria-label': '页面'}, links),
      h('div', {class: 'session'}, el.updated, el.who, el.signout)),
    el.main);
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/connectors';
  const i = raw.indexOf('?');
  const path = decodeURIComponent(i < 0 ? raw : raw.slice(0, i));
  return {path, query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1))};
}

// navigate changes the hash (and so the page).
export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function setWho() {
  const signedIn = state.auth === 'key';
  el.who.textContent = state.auth === 'open' ? '未启用认证（本机）' : signedIn ? '已登录：运维密钥' : '未登录';
  el.who.className = 'who ' + (state.auth === 'open' ? 'who-open' : signedIn ? 'who-key' : '');
  el.signout.hidden = !signedIn;
}

function signOut() {
  api.setOperatorKey('');
  state.auth = '';
  state.deniedMessage = '已退出。';
  navigate('#/signin');
}

// denied: the API refused the key (401) or its role (403): back to sign-in with the message,
// then back to where the operator was.
function denied(err) {
  if (parseHash().path === '/signin') return;
  api.setOperatorKey('');
  state.auth = '';
  state.deniedMessage = err.summary + (err.detail ? '：' + err.detail : '');
  const back = location.hash && !location.hash.startsWith('#/signin') ? location.hash : '#/connectors';
  sessionStorage.setItem('yjshub.after-signin', back);
  navigate('#/signin');
}

// signedIn is called by the sign-in page once the key is known good (or not needed).
function signedIn(mode) {
  state.auth = mode;
  state.deniedMessage = '';
  const back = sessionStorage.getItem('yjshub.after-signin') || '#/connectors';
  sessionStorage.removeItem('yjshub.after-signin');
  navigate(back);
}

function markUpdated(ok, err) {
  el.updated.textContent = ok ? '更新于 ' + clockNow() : '刷新失败 ' + clockNow();
  el.updated.className = 'updated ' + (ok ? '' : 'updated-bad');
  el.updated.title = ok ? '' : (err && (err.summary + ' ' + (err.detail || ''))) || '';
}

async function route() {
  const {path, query} = parseHash();
  const r = routes.find((x) => x.re.test(path));
  if (state.current && state.current.unmount) state.current.unmount();
  state.current = null;
  const gen = ++state.generation;
  delete el.main.dataset.ready;
  if (!r) {
    replace(el.main, h('h1', null, '没有这个页面'), h('p', null, h('a', {href: '#/connectors'}, '回到连接器')));
    return;
  }
  if (!r.public && !state.auth) {
    sessionStorage.setItem('yjshub.after-signin', location.hash || '#/connectors');
    navigate('#/signin');
    return;
  }
  for (const [id, a] of el.navLinks) a.classList.toggle('active', id === r.nav);
  document.title = r.title + ' · yjshub 运维控制台';
  setWho();
  const ctx = {
    params: path.match(r.re).slice(1).map((x) => (x === undefined ? '' : x)),
    query,
    navigate,
    alive: () => gen === state.generation,
    auth: state.auth,
    deniedMessage: state.deniedMessage,
    signedIn,
    updated: markUpdated,
  };
  replace(el.main, h('p', {class: 'loading'}, '加载中…'));
  try {
    const page = (await r.page.mount(el.main, ctx)) || {};
    if (!ctx.alive()) {
      if (page.unmount) page.unmount();
      return;
    }
    state.current = {...page, last: Date.now(), busy: false};
    if (page.every) markUpdated(true);
    el.main.dataset.ready = r.nav || 'signin'; // drawn: what a test waits for before a screenshot
  } catch (e) {
    if (!ctx.alive()) return;
    if (e instanceof api.ApiError) replace(el.main, errorBox(e, '加载页面失败'));
    else replace(el.main, errorBox({summary: '页面出错', detail: String(e && e.message)}));
  }
}

// tick refreshes the current page when its interval has passed, the tab is visible and the
// last refresh has ended.
async function tick(force) {
  const cur = state.current;
  if (!cur || !cur.refresh || !cur.every || cur.busy || document.visibilityState !== 'visible') return;
  if (!force && Date.now() - cur.last < cur.every) return;
  cur.busy = true;
  try {
    await cur.refresh();
    markUpdated(true);
  } catch (e) {
    markUpdated(false, e);
  } finally {
    cur.busy = false;
    cur.last = Date.now();
  }
}

async function start() {
  shell();
  api.whenDenied(denied);
  if (api.operatorKey()) {
    state.auth = 'key';
  } else {
    // Without a key: a hub that does not authenticate (on loopback, no clients file) answers
    // operators' routes to anyone, and the console works without signing in.
    try {
      await api.call('/connectors', {noKey: true, quiet: true});
      state.auth = 'open';
    } catch {
      state.auth = '';
    }
  }
  setWho();
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => tick(true));
  setInterval(() => tick(false), 1000);
  await route();
}

start();
