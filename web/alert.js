// An alert's page: the chart around the incident (uPlot) and the triage actions.
(function () {
  'use strict';
  var box = document.getElementById('chart');
  var note = document.getElementById('chart-note');
  var titleEl = document.getElementById('chart-title');
  // Event times in UTC, 24-hour clock, the date under the time; uPlot spaces the ticks.
  var timeAxis = { space: 70, size: 52, values: function (u, vals) { return vals.map(function (v) { var d = new Date(v * 1000).toISOString(); return d.slice(11, 16) + '\n' + d.slice(5, 10); }); } };
  var SEV = { critical: '#7f1d1d', high: '#dc2626', medium: '#f59e0b', low: '#60a5fa', info: '#94a3b8' };
  function width() { return Math.max(480, Math.min(box.clientWidth || 900, 1300)); }
  function metricChart(d) {
    titleEl.textContent = d.metric + ' around the incident';
    var data = [d.x, d.low, d.high, d.center, d.observed, d.marks];
    var shade = function (u) {
      // Findings' spans shaded behind the series: where the detector said "not normal".
      var ctx = u.ctx; ctx.save();
      d.findings.forEach(function (f) {
        var x0 = u.valToPos(f.first_ts / 1000, 'x', true), x1 = u.valToPos(f.last_ts / 1000, 'x', true);
        ctx.fillStyle = 'rgba(220,38,38,0.10)';
        ctx.fillRect(x0, u.bbox.top, Math.max(3, x1 - x0), u.bbox.height);
      });
      ctx.restore();
    };
    new uPlot({
      width: width(), height: 320,
      scales: { x: { time: true } },
      axes: [timeAxis, { label: d.metric }],
      series: [
        {},
        { label: 'expected − spread', stroke: 'rgba(37,99,235,0.35)', width: 1, dash: [4, 4] },
        { label: 'expected + spread', stroke: 'rgba(37,99,235,0.35)', width: 1, dash: [4, 4] },
        { label: 'expected (detector)', stroke: '#2563eb', width: 1.5 },
        { label: 'observed', stroke: '#0f172a', width: 1.2, spanGaps: true },
        { label: 'finding', stroke: '#dc2626', width: 0, points: { show: true, size: 9, fill: '#dc2626' } },
      ],
      bands: [{ series: [2, 1], fill: 'rgba(37,99,235,0.10)' }],
      hooks: { drawClear: [shade] },
    }, data, box);
    note.textContent = 'Observed readings from the source topic; the blue band is the detector’s own expected value ± spread as stated in each finding (carried from that finding’s time); red points and shading mark the findings. Times are event times (UTC).';
  }
  var fmtCount = function (v) { return v >= 1048576 ? (v / 1048576).toFixed(1) + ' MiB' : v >= 1024 ? (v / 1024).toFixed(0) + ' KiB' : String(v); };
  function connectionChart(d) {
    titleEl.textContent = (d.measure === 'bytes_out' ? 'Bytes sent' : 'Connections') + ' by peer and port around the incident';
    var palette = ['#0f172a', '#2563eb', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#65a30d', '#94a3b8'];
    var series = [{}].concat(d.series.map(function (s, i) {
      return { label: s.label + (s.flagged ? ' ⚑' : ''), stroke: s.flagged ? '#dc2626' : palette[i % palette.length], width: s.flagged ? 2.5 : 1.2, points: { show: true, size: 4 } };
    }));
    new uPlot({
      width: width(), height: 320, scales: { x: { time: true } },
      axes: [timeAxis, { label: (d.measure === 'bytes_out' ? 'bytes sent' : 'connections') + ' per ' + Math.round(d.bucket_s / 60) + ' min', size: 70, values: function (u, vals) { return vals.map(d.measure === 'bytes_out' ? fmtCount : String); } }],
      series: series,
    }, [d.x].concat(d.series.map(function (s) { return s.counts; })), box);
    note.textContent = 'The device’s ' + (d.measure === 'bytes_out' ? 'bytes sent' : 'connections') + ' from the source topic, per destination; ⚑ red: the peers its findings name. Times are event times (UTC).';
  }
  if (box) {
    fetch('/api/alerts/' + box.dataset.alert + '/series', { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        box.innerHTML = '';
        if (d.kind === 'metric' && d.x.length) metricChart(d);
        else if (d.kind === 'connections' && d.x.length) connectionChart(d);
        else box.innerHTML = '<p class="small">' + (d.reason ? String(d.reason).replace(/[<>&]/g, '') : 'No readings of this device were found around the alert.') + '</p>';
        box.dataset.ready = d.kind;
      })
      .catch(function (e) { box.innerHTML = '<p class="small">The chart could not be loaded: ' + String(e.message).replace(/[<>&]/g, '') + '</p>'; box.dataset.ready = 'error'; });
  }
  var actions = document.getElementById('actions');
  if (actions) {
    var msg = document.getElementById('action-msg');
    actions.addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-action]');
      if (!b) return;
      var action = b.dataset.action;
      var body = { comment: document.getElementById('comment').value };
      if (action === 'resolve') body.reason = document.getElementById('reason').value;
      b.disabled = true; msg.textContent = 'Sending…';
      window.m2m.post('/api/alerts/' + actions.dataset.alert + '/' + action, body)
        .then(function (r) { msg.textContent = 'Done: ' + r.published.activity + (r.published.status ? ' → ' + r.published.status : '') + ', published to every route.'; setTimeout(function () { location.reload(); }, 400); })
        .catch(function (e) { msg.textContent = 'Failed: ' + e.message; b.disabled = false; });
    });
  }
})();
