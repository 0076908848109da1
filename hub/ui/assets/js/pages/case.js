// 办件详情: the case's header, each sub-case with its state, deadlines and delivery — a
// delivery refused for good shown as 推送失败 with its dead letter, reason and a replay button, a
// delivery being retried with its attempts and next try — and the timeline across departments,
// one lane a department.
import {h, replace, table, empty, errorBox} from '../dom.js';
import * as api from '../api.js';
import * as f from '../format.js';
import {badge, fact} from '../widgets.js';

const LANES = 8; // lane colours in app.css (lane-0 … lane-7)
const licenceStatus = {valid: '有效', expired: '已过期', revoked: '已吊销'};

export async function mount(main, ctx) {
  const id = ctx.params[0];
  const flash = h('div', {id: 'case-flash', 'aria-live': 'polite'});
  const body = h('div', {id: 'case-body'});
  replace(main, h('p', {class: 'crumbs'}, h('a', {href: '#/cases'}, '办件'), ' / ', h('span', {class: 'mono'}, id)), flash, body);
  const page = {replaying: new Set()};

  async function load() {
    const c = await api.call('/cases/' + api.seg(id));
    // Without the delivery summary on each sub-case, a refused delivery's dead letter is found
    // in the dead-letter list by its sub-case.
    let letters = [];
    if (c.subcases.some((sc) => !sc.delivery && sc.delivery_error)) {
      letters = ((await api.call('/dlq' + api.q({state: 'dead', limit: 1000})).catch(() => ({}))).dead_letters || []);
    }
    if (!ctx.alive()) return;
    draw(c, letters);
  }

  function draw(c, letters) {
    const failed = c.subcases.filter((sc) => deliveryOf(sc, letters)?.state === 'failed');
    const lanes = laneOf(c);
    replace(body,
      h('section', {class: 'case-head panel'},
        h('div', {class: 'case-title'},
          h('h1', null, c.bundle ? `${c.bundle.name}` : '办件', h('span', {class: 'muted small'}, c.bundle ? ` 第 ${c.bundle.seq} 件` : '')),
          badge(c.state_label, c.state === 'completed' ? 'good' : c.state === 'withdrawn' ? 'muted' : 'notice', 'case-state'),
          c.outcome_label ? badge(c.outcome_label, c.outcome === 'approved' ? 'good' : c.outcome === 'rejected' ? 'bad' : 'warn', 'case-outcome') : null),
        h('dl', {class: 'facts facts-row'},
          c.number ? fact('办件编号', h('span', {class: 'mono', id: 'case-number'}, c.number)) : null,
          fact('办件 ID', h('span', {class: 'mono', id: 'case-id'}, c.id)),
          c.external_ref ? fact('平台编号', c.external_ref) : null,
          fact('申请人类型', f.label(f.applicantTypes, c.applicant_type)),
          fact('提交时间', f.time(c.submitted_at)),
          c.completed_at ? fact('办结时间', f.time(c.completed_at)) : null,
          fact('承诺办结', c.deadline?.promised || '—'),
          fact('法定办结', c.deadline?.statutory || '—'),
          c.trace_id ? fact('追踪编号', h('span', {class: 'mono', id: 'case-trace'}, c.trace_id)) : null)),
      failed.length ? h('div', {class: 'alert alert-error', id: 'case-delivery-alert', role: 'alert'},
        h('strong', null, `${failed.length} 个事项推送失败`), '：部门系统拒收，消息已转为死信。排除原因后可在下方或连接器页重放。') : null,
      h('section', {class: 'panel'}, h('h2', null, '事项'), h('div', {class: 'subcases'}, c.subcases.map((sc) => subcase(sc, deliveryOf(sc, letters), lanes)))),
      h('section', {class: 'panel'}, h('h2', null, '办理时间线'), timeline(c, lanes)),
      c.licences?.length ? h('section', {class: 'panel'}, h('h2', null, '电子证照'),
        table(['证照', '编号', '证照标识', '发证机关', '有效期至', '状态'], c.licences.map((l) => [
          l.type, h('span', {class: 'mono'}, l.number), l.identifier ? h('span', {class: 'mono small'}, l.identifier) : '—', l.issuer, l.valid_until || '—',
          badge(l.status_label || f.label(licenceStatus, l.status), l.status === 'valid' ? 'good' : 'bad')]), {class: 'grid'})) : null,
      c.supplements?.length ? h('section', {class: 'panel'}, h('h2', null, '补正'),
        table(['时间', '事项', '材料', '字段'], c.supplements.map((s) => [f.time(s.received_at), String(s.subcases.length), String(s.materials.length), String(s.fields.length)]), {class: 'grid'})) : null,
      h('section', {class: 'panel'}, h('h2', null, '材料（一次提交，各部门共用）'),
        c.materials?.length ? table(['材料', '文件', '使用事项数', '调阅记录与保存期'], c.materials.map((m) => [
          m.name || m.type, h('span', {class: 'small'}, m.filename, m.licence ? h('span', {class: 'badge tone-good'}, '电子证照免交') : null), String(m.used_by.length),
          reads(m, c)]), {class: 'grid', id: 'case-materials'}) : empty()));
  }

  // reads lists who read a material the hub holds through its link (the audit log's
  // material_read rows): the department, when, and through which connector. A material on a
  // platform's host or given as an e-licence is not read through the hub.
  function reads(m, c) {
    if (!m.object) return h('span', {class: 'muted small'}, '—');
    // How long the hub keeps the file (retention): until the cases naming it have ended, then
    // to retained_until; removed_at once the sweeper removed it.
    const kept = m.removed_at ? h('div', {class: 'small retention'}, badge('已删除 ' + f.time(m.removed_at), 'bad'))
      : h('div', {class: 'muted small retention'}, m.retained_until ? `保存至 ${f.time(m.retained_until)}`
        : c.completed_at || c.state === 'withdrawn' ? '保存期待下次清理时确定' : '办结后起算保存期');
    if (!m.reads?.length) return h('div', null, h('span', {class: 'muted small'}, '尚未调阅'), kept);
    const names = new Map(c.subcases.map((sc) => [sc.department.code, sc.department.name]));
    return h('div', null, h('ul', {class: 'reads small', dataset: {reads: String(m.reads.length)}}, m.reads.map((r) =>
      h('li', null, `${names.get(r.department) || r.department} ${f.time(r.at)}`, r.via ? h('span', {class: 'muted'}, `（${r.via}）`) : null,
        r.range ? h('span', {class: 'muted'}, ` ${r.range}`) : null))), kept);
  }

  function subcase(sc, d, lanes) {
    const lane = lanes.get(sc.department.code) ?? 0;
    return h('article', {class: 'subcase lane-border-' + lane, dataset: {subcase: sc.id, department: sc.department.code, delivery: d?.state || ''}},
      h('header', null,
        h('div', null, h('span', {class: 'lane-dot lane-' + lane}), h('strong', null, sc.matter_name), sc.optional ? h('span', {class: 'muted small'}, '（选办）') : null),
        badge(sc.state_label, toneOfState(sc.state), 'subcase-state')),
      h('dl', {class: 'facts'},
        fact('部门', sc.department.name),
        fact('承诺期限', `${sc.deadlines.promised || '—'}（${sc.limits.promised.label}）`),
        fact('法定期限', `${sc.deadlines.statutory || '—'}（${sc.limits.statutory.label}）${sc.deadlines.provisional ? '（节假日安排未公布，暂按周一至周五计）' : ''}`),
        sc.paused ? fact('计时', '暂停') : null,
        sc.waiting_for?.length ? fact('等待', sc.waiting_for.join('、')) : null,
        sc.department_ref ? fact('部门受理号', h('span', {class: 'mono subcase-department-ref'}, sc.department_ref)) : null,
        sc.decision_number ? fact('决定文号', sc.decision_number) : null,
        sc.reason ? fact('理由', sc.reason) : null,
        sc.missing?.length ? fact('需补正', sc.missing.map((m) => m.note || m.material || m.field).join('、')) : null,
        sc.supplement_deadline ? fact('补正期限', sc.supplement_deadline) : null),
      delivery(sc, d));
  }

  function delivery(sc, d) {
    if (!d) return h('div', {class: 'delivery muted small'}, '推送：', sc.state === 'waiting' ? '等待前置事项办结后推送' : '—');
    const label = d.state_label || f.label(f.deliveryStates, d.state);
    switch (d.state) {
      case 'failed':
        return h('div', {class: 'delivery delivery-failed', role: 'alert'},
          h('div', {class: 'delivery-state'}, '状态 ', h('strong', null, label)),
          h('dl', {class: 'facts'},
            fact('死信', d.dead_letter_id ? h('span', {class: 'mono', dataset: {deadLetter: d.dead_letter_id}}, d.dead_letter_id) : '—'),
            fact('原因', d.last_error || '—'),
            d.attempts ? fact('尝试', d.attempts + ' 次') : null,
            d.at ? fact('时间', f.time(d.at)) : null),
          d.dead_letter_id ? h('button', {
            type: 'button', class: 'primary small-btn', dataset: {action: 'replay'}, disabled: page.replaying.has(d.dead_letter_id),
            onclick: () => replay(d.dead_letter_id),
          }, '重放死信') : null);
      case 'retrying':
        return h('div', {class: 'delivery delivery-retrying'},
          h('div', {class: 'delivery-state'}, '状态 ', h('strong', null, label)),
          h('dl', {class: 'facts'},
            fact('已尝试', (d.attempts ?? '—') + ' 次'),
            fact('下次尝试', d.next_attempt_at ? `${f.shortT(d.next_attempt_at)}（${f.ago(d.next_attempt_at)}）` : '—'),
            d.last_error ? fact('最近错误', d.last_error) : null));
      case 'delivered':
        return h('div', {class: 'delivery delivery-ok small'}, '推送：', h('strong', null, label),
          d.at || sc.delivered_at ? ` · ${f.time(d.at || sc.delivered_at)}` : '', d.attempts > 1 ? ` · 第 ${d.attempts} 次尝试` : '');
      default:
        return h('div', {class: 'delivery small'}, '推送：', h('strong', null, label), d.attempts ? ` · 已尝试 ${d.attempts} 次` : '');
    }
  }

  async function replay(letter) {
    page.replaying.add(letter);
    try {
      await api.call(`/dlq/${api.seg(letter)}/replay`, {method: 'POST'});
      replace(flash, h('div', {class: 'alert alert-ok'}, `死信 ${letter} 已重放，等待部门系统接收…`));
    } catch (e) {
      replace(flash, errorBox(e, '重放失败'));
    } finally {
      page.replaying.delete(letter);
    }
    await load().catch(() => {});
  }

  try {
    await load();
  } catch (e) {
    if (e.status === 404) {
      replace(body, errorBox(e, '没有这个办件'));
      return {};
    }
    throw e;
  }
  return {refresh: load, every: 3000};
}

// deliveryOf is the sub-case's delivery: the hub's own summary when it gives one, else what
// its delivery fields and the dead-letter list say.
function deliveryOf(sc, letters) {
  if (sc.delivery) return sc.delivery;
  if (sc.delivery_error) {
    const l = letters.find((x) => x.subcase_id === sc.id);
    return {state: 'failed', last_error: sc.delivery_error, dead_letter_id: l?.id, attempts: l?.attempts, at: l?.created_at};
  }
  if (sc.delivered_at) return {state: 'delivered', at: sc.delivered_at};
  if (sc.dispatched_at && sc.state !== 'waiting') return {state: 'pending'};
  return null;
}

function toneOfState(st) {
  switch (st) {
    case 'approved': return 'good';
    case 'rejected': case 'cancelled': case 'delivery_failed': return 'bad';
    case 'supplement_requested': case 'suspended': return 'warn';
    case 'withdrawn': return 'muted';
    default: return 'notice';
  }
}

// laneOf gives each department of the case a lane (and colour), in the order of its sub-cases.
function laneOf(c) {
  const lanes = new Map();
  for (const sc of c.subcases) if (!lanes.has(sc.department.code)) lanes.set(sc.department.code, lanes.size % LANES);
  return lanes;
}

// timeline draws the case's steps in order, each in its department's lane (steps of the whole
// case, submitted and completed, in the first). Steps of the same second in different lanes share
// a row, so that the four dispatches of one intake read as one moment.
function timeline(c, lanes) {
  const deptOf = new Map(c.subcases.map((sc) => [sc.id, sc.department]));
  const depts = c.subcases.map((sc) => sc.department).filter((d, i, a) => a.findIndex((x) => x.code === d.code) === i);
  const grid = h('div', {class: 'lanes', role: 'table', 'aria-label': '按部门分列的办理时间线'});
  grid.style.setProperty('--lanes', String(depts.length + 1)); // CSSOM, which the CSP allows (an inline style attribute it would not)
  grid.append(h('div', {class: 'lane-row lane-header', role: 'row'},
    h('div', {class: 'lane-head time-col', role: 'columnheader'}, '时间'),
    h('div', {class: 'lane-head', role: 'columnheader'}, '办件'),
    depts.map((d) => h('div', {class: 'lane-head', role: 'columnheader'}, h('span', {class: 'lane-dot lane-' + lanes.get(d.code)}), d.name))));
  const rows = [];
  for (const e of c.timeline) {
    const dept = e.subcase_id ? deptOf.get(e.subcase_id) : e.data?.department;
    const col = dept ? depts.findIndex((d) => d.code === dept.code) + 1 : 0;
    const at = f.shortT(e.at);
    let row = rows[rows.length - 1];
    if (!row || row.at !== at || row.cells[col]) {
      row = {at, time: e.at, cells: []};
      rows.push(row);
    }
    const sc = e.subcase_id ? c.subcases.find((x) => x.id === e.subcase_id) : null;
    row.cells[col] = step(e, sc, col ? lanes.get(depts[col - 1].code) : 'case');
  }
  for (const row of rows) {
    const cells = [h('div', {class: 'time-col small muted', role: 'cell'}, h('time', {datetime: row.time, title: f.time(row.time)}, row.at))];
    for (let i = 0; i <= depts.length; i++) cells.push(h('div', {class: 'lane-cell', role: 'cell'}, row.cells[i] || null));
    grid.append(h('div', {class: 'lane-row', role: 'row'}, cells));
  }
  return c.timeline.length ? grid : empty('暂无步骤');
}

// step is one entry of the timeline: its label, the matter, and what it adds — for an
// applicant's step the part of its text after the label (承诺办结日期…, 发放…), for an
// operators' step (delivery) its detail (the HTTP status, the reason of a refusal).
function step(e, sc, lane) {
  // An operators' detail names the department first, which the lane already shows.
  let more = (e.detail || '').replace(/^\S+?(?::\s|\s(?=system\b))/, '');
  const took = /^system took it(?: \(HTTP (\d+), attempt (\d+)\))?$/.exec(more);
  if (took) more = took[1] ? `HTTP ${took[1]}，第 ${took[2]} 次尝试` : '';
  if (e.text) {
    const i = e.text.indexOf('：');
    more = i >= 0 ? e.text.slice(i + 1) : '';
  }
  return h('div', {class: `step lane-${lane} step-${e.type}`, dataset: {step: e.type}, title: [e.text, e.detail].filter(Boolean).join('\n')},
    h('div', {class: 'step-label'}, e.label || e.type, sc ? h('span', {class: 'step-matter'}, ' · ' + sc.matter_name) : null),
    more ? h('div', {class: 'step-detail small'}, more) : null);
}
