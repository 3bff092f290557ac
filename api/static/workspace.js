/* pingan map workspace: Leaflet map, layer switcher and in-page controls.
 *
 * The page's configuration (script#ws-config) says what the caller may choose; every layer is
 * fetched from the JSON API (GeoJSON), which releases it for the caller. Each control change
 * writes the selection into the URL (history.replaceState: the link restores it), re-fetches
 * the visible layers and redraws them without a page reload. When they have drawn, the page
 * marks performance 'layers-ready' and sets body[data-ws-ready] to a counter and
 * body[data-ws-state] to the selection's query string (tests and the benchmark wait on them).
 * The export panel links each visible layer to its own request in CSV and GeoJSON, to a
 * picture of its map page drawn on the server (PNG), and the selection to its briefing (PDF)
 * when its period is a whole week, month, quarter or year.
 * Text from the data is only ever set as text (textContent), never as markup.
 * The basemap and the display's coordinates (GCJ-02 tiles) are workspace-crs.js's; site plans
 * are workspace-plan.js's (both loaded with this script).
 */
(function (window, document, L, S) {
  'use strict';

  var config = JSON.parse(document.getElementById('ws-config').textContent);
  var T = JSON.parse(document.getElementById('ws-texts').textContent);
  var form = document.getElementById('ws-controls');
  var statusLine = document.getElementById('ws-status');
  var state = S.parse(window.location.search, config);
  var drawn = {};
  var legends = {};
  var generation = 0;
  var readyCount = 0;
  var playing = null;

  var map = L.map('ws-map', { zoomControl: true, zoomSnap: 0.25, attributionControl: false });
  L.control.scale({ imperial: false }).addTo(map);
  // the operator's tiles, if any (workspace-crs.js shifts the layers when they are GCJ-02)
  window.PinganCrs.addBasemap(map, config.basemap);
  // other modules of the page (workspace-plan.js) draw on the same map
  window.PinganWorkspaceMap = map;
  map.createPane('ws-background').style.zIndex = 350;
  map.createPane('ws-outline').style.zIndex = 450;
  map.createPane('ws-points').style.zIndex = 460;
  // streets over the area fills (faint, not clickable), under outlines and points
  var roadsPane = map.createPane('ws-roads');
  roadsPane.style.zIndex = 420;
  roadsPane.style.pointerEvents = 'none';
  // thousands of incident points draw on one canvas; areas stay SVG (clickable paths)
  var pointRenderer = L.canvas({ pane: 'ws-points' });
  // community names only once they can be read
  var LABEL_ZOOM = 14;
  function toggleLabels() {
    map.getContainer().classList.toggle('ws-hide-labels', map.getZoom() < LABEL_ZOOM);
  }
  map.on('zoomend', toggleLabels);

  // --- styles --------------------------------------------------------------------------------

  var RAMP = ['#fff5eb', '#fdd0a2', '#fd8d3c', '#d94801', '#7f2704'];
  var GREENS = ['#f7fcf5', '#c7e9c0', '#74c476', '#238b45', '#00441b'];
  var BLUES = ['#f7fbff', '#c6dbef', '#6baed6', '#2171b5', '#08306b'];
  var HOT = { hot_99: '#b2182b', hot_95: '#ef8a62', hot_90: '#fddbc7', cold_90: '#d1e5f0',
              cold_95: '#67a9cf', cold_99: '#2166ac' };
  var EMERGING = { 'new': '#67001f', consecutive: '#b2182b', intensifying: '#d6604d',
                   persistent: '#f4a582', diminishing: '#fddbc7', sporadic: '#92c5de',
                   oscillating: '#4393c3', historical: '#bababa' };
  var STATUS = { meets: '#1a9850', partly: '#fee08b', fails: '#d73027', incomplete: '#bdbdbd' };
  var VALUE = { rates: 'case_rate_per_10k_annual', kde: 'density_per_km2',
                protection: 'camera_area_share', coverage: 'facility_covered_population_share' };
  var COLOURS = { rates: RAMP, kde: RAMP, protection: BLUES, coverage: GREENS };

  /* Leaflet writes a string tooltip as markup: data text goes in as a text node only. */
  function text(value) {
    var span = document.createElement('span');
    span.textContent = String(value);
    return span;
  }

  function number(v) { return typeof v === 'number' && isFinite(v) ? v : null; }

  /* Quartiles of the positive values: zero takes the lightest colour, the rest four classes. */
  function breaks(features, key) {
    var values = features.map(function (f) { return number(f.properties[key]); })
      .filter(function (v) { return v !== null && v > 0; }).sort(function (a, b) { return a - b; });
    var out = [];
    for (var i = 1; i < 4 && values.length; i += 1) {
      out.push(values[Math.floor(i * values.length / 4)]);
    }
    return out;
  }

  function ramped(colours, cuts, v) {
    if (v === null) { return null; }
    if (v <= 0) { return colours[0]; }
    var k = 1;
    cuts.forEach(function (c) { if (v >= c) { k += 1; } });
    return colours[Math.min(k, colours.length - 1)];
  }

  function area(fill, opacity) {
    return { color: '#555', weight: 0.6, fillColor: fill || '#cccccc',
             fillOpacity: fill ? (opacity || 0.65) : 0.15 };
  }

  function styler(layer, features) {
    if (VALUE[layer]) {
      var cuts = breaks(features, VALUE[layer]);
      return function (f) {
        var v = number(f.properties[VALUE[layer]]);
        if (layer === 'kde' && !v) { return { stroke: false, fillOpacity: 0 }; }
        return area(ramped(COLOURS[layer], cuts, v));
      };
    }
    return function (f) {
      var p = f.properties;
      if (layer === 'hotspots' || layer === 'hotspots_grid') { return area(HOT[p.hotspot_class]); }
      if (layer === 'emerging') { return area(EMERGING[p.category]); }
      if (layer === 'alerts') { return area(p.alert ? '#d7301f' : null, 0.7); }
      if (layer === 'incidents') {
        return { color: '#7f0000', weight: 1, fillColor: '#e31a1c', fillOpacity: 0.85 };
      }
      if (layer === 'zones') {
        return { color: '#e6550d', weight: 1.5, fillColor: '#fd8d3c', fillOpacity: 0.3 };
      }
      if (layer === 'gaps') {
        return { color: '#a50f15', weight: 1, fillColor: '#ef3b2c', fillOpacity: 0.45 };
      }
      if (layer === 'standard') { return area(STATUS[p.status]); }
      return area(null);
    };
  }

  /* The legend of one layer: [colour, text] pairs (quartile cuts, or the classes drawn). */
  function legendRows(layer, features) {
    if (VALUE[layer]) {
      var cuts = breaks(features, VALUE[layer]);
      var colours = COLOURS[layer];
      if (!cuts.length) { return [[colours[0], '0']]; }
      return [[colours[0], '0'], [colours[1], '> 0']].concat(cuts.map(function (c, i) {
        return [colours[i + 2], '≥ ' + (Math.round(c * 100) / 100)];
      }));
    }
    var table = { hotspots: HOT, hotspots_grid: HOT, emerging: EMERGING, standard: STATUS }[layer];
    if (!table) { return []; }
    var key = { emerging: 'category', standard: 'status' }[layer] || 'hotspot_class';
    var seen = {};
    features.forEach(function (f) { seen[f.properties[key]] = true; });
    return Object.keys(table).filter(function (k) { return seen[k]; })
      .map(function (k) { return [table[k], k]; });
  }

  var legend = L.control({ position: 'bottomright' });
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'ws-legend');
    div.id = 'ws-legend';
    return div;
  };
  legend.addTo(map);

  function drawLegend(entries) {
    var div = document.getElementById('ws-legend');
    div.textContent = '';
    entries.forEach(function (e) {
      if (!e.rows.length) { return; }
      var h = document.createElement('strong');
      h.textContent = T['ws_layer_' + e.layer];
      div.appendChild(h);
      e.rows.forEach(function (r) {
        var row = document.createElement('div');
        var sw = document.createElement('i');
        sw.style.background = r[0];
        row.appendChild(sw);
        row.appendChild(text(r[1]));
        div.appendChild(row);
      });
    });
    div.hidden = !div.childNodes.length;
  }

  // --- what a feature says (tooltip) and what lies behind it (drill-down) ----------------------

  var SUMMARY = { rates: 'case_rate_per_10k_annual', hotspots: 'hotspot_class',
                  hotspots_grid: 'hotspot_class', emerging: 'category', kde: 'density_per_km2',
                  alerts: 'alert', protection: 'camera_area_share',
                  coverage: 'facility_covered_population_share', gaps: 'population',
                  standard: 'status', incidents: 'category', zones: 'expires_on' };

  function label(layer, p) {
    var name = p.name || p.code || p.unit || p.cell_id || p.id || '';
    var v = p[SUMMARY[layer]];
    if (typeof v === 'number') { v = Math.round(v * 100) / 100; }
    return String(name) + (v === undefined || v === null ? '' : ' · ' + String(v));
  }

  function drillQuery(p, feature) {
    var q = new URLSearchParams();
    var code = p.code || (p.level === 'community' ? p.unit : null);
    if (code) {
      q.set('community', code);
    } else if (p.level === 'district' && p.unit) {
      q.set('district', p.unit);
    } else if (feature.geometry) {
      // the feature's own (WGS84) coordinates, never the display's shifted ones
      var b = L.geoJSON(feature, { coordsToLatLng: L.GeoJSON.coordsToLatLng }).getBounds();
      q.set('bbox', [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (x) { return x.toFixed(6); }).join(','));
    } else {
      return null;
    }
    q.set('period', S.period(state, config));
    state.categories.forEach(function (c) { q.append('category', c); });
    return q;
  }

  function cell(row, text) {
    var td = document.createElement('td');
    td.textContent = text === null || text === undefined ? '' : String(text);
    row.appendChild(td);
  }

  function showDrill(title, url, rows, columns) {
    var panel = document.getElementById('ws-drill');
    var body = panel.querySelector('tbody');
    var head = panel.querySelector('thead tr');
    panel.querySelector('.ws-drill-title').textContent = title;
    head.textContent = '';
    body.textContent = '';
    columns.forEach(function (c) {
      var th = document.createElement('th');
      th.textContent = c;
      head.appendChild(th);
    });
    rows.forEach(function (r) {
      var tr = document.createElement('tr');
      columns.forEach(function (c) { cell(tr, r[c]); });
      body.appendChild(tr);
    });
    panel.querySelector('.ws-drill-count').textContent = String(rows.length);
    panel.querySelector('.ws-drill-source').setAttribute('href', url);
    panel.hidden = false;
    document.body.setAttribute('data-ws-drill', String(rows.length));
  }

  function drill(layer, feature) {
    var p = feature.properties;
    var q = drillQuery(p, feature);
    if (!q || layer === 'incidents') { return; }
    var grid = !config.raw && Boolean(p.cell_id);
    if (grid) {
      q.delete('bbox');
      q.set('cell_m', String(state.cell));
    }
    var url = config.raw ? '/api/v1/incidents?' + q.toString() + '&limit=500'
      : '/api/v1/aggregates/' + (grid ? 'grid' : 'communities') + '?' + q.toString();
    var columns = config.raw ? ['id', 'occurred_at', 'category', 'status', 'address']
      : (grid ? ['cell_id', 'incidents'] : ['code', 'name', 'incidents', 'incidents_per_10k']);
    document.body.removeAttribute('data-ws-drill');
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var rows = (data.items || []).filter(function (r) { return !grid || r.cell_id === p.cell_id; });
        showDrill(label(layer, p), url, rows, columns);
      })
      .catch(function (e) { statusLine.textContent = T.ws_failed + ' (' + e + ')'; });
  }

  // --- layers --------------------------------------------------------------------------------

  function geoLayer(layer, data) {
    var features = data.features || [];
    if (layer === 'incidents') {
      features = features.filter(function (f) { return S.keepIncident(f.properties, state); });
    }
    var style = styler(layer, features);
    return L.geoJSON({ type: 'FeatureCollection', features: features }, {
      style: style,
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { renderer: pointRenderer, radius: 4 });
      },
      onEachFeature: function (f, lyr) {
        lyr.bindTooltip(text(label(layer, f.properties)), { sticky: true });
        lyr.on('click', function () { drill(layer, f); });
      }
    });
  }

  function fetchLayer(layer, token) {
    var url = S.layerUrl(layer, state, config);
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/geo+json' } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(T['ws_layer_' + layer] + ': ' + (body.detail || r.status)); }
          return body;
        });
      })
      .then(function (data) {
        if (token !== generation) { return 0; }
        if (drawn[layer]) { map.removeLayer(drawn[layer]); }
        drawn[layer] = geoLayer(layer, data).addTo(map);
        legends[layer] = legendRows(layer, data.features || []);
        return drawn[layer].getLayers().length;
      });
  }

  function redraw() {
    generation += 1;
    var token = generation;
    var started = performance.now();
    Object.keys(drawn).forEach(function (l) {
      if (state.layers.indexOf(l) < 0) { map.removeLayer(drawn[l]); delete drawn[l]; }
    });
    statusLine.textContent = T.ws_loading;
    document.body.removeAttribute('data-ws-ready');
    var jobs = state.layers.map(function (l) {
      return fetchLayer(l, token).then(function (n) { return { layer: l, n: n }; },
                                       function (e) { return { layer: l, error: String(e.message || e) }; });
    });
    Promise.all(jobs).then(function (results) {
      if (token !== generation) { return; }
      var errors = results.filter(function (r) { return r.error; });
      var counts = {};
      results.forEach(function (r) { counts[r.layer] = r.error ? null : r.n; });
      drawLegend(state.layers.map(function (l) { return { layer: l, rows: legends[l] || [] }; }));
      readyCount += 1;
      performance.mark('layers-ready');
      window.__pinganWorkspace = { ready: readyCount, counts: counts, errors: errors,
                                   ms: Math.round(performance.now() - started) };
      statusLine.textContent = errors.length
        ? T.ws_failed + ': ' + errors.map(function (e) { return e.error; }).join('；')
        : T.ws_ready + ' · ' + results.map(function (r) {
          return T['ws_layer_' + r.layer] + ' ' + r.n + ' ' + T.ws_features;
        }).join(' · ');
      document.body.setAttribute('data-ws-state', S.serialise(state, config));
      document.body.setAttribute('data-ws-ready', String(readyCount));
      if (playing !== null) { window.setTimeout(playStep, 700); }
    });
  }

  // --- export: each visible layer's own request as CSV/GeoJSON, its map's picture, a briefing

  function exportLink(href, label, filename) {
    var a = document.createElement('a');
    a.setAttribute('href', href);
    a.textContent = label;
    if (filename) { a.setAttribute('download', filename); }
    return a;
  }

  function drawExports() {
    var list = document.getElementById('ws-export-layers');
    var lang = document.documentElement.lang === 'en' ? 'en' : '';
    list.textContent = '';
    state.layers.forEach(function (layer) {
      var li = document.createElement('li');
      li.setAttribute('data-layer', layer);
      li.appendChild(document.createTextNode(T['ws_layer_' + layer] + '：'));
      [['csv', 'CSV', null], ['geojson', 'GeoJSON', layer + '.geojson']].forEach(function (f) {
        var a = exportLink(S.exportUrl(layer, state, config, f[0]), f[1], f[2]);
        a.className = 'ws-export-' + f[0];
        li.appendChild(a);
        li.appendChild(document.createTextNode(' · '));
      });
      var png = exportLink(S.pngUrl(layer, state, config, lang), 'PNG', 'map-' + layer + '.png');
      png.className = 'ws-export-png';
      png.title = T.ws_export_png;
      li.appendChild(png);
      list.appendChild(li);
    });
    var briefing = document.getElementById('ws-export-briefing');
    var url = S.briefingUrl(state, config, lang);
    briefing.hidden = !url;
    briefing.setAttribute('href', url || '#');
  }

  // --- controls ------------------------------------------------------------------------------

  function selected(select) {
    return Array.prototype.filter.call(select.options, function (o) { return o.selected; })
      .map(function (o) { return o.value; }).filter(Boolean);
  }

  function checked(name) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name="' + name + '"]'),
                                       function (i) { return i.checked; })
      .map(function (i) { return i.value; });
  }

  function writeControls() {
    Array.prototype.forEach.call(form.querySelectorAll('input[name="layer"]'), function (i) {
      i.checked = state.layers.indexOf(i.value) >= 0;
    });
    form.elements.from.value = state.from;
    form.elements.to.value = state.to;
    form.elements.step.value = state.step;
    var slider = form.elements.slider;
    slider.max = String(S.sliderMax(state, config));
    slider.value = String(S.sliderIndex(state, config));
    Array.prototype.forEach.call(form.elements.category.options, function (o) {
      o.selected = o.value ? state.categories.indexOf(o.value) >= 0 : !state.categories.length;
    });
    form.elements.district.value = state.district;
    form.elements.subdistrict.value = state.subdistrict;
    if (form.elements.type) { form.elements.type.value = state.type; }
    form.elements.cell.value = String(state.cell);
    if (config.time.hours) {
      Array.prototype.forEach.call(form.elements.hours.options, function (o) {
        o.selected = state.hours.indexOf(parseInt(o.value, 10)) >= 0;
      });
      Array.prototype.forEach.call(form.querySelectorAll('input[name="weekday"]'), function (i) {
        i.checked = state.weekdays.indexOf(parseInt(i.value, 10)) >= 0;
      });
    }
    document.getElementById('ws-period').textContent = S.period(state, config);
  }

  function readControls(changed) {
    var s = JSON.parse(JSON.stringify(state));
    s.layers = checked('layer');
    s.step = form.elements.step.value;
    if (changed === 'slider') {
      s = S.atSlider(s, parseInt(form.elements.slider.value, 10), config);
    } else if (changed === 'step') {
      s.from = S.stepStart(s.from, s.step);
      s.to = S.stepEnd(s.from, s.step);
    } else {
      s.from = form.elements.from.value || s.from;
      s.to = config.protected ? '' : (form.elements.to.value || s.to);
    }
    s.categories = selected(form.elements.category);
    s.district = form.elements.district.value;
    s.subdistrict = form.elements.subdistrict.value;
    var sub = form.elements.subdistrict.selectedOptions[0];
    if (changed === 'district' && sub && sub.value && sub.getAttribute('data-district') !== s.district) {
      s.subdistrict = '';
    }
    if (form.elements.type) { s.type = form.elements.type.value; }
    s.cell = parseFloat(form.elements.cell.value);
    if (config.time.hours) {
      s.hours = selected(form.elements.hours).map(Number);
      s.weekdays = checked('weekday').map(Number);
    }
    return S.normalise(s, config);
  }

  /* The URL holds the selection; the language switch keeps it. */
  function writeUrl() {
    var query = S.serialise(state, config);
    window.history.replaceState(null, '', window.location.pathname + query);
    var link = document.getElementById('lang-switch');
    if (link) {
      var other = link.getAttribute('hreflang') === 'en' ? 'en' : 'zh';
      link.setAttribute('href', window.location.pathname + query + '&lang=' + other);
    }
  }

  /* Only the subdistricts of the chosen district are offered. */
  function limitSubdistricts() {
    var district = form.elements.district.value;
    Array.prototype.forEach.call(form.elements.subdistrict.options, function (o) {
      o.hidden = Boolean(district && o.value && o.getAttribute('data-district') !== district);
    });
  }

  function apply(next) {
    state = next;
    writeUrl();
    writeControls();
    limitSubdistricts();
    drawExports();
    redraw();
  }

  function playStep() {
    var slider = form.elements.slider;
    var i = parseInt(slider.value, 10);
    if (playing === null) { return; }
    if (i >= parseInt(slider.max, 10)) { togglePlay(); return; }
    apply(S.atSlider(state, i + 1, config));
  }

  function togglePlay() {
    var button = document.getElementById('ws-play');
    if (playing === null) {
      playing = true;
      button.textContent = T.ws_pause;
      playStep();
    } else {
      playing = null;
      button.textContent = T.ws_play;
    }
  }

  form.addEventListener('change', function (e) {
    var name = e.target.name;
    apply(readControls(['slider', 'step', 'district'].indexOf(name) >= 0 ? name : 'other'));
  });
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  document.getElementById('ws-play').addEventListener('click', togglePlay);
  document.getElementById('ws-drill-close').addEventListener('click', function () {
    document.getElementById('ws-drill').hidden = true;
  });

  /* A community named in the URL (a landing-page link): outlined, zoomed to, drilled into. */
  function focus(features) {
    var hit = features.filter(function (f) { return f.properties.code === state.community; });
    if (!hit.length) { return; }
    var g = L.geoJSON(hit[0], { pane: 'ws-outline', interactive: false,
                                style: { color: '#e6550d', weight: 3, fill: false } }).addTo(map);
    map.fitBounds(g.getBounds(), { maxZoom: 16 });
    drill('rates', hit[0]);
  }

  // --- background: the caller's world, districts, communities with labels ------------------

  var outline = config.outline ? L.geoJSON(config.outline, {
    pane: 'ws-outline', interactive: false,
    style: { color: '#08519c', weight: 3, dashArray: '8 4', fill: false }
  }).addTo(map) : null;
  config.district_outlines.forEach(function (d) {
    if (!d.geometry) { return; }
    var g = L.geoJSON(d.geometry, { pane: 'ws-background', interactive: false,
                                    style: { color: '#444', weight: 1.6, fill: false } }).addTo(map);
    L.tooltip({ permanent: true, direction: 'center', className: 'ws-district-label' })
      .setLatLng(g.getBounds().getCenter()).setContent(text(d.name)).addTo(map);
  });
  if (outline && outline.getBounds().isValid()) { map.fitBounds(outline.getBounds()); } else {
    map.setView([39.9, 116.4], 11);
  }
  toggleLabels();
  var background = fetch('/api/v1/communities?format=geojson&limit=10000',
                         { credentials: 'same-origin' })
    .then(function (r) { return r.ok ? r.json() : { features: [] }; })
    .then(function (data) {
      var few = (data.features || []).length <= 400;
      L.geoJSON(data, {
        pane: 'ws-background', interactive: false,
        style: { color: '#999', weight: 0.7, fill: false },
        onEachFeature: function (f, lyr) {
          if (few) {
            lyr.bindTooltip(text(f.properties.name || f.properties.code), {
              permanent: true, direction: 'center', className: 'ws-label' });
          }
        }
      }).addTo(map);
      focus(data.features || []);
    })
    .catch(function () { return null; });

  // the streets, when a roads layer is loaded: under everything, not waited for
  fetch('/api/v1/roads?format=geojson', { credentials: 'same-origin' })
    .then(function (r) { return r.ok ? r.json() : { features: [] }; })
    .then(function (data) {
      var major = /^(motorway|trunk|primary|secondary)/;
      L.geoJSON(data, {
        pane: 'ws-roads', interactive: false,
        style: function (f) {
          var big = major.test(f.properties.road_class || '');
          return { color: big ? '#8c7b57' : '#9a9a9a', weight: big ? 1.6 : 0.7, opacity: 0.55 };
        }
      }).addTo(map);
      document.body.setAttribute('data-ws-roads', String((data.features || []).length));
    })
    .catch(function () { return null; });

  writeControls();
  limitSubdistricts();
  writeUrl();
  drawExports();
  background.then(redraw);
  // the drawn-area module (workspace-draw.js) draws on the same map
  window.PinganWorkspace = { map: map };
})(window, document, window.L, window.PinganState);
