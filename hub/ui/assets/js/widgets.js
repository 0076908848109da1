// The console's small recurring pieces: figure tiles, coloured badges, fact lists.
import {h} from './dom.js';
import {num} from './format.js';

// tile is a headline figure: a title, the number, a note; tone colours it (good, notice,
// warn, bad, muted).
export function tile(title, value, note, tone = 'muted', attrs = {}) {
  return h('div', {class: 'tile tone-' + tone, ...attrs},
    h('div', {class: 'tile-title'}, title),
    h('div', {class: 'tile-value'}, typeof value === 'number' ? num(value) : value),
    h('div', {class: 'tile-note'}, note));
}

export function badge(text, tone, cls) {
  return h('span', {class: `badge tone-${tone}` + (cls ? ' ' + cls : '')}, text);
}

// fact is one term and its description of a <dl class="facts">.
export function fact(k, v) {
  return [h('dt', null, k), h('dd', null, v)];
}
