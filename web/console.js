// The console's shared behaviour: live updates of the queue (server-sent events), log out.
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  window.m2m = {
    csrf: csrf,
    post: function (url, body) {
      return fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body || {}) })
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status)); return j; }); });
    },
  };
  var out = document.getElementById('logout');
  if (out) out.addEventListener('click', function () { window.m2m.post('/logout').finally(function () { location.href = '/login'; }); });
  var live = document.getElementById('live');
  var queue = document.getElementById('queue');
  if (!window.EventSource) return;
  var es = new EventSource('/api/stream');
  es.addEventListener('hello', function () { if (live) live.classList.add('on'); });
  es.onerror = function () { if (live) live.classList.remove('on'); };
  es.addEventListener('alerts', function () {
    if (live) { live.classList.add('flash'); setTimeout(function () { live.classList.remove('flash'); }, 800); }
    if (!queue) return;
    var u = new URL(location.href);
    if (u.searchParams.get('cursor')) return; // a later page stays as it is
    u.searchParams.set('fragment', '1');
    fetch(u, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.text() : null; }).then(function (h) { if (h !== null) queue.innerHTML = h; });
  });
})();
