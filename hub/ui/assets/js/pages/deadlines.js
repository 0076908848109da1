// 时限: the open sub-cases by their standing against the promised and statutory limits, by
// department: how many are overdue, due soon, undelivered, on track; working days left against
// each limit.
import {h, replace, table, empty} from '../dom.js';
import * as api from '../api.js';
import {stackedBars} from '../chart.js';
import * as f from '../format.js';
import {tile, badge} from '../widgets.js';

export async function mount(main, ctx) {
  const names = await api.departmentNames();
  const within = h('input', {id: 'deadline-within', type: 'number', min: 1, max: 60, value: ctx.query.get('within') || '3', class: 'narrow'});
  const dept = h('select', {id: 'deadline-department'}, h('option', {value: ''}, '全部部门'),
    Object.entries(names).map(([v, t]) => h('option', {value: v, selected: v === ctx.query.get('department')}, t)));
  const apply = () => ctx.navigate('#/deadlines' + api.q({within: within.value === '3' ? '' : within.value, department: dept.value}));
  within.addEventListener('change', apply);
  dept.addEventListener('change', apply);
  const asOf = h('span', {class: 'muted'});
  const tiles = h('section', {class: 'tiles', id: 'deadline-tiles'});
  const chart = h('div', {id: 'deadline-chart'});
  const list = h('div', {id: 'deadline-list'});
  replace(main,
    h('h1', null, '时限'),
    h('section', {class: 'panel'}, h('div', {class: 'toolbar'},
      h('label', null, '即将到期：承诺期限在 ', within, ' 个工作日内'), h('label', null, '部门 ', dept), asOf)),
    tiles,
    h('section', {class: 'panel'}, h('h2', null, '各部门在办事项'), chart),
    h('section', {class: 'panel'}, h('h2', null, '事项明细（最紧迫的在前）'), list));

  async function load() {
    const w = await api.call('/deadlines' + api.q({all: 'true', within: within.value, department: dept.value}));
    if (!ctx.alive()) return;
    asOf.textContent = `截至 ${w.as_of}（中国时间）`;
    const counts = w.counts || {};
    const shown = f.standings.filter((s) => s.code in counts);
    replace(tiles, shown.map((s) => tile(s.label, counts[s.code], s.code === 'on_track' ? '在期限内' : s.code === 'paused' ? '补正或特别程序' : '个事项',
      counts[s.code] ? s.tone : 'muted', {dataset: {standing: s.code}})));
    const items = w.items || [];
    const byDept = new Map();
    for (const it of items) {
      const code = it.department.code;
      if (!byDept.has(code)) byDept.set(code, {name: it.department.name || names[code] || code, items: []});
      byDept.get(code).items.push(it);
    }
    const rows = [...byDept.values()].map((d) => ({label: d.name, values: countBy(d.items)}));
    replace(chart, rows.length
      ? stackedBars(rows, shown.map((s) => ({code: s.code, label: s.label, cls: s.cls})), {width: 900, title: '各部门在办事项的时限状况'})
      : empty('没有在办事项'));
    const hasStatLeft = items.some((it) => typeof it.statutory_days_left === 'number');
    const trs = [];
    for (const [code, d] of byDept) {
      const c = countBy(d.items);
      trs.push(h('tr', {class: 'group-row', dataset: {department: code}}, h('td', {colspan: 6},
        h('strong', null, d.name), ' ', h('span', {class: 'muted small'}, shown.filter((s) => c[s.code]).map((s) => `${s.label} ${c[s.code]}`).join(' · ')))));
      for (const it of d.items) {
        trs.push(h('tr', {dataset: {subcase: it.subcase_id, standing: it.standing}},
          h('td', null, h('a', {class: 'mono small', href: '#/cases/' + it.case_id}, it.case_id), h('div', {class: 'small muted'}, it.bundle ? `${it.bundle.seq} ${it.bundle.name || it.bundle.code}` : '')),
          h('td', null, it.matter?.name || it.matter?.code),
          h('td', {class: 'small'}, f.label(f.subcaseStates, it.state)),
          h('td', null, badge(f.label(f.standingLabel, it.standing), f.standingTone[it.standing] || 'muted')),
          h('td', {class: 'small'}, h('div', null, it.deadlines?.promised || '—', ` （${f.limitDays(it.promised_days, it.promised_unit)}）`), h('div', {class: toneText(it.days_left)}, f.daysLeft(it.days_left))),
          h('td', {class: 'small'}, h('div', null, it.deadlines?.statutory || '—', ` （${f.limitDays(it.statutory_days, it.statutory_unit)}）`, it.deadlines?.provisional ? h('span', {class: 'muted small', title: '该年节假日安排未公布，暂按周一至周五计'}, ' 暂定') : null),
            hasStatLeft && typeof it.statutory_days_left === 'number' ? h('div', {class: toneText(it.statutory_days_left)}, f.daysLeft(it.statutory_days_left)) : null)));
      }
    }
    replace(list, trs.length ? table(['办件', '事项', '状态', '时限状况', '承诺期限（工作日）', '法定期限（工作日）'], trs, {class: 'grid deadlines'}) : empty('没有在办事项'));
  }
  await load();
  return {refresh: load, every: 5000};
}

function countBy(items) {
  const c = {};
  for (const it of items) c[it.standing] = (c[it.standing] || 0) + 1;
  return c;
}

function toneText(n) {
  if (typeof n !== 'number') return 'muted';
  return n < 0 ? 'text-bad strong' : n <= 1 ? 'text-warn' : 'muted';
}
