/*
 * pingan maps runtime (part of pingan, Apache-2.0).
 *
 * - geoJsonLayer: GeoJSON drawn from a style table; tooltips and popups are prebuilt, escaped HTML.
 * - title, legend: page furniture.
 * - incidents: incident points (clustered markers and heat, Leaflet.markercluster and
 *   Leaflet.heat) or, above the point limit, a canvas grid of counts pre-aggregated per zoom
 *   level; category layers and a month control filter both.
 * - readiness: window.__pinganDrawn becomes true once every layer has been drawn, and
 *   window.__pinganDrawnAt holds performance.now() at that moment (used by tests, the
 *   benchmark and the PNG export).
 */
(function (window, document, L) {
  'use strict';

  var pingan = window.pingan = {};
  var pending = 0;
  var loaded = false;

  function settle() {
    if (loaded && pending === 0 && !window.__pinganDrawn) {
      window.__pinganDrawn = true;
      window.__pinganDrawnAt = window.performance ? window.performance.now() : 0;
      document.documentElement.setAttribute('data-pingan-drawn', 'true');
    }
  }

  pingan.hold = function () { pending += 1; };
  pingan.release = function () { pending -= 1; settle(); };
  pingan.loaded = function () { loaded = true; settle(); };

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) {
      return values.hasOwnProperty(k) ? String(values[k]) : m;
    });
  }

  function thousands(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  /* ---------------------------------------------------------------- furniture */

  pingan.title = function (map, html) {
    var div = L.DomUtil.create('div', 'pingan-title', map.getContainer());
    div.innerHTML = html;
    L.DomEvent.disableClickPropagation(div);
    return div;
  };

  pingan.legend = function (map, html) {
    var control = L.control({position: 'bottomright'});
    control.onAdd = function () {
      var div = L.DomUtil.create('div', 'pingan-legend leaflet-bar');
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    control.addTo(map);
    return control;
  };

  /* Packed boundaries (a collection with "packed": scale): each ring of a Polygon or
   * MultiPolygon is one flat list of integers, the first vertex in units of 1 / scale degree
   * and every next one as the difference from the previous (see maps/page.py). */
  function unpackRing(flat, scale) {
    var out = new Array(flat.length / 2), x = 0, y = 0;
    for (var i = 0; i < flat.length; i += 2) {
      x += flat[i];
      y += flat[i + 1];
      out[i / 2] = [x / scale, y / scale];
    }
    return out;
  }

  function unpack(data) {
    var scale = data.packed;
    if (!scale) { return data; }
    data.features.forEach(function (f) {
      var g = f.geometry;
      if (g.type === 'Polygon') {
        g.coordinates = g.coordinates.map(function (r) { return unpackRing(r, scale); });
      } else if (g.type === 'MultiPolygon') {
        g.coordinates = g.coordinates.map(function (p) {
          return p.map(function (r) { return unpackRing(r, scale); });
        });
      }
    });
    delete data.packed;
    return data;
  }

  pingan.geoJsonLayer = function (data, styles) {
    return L.geoJSON(unpack(data), {
      style: function (f) { return styles[f.properties.s]; },
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, styles[f.properties.s]); },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        if (p.t) { layer.bindTooltip(p.t, {sticky: true, className: 'pingan-tooltip'}); }
        if (p.p) { layer.bindPopup(p.p, {maxWidth: 460, className: 'pingan-popup'}); }
      }
    });
  };

  /* ---------------------------------------------------------------- incidents */

  function Incidents(map, data) {
    this.map = map;
    this.data = data;
    this.text = data.text;
    this.enabled = data.categories.map(function () { return true; });
    this.month = -1;
    this._scheduled = false;
    this._countEl = null;
    if (data.mode === 'points') {
      this._initPoints();
    } else {
      this._initGrid();
    }
    this._schedule();
  }

  pingan.incidents = function (map, data) { return new Incidents(map, data); };

  Incidents.prototype.category = function (index) {
    var self = this;
    var Toggle = L.Layer.extend({
      onAdd: function () { self._setCategory(index, true); },
      onRemove: function () { self._setCategory(index, false); }
    });
    return new Toggle();
  };

  Incidents.prototype._setCategory = function (index, on) {
    if (this.enabled[index] !== on) {
      this.enabled[index] = on;
      this._schedule();
    }
  };

  Incidents.prototype._setMonth = function (month) {
    if (this.month !== month) {
      this.month = month;
      this._schedule();
    }
  };

  Incidents.prototype._schedule = function () {
    var self = this;
    if (this._scheduled) { return; }
    this._scheduled = true;
    pingan.hold();
    window.setTimeout(function () {
      self._scheduled = false;
      try {
        self._refresh();
      } finally {
        pingan.release();
      }
    }, 0);
  };

  Incidents.prototype._showCount = function (n) {
    if (this._countEl) {
      this._countEl.textContent = format(this.text.shown, {n: thousands(n)});
    }
  };

  Incidents.prototype.addPeriodControl = function () {
    var self = this, d = this.data, t = this.text;
    var control = L.control({position: 'topleft'});
    control.onAdd = function () {
      var div = L.DomUtil.create('div', 'pingan-period leaflet-bar');
      var label = L.DomUtil.create('label', '', div);
      label.textContent = t.period;
      var select = L.DomUtil.create('select', '', div);
      var all = document.createElement('option');
      all.value = '-1';
      all.textContent = t.allMonths;
      select.appendChild(all);
      d.months.forEach(function (m, i) {
        var o = document.createElement('option');
        o.value = String(i);
        o.textContent = m;
        select.appendChild(o);
      });
      L.DomEvent.on(select, 'change', function () { self._setMonth(parseInt(select.value, 10)); });
      self._countEl = L.DomUtil.create('div', 'pingan-count', div);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    control.addTo(this.map);
    return control;
  };

  /* points: clustered markers and heat */

  Incidents.prototype._initPoints = function () {
    var self = this;
    this.cluster = L.markerClusterGroup({maxClusterRadius: 60, disableClusteringAtZoom: 18,
                                         spiderfyOnMaxZoom: true, showCoverageOnHover: false});
    this.heat = L.heatLayer([], {radius: 12, blur: 16, minOpacity: 0.25, maxZoom: 18});
    this._markers = [];
    this.cluster.on('click', function (e) {
      var i = e.layer.options.pinganIndex;
      L.popup({maxWidth: 360, className: 'pingan-popup'})
        .setLatLng(e.layer.getLatLng())
        .setContent(self._popup(i))
        .openOn(self.map);
    });
  };

  Incidents.prototype._marker = function (i) {
    var d = this.data;
    var m = this._markers[i];
    if (!m) {
      m = this._markers[i] = L.circleMarker([d.lat[i], d.lng[i]], {
        radius: 5, weight: 1, color: '#333333', fillColor: d.colors[d.cat[i]],
        fillOpacity: 0.9, pinganIndex: i
      });
    }
    return m;
  };

  Incidents.prototype._popup = function (i) {
    var d = this.data, t = this.text;
    var div = L.DomUtil.create('div', 'pingan-incident');
    var table = L.DomUtil.create('table', '', div);
    var rows = [[t.id, d.id[i]], [t.time, d.time[i]], [t.category, d.categories[d.cat[i]]],
                [t.address, d.addr[i] || t.none]];
    rows.forEach(function (r) {
      var tr = L.DomUtil.create('tr', '', table);
      L.DomUtil.create('th', '', tr).textContent = r[0];
      L.DomUtil.create('td', '', tr).textContent = r[1];
    });
    return div;
  };

  Incidents.prototype._refresh = function () {
    if (this.data.mode === 'points') {
      this._refreshPoints();
    } else {
      this._refreshGrid();
    }
  };

  Incidents.prototype._refreshPoints = function () {
    var d = this.data, n = d.lat.length, markers = [], heat = [];
    for (var i = 0; i < n; i++) {
      if (!this.enabled[d.cat[i]] || (this.month >= 0 && d.month[i] !== this.month)) { continue; }
      markers.push(this._marker(i));
      heat.push([d.lat[i], d.lng[i]]);
    }
    this.cluster.clearLayers();
    this.cluster.addLayers(markers);
    this.heat.setLatLngs(heat);
    this.shown = markers.length;
    this._showCount(markers.length);
  };

  /* grid: counts per cell of Web Mercator grids, one grid per zoom level */

  function decodeLevel(level) {
    var bin = window.atob(level.b64);
    var buffer = new ArrayBuffer(bin.length), bytes = new Uint8Array(buffer);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    var out = {l: level.l, x0: level.x0, y0: level.y0, nc: level.nc, ne: level.ne};
    level.layout.forEach(function (part) {
      var name = part[0], offset = part[1], width = part[2];
      var n = (name === 'key' || name === 'count') ? level.ne : level.nc;
      out[name] = width === 2 ? new Uint16Array(buffer, offset, n) : new Uint8Array(buffer, offset, n);
    });
    return out;
  }

  Incidents.prototype._initGrid = function () {
    this.levels = this.data.levels.map(decodeLevel);
    this._totals = {};
    this._version = 0;
    this.grid = new GridLayer(this);
  };

  Incidents.prototype._mask = function () {
    var nMonths = this.data.months.length, mask = new Uint8Array(this.data.categories.length * nMonths);
    for (var c = 0; c < this.data.categories.length; c++) {
      if (!this.enabled[c]) { continue; }
      for (var m = 0; m < nMonths; m++) {
        if (this.month < 0 || this.month === m) { mask[c * nMonths + m] = 1; }
      }
    }
    return mask;
  };

  Incidents.prototype._refreshGrid = function () {
    this._version += 1;
    this._totals = {};
    this._currentMask = this._mask();
    if (!this.levels.length) { this.shown = 0; this._showCount(0); return; }
    var coarsest = this.totals(this.levels[0]);
    this.shown = coarsest.total;
    this._showCount(coarsest.total);
    this.grid.redraw();
  };

  Incidents.prototype.levelFor = function (zoom) {
    var want = Math.round(zoom + Math.log(256 / this.data.cellPx) / Math.LN2);
    var levels = this.levels;
    for (var i = levels.length - 1; i >= 0; i--) {
      if (levels[i].l <= want) { return levels[i]; }
    }
    return levels[0];
  };

  /* Totals of the cells of a level under the current filter (cells sorted by row, column). */
  Incidents.prototype.totals = function (level) {
    var cached = this._totals[level.l];
    if (cached) { return cached; }
    var mask = this._currentMask, cx = [], cy = [], ct = [], max = 0, total = 0, e = 0;
    for (var c = 0; c < level.nc; c++) {
      var acc = 0, end = e + level.ce[c];
      for (; e < end; e++) {
        if (mask[level.key[e]]) { acc += level.count[e]; }
      }
      if (acc > 0) {
        cx.push(level.cx[c]); cy.push(level.cy[c]); ct.push(acc);
        if (acc > max) { max = acc; }
        total += acc;
      }
    }
    var out = {x: cx, y: cy, t: ct, max: max, total: total, breaks: this._breaks(ct)};
    this._totals[level.l] = out;
    return out;
  };

  /* Class upper bounds: quantiles of the cell totals (each class about as many cells), as
     whole numbers without repeats; the Python side (maps.incidents._count_breaks) matches. */
  Incidents.prototype._breaks = function (totals) {
    var k = this.data.colors.length, out = [];
    if (!totals.length) { return out; }
    var sorted = totals.slice().sort(function (a, b) { return a - b; }), n = sorted.length;
    for (var j = 1; j <= k; j++) {
      var b = sorted[Math.min(n - 1, Math.ceil(j * n / k) - 1)];
      if (!out.length || b > out[out.length - 1]) { out.push(b); }
    }
    return out;
  };

  Incidents.prototype.classOf = function (count, breaks) {
    for (var j = 0; j < breaks.length; j++) {
      if (count <= breaks[j]) { return j; }
    }
    return breaks.length - 1;
  };

  Incidents.prototype.colorOf = function (j, breaks) {
    var colors = this.data.colors;
    // spread fewer classes over the whole ramp
    var idx = breaks.length <= 1 ? colors.length - 1 :
      Math.round(j * (colors.length - 1) / (breaks.length - 1));
    return colors[idx];
  };

  Incidents.prototype.updateLegend = function (breaks) {
    var el = document.getElementById(this.data.legendId);
    if (!el) { return; }
    var html = '', lo = 1;
    for (var j = 0; j < breaks.length; j++) {
      var label = lo === breaks[j] ? thousands(lo) : thousands(lo) + '–' + thousands(breaks[j]);
      html += '<div class="pingan-legend-row"><i class="pingan-swatch" style="background:' +
        this.colorOf(j, breaks) + '"></i><span>' + label + '</span></div>';
      lo = breaks[j] + 1;
    }
    el.innerHTML = html;
  };

  var GridLayer = L.Layer.extend({
    initialize: function (ctrl) {
      this._ctrl = ctrl;
      this.drawnCells = 0;
    },

    onAdd: function (map) {
      this._map = map;
      // Its own pane under the vector overlays (outlines stay on top) and above tiles; it takes
      // no pointer events, so tooltips of the layers under it keep working.
      var pane = map.getPane('pinganGrid');
      if (!pane) {
        pane = map.createPane('pinganGrid');
        pane.style.zIndex = 350;
        pane.style.pointerEvents = 'none';
      }
      this._canvas = L.DomUtil.create('canvas', 'pingan-grid leaflet-zoom-hide');
      pane.appendChild(this._canvas);
      map.on('moveend', this._reset, this);
      map.on('resize', this._reset, this);
      map.on('click', this._click, this);
      this._reset();
    },

    onRemove: function (map) {
      L.DomUtil.remove(this._canvas);
      map.off('moveend', this._reset, this);
      map.off('resize', this._reset, this);
      map.off('click', this._click, this);
      this._map = null;
    },

    redraw: function () {
      if (this._map) { this._reset(); }
    },

    _reset: function () {
      var map = this._map, size = map.getSize();
      var topLeft = map.containerPointToLayerPoint([0, 0]);
      L.DomUtil.setPosition(this._canvas, topLeft);
      this._canvas.width = size.x;
      this._canvas.height = size.y;
      this._draw(topLeft, size);
    },

    _draw: function (topLeft, size) {
      var ctrl = this._ctrl, map = this._map, zoom = map.getZoom();
      if (!ctrl._currentMask || !ctrl.levels.length) { return; }
      var level = ctrl.levelFor(zoom), totals = ctrl.totals(level), breaks = totals.breaks;
      var ctx = this._canvas.getContext('2d');
      ctx.clearRect(0, 0, size.x, size.y);
      var scale = 256 * Math.pow(2, zoom - level.l);
      var origin = map.getPixelOrigin();
      var ox = origin.x + topLeft.x, oy = origin.y + topLeft.y;
      var xmin = Math.floor(ox / scale) - level.x0 - 1, xmax = Math.ceil((ox + size.x) / scale) - level.x0;
      var ymin = Math.floor(oy / scale) - level.y0 - 1, ymax = Math.ceil((oy + size.y) / scale) - level.y0;
      var side = scale > 6 ? scale - 1 : scale, drawn = 0;
      ctx.globalAlpha = 0.78;
      for (var i = 0; i < totals.x.length; i++) {
        var x = totals.x[i], y = totals.y[i];
        if (x < xmin || x > xmax || y < ymin || y > ymax) { continue; }
        ctx.fillStyle = ctrl.colorOf(ctrl.classOf(totals.t[i], breaks), breaks);
        ctx.fillRect((x + level.x0) * scale - ox, (y + level.y0) * scale - oy, side, side);
        drawn += 1;
      }
      this.drawnCells = drawn;
      this.level = level.l;
      ctrl.updateLegend(breaks);
    },

    _click: function (e) {
      var ctrl = this._ctrl, map = this._map, zoom = map.getZoom();
      if (!ctrl._currentMask || !ctrl.levels.length) { return; }
      var level = ctrl.levelFor(zoom), totals = ctrl.totals(level);
      var scale = 256 * Math.pow(2, zoom - level.l), p = map.project(e.latlng, zoom);
      var x = Math.floor(p.x / scale) - level.x0, y = Math.floor(p.y / scale) - level.y0;
      var lo = 0, hi = totals.x.length - 1, want = y * 65536 + x;
      while (lo <= hi) {
        var mid = (lo + hi) >> 1, have = totals.y[mid] * 65536 + totals.x[mid];
        if (have === want) {
          var side = 40075016.686 * Math.cos(e.latlng.lat * Math.PI / 180) / Math.pow(2, level.l);
          var div = L.DomUtil.create('div', 'pingan-incident');
          L.DomUtil.create('div', '', div).textContent = format(ctrl.text.cellCount, {n: thousands(totals.t[mid])});
          L.DomUtil.create('div', '', div).textContent = format(ctrl.text.cellSize, {m: thousands(Math.round(side))});
          L.popup({className: 'pingan-popup'}).setLatLng(e.latlng).setContent(div).openOn(map);
          return;
        }
        if (have < want) { lo = mid + 1; } else { hi = mid - 1; }
      }
    }
  });
}(window, document, L));
