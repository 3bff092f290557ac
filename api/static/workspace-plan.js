/* pingan map workspace: the planner's panel (facility gaps and a site plan).
 *
 * "Show the gaps" turns the workspace's own gap layer on for the chosen facility type (through
 * the layer controls, so the URL holds it) and shows the residents covered in the caller's
 * jurisdiction (/api/v1/coverage, level=city). "Plan the sites" sends POST /api/v1/site-plans
 * (format=geojson) with the session's CSRF token (meta[name=csrf-token], header X-CSRF-Token)
 * for the selection's period; the chosen sites are drawn as numbered markers with their
 * community and the residents they newly cover, and coverage before and after is shown.
 * The plan's exports are the server's own answers to the same body: the GeoJSON it drew and
 * the CSV (format=csv; the server keeps the plan, so it is the same sites), offered as
 * downloads. Sites come back in WGS84 and are drawn through PinganCrs.toDisplay (GCJ-02 tiles).
 * When a plan has drawn, body[data-ws-plan] holds its number of sites and window.__pinganPlan
 * its figures (tests wait on them). Text from the data is only ever set as text.
 */
(function (window, document, L, S, C) {
  'use strict';

  var form = document.getElementById('ws-plan-form');
  var map = window.PinganWorkspaceMap;
  if (!form || !map) { return; }
  var config = JSON.parse(document.getElementById('ws-config').textContent);
  var T = JSON.parse(document.getElementById('ws-texts').textContent);
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';
  var statusLine = document.getElementById('ws-plan-status');
  var progress = document.getElementById('ws-plan-progress');
  var sites = L.layerGroup().addTo(map);
  var blobs = [];

  function selection() { return S.parse(window.location.search, config); }

  function percent(v) {
    return typeof v === 'number' && isFinite(v) ? (Math.round(v * 1000) / 10) + ' %' : '–';
  }

  function count(v) {
    return typeof v === 'number' && isFinite(v) ? Math.round(v).toLocaleString('zh-CN') : '–';
  }

  /* A problem document (application/problem+json) as one line: detail and field errors. */
  function problemText(p, status) {
    var fields = (p.errors || []).map(function (e) {
      return [e.field || (e.loc || []).join('.'), e.message || e.msg].filter(Boolean).join(': ');
    });
    return [p.detail || p.title || String(status)].concat(fields).join('；');
  }

  /* A response's text, or its bytes (a CSV keeps its byte-order mark for Excel). */
  function answer(r, bytes) {
    if (r.ok) { return bytes ? r.arrayBuffer() : r.text(); }
    return r.json().catch(function () { return {}; })
      .then(function (p) { throw new Error(problemText(p, r.status)); });
  }

  function chosenType() { return form.elements.plan_type.value; }

  // --- gaps ------------------------------------------------------------------------------------

  function showCoverage(type) {
    var s = selection();
    var q = new URLSearchParams({ format: 'json', level: 'city', type: type,
                                  period: S.period(s, config) });
    var line = document.getElementById('ws-plan-coverage');
    line.textContent = T.ws_loading;
    fetch('/api/v1/coverage?' + q.toString(), { credentials: 'same-origin' })
      .then(function (r) { return answer(r, false); })
      .then(function (text) {
        var row = (JSON.parse(text).items || [])[0] || {};
        line.textContent = T.ws_plan_coverage + ' ' + percent(row.facility_covered_population_share)
          + ' · ' + count(row.facility_uncovered_population) + ' ' + T.ws_plan_uncovered;
        line.setAttribute('data-share', String(row.facility_covered_population_share));
      })
      .catch(function (e) { line.textContent = T.ws_failed + '：' + e.message; });
  }

  /* The workspace's gap layer for the type, switched on through its own controls. */
  function showGaps() {
    var controls = document.getElementById('ws-controls');
    var type = chosenType();
    var box = controls.querySelector('input[name="layer"][value="gaps"]');
    if (box) { box.checked = true; }
    if (controls.elements.type) { controls.elements.type.value = type; }
    var changed = controls.elements.type || box;
    if (changed) { changed.dispatchEvent(new Event('change', { bubbles: true })); }
    showCoverage(type);
  }

  // --- the plan --------------------------------------------------------------------------------

  function planBody() {
    var e = form.elements;
    var body = { type: chosenType(), add: parseInt(e.k.value, 10), reach: e.reach.value,
                 period: S.period(selection(), config) };
    if (e.radius_m.value) { body.radius_m = parseFloat(e.radius_m.value); }
    if (e.minutes.value) { body.minutes = parseFloat(e.minutes.value); }
    return body;
  }

  function post(body, format) {
    return fetch('/api/v1/site-plans?format=' + format, {
      method: 'POST', credentials: 'same-origin', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }
    }).then(function (r) { return answer(r, format === 'csv'); });
  }

  function download(id, content, type) {
    var url = URL.createObjectURL(new Blob([content], { type: type }));
    blobs.push(url);
    document.getElementById(id).setAttribute('href', url);
  }

  function popup(i, p) {
    var div = document.createElement('div');
    var title = document.createElement('strong');
    title.textContent = T.ws_plan_site + ' ' + (i + 1);
    div.appendChild(title);
    [[T.ws_plan_community, p.community_name || p.community_code || '–'],
     [T.ws_plan_newly, count(p.population_newly_covered)]].forEach(function (row) {
      var line = document.createElement('div');
      line.textContent = row[0] + '：' + row[1];
      div.appendChild(line);
    });
    return div;
  }

  function cell(tr, value) {
    var td = document.createElement('td');
    td.textContent = String(value);
    tr.appendChild(td);
  }

  function drawPlan(data) {
    var features = data.features || [];
    var prov = data.pingan || {};
    var table = document.getElementById('ws-plan-sites');
    var rows = table.querySelector('tbody');
    sites.clearLayers();
    rows.textContent = '';
    features.forEach(function (f, i) {
      var p = f.properties;
      var icon = L.divIcon({ className: 'ws-plan-site', html: String(i + 1), iconSize: [24, 24] });
      L.marker(C.toDisplay(p.lon, p.lat), { icon: icon, title: T.ws_plan_site + ' ' + (i + 1) })
        .bindPopup(popup(i, p)).addTo(sites);
      var tr = document.createElement('tr');
      cell(tr, i + 1);
      cell(tr, p.community_name || p.community_code || '–');
      cell(tr, count(p.population_newly_covered));
      rows.appendChild(tr);
    });
    table.hidden = !features.length;
    statusLine.textContent = T.ws_plan_done + ' · ' + T.ws_plan_before + ' '
      + percent(prov.coverage_before) + ' → ' + T.ws_plan_after + ' ' + percent(prov.coverage_after);
    return { sites: features.length, coverage_before: prov.coverage_before,
             coverage_after: prov.coverage_after };
  }

  function finish(result) {
    progress.hidden = true;
    document.getElementById('ws-plan-run').disabled = false;
    window.__pinganPlan = result;
    document.body.setAttribute('data-ws-plan', String(result.error ? -1 : result.sites));
  }

  function run() {
    var body = planBody();
    var result = null;
    document.body.removeAttribute('data-ws-plan');
    document.getElementById('ws-plan-exports').hidden = true;
    blobs.forEach(function (u) { URL.revokeObjectURL(u); });
    blobs = [];
    progress.hidden = false;
    document.getElementById('ws-plan-run').disabled = true;
    statusLine.textContent = T.ws_plan_running;
    post(body, 'geojson')
      .then(function (text) {
        result = drawPlan(JSON.parse(text));
        download('ws-plan-geojson', text, 'application/geo+json');
        return post(body, 'csv');
      })
      .then(function (bytes) {
        download('ws-plan-csv', bytes, 'text/csv;charset=utf-8');
        document.getElementById('ws-plan-exports').hidden = false;
        finish(result);
      })
      .catch(function (e) {
        statusLine.textContent = T.ws_plan_failed + '：' + e.message;
        finish({ sites: 0, error: e.message });
      });
  }

  form.addEventListener('submit', function (e) { e.preventDefault(); run(); });
  document.getElementById('ws-plan-gaps').addEventListener('click', showGaps);
  var current = selection().type;
  if (current) { form.elements.plan_type.value = current; }
})(window, document, window.L, window.PinganState, window.PinganCrs);
