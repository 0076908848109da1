// 连接器: each connector's state, breaker, lag and counters, its last hour as a small chart
// (when the hub reports history), its last error; pause and resume; the dead letters with their
// reason, replayed one by one or in bulk with each result shown.
import {h, replace, table, empty, errorBox} from '../dom.js';
import * as api from '../api.js';
import {activity} from '../chart.js';
import * as f from '../format.js';
import {tile, badge, fact} from '../widgets.js';

export async function mount(main, ctx) {
  const names = await api.departmentNames().catch(() => ({}));
  const page = {
    selected: new Set(), // dead letter ids ticked
    results: new Map(), // dead letter id → {ok, text}, the replays of this visit
    log: [], // the replays of this visit, newest first
    busy: false, // a bulk replay is running
    letters: [],
    connectorNames: [],
  };
  const tiles = h('section', {class: 'tiles', id: 'connector-tiles'});
  const list = h('section', {class: 'panel', id: 'connectors'});
  const dlState = h('select', {id: 'dlq-state', onchange: () => refreshLetters()},
    h('option', {value: 'dead'}, '待处理'), h('option', {value: 'replayed'}, '已重放'), h('option', {value: ''}, '全部'));
  const dlConnector = h('select', {id: 'dlq-connector', onchange: () => refreshLetters()}, h('option', {value: ''}, '全部连接器'));
  const bulk = h('button', {type: 'button', class: 'primary', id: 'dlq-replay-selected', onclick: replaySelected, disabled: true}, '重放所选');
  const bulkNote = h('span', {class: 'muted', id: 'dlq-progress', 'aria-live': 'polite'});
  const letters = h('div', {id: 'dead-letters'});
  const detail = h('div', {id: 'dlq-detail'});
  const log = h('ul', {class: 'replay-log', id: 'dlq-log'});
  const flash = h('div', {id: 'connector-flash', 'aria-live': 'polite'});

  replace(main,
    h('h1', null, '连接器'),
    flash,
    tiles,
    list,
    h('section', {class: 'panel'},
      h('div', {class: 'panel-head'},
        h('h2', null, '死信'),
        h('div', {class: 'toolbar'},
          h('label', null, '状态 ', dlState), h('label', null, '连接器 ', dlConnector), bulk, bulkNote)),
      h('p', {class: 'help'}, '部门系统拒收（4xx）或多次重试仍失败的消息。排除原因后可重放：消息原样重新发布，部门按幂等键识别已收到的消息。'),
      letters, log, detail));

  async function refreshConnectors() {
    const data = await api.call('/connectors');
    if (!ctx.alive()) return;
    const cs = data.connectors || [];
    const running = cs.filter((c) => c.state === 'running').length;
    const paused = cs.filter((c) => c.state === 'paused').length;
    const failed = cs.filter((c) => c.state === 'failed' || c.state === 'stopped').length;
    const open = cs.filter((c) => c.breaker === 'open' || c.breaker === 'half-open').length;
    const lag = cs.reduce((t, c) => t + (c.lag || 0), 0);
    const dead = cs.reduce((t, c) => t + (c.dead_letters || 0), 0);
    replace(tiles,
      tile('连接器', cs.length, `运行 ${running} · 暂停 ${paused}`, paused ? 'notice' : 'good'),
      tile('故障 / 停止', failed, failed ? '需要处理' : '无', failed ? 'bad' : 'good'),
      tile('熔断', open, open ? '部门系统连续失败' : '全部闭合', open ? 'bad' : 'good'),
      tile('积压消息', lag, '未提交的 Kafka 消息', lag > 100 ? 'warn' : 'good'),
      tile('待处理死信', dead, dead ? '见下方列表' : '无', dead ? 'bad' : 'good'));
    const hasHistory = cs.some((c) => c.history);
    const heads = ['连接器', '状态', '熔断器', '积压', '处理中', '送达', '重试', '失败', '死信',
      hasHistory ? '最近一小时' : null, '最近成功 / 错误', '操作'].filter(Boolean);
    const rows = cs.map((c) => {
      const dept = c.department ? names[c.department] || c.department : '';
      const troubled = (c.state !== 'running' && c.state !== 'paused') || c.breaker === 'open' || c.dead_letters > 0;
      const tr = h('tr', {dataset: {connector: c.name}, class: 'state-' + c.state + (troubled ? ' troubled' : '')},
        h('td', null, h('div', {class: 'strong'}, dept || c.name),
          h('div', {class: 'small muted', title: f.label(f.connectorKinds, c.kind)}, h('span', {class: 'mono'}, c.name), ' · ', f.label(f.connectorKinds, c.kind))),
        h('td', null, badge(f.label(f.connectorStates, c.state), c.state === 'running' ? 'good' : c.state === 'paused' ? 'warn' : 'bad', 'connector-state')),
        h('td', null, c.breaker ? badge(f.label(f.breakerStates, c.breaker), c.breaker === 'closed' ? 'good' : 'bad') : '—'),
        h('td', {class: 'num'}, f.num(c.lag)),
        h('td', {class: 'num'}, f.num(c.in_flight)),
        h('td', {class: 'num'}, f.num(c.delivered)),
        h('td', {class: 'num'}, f.num(c.retries)),
        h('td', {class: 'num' + (c.failed ? ' text-bad' : '')}, f.num(c.failed)),
        h('td', {class: 'num' + (c.dead_letters ? ' text-bad strong' : '')}, f.num(c.dead_letters)),
        hasHistory ? h('td', {class: 'chart-cell'}, c.history ? activity(c.history) : h('span', {class: 'muted'}, '—')) : null,
        h('td', {class: 'small'},
          h('div', null, c.last_success ? ['成功 ', h('time', {datetime: c.last_success, title: f.time(c.last_success)}, f.ago(c.last_success))] : h('span', {class: 'muted'}, '尚无送达')),
          c.last_error ? h('div', {class: 'text-bad'}, '错误 ', h('time', {datetime: c.last_error, title: f.time(c.last_error)}, f.ago(c.last_error))) : null,
          c.last_error_message ? h('div', {class: 'error-text', title: c.last_error_message}, c.last_error_message) : null),
        h('td', null, c.state === 'paused'
          ? h('button', {type: 'button', class: 'small-btn', dataset: {action: 'resume'}, 'aria-label': '恢复 ' + c.name, onclick: () => act(c.name, 'resume')}, '恢复')
          : h('button', {type: 'button', class: 'small-btn', dataset: {action: 'pause'}, 'aria-label': '暂停 ' + c.name, onclick: () => act(c.name, 'pause'), disabled: c.state !== 'running'}, '暂停')));
      return tr;
    });
    replace(list, h('div', {class: 'panel-head'}, h('h2', null, '连接器状态'),
      hasHistory ? h('span', {class: 'legend-note small muted'}, h('i', {class: 'key c-good'}), '送达 ', h('i', {class: 'key c-bad'}), '失败 ', h('i', {class: 'key c-warn'}), '重试（每分钟）') : null),
    cs.length ? table(heads, rows, {class: 'grid connectors'}) : empty('没有运行中的连接器'));
    const known = cs.map((c) => c.name);
    if (known.join() !== page.connectorNames.join()) {
      page.connectorNames = known;
      const keep = dlConnector.value;
      replace(dlConnector, h('option', {value: ''}, '全部连接器'), known.map((n) => h('option', {value: n, selected: n === keep}, n)));
    }
  }

  async function act(name, action) {
    replace(flash);
    try {
      const st = await api.call(`/connectors/${api.seg(name)}/${action}`, {method: 'POST'});
      const who = (st.department && names[st.department] ? names[st.department] + ' ' : '') + name;
      replace(flash, h('div', {class: 'alert alert-ok'}, `${who}：${action === 'pause' ? '已暂停，消息留在 Kafka 中等待恢复' : '已恢复运行'}（当前状态：${f.label(f.connectorStates, st.state)}）`));
    } catch (e) {
      replace(flash, errorBox(e, `${action === 'pause' ? '暂停' : '恢复'} ${name} 失败`));
    }
    await refreshConnectors().catch(() => {});
  }

  async function refreshLetters() {
    const data = await api.call('/dlq' + api.q({state: dlState.value, connector: dlConnector.value, limit: 200}));
    if (!ctx.alive()) return;
    page.letters = data.dead_letters || [];
    const shown = new Set(page.letters.map((l) => l.id));
    for (const id of page.selected) if (!shown.has(id)) page.selected.delete(id);
    drawLetters();
  }

  function drawLetters() {
    const ls = page.letters;
    const replayable = ls.filter((l) => l.state === 'dead');
    const all = h('input', {
      type: 'checkbox', id: 'dlq-select-all', 'aria-label': '全选本页待处理死信',
      checked: replayable.length > 0 && replayable.every((l) => page.selected.has(l.id)),
      disabled: replayable.length === 0 || page.busy,
      onchange: (ev) => {
        for (const l of replayable) ev.target.checked ? page.selected.add(l.id) : page.selected.delete(l.id);
        drawLetters();
      },
    });
    const rows = ls.map((l) => {
      const res = page.results.get(l.id);
      return h('tr', {dataset: {deadLetter: l.id, caseId: l.case_id || ''}},
        h('td', null, h('input', {
          type: 'checkbox', 'aria-label': '选择 ' + l.id, checked: page.selected.has(l.id), disabled: l.state !== 'dead' || page.busy,
          onchange: (ev) => {
            ev.target.checked ? page.selected.add(l.id) : page.selected.delete(l.id);
            drawLetters();
          },
        })),
        h('td', null, h('button', {type: 'button', class: 'link mono small', onclick: () => showDetail(l.id)}, l.id)),
        h('td', {class: 'small'}, l.department ? names[l.department] || l.department : '', h('div', {class: 'mono muted'}, l.connector)),
        h('td', {class: 'small'}, l.case_id ? h('a', {class: 'mono', href: '#/cases/' + l.case_id}, l.case_id) : '—'),
        h('td', {class: 'reason'}, h('div', {class: 'error-text', title: l.reason}, l.reason), l.status ? h('div', {class: 'small muted'}, 'HTTP ' + l.status + ' · 尝试 ' + l.attempts + ' 次') : null),
        h('td', {class: 'small'}, h('time', {datetime: l.created_at, title: f.time(l.created_at)}, f.shortT(l.created_at))),
        h('td', null, badge(f.label(f.deadLetterStates, l.state), l.state === 'dead' ? 'bad' : 'good'), l.replay_count ? h('div', {class: 'small muted'}, '重放 ' + l.replay_count + ' 次') : null),
        h('td', null,
          l.state === 'dead' ? h('button', {type: 'button', class: 'small-btn', dataset: {action: 'replay'}, 'aria-label': '重放 ' + l.id, disabled: page.busy, onclick: () => replayOne(l.id)}, '重放') : null,
          res ? h('div', {class: 'small ' + (res.ok ? 'text-good' : 'text-bad'), dataset: {result: res.ok ? 'ok' : 'failed'}}, res.text) : null));
    });
    replace(letters, ls.length
      ? table([h('th', null, all), '死信', '部门 / 连接器', '办件', '原因', '时间', '状态', '操作'], rows, {class: 'grid letters'})
      : empty(dlState.value === 'dead' ? '没有待处理的死信' : '没有死信'));
    bulk.disabled = page.busy || page.selected.size === 0;
    bulk.textContent = page.selected.size ? `重放所选（${page.selected.size}）` : '重放所选';
    replace(log, page.log.slice(0, 20).map((x) => h('li', {class: x.ok ? 'text-good' : 'text-bad'}, x.at + ' ', x.id, '：', x.text)));
  }

  async function replay(id) {
    try {
      const l = await api.call(`/dlq/${api.seg(id)}/replay`, {method: 'POST'});
      const r = {ok: true, text: `已重放（第 ${l.replay_count} 次）`};
      page.results.set(id, r);
      page.log.unshift({id, at: f.clockNow(), ...r});
      return true;
    } catch (e) {
      const r = {ok: false, text: '重放失败：' + e.summary + (e.detail ? ' ' + e.detail : '')};
      page.results.set(id, r);
      page.log.unshift({id, at: f.clockNow(), ...r});
      return false;
    }
  }

  async function replayOne(id) {
    page.busy = true;
    drawLetters();
    await replay(id);
    page.selected.delete(id);
    page.busy = false;
    await refreshLetters().catch(() => drawLetters());
  }

  // replaySelected replays the ticked letters one after another, showing each result as it
  // comes: a bulk replay that fails half-way says which went and which did not.
  async function replaySelected() {
    const ids = [...page.selected];
    if (!ids.length) return;
    page.busy = true;
    let ok = 0, failed = 0;
    for (const [i, id] of ids.entries()) {
      bulkNote.textContent = `正在重放 ${i + 1}/${ids.length}…`;
      drawLetters();
      (await replay(id)) ? ok++ : failed++;
      page.selected.delete(id);
    }
    page.busy = false;
    bulkNote.textContent = `已重放 ${ok} 条` + (failed ? `，失败 ${failed} 条` : '');
    await refreshLetters().catch(() => drawLetters());
  }

  async function showDetail(id) {
    try {
      const l = await api.call('/dlq/' + api.seg(id));
      let payload;
      if (l.payload_withheld) payload = h('p', {class: 'muted'}, '消息内容含个人数据，已隐去（此密钥无个人数据授权）。');
      else if (l.payload !== undefined) payload = h('pre', {class: 'payload'}, JSON.stringify(l.payload, null, 2));
      else payload = h('p', {class: 'muted'}, '消息内容不是 JSON，不予显示。');
      replace(detail, h('div', {class: 'detail-box'},
        h('div', {class: 'panel-head'}, h('h3', null, '死信 ', h('span', {class: 'mono'}, l.id)), h('button', {type: 'button', class: 'link', onclick: () => replace(detail)}, '关闭')),
        h('dl', {class: 'facts'},
          fact('连接器', l.connector), fact('办件', l.case_id || '—'), fact('子件', l.subcase_id || '—'),
          fact('消息', l.event_id || '—'), fact('位置', `${l.topic} · 分区 ${l.partition} · 偏移 ${l.offset}`),
          fact('原因', l.reason), fact('状态', f.label(f.deadLetterStates, l.state)), fact('时间', f.time(l.created_at)),
          l.replayed_at ? fact('最近重放', f.time(l.replayed_at)) : null),
        payload));
    } catch (e) {
      replace(detail, errorBox(e, '读取死信失败'));
    }
  }

  async function refresh() {
    await Promise.all([refreshConnectors(), page.busy ? null : refreshLetters()]);
  }
  await refresh();
  return {refresh, every: 3000};
}
