// Sign-in: the operator types the key once; it is checked against an operators' route and kept
// for this tab only. A hub that does not authenticate needs none.
import {h, replace} from '../dom.js';
import * as api from '../api.js';

export async function mount(main, ctx) {
  const message = h('p', {class: 'signin-message', id: 'signin-message', role: 'alert'}, ctx.deniedMessage || '');
  const input = h('input', {
    id: 'operator-key', name: 'operator-key', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, placeholder: 'yjk_…', 'aria-describedby': 'signin-help',
  });
  const button = h('button', {type: 'submit', class: 'primary', id: 'signin-submit'}, '登录');
  const form = h('form', {class: 'signin', onsubmit: submit},
    h('h1', null, '运维控制台登录'),
    h('label', {for: 'operator-key'}, '运维密钥'),
    input,
    h('p', {class: 'help', id: 'signin-help'},
      '请输入运维人员（operator）的 API 密钥。密钥只保存在本浏览器标签页中，关闭标签页即失效；不使用 Cookie。'),
    button,
    message);
  replace(main, h('section', {class: 'signin-wrap'}, form));
  input.focus();

  async function submit(ev) {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) {
      message.textContent = '请输入密钥。';
      return;
    }
    button.disabled = true;
    message.textContent = '正在验证…';
    try {
      await api.call('/connectors', {key, quiet: true});
      api.setOperatorKey(key);
      input.value = '';
      ctx.signedIn('key');
    } catch (e) {
      message.textContent = e.status === 401 ? '密钥无效：枢纽不认识这个密钥。'
        : e.status === 403 ? '此密钥不是运维人员的密钥：' + (e.detail || '')
          : (e.summary || '登录失败') + (e.detail ? '：' + e.detail : '');
    } finally {
      button.disabled = false;
    }
  }
  return {};
}
