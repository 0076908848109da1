// Chinese names and formats of what the API returns in codes. Where the API gives a label
// itself (state_label, outcome_label, label, text) the pages show that; these cover the codes
// it gives without one.

export const connectorStates = {running: '运行中', paused: '已暂停', failed: '故障', stopped: '已停止'};
export const breakerStates = {closed: '正常（闭合）', open: '熔断（断开）', 'half-open': '半开（试探中）'};
export const connectorKinds = {restpush: 'REST 推送', restpull: 'REST 拉取', frontdb: '前置库', kafka: 'Kafka', platform: '政务服务平台', supervision: '互联网+监管'};
export const deadLetterStates = {dead: '待处理', replayed: '已重放'};
export const deliveryStates = {pending: '待推送', retrying: '重试中', delivered: '已送达', failed: '推送失败'};
export const applicantTypes = {enterprise: '企业', individual: '个人'};
export const caseStates = {in_progress: '办理中', completed: '已办结', withdrawn: '已撤回'};

// subcaseStates are the sub-case states the deadline watch names by code only.
export const subcaseStates = {
  waiting: '等待前置事项办结', dispatched: '已推送至部门', received: '部门已接收', accepted: '已受理',
  supplement_requested: '待补正', resubmitted: '已补正', suspended: '特别程序中（暂停计时）',
  approved: '准予许可（已办结）', rejected: '不予许可（已办结）', cancelled: '已终止', withdrawn: '已撤回',
  delivery_failed: '推送失败',
};

// standings of the deadline watch, worst first, with the class that colours them.
// cls is each standing's own colour in the charts, where two of one tone would be confused.
export const standings = [
  {code: 'delivery_failed', label: '推送失败', tone: 'bad', cls: 'c-failed'},
  {code: 'overdue_statutory', label: '超过法定时限', tone: 'bad', cls: 'c-bad'},
  {code: 'overdue_promised', label: '超过承诺时限', tone: 'warn', cls: 'c-warn'},
  {code: 'undelivered', label: '未送达部门', tone: 'warn', cls: 'c-alt'},
  {code: 'due_soon', label: '即将到期', tone: 'notice', cls: 'c-notice'},
  {code: 'on_track', label: '正常', tone: 'good', cls: 'c-good'},
  {code: 'paused', label: '暂停计时', tone: 'muted', cls: 'c-muted'},
];
export const standingLabel = Object.fromEntries(standings.map((x) => [x.code, x.label]));
export const standingTone = Object.fromEntries(standings.map((x) => [x.code, x.tone]));

export function label(map, code) {
  if (code === undefined || code === null || code === '') return '—';
  return map[code] || code;
}

const dateTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const shortTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const clock = new Intl.DateTimeFormat('zh-CN', {timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false});

// time shows an RFC 3339 time in China time: 2026-12-05 13:39:56.
export function time(t) {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : dateTime.format(d).replaceAll('/', '-');
}

// shortT shows a time without the year: 12-05 13:39:56.
export function shortT(t) {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : shortTime.format(d).replaceAll('/', '-');
}

export function clockNow() {
  return clock.format(new Date());
}

// ago says how long ago a time was, roughly: 刚刚, 5 分钟前, 3 小时前, 2 天前.
export function ago(t) {
  if (!t) return '—';
  const sec = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (Number.isNaN(sec)) return String(t);
  if (sec < 0) {
    const ahead = -sec;
    if (ahead < 60) return ahead + ' 秒后';
    if (ahead < 3600) return Math.round(ahead / 60) + ' 分钟后';
    return Math.round(ahead / 3600) + ' 小时后';
  }
  if (sec < 10) return '刚刚';
  if (sec < 60) return sec + ' 秒前';
  if (sec < 3600) return Math.floor(sec / 60) + ' 分钟前';
  if (sec < 86400) return Math.floor(sec / 3600) + ' 小时前';
  return Math.floor(sec / 86400) + ' 天前';
}

// num shows a count with thousands separators; anything not a number as —.
export function num(n, digits = 0) {
  if (typeof n !== 'number' || Number.isNaN(n)) return '—';
  return n.toLocaleString('zh-CN', {maximumFractionDigits: digits, minimumFractionDigits: 0});
}

// pct shows a percentage given as 0–100.
export function pct(n, digits = 1) {
  if (typeof n !== 'number' || Number.isNaN(n)) return '—';
  return n.toLocaleString('zh-CN', {maximumFractionDigits: digits}) + '%';
}

// days shows working days, signed when asked: 3 个工作日, 已超 2 个工作日.
export function daysLeft(n) {
  if (typeof n !== 'number') return '—';
  if (n < 0) return '已超 ' + -n + ' 个工作日';
  if (n === 0) return '今日到期';
  return '剩 ' + n + ' 个工作日';
}

// today is today's date in China, YYYY-MM-DD.
export function today(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat('en-CA', {timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit'}).format(d);
}

// limit says a catalogue time limit ({kind, days, unit}) as a notice does: 10个工作日, 20日
// (calendar days), 当场办结, 无法定时限.
export function limit(l) {
  if (!l) return '—';
  if (l.kind === 'on_the_spot') return '当场办结';
  if (l.kind === 'none') return '无法定时限';
  const s = l.unit === 'calendar' ? `${l.days}日` : `${l.days}个工作日`;
  return l.extension_days ? `${s}（可延长${l.extension_days}${l.unit === 'calendar' ? '日' : '个工作日'}）` : s;
}

// limitDays says a sub-case's stored limit (days in a unit) the same way.
export function limitDays(days, unit) {
  if (unit === 'none') return '无法定时限';
  if (days === 0) return '当场办结';
  return unit === 'calendar' ? `${days}日` : `${days}个工作日`;
}
