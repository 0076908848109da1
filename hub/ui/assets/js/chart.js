// Small charts drawn as inline SVG: no library, no canvas, colours from app.css classes (c-*),
// every chart titled for screen readers and tooltips.
import {s} from './dom.js';
import {num} from './format.js';

const FONT = 12;

// fit shortens a label to about n characters, so that a long bundle name keeps its column.
function fit(text, n) {
  const t = String(text ?? '');
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}

function svg(width, height, title, ...children) {
  return s('svg', {class: 'chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title},
    s('title', null, title), ...children);
}

// activity draws a connector's last hour from its history ({step_seconds, end, delivered[],
// failed[], retries[]}, oldest first): a column a minute, deliveries green with failures
// stacked red on top, retries as amber ticks below the baseline.
export function activity(history, {width = 184, height = 40} = {}) {
  const d = history.delivered || [], f = history.failed || [], r = history.retries || [];
  const n = Math.max(d.length, f.length, r.length, 1);
  const top = Math.max(1, ...d.map((v, i) => v + (f[i] || 0)));
  const maxR = Math.max(1, ...r);
  const plotH = height - 8, step = width / n, bw = Math.max(1, step - 1);
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  const mins = Math.round((n * (history.step_seconds || 60)) / 60);
  const title = `最近 ${mins} 分钟：送达 ${sum(d)}，失败 ${sum(f)}，重试 ${sum(r)}（每分钟最多 ${top}）`;
  const parts = [s('line', {class: 'axis', x1: 0, x2: width, y1: plotH + 0.5, y2: plotH + 0.5})];
  for (let i = 0; i < n; i++) {
    const x = i * step;
    const dh = ((d[i] || 0) / top) * plotH, fh = ((f[i] || 0) / top) * plotH;
    if (dh > 0) parts.push(s('rect', {class: 'c-good', x, y: plotH - dh, width: bw, height: Math.max(dh, 1)}));
    if (fh > 0) parts.push(s('rect', {class: 'c-bad', x, y: plotH - dh - fh, width: bw, height: Math.max(fh, 1)}));
    if (r[i]) parts.push(s('rect', {class: 'c-warn', x, y: plotH + 2, width: bw, height: 2 + (4 * r[i]) / maxR}));
  }
  return svg(width, height, title, ...parts);
}

// sparkline draws values (oldest first) as a line over a faint area.
export function sparkline(values, {width = 120, height = 28, cls = 'c-primary', title = ''} = {}) {
  const n = values.length;
  if (n === 0) return svg(width, height, title || '无数据');
  const max = Math.max(1, ...values);
  const x = (i) => (n === 1 ? width / 2 : (i * (width - 2)) / (n - 1) + 1);
  const y = (v) => height - 2 - (v / max) * (height - 4);
  const pts = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  return svg(width, height, title || `最大 ${max}`,
    s('polygon', {class: cls + ' area', points: `${x(0)},${height - 1} ${pts} ${x(n - 1)},${height - 1}`}),
    s('polyline', {class: cls + ' line', points: pts}));
}

// hbars draws one horizontal bar a row: rows [{label, value, cls, note}], against max (default
// the largest value). format shows a value at the end of its bar.
export function hbars(rows, {width = 560, labelWidth = 170, max, format = num, title = '条形图', row = 24} = {}) {
  const top = max ?? Math.max(1, ...rows.map((r) => r.value || 0));
  const valueW = 90, barW = width - labelWidth - valueW;
  const height = rows.length * row + 4;
  const parts = [];
  rows.forEach((r, i) => {
    const y = i * row + 2, w = Math.max(0, ((r.value || 0) / top) * barW);
    parts.push(s('text', {class: 'label', x: labelWidth - 8, y: y + row / 2 + FONT / 2 - 2, 'text-anchor': 'end'},
      s('title', null, r.label), fit(r.label, Math.floor(labelWidth / (FONT + 1)))));
    parts.push(s('rect', {class: 'track', x: labelWidth, y: y + 4, width: barW, height: row - 8, rx: 2}));
    parts.push(s('rect', {class: r.cls || 'c-primary', x: labelWidth, y: y + 4, width: w, height: row - 8, rx: 2},
      s('title', null, `${r.label}：${format(r.value)}${r.note ? '（' + r.note + '）' : ''}`)));
    parts.push(s('text', {class: 'value', x: labelWidth + w + 6, y: y + row / 2 + FONT / 2 - 2}, format(r.value) + (r.note ? ' ' + r.note : '')));
  });
  return svg(width, height, title, ...parts);
}

// groupedBars draws, for each group, one bar per series side by side (horizontal): groups
// [{label, values: [..]}], series [{name, cls}]. A value of null is left out (no bar, "—").
export function groupedBars(groups, series, {width = 620, labelWidth = 170, max, format = num, title = '分组条形图', bar = 12} = {}) {
  const all = groups.flatMap((g) => g.values.filter((v) => typeof v === 'number'));
  const top = max ?? Math.max(1, ...all);
  const valueW = 70, barW = width - labelWidth - valueW;
  const groupH = series.length * (bar + 2) + 10;
  const legendH = 22;
  const height = legendH + groups.length * groupH;
  const parts = [legend(series, 0, 14)];
  groups.forEach((g, gi) => {
    const y0 = legendH + gi * groupH;
    parts.push(s('text', {class: 'label', x: labelWidth - 8, y: y0 + groupH / 2 + FONT / 2 - 4, 'text-anchor': 'end'},
      s('title', null, g.label), fit(g.label, Math.floor(labelWidth / (FONT + 1)))));
    g.values.forEach((v, si) => {
      const y = y0 + si * (bar + 2) + 2;
      const ok = typeof v === 'number';
      const w = ok ? Math.max(0, (v / top) * barW) : 0;
      parts.push(s('rect', {class: series[si].cls, x: labelWidth, y, width: Math.max(w, ok ? 1 : 0), height: bar, rx: 2},
        s('title', null, `${g.label} · ${series[si].name}：${ok ? format(v) : '—'}`)));
      parts.push(s('text', {class: 'value small', x: labelWidth + w + 4, y: y + bar - 2}, ok ? format(v) : '—'));
    });
  });
  return svg(width, height, title, ...parts);
}

// stackedBars draws one bar a row made of parts: rows [{label, values: {code: n}}], parts
// [{code, label, cls}]; the row's total at its end.
export function stackedBars(rows, parts, {width = 620, labelWidth = 150, title = '堆叠条形图', row = 24} = {}) {
  const totals = rows.map((r) => parts.reduce((t, p) => t + (r.values[p.code] || 0), 0));
  const top = Math.max(1, ...totals);
  const valueW = 50, barW = width - labelWidth - valueW;
  const legendH = 22;
  const height = legendH + rows.length * row + 4;
  const out = [legend(parts.map((p) => ({name: p.label, cls: p.cls})), 0, 14)];
  rows.forEach((r, i) => {
    const y = legendH + i * row + 2;
    out.push(s('text', {class: 'label', x: labelWidth - 8, y: y + row / 2 + FONT / 2 - 2, 'text-anchor': 'end'},
      s('title', null, r.label), fit(r.label, Math.floor(labelWidth / (FONT + 1)))));
    let x = labelWidth;
    for (const p of parts) {
      const v = r.values[p.code] || 0;
      if (!v) continue;
      const w = (v / top) * barW;
      out.push(s('rect', {class: p.cls, x, y: y + 4, width: Math.max(w, 1), height: row - 8},
        s('title', null, `${r.label} · ${p.label}：${v}`)));
      x += w;
    }
    out.push(s('text', {class: 'value', x: x + 6, y: y + row / 2 + FONT / 2 - 2}, num(totals[i])));
  });
  return svg(width, height, title, ...out);
}

// legend is a row of coloured keys.
function legend(series, x0, y) {
  const g = s('g', {class: 'legend'});
  let x = x0;
  for (const it of series) {
    g.append(s('rect', {class: it.cls, x, y: y - 10, width: 12, height: 12, rx: 2}));
    g.append(s('text', {class: 'label', x: x + 16, y}, it.name));
    x += 16 + String(it.name).length * (FONT + 1) + 18;
  }
  return g;
}

// meter is a one-line bar of a share (0–100) for tables.
export function meter(percent, {width = 120, cls} = {}) {
  const p = Math.max(0, Math.min(100, percent || 0));
  const tone = cls || (p >= 80 ? 'c-good' : p >= 50 ? 'c-warn' : 'c-bad');
  return svg(width, 10, `${p.toFixed(1)}%`,
    s('rect', {class: 'track', x: 0, y: 1, width, height: 8, rx: 2}),
    s('rect', {class: tone, x: 0, y: 1, width: (p / 100) * width, height: 8, rx: 2}));
}
