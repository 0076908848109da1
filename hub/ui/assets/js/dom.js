// Building the page from data without markup strings: every text the API gives goes in as a
// text node, never as HTML, so a case or a dead letter cannot inject anything into the page.

const SVG_NS = 'http://www.w3.org/2000/svg';

// h makes an element: h('a', {href: '#/cases', class: 'nav'}, 'text', child, [more]).
// Attributes named on* take a function (an event listener); false, null and undefined
// attributes and children are left out.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

// s makes an SVG element, as h does.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'checked' || k === 'value' || k === 'selected' || k === 'disabled') {
      el[k] = v;
      if (k === 'disabled' && v) el.setAttribute('disabled', '');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace empties el and puts children in.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// table makes a table from column heads and rows of cells; a row may be a <tr> of its own.
export function table(heads, rows, attrs) {
  return h('table', attrs,
    h('thead', null, h('tr', null, heads.map((c) => (c instanceof Node ? c : h('th', null, c))))),
    h('tbody', null, rows.map((r) => (r instanceof Node ? r : h('tr', null, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', null, c))))))));
}

// empty is the placeholder of a section without data.
export function empty(text = '暂无数据') {
  return h('p', {class: 'empty'}, text);
}

// errorBox shows an error in a page: its Chinese summary and the API's own message.
export function errorBox(err, what) {
  return h('div', {class: 'alert alert-error', role: 'alert'},
    h('strong', null, what ? what + '：' : '', err.summary || '出错了'),
    err.detail ? h('div', {class: 'alert-detail'}, err.detail) : null);
}
