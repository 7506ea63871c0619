// The demo chat page: a token from POST /demo/token, then two namespaces over one connection:
// /chat (joinRoom, messageToRoom → message) and /events (notification, sent by the REST API).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const setStatus = (text) => { $('status').textContent = text; };
  const fail = (text) => { $('error').textContent = text; $('error').hidden = false; };
  // textContent, never innerHTML: messages come from other users.
  const add = (list, text, kind) => {
    const li = document.createElement('li');
    li.textContent = text;
    if (kind) li.className = kind;
    $(list).append(li);
    li.scrollIntoView({ block: 'end' });
  };
  const show = (value) => (typeof value === 'string' ? value : JSON.stringify(value));

  if (typeof io === 'undefined') {
    fail('The socket.io client is not served at /socket.io.min.js: copy '
      + 'node_modules/socket.io-client/dist/socket.io.min.js into the static folder (STATIC_DIR).');
    return;
  }

  let chat;
  let room;

  $('login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const user = $('user').value.trim();
    room = $('room').value.trim();
    try {
      const res = await fetch('/demo/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.message);
      connect(user, body.token);
    } catch (err) {
      fail(`No token: ${err.message}`);
    }
  });

  function connect(user, token) {
    chat = io('/chat', { auth: { token } });
    const events = io('/events', { auth: { token } });
    chat.on('connect', () => {
      setStatus(`connected as ${user}`);
      chat.emit('joinRoom', room);
    });
    chat.on('disconnect', (reason) => setStatus(`disconnected (${reason})`));
    chat.on('connect_error', (err) => fail(`/chat: ${err.message}`));
    events.on('connect_error', (err) => fail(`/events: ${err.message}`));
    chat.on('joinedRoom', (joined) => {
      $('login').hidden = true;
      $('chat').hidden = false;
      $('room-title').textContent = `#${joined}`;
      add('messages', `you joined #${joined}`, 'info');
      $('text').focus();
    });
    chat.on('message', (m) => add('messages', `${m.user ?? m.userId}: ${show(m.message)}`));
    events.on('notification', (n) => add('notifications', show(n)));
  }

  $('send').addEventListener('submit', (event) => {
    event.preventDefault();
    const message = $('text').value;
    if (!message || !chat) return;
    chat.emit('messageToRoom', { room, message });
    $('text').value = '';
  });
})();
