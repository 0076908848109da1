// 目录: the catalogue's bundles, matters and departments; for one bundle its matters, its one
// form rendered from the form's JSON Schema as an applicant would see it (read-only), the reuse
// figures (what the one form spares against separate applications, what shared data supplied)
// and, where the hub reports it, how much of each department's form the mapping fills.
import {h, replace, table, empty, errorBox} from '../dom.js';
import * as api from '../api.js';
import {groupedBars, meter} from '../chart.js';
import * as f from '../format.js';
import {tile, badge, fact} from '../widgets.js';

const kinds = {licence: '许可', filing: '备案', registration: '登记', decision: '决定', confirmation: '确认', service: '服务', other: '其他'};

export async function mount(main, ctx) {
  const code = ctx.params[0];
  return code ? bundlePage(main, ctx, code) : overview(main, ctx);
}

async function overview(main, ctx) {
  const [info, bundles, matters, depts] = await Promise.all([
    api.once('/catalogue'), api.once('/bundles'), api.once('/matters'), api.once('/departments')]);
  const tab = ctx.query.get('tab') || 'bundles';
  const names = Object.fromEntries(depts.departments.map((d) => [d.code, d.name]));
  const tabs = [['bundles', '一件事', bundles.count], ['matters', '事项', matters.count], ['departments', '部门', depts.count]];
  let content;
  if (tab === 'matters') {
    content = table(['事项', '类别', '办理部门', '法定时限', '承诺时限', '申请人', '所属一件事'], matters.matters.map((m) => [
      h('div', null, h('strong', null, m.name), h('div', {class: 'mono small muted'}, m.code)),
      f.label(kinds, m.kind),
      Object.values(m.department || {}).map((c) => names[c] || c).filter((v, i, a) => a.indexOf(v) === i).join('、'),
      f.limit(m.statutory_limit),
      f.limit(m.promised_limit),
      (m.applicant_types || []).map((t) => f.label(f.applicantTypes, t)).join('、'),
      String((m.bundles || []).length || '—')]), {class: 'grid'});
  } else if (tab === 'departments') {
    content = table(['部门', '全称', '办理事项', '牵头一件事', '配合一件事', 'Kafka 主题'], depts.departments.map((d) => [
      h('strong', null, d.name), d.full_name || '—', String(d.matters_handled?.length ?? 0),
      (d.bundles_led || []).map((b) => h('a', {href: '#/catalogue/' + b.code, class: 'chip'}, b.name)),
      String(d.bundles_cooperating?.length ?? 0), h('span', {class: 'mono small'}, d.topic)]), {class: 'grid'});
  } else {
    content = table(['序号', '一件事', '实施阶段', '牵头部门', '配合部门', '事项', ''], bundles.bundles.map((b) => h('tr', {dataset: {bundle: b.code}},
      h('td', {class: 'num'}, String(b.seq)),
      h('td', null, h('a', {href: '#/catalogue/' + b.code}, h('strong', null, b.name))),
      h('td', {class: 'small'}, b.phase || '—'),
      h('td', {class: 'small'}, (b.leads || []).map((l) => l.department.name + (l.applicant_type ? `（${f.label(f.applicantTypes, l.applicant_type)}）` : '')).join('、')),
      h('td', {class: 'small'}, (b.cooperating || []).map((d) => d.name).join('、') || '—'),
      h('td', {class: 'num'}, String(b.matters.length)),
      h('td', null, h('a', {href: '#/catalogue/' + b.code, class: 'small'}, '一张表单 →')))), {class: 'grid'});
  }
  replace(main,
    h('h1', null, '目录'),
    h('section', {class: 'tiles'},
      tile('一件事', info.bundles, '本区实施方案', 'good'), tile('事项', info.matters, '各部门政务服务事项', 'good'),
      tile('部门', info.departments, '接入枢纽', 'good'), tile('数据元', info.fields, '共享字段', 'good'),
      tile('材料', info.materials, '材料目录', 'good')),
    h('p', {class: 'small muted'}, '目录版本 ', h('span', {class: 'mono'}, info.version.slice(0, 12))),
    h('nav', {class: 'tabs', 'aria-label': '目录分类'}, tabs.map(([t, label, n]) =>
      h('a', {href: '#/catalogue?tab=' + t, class: t === tab ? 'active' : '', id: 'tab-' + t}, `${label}（${n}）`))),
    h('section', {class: 'panel'}, content));
  return {};
}

async function bundlePage(main, ctx, code) {
  const b = await api.call('/bundles/' + api.seg(code));
  const types = [...new Set(b.matters.flatMap((m) => m.applicant_types || []))];
  const type = types.includes(ctx.query.get('type')) ? ctx.query.get('type') : types[0];
  const [form, coverage, reuse] = await Promise.all([
    api.call('/bundles/' + api.seg(b.code) + '/form' + api.q({applicant_type: type})),
    api.orNull('/bundles/' + api.seg(b.code) + '/coverage' + api.q({applicant_type: type})),
    api.call('/reports/reuse').catch(() => null),
  ]);
  const used = reuse?.bundles?.find((x) => x.bundle.code === b.code);
  const typeSwitch = h('div', {class: 'toolbar'}, '申请人类型：', types.map((t) =>
    h('a', {href: `#/catalogue/${b.code}?type=${t}`, class: 'chip' + (t === type ? ' active' : ''), id: 'type-' + t}, f.label(f.applicantTypes, t))));

  replace(main,
    h('p', {class: 'crumbs'}, h('a', {href: '#/catalogue'}, '目录'), ' / ', b.name),
    h('h1', null, `${b.seq} ${b.name}`),
    h('dl', {class: 'facts facts-row'},
      fact('实施阶段', b.phase || '—'),
      fact('牵头部门', (b.leads || []).map((l) => l.department.name + (l.applicant_type ? `（${f.label(f.applicantTypes, l.applicant_type)}）` : '')).join('、')),
      fact('配合部门', (b.cooperating || []).map((d) => d.name).join('、') || '—')),
    h('section', {class: 'panel'}, h('h2', null, '事项'),
      table(['事项', '部门', '法定时限', '承诺时限', '结果'], b.matters.map((m) => [
        h('div', null, m.name, m.optional ? h('span', {class: 'muted small'}, '（选办）') : null),
        [m.department?.name || '—', Object.entries(m.department_by_applicant_type || {}).map(([t, d]) => h('div', {class: 'small muted'}, `${f.label(f.applicantTypes, t)}：${d.name}`))],
        f.limit(m.statutory_limit), f.limit(m.promised_limit), m.result?.name || '—']), {class: 'grid'})),
    h('div', {class: 'columns'},
      h('section', {class: 'panel', id: 'reuse'}, h('h2', null, '一张表单的复用'), reuseFigures(form.reuse, used)),
      h('section', {class: 'panel', id: 'coverage'}, h('h2', null, '各部门表单的映射覆盖'), coverageOf(coverage, type, form))),
    h('section', {class: 'panel', id: 'form-preview'},
      h('div', {class: 'panel-head'}, h('h2', null, '一张表单（申请人所见，只读预览）'), typeSwitch),
      renderForm(form)));
  return {};
}

// reuseFigures compares the one form with separate applications (fields and materials asked
// once vs. the sum of each matter's own), and what shared data supplied in real cases.
function reuseFigures(r, used) {
  if (!r) return empty();
  const parts = [groupedBars([
    {label: '表单字段', values: [r.fields_asked, r.fields_summed]},
    {label: '申请材料', values: [r.materials_asked, r.materials_summed]},
  ], [{name: '一张表单', cls: 'c-primary'}, {name: '分别申请合计', cls: 'c-muted'}], {width: 520, labelWidth: 90, title: '一张表单与分别申请的字段、材料数'}),
  h('p', null, `少填 ${r.fields_saved} 个字段、少交 ${r.materials_saved} 份材料（与分别申请 ${r.fields_summed} 个字段、${r.materials_summed} 份材料相比）。`)];
  if (used) {
    parts.push(h('dl', {class: 'facts'},
      fact('已受理办件', f.num(used.cases)),
      fact('字段由共享数据预填', [f.pct(used.fields_prefilled_percent), ' ', meter(used.fields_prefilled_percent, {width: 100})]),
      fact('材料由电子证照免交', [f.pct(used.materials_from_licences_percent), ' ', meter(used.materials_from_licences_percent, {width: 100})])));
  }
  return parts;
}

// coverageOf draws, per department form, the share of its fields the one form fills and how
// each is filled — from fields of the one form, a constant, a prerequisite's result, or not at
// all: GET /bundles/{code}/coverage, when the hub serves it.
function coverageOf(c, type, form) {
  const mine = (c?.coverage || []).find((x) => x.applicant_type === type) || c?.coverage?.[0];
  const forms = mine?.forms || [];
  if (!forms.length) return empty('暂无数据');
  const titles = form.schema?.properties || {};
  const matterNames = Object.fromEntries((form.matters || []).map((m) => [m.code, m.name]));
  const sources = {one_form: ['一张表单', 'good'], constant: ['常量', 'notice'], derived: ['前置事项结果', 'notice'], unfilled: ['未填', 'bad']};
  const t = mine.totals || {};
  return [
    h('p', {class: 'small muted'}, `共 ${t.fields ?? '—'} 个部门表单字段：由一张表单填写 ${f.pct(t.one_form_percent)}，连同常量与前置结果共填 ${f.pct(t.filled_percent)}`,
      t.required_unfilled ? h('span', {class: 'text-bad'}, `，必填未填 ${t.required_unfilled} 个`) : ''),
    forms.map((m) => {
      const tt = m.totals || {};
      return h('details', {class: 'coverage', dataset: {matter: m.matter?.code || ''}},
        h('summary', null,
          h('span', {class: 'cov-name'}, m.matter?.name || m.matter?.code, h('span', {class: 'muted small'}, ' · ' + (m.department?.name || ''))),
          meter(tt.one_form_percent, {width: 110}),
          h('span', {class: 'small cov-pct', title: '由一张表单填写 / 连同常量与前置结果共填'}, `${f.pct(tt.one_form_percent)} / 共 ${f.pct(tt.filled_percent)}`),
          tt.unfilled ? h('span', {class: 'small text-bad'}, `未填 ${tt.unfilled}`) : null),
        table(['部门表单字段', '如何填写', ''], (m.fields || []).map((x) => {
          const [label, tone] = sources[x.source] || [x.source, 'muted'];
          let how = '—';
          if (x.source === 'one_form') how = (x.one_form_fields || []).map((k) => titles[k]?.title || k).join('、') || x.expression || '—';
          else if (x.source === 'constant') how = String(x.value ?? x.expression ?? '');
          else if (x.source === 'derived') how = x.result ? `${matterNames[x.result.matter] || x.result.matter} 的 ${x.result.field}` + (x.result.in_bundle ? '' : '（或已有电子证照）') : x.expression || '—';
          return [h('span', null, x.required ? h('span', {class: 'required'}, '*') : null, x.title || x.field, h('span', {class: 'mono small muted'}, ' ' + x.field)),
            h('span', {class: 'small'}, how), badge(label, tone)];
        }), {class: 'grid compact'}));
    }),
  ];
}

// renderForm renders the one form from its JSON Schema: sections (x-sections) in order, each
// field with its title, a control for its type (enum → select, boolean → 是/否, number, date,
// text), a required mark, and the matters it serves; then the materials. Everything is
// disabled: it shows what an applicant would fill in, it submits nothing.
function renderForm(form) {
  const schema = form.schema || {};
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const matterNames = Object.fromEntries((form.matters || []).map((m) => [m.code, m.name]));
  const sections = schema['x-sections'] || form.sections || [{title: '表单', fields: schema['x-order'] || Object.keys(props)}];
  const out = sections.map((sec) => h('fieldset', {class: 'form-section', dataset: {section: sec.code || ''}},
    h('legend', null, sec.title, sec.conditional ? h('span', {class: 'muted small'}, '（选办事项：选择办理时填写）') : null),
    h('div', {class: 'form-grid'}, (sec.fields || []).filter((k) => props[k]).map((k) => control(k, props[k], required.has(k), matterNames)))));
  const mats = schema['x-materials'] || form.materials || [];
  if (mats.length) {
    out.push(h('fieldset', {class: 'form-section'}, h('legend', null, '申请材料（一套材料，一次提交）'),
      table(['材料', '形式', '要求', '用于事项'], mats.map((m) => [
        h('div', null, m.name, m.description ? h('div', {class: 'small muted'}, m.description) : null),
        m.form_label || '—',
        h('td', {class: 'nowrap'}, m.required ? h('span', {class: 'required'}, '必交') : m.conditions?.length ? '选办时提交' : '按需提交'),
        h('span', {class: 'small'}, (m.matters || []).map((c) => matterNames[c] || c).join('、'))]), {class: 'grid compact'})));
  }
  return h('form', {class: 'preview', onsubmit: (e) => e.preventDefault()}, out);
}

function control(name, p, req, matterNames) {
  const id = 'f-' + name.replaceAll('.', '-');
  const example = Array.isArray(p.examples) && p.examples.length ? '例：' + String(p.examples[0]) : '';
  let input;
  if (Array.isArray(p.enum)) {
    const labels = p['x-enum-labels'] || {};
    input = h('select', {id, disabled: true}, h('option', {value: ''}, '请选择'), p.enum.map((v) => h('option', {value: String(v)}, labels[v] || String(v))));
  } else if (p.type === 'boolean') {
    input = h('span', {class: 'radios', id}, h('label', null, h('input', {type: 'radio', name: id, disabled: true}), '是'), h('label', null, h('input', {type: 'radio', name: id, disabled: true}), '否'));
  } else if (p.type === 'number' || p.type === 'integer') {
    input = h('input', {id, type: 'number', min: p.minimum, max: p.maximum, step: p.type === 'integer' ? 1 : 'any', placeholder: example, disabled: true});
  } else if (p.format === 'date') {
    input = h('input', {id, type: 'date', disabled: true});
  } else if ((p.maxLength || 0) > 200) {
    input = h('textarea', {id, rows: 2, placeholder: example, disabled: true});
  } else {
    input = h('input', {id, type: 'text', maxlength: p.maxLength, placeholder: example, disabled: true});
  }
  const matters = (p['x-matters'] || []).map((c) => matterNames[c] || c);
  return h('div', {class: 'form-field', dataset: {field: name}},
    h('label', {for: id}, req ? h('span', {class: 'required', 'aria-label': '必填'}, '*') : null, p.title || name),
    input,
    h('div', {class: 'field-note small muted', title: matters.join('、')},
      formatNote(p), matters.length > 1 ? ` · ${matters.length} 个事项共用` : matters.length ? ` · ${matters[0]}` : ''));
}

function formatNote(p) {
  const fmt = {gb11643: '公民身份号码', gb32100: '统一社会信用代码', mobile: '手机号码', gb2260: '行政区划代码', date: '日期'}[p.format];
  if (fmt) return fmt;
  if (p.type === 'integer') return '整数';
  if (p.type === 'number') return '数值';
  if (p.type === 'boolean') return '是/否';
  if (Array.isArray(p.enum)) return '单选';
  return '文本';
}
