/* pingan map workspace: drawn areas, the place search and saved areas.
 *
 * Two parts. window.PinganArea holds pure functions (no DOM, no network; tested in headless
 * Chromium): the request body of an area query for the workspace's selection, a drawn
 * polygon's GeoJSON, a circle's request, the points of a trend sparkline. The controller below
 * them draws on the workspace's Leaflet map (window.PinganWorkspace.map, set by workspace.js):
 *   polygon  click the vertices; double-click, Enter or a click on the first vertex closes it
 *   circle   click the centre, then a point on the edge
 * Escape cancels a drawing. The area (or a place picked in the search box, or a saved area) is
 * sent to POST /api/v1/areas/query with the selection's period, categories and (raw readers)
 * hours and weekdays; the API releases the answer for the caller (a liaison's area is clipped
 * to their jurisdiction and the part kept is drawn; a planner's is a sum of released
 * communities). Writes carry the session's CSRF token (X-CSRF-Token). When an answer has been
 * shown, body[data-ws-area] holds its count (tests wait on it); a refusal sets
 * body[data-ws-area-error]. Text from the data is only ever set as text, never as markup.
 */
(function (window, document) {
  'use strict';

  // --- pure part ---------------------------------------------------------------------------

  /* The body of POST /api/v1/areas/query for an area and a workspace selection. */
  function queryBody(area, state, config, S) {
    var body = { area: area, period: S.period(state, config), category: state.categories.slice(),
                 incidents: Boolean(config.raw), limit: 200 };
    if (config.raw) {
      body.hours = state.hours.slice();
      body.weekdays = state.weekdays.slice();
    }
    return body;
  }

  /* A point drawn on the map, [lat, lng] as displayed, as WGS84 {lon, lat} for the server:
   * with GCJ-02 tiles the map shows GCJ-02 (workspace-crs.js), and the server takes WGS84. */
  function toServer(v) {
    var crs = window.PinganCrs;
    return crs ? crs.toServer({ lat: v[0], lng: v[1] }) : { lon: v[1], lat: v[0] };
  }

  /* A GeoJSON Polygon of [lat, lng] vertices (closed; longitude first, 6 decimals, WGS84). */
  function polygonOf(vertices) {
    var ring = vertices.map(function (v) {
      var p = toServer(v);
      return [round6(p.lon), round6(p.lat)];
    });
    if (ring.length) { ring.push(ring[0].slice()); }
    return { type: 'Polygon', coordinates: [ring] };
  }

  function round6(x) { return Math.round(x * 1e6) / 1e6; }

  /* A circle request from its centre [lat, lng] and radius in metres (whole metres, >= 10). */
  function circleOf(centre, radiusM) {
    var p = toServer(centre);
    return { lon: round6(p.lon), lat: round6(p.lat),
             radius_m: Math.max(10, Math.round(radiusM)) };
  }

  /* SVG polyline points of values in a width x height box (the largest value at the top). */
  function sparkline(values, width, height) {
    if (!values.length) { return ''; }
    var top = Math.max.apply(null, values.concat([1]));
    var dx = values.length > 1 ? width / (values.length - 1) : 0;
    return values.map(function (v, i) {
      return (i * dx).toFixed(1) + ',' + (height - (v / top) * height).toFixed(1);
    }).join(' ');
  }

  /* What a search result asks for: a place picked by name, or a circle around an address. */
  function areaOfResult(r) {
    if (r.kind === 'community') { return { community: r.code }; }
    if (r.kind === 'facility') { return { facility: r.id }; }
    if (r.kind === 'road') { return { road: r.name }; }
    if (r.kind === 'address' && r.lon !== null) {
      return { circle: { lon: r.lon, lat: r.lat, radius_m: 200 } };
    }
    return null;
  }

  window.PinganArea = { queryBody: queryBody, polygonOf: polygonOf, circleOf: circleOf,
                        sparkline: sparkline, areaOfResult: areaOfResult };

  // --- controller ----------------------------------------------------------------------------

  var W = window.PinganWorkspace;
  var panel = document.getElementById('ws-area');
  if (!W || !panel || !window.L) { return; }
  var L = window.L;
  var S = window.PinganState;
  var map = W.map;
  var config = JSON.parse(document.getElementById('ws-config').textContent);
  var T = JSON.parse(document.getElementById('ws-texts').textContent);
  var csrfField = document.querySelector('input[name="csrf_token"]');
  var hint = document.getElementById('ws-area-hint');
  var result = document.getElementById('ws-area-result');
  var current = null;       // the area request last asked
  var shapes = L.layerGroup().addTo(map);
  var drawing = null;

  function headers(json) {
    var h = { Accept: 'application/json' };
    if (json) { h['Content-Type'] = 'application/json'; }
    if (csrfField) { h['X-CSRF-Token'] = csrfField.value; }
    return h;
  }

  function call(method, url, body) {
    return fetch(url, { method: method, credentials: 'same-origin', headers: headers(body),
                        body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 204) { return null; }
        return r.json().then(function (data) {
          if (!r.ok) { throw new Error(data.detail || String(r.status)); }
          return data;
        });
      });
  }

  function setText(selector, value) { panel.querySelector(selector).textContent = value; }

  function fmt(x, digits) {
    return x === null || x === undefined ? '—' : Number(x).toFixed(digits);
  }

  // --- the answer ----------------------------------------------------------------------------

  function showAnswer(data) {
    shapes.clearLayers();
    var g = L.geoJSON(data.area.geometry, { interactive: false,
                                            style: { color: '#e6550d', weight: 2, fillOpacity: 0.08 } });
    g.addTo(shapes);
    setText('.ws-area-count', String(data.incidents));
    setText('.ws-area-rate', fmt(data.incidents_per_10k, 2));
    setText('.ws-area-pop', fmt(data.population, 0));
    setText('.ws-area-km2', fmt(data.area.area_km2, 3));
    var notes = [];
    if (data.area.clipped) {
      notes.push(T.ws_area_clipped.replace('{share}', Math.round(data.area.outside_share * 100)));
    }
    if (data.protected_units !== undefined) {
      notes.push(T.ws_area_units.replace('{units}', data.units_summed)
                 .replace('{protected}', data.protected_units));
    }
    setText('.ws-area-notes', notes.join(' '));
    var values = data.trend.map(function (row) { return row.incidents; });
    panel.querySelector('.ws-area-trend polyline').setAttribute('points', sparkline(values, 200, 36));
    panel.querySelector('.ws-area-trend').setAttribute('aria-label', data.trend.map(function (row) {
      return row.month + ' ' + row.incidents;
    }).join(', '));
    drawItems(data.items || null);
    result.hidden = false;
    document.body.removeAttribute('data-ws-area-error');
    window.__pinganArea = data;
    document.body.setAttribute('data-ws-area', String(data.incidents));
  }

  function drawItems(items) {
    var table = panel.querySelector('.ws-area-items');
    var body = table.querySelector('tbody');
    body.textContent = '';
    table.hidden = items === null;
    (items || []).forEach(function (row) {
      var tr = document.createElement('tr');
      [row.occurred_at.slice(0, 16).replace('T', ' '), row.category, row.address].forEach(function (v) {
        var td = document.createElement('td');
        td.textContent = v === null ? '' : String(v);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function ask(area) {
    current = area;
    var state = S.parse(window.location.search, config);
    document.body.removeAttribute('data-ws-area');
    document.body.removeAttribute('data-ws-area-error');  // a refusal before is no answer to this
    hint.textContent = T.ws_loading;
    return call('POST', '/api/v1/areas/query', queryBody(area, state, config, S))
      .then(function (data) { hint.textContent = ''; showAnswer(data); })
      .catch(function (e) {
        result.hidden = true;
        shapes.clearLayers();
        hint.textContent = T.ws_area_refused + ' ' + e.message;
        document.body.setAttribute('data-ws-area-error', e.message);
      });
  }

  // --- drawing -------------------------------------------------------------------------------

  function stopDrawing() {
    if (!drawing) { return; }
    map.off('click', drawing.click).off('mousemove', drawing.move).off('dblclick', drawing.finish);
    document.removeEventListener('keydown', drawing.key);
    drawing.preview.remove();
    map.doubleClickZoom.enable();
    map.getContainer().style.cursor = '';
    drawing = null;
  }

  function startPolygon() {
    var vertices = [];
    var preview = L.polyline([], { color: '#e6550d', dashArray: '4 4', interactive: false }).addTo(map);
    function finish() {
      if (vertices.length < 3) { return; }
      var area = { geometry: polygonOf(vertices) };
      stopDrawing();
      ask(area);
    }
    function click(e) {
      var p = map.latLngToContainerPoint(e.latlng);
      if (vertices.length >= 3 && p.distanceTo(map.latLngToContainerPoint(L.latLng(vertices[0]))) < 8) {
        finish();
        return;
      }
      var last = vertices[vertices.length - 1];
      if (last && p.distanceTo(map.latLngToContainerPoint(L.latLng(last))) < 3) { return; }
      vertices.push([e.latlng.lat, e.latlng.lng]);
      preview.setLatLngs(vertices);
    }
    function move(e) { if (vertices.length) { preview.setLatLngs(vertices.concat([[e.latlng.lat, e.latlng.lng]])); } }
    return { click: click, move: move, finish: finish, preview: preview, hint: T.ws_area_hint_polygon };
  }

  function startCircle() {
    var centre = null;
    var preview = L.circle([0, 0], { radius: 1, color: '#e6550d', dashArray: '4 4', interactive: false });
    function radius(latlng) { return map.distance(L.latLng(centre), latlng); }
    function click(e) {
      if (centre === null) {
        centre = [e.latlng.lat, e.latlng.lng];
        preview.setLatLng(centre).addTo(map);
        return;
      }
      var area = { circle: circleOf(centre, radius(e.latlng)) };
      stopDrawing();
      ask(area);
    }
    function move(e) { if (centre !== null) { preview.setRadius(radius(e.latlng)); } }
    return { click: click, move: move, finish: function () { return null; }, preview: preview,
             hint: T.ws_area_hint_circle };
  }

  function draw(kind) {
    stopDrawing();
    drawing = kind === 'circle' ? startCircle() : startPolygon();
    drawing.key = function (e) {
      if (e.key === 'Escape') { stopDrawing(); hint.textContent = ''; }
      if (e.key === 'Enter') { drawing.finish(); }
    };
    map.doubleClickZoom.disable();
    map.on('click', drawing.click).on('mousemove', drawing.move).on('dblclick', drawing.finish);
    document.addEventListener('keydown', drawing.key);
    map.getContainer().style.cursor = 'crosshair';
    hint.textContent = drawing.hint;
  }

  // --- search and saved areas ----------------------------------------------------------------

  var searchBox = document.getElementById('ws-area-search');
  var found = document.getElementById('ws-area-found');
  var searchTimer = null;

  function resultButton(r) {
    var li = document.createElement('li');
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = T['ws_area_kind_' + r.kind] + ' · ' + (r.name || r.address || r.code || r.id);
    b.addEventListener('click', function () {
      var area = areaOfResult(r);
      if (r.bbox) { map.fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]], { maxZoom: 16 }); }
      if (area) { ask(area); }
    });
    li.appendChild(b);
    return li;
  }

  function search() {
    var q = searchBox.value.trim();
    found.textContent = '';
    if (!q) { return; }
    call('GET', '/api/v1/search?limit=8&q=' + encodeURIComponent(q)).then(function (data) {
      found.textContent = '';
      ['communities', 'facilities', 'roads', 'addresses'].forEach(function (k) {
        (data[k] || []).forEach(function (r) { found.appendChild(resultButton(r)); });
      });
      document.body.setAttribute('data-ws-search', String(found.children.length));
    }).catch(function (e) { hint.textContent = e.message; });
  }

  var savedList = document.getElementById('ws-area-saved');

  function loadSaved() {
    return call('GET', '/api/v1/areas').then(function (data) {
      savedList.textContent = '';
      data.items.forEach(function (a) {
        var li = document.createElement('li');
        var open = document.createElement('button');
        open.type = 'button';
        open.textContent = a.name + (a.status === 'inside' ? '' : ' (' + T['ws_area_status_' + a.status] + ')');
        open.disabled = a.status === 'outside' || a.status === 'unavailable';
        open.addEventListener('click', function () { ask(a.area); });
        var del = document.createElement('button');
        del.type = 'button';
        del.className = 'ws-area-delete';
        del.textContent = '×';
        del.title = T.ws_area_delete;
        del.addEventListener('click', function () {
          call('DELETE', '/api/v1/areas/' + a.id).then(loadSaved);
        });
        li.appendChild(open);
        li.appendChild(del);
        savedList.appendChild(li);
      });
      document.body.setAttribute('data-ws-saved', String(data.items.length));
    }).catch(function () { return null; });
  }

  document.getElementById('ws-area-save').addEventListener('submit', function (e) {
    e.preventDefault();
    var name = this.elements.name.value.trim();
    if (!current || !name) { hint.textContent = T.ws_area_save_first; return; }
    var input = this.elements.name;
    call('POST', '/api/v1/areas', { name: name, area: current })
      .then(function () { input.value = ''; return loadSaved(); })
      .catch(function (err) { hint.textContent = err.message; });
  });

  panel.querySelectorAll('[data-draw]').forEach(function (b) {
    b.addEventListener('click', function () { draw(b.getAttribute('data-draw')); });
  });
  document.getElementById('ws-area-clear').addEventListener('click', function () {
    stopDrawing();
    shapes.clearLayers();
    current = null;
    result.hidden = true;
    hint.textContent = '';
    document.body.removeAttribute('data-ws-area');
    document.body.removeAttribute('data-ws-area-error');
  });
  searchBox.addEventListener('input', function () {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(search, 250);
  });
  // a changed period, category or hour asks the same area again (after the URL is rewritten)
  document.getElementById('ws-controls').addEventListener('change', function () {
    if (current) { window.setTimeout(function () { ask(current); }, 0); }
  });
  loadSaved();
})(window, document);
