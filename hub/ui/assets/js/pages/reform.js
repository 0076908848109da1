// 改革成效: what the plan promises, measured from the hub's real cases over a period — fields
// and materials asked against separate applications (减材料), the share from shared data
// (免填免交), handling days against the promised and statutory limits (减时限), cases finished
// without a supplement round (一次办结) — per bundle and per department, as bar charts a district
// leader reads at a glance (GET /api/v1/reports/reform?from=&to=).
import {h, replace, table, empty} from '../dom.js';
import * as api from '../api.js';
import {groupedBars, hbars, meter} from '../chart.js';
import * as f from '../format.js';
import {tile} from '../widgets.js';

export async function mount(main, ctx) {
  const from = h('input', {type: 'date', id: 'reform-from', value: ctx.query.get('from') || ''});
  const to = h('input', {type: 'date', id: 'reform-to', value: ctx.query.get('to') || ''});
  const go = (a, b) => ctx.navigate('#/reform' + api.q({from: a, to: b}));
  const year = f.today().slice(0, 4), month = f.today().slice(0, 7);
  const presets = [
    ['全部', '', ''], ['本月', month + '-01', f.today()], ['近 30 天', f.today(-29), f.today()], ['本年', year + '-01-01', f.today()],
  ];
  const cur = (ctx.query.get('from') || '') + '|' + (ctx.query.get('to') || '');
  const picker = h('form', {class: 'toolbar', id: 'reform-period', onsubmit: (e) => { e.preventDefault(); go(from.value, to.value); }},
    h('span', null, '统计期间（按提交日期）：'),
    presets.map(([label, a, b]) => h('button', {type: 'button', class: 'chip' + (cur === a + '|' + b ? ' active' : ''), onclick: () => go(a, b)}, label)),
    h('label', null, '从 ', from), h('label', null, '至 ', to), h('button', {type: 'submit'}, '查看'));
  const body = h('div', {id: 'reform-body'});
  replace(main, h('h1', null, '改革成效'), h('section', {class: 'panel'}, picker), body);

  const r = await api.orNull('/reports/reform' + api.q({from: from.value, to: to.value}), {allow403: false});
  if (!r) {
    replace(body, h('section', {class: 'panel'}, empty('暂无数据'), h('p', {class: 'small muted'}, '本枢纽尚未提供改革成效报表（/api/v1/reports/reform）。')));
    return {};
  }
  draw(body, r);
  return {};
}


function draw(body, r) {
  const o = r.overall || {};
  const hd = o.handling || {};
  const target = r.plan?.time_reduction_target_percent;
  const period = r.period?.from || r.period?.to ? `${r.period.from || '开始'} 至 ${r.period.to || '今天'}` : '全部办件';
  const bundles = (r.bundles || []).filter((b) => b.cases);
  // A department's handling figures, nested under handling (or beside its name).
  const depts = (r.departments || []).map((d) => ({department: d.department, ...(d.handling || d)})).filter((d) => d.subcases || d.decided);
  const bl = (b) => b.bundle?.name || b.bundle?.code;

  const sections = [
    h('p', {class: 'muted'}, `${period} · 截至 ${f.time(r.as_of)}`, r.plan?.title ? ` · 对照《${r.plan.title}》` : ''),
    h('section', {class: 'tiles tiles-wide', id: 'reform-tiles'},
      tile('受理办件', o.cases ?? 0, `已办结 ${o.completed ?? 0} · 办理中 ${o.in_progress ?? 0}`, 'good'),
      tile('一次申请免去的分别申请', o.matters ?? 0, '个事项（减环节、减跑动）', 'good'),
      tile('减材料', f.pct(o.materials?.saved_percent), `少交 ${f.num(o.materials?.saved)} 份材料、少填 ${f.num(o.fields?.saved)} 项`, 'good'),
      tile('免填免交', f.pct(o.fields?.prefilled_percent), `字段预填；材料证照免交 ${f.pct(o.materials?.from_licences_percent)}`, o.fields?.prefilled_percent ? 'good' : 'muted'),
      tile('减时限', f.pct(hd.reduction_percent), target ? `较法定时限压缩（目标 ${target}%）` : '较法定时限压缩',
        typeof hd.reduction_percent === 'number' && target ? (hd.reduction_percent >= target ? 'good' : 'warn') : 'muted'),
      tile('一次办结', f.pct(o.one_round?.percent), `${o.one_round?.without_supplement ?? 0}/${o.one_round?.completed ?? 0} 件无需补正`, 'good')),
  ];
  const promises = r.plan?.promises || [];
  const text = (code) => promises.find((p) => p.code === code);
  const card = (code, title, ...content) => h('section', {class: 'panel promise', dataset: {promise: code}},
    h('h2', null, text(code)?.label || title),
    text(code)?.text ? h('p', {class: 'promise-text small muted'}, '方案：', text(code).text) : null,
    ...content);

  sections.push(card('fewer_materials', '减材料',
    bundles.length ? h('div', {class: 'columns'},
      h('div', null, h('h3', null, '表单字段：一张表单 与 分别申请'),
        groupedBars(bundles.map((b) => ({label: bl(b), values: [b.fields?.asked, b.fields?.separate]})),
          [{name: '一张表单', cls: 'c-primary'}, {name: '分别申请合计', cls: 'c-muted'}], {width: 600, title: '各一件事的表单字段'})),
      h('div', null, h('h3', null, '申请材料：一套材料 与 分别申请'),
        groupedBars(bundles.map((b) => ({label: bl(b), values: [b.materials?.asked, b.materials?.separate]})),
          [{name: '一套材料', cls: 'c-primary'}, {name: '分别申请合计', cls: 'c-muted'}], {width: 600, title: '各一件事的申请材料'})))
      : empty()));
  sections.push(card('shared_data', '免填免交',
    bundles.length ? groupedBars(bundles.map((b) => ({label: bl(b), values: [b.fields?.prefilled_percent, b.materials?.from_licences_percent]})),
      [{name: '字段由共享数据预填', cls: 'c-good'}, {name: '材料由电子证照免交', cls: 'c-alt'}], {width: 900, max: 100, format: (v) => f.pct(v), title: '各一件事的免填免交比例'})
      : empty()));
  sections.push(card('shorter_time', '减时限',
    depts.length ? [
      h('h3', null, '各部门办理用时（工作日）与承诺、法定时限'),
      depts.some((d) => d.decided) ? groupedBars(depts.filter((d) => d.decided).map((d) => ({label: d.department?.name || d.department?.code,
        values: [d.mean_days, d.p90_days, d.mean_promised_days, d.mean_statutory_days]})),
      [{name: '平均用时', cls: 'c-primary'}, {name: '90% 在此之内', cls: 'c-alt'}, {name: '平均承诺时限', cls: 'c-warn'}, {name: '平均法定时限', cls: 'c-muted'}],
      {width: 900, format: (v) => f.num(v, 1), title: '各部门办理用时与时限'}) : empty('本期尚无已作出决定的事项'),
      table(['部门', '已决定', '平均用时', '90% 用时', '承诺时限内', '法定时限内', '无需补正'], depts.map((d) => [
        d.department?.name || d.department?.code, `${d.decided ?? 0}/${d.subcases ?? 0}`,
        d.decided ? f.num(d.mean_days, 1) + ' 日' : '—', d.decided ? f.num(d.p90_days) + ' 日' : '—',
        share(d.within_promised_percent, d.decided), share(d.within_statutory_percent, d.decided), share(d.without_supplement_percent, d.decided)]),
      {class: 'grid compact'})] : empty()));
  const done = bundles.filter((b) => b.one_round?.completed);
  const open = bundles.filter((b) => !b.one_round?.completed);
  sections.push(card('one_round', '一次办结',
    done.length ? hbars(done.map((b) => ({label: bl(b), value: b.one_round.percent ?? 0, note: `${b.one_round.without_supplement ?? 0}/${b.one_round.completed} 件`, cls: 'c-good'})),
      {width: 900, max: 100, format: (v) => f.pct(v), title: '各一件事无需补正即办结的比例'}) : empty('本期尚无办结的办件'),
    open.length ? h('p', {class: 'small muted'}, '尚无办结：', open.map(bl).join('、')) : null));
  replace(body, sections);
}

function share(p, n) {
  if (!n) return '—';
  return h('span', {class: 'share'}, meter(p, {width: 80}), ' ', f.pct(p));
}
