// 办件: search cases by id, bundle, state, department, period and holder (the holder only for a
// key whose client has the personal-data grant: the API's refusal is shown as it is), in pages
// of results that remember the cursors behind them.
import {h, replace, table, empty, errorBox} from '../dom.js';
import * as api from '../api.js';
import * as f from '../format.js';
import {badge} from '../widgets.js';

const PAGE = 20;
const FILTERS = ['bundle', 'state', 'department', 'from', 'to'];

// holderSearched is the holder last searched for: personal data, so it stays in the page's
// memory, out of the address and so out of the tab's history.
let holderSearched = '';

export async function mount(main, ctx) {
  const [bundles, names] = await Promise.all([api.once('/bundles'), api.departmentNames()]);
  const filter = Object.fromEntries(FILTERS.map((k) => [k, ctx.query.get(k) || '']));
  filter.holder = ctx.query.has('by-holder') ? holderSearched : '';
  const page = {cursors: [''], index: 0};

  const input = (name, attrs) => h('input', {id: 'case-' + name, name, value: filter[name] || '', ...attrs});
  const caseId = h('input', {id: 'case-id', name: 'id', placeholder: 'cs_… 或 320707-20261205-07-00042-5', autocomplete: 'off', spellcheck: 'false'});
  const bundle = h('select', {id: 'case-bundle', name: 'bundle'}, h('option', {value: ''}, '全部一件事'),
    (bundles.bundles || []).map((b) => h('option', {value: b.code, selected: b.code === filter.bundle}, `${b.seq} ${b.name}`)));
  const state = h('select', {id: 'case-state', name: 'state'}, h('option', {value: ''}, '全部状态'),
    Object.entries(f.caseStates).map(([v, t]) => h('option', {value: v, selected: v === filter.state}, t)));
  const dept = h('select', {id: 'case-department', name: 'department'}, h('option', {value: ''}, '全部部门'),
    Object.entries(names).map(([v, t]) => h('option', {value: v, selected: v === filter.department}, t)));
  const from = input('from', {type: 'date'});
  const to = input('to', {type: 'date'});
  const holder = input('holder', {placeholder: '统一社会信用代码或身份证号', autocomplete: 'off', spellcheck: 'false'});
  const message = h('div', {id: 'case-search-message', 'aria-live': 'polite'});
  const results = h('div', {id: 'case-results'});
  const pager = h('div', {class: 'pager', id: 'case-pager'});

  const form = h('form', {class: 'search', id: 'case-search', onsubmit: search},
    field('办件编号', caseId), field('一件事', bundle), field('状态', state), field('部门', dept),
    field('提交日期 从', from), field('至', to), field('持证人（需个人数据授权）', holder),
    h('div', {class: 'search-actions'},
      h('button', {type: 'submit', class: 'primary', id: 'case-search-submit'}, '查询'),
      h('button', {type: 'button', class: 'link', onclick: () => ctx.navigate('#/cases')}, '清除')));

  replace(main, h('h1', null, '办件'), h('section', {class: 'panel'}, form, message), h('section', {class: 'panel'}, results, pager));

  async function search(ev) {
    ev.preventDefault();
    let id = caseId.value.trim();
    if (id) {
      try {
        if (/^\d{6}-\d{8}-\d{2}-\d{5,}-[0-9Xx]$/.test(id)) {
          // A case number (办件编号): found by the list's number filter.
          const found = await api.call('/cases' + api.q({number: id}));
          if (!found.items?.length) {
            replace(message, errorBox({summary: '该办件编号未找到'}, '没有这个办件'));
            return;
          }
          id = found.items[0].id;
        }
        await api.call('/cases/' + api.seg(id));
        ctx.navigate('#/cases/' + encodeURIComponent(id));
      } catch (e) {
        replace(message, errorBox(e, e.status === 404 ? '没有这个办件' : '查找办件失败'));
      }
      return;
    }
    holderSearched = holder.value.trim();
    const next = {bundle: bundle.value, state: state.value, department: dept.value, from: from.value, to: to.value,
      'by-holder': holderSearched ? '1' : ''};
    ctx.navigate('#/cases' + api.q(next));
  }

  async function load() {
    const cursor = page.cursors[page.index];
    let data;
    try {
      data = await api.call('/cases' + api.q({...filter, cursor, limit: PAGE}), {allow403: !!filter.holder});
    } catch (e) {
      if (!ctx.alive()) return;
      if (e.status === 403 || e.status === 422) {
        // A refusal of the query itself (the holder without the grant, a bad date): say so
        // where the operator typed it.
        replace(message, errorBox(e, filter.holder && e.status === 403 ? '按持证人查询被拒绝' : '查询条件有误'));
        replace(results, empty('未查询'));
        replace(pager);
        return;
      }
      throw e;
    }
    if (!ctx.alive()) return;
    replace(message);
    const items = data.items || [];
    const rows = items.map((c) => h('tr', {dataset: {caseId: c.id}},
      h('td', null, h('a', {class: 'mono', href: '#/cases/' + c.id}, c.number || c.id), c.external_ref ? h('div', {class: 'small muted'}, '平台编号 ', c.external_ref) : null),
      h('td', null, c.bundle ? `${c.bundle.seq} ${c.bundle.name || c.bundle.code}` : '—'),
      h('td', null, badge(c.state_label || f.label(f.caseStates, c.state), c.state === 'completed' ? 'good' : c.state === 'withdrawn' ? 'muted' : 'notice'),
        c.outcome_label ? h('div', {class: 'small'}, c.outcome_label) : null),
      h('td', {class: 'small'}, (c.departments || []).map((d) => names[d] || d).join('、') || '—'),
      h('td', {class: 'small'}, progress(c.subcases)),
      h('td', {class: 'small'}, c.deadline ? [h('div', null, '承诺 ', c.deadline.promised || '—'), h('div', {class: 'muted'}, '法定 ', c.deadline.statutory || '—')] : '—'),
      h('td', {class: 'small'}, h('time', {datetime: c.submitted_at}, f.time(c.submitted_at)))));
    replace(results, items.length
      ? table(['办件编号', '一件事', '状态', '部门', '事项', '办结期限', '提交时间'], rows, {class: 'grid cases'})
      : empty(page.index ? '没有更多办件' : '没有符合条件的办件'));
    const prev = h('button', {type: 'button', id: 'case-prev', disabled: page.index === 0, onclick: () => go(-1, '')}, '上一页');
    const nextBtn = h('button', {type: 'button', id: 'case-next', disabled: !data.next, onclick: () => go(1, data.next)}, '下一页');
    replace(pager, prev, h('span', {class: 'muted'}, `第 ${page.index + 1} 页 · 本页 ${items.length} 件`), nextBtn);
  }

  async function go(step, next) {
    if (step > 0) page.cursors[page.index + 1] = next;
    page.index += step;
    await load();
  }

  await load();
  return {refresh: load, every: 5000};
}

function field(label, control) {
  return h('label', {class: 'field'}, h('span', null, label), control);
}

function progress(sc) {
  if (!sc) return '—';
  return [
    h('div', null, `已办结 ${sc.decided ?? 0}/${sc.total ?? 0}`),
    sc.delivery_failed ? h('div', {class: 'text-bad strong'}, `推送失败 ${sc.delivery_failed}`) : null,
  ];
}
