/* pingan map workspace: the selection, its URL form and the API requests it makes.
 *
 * Pure functions, no DOM and no network (tested in headless Chromium through
 * window.PinganState). A selection ("state") is:
 *   layers      visible layer names (those the page's configuration offers)
 *   from, to    local days YYYY-MM-DD (inclusive)
 *   step        the time slider's step: day/week/month (raw readers) or month/quarter/year
 *               (planner, client: the window is always one whole step)
 *   categories  category names (a protected caller: one category group at most)
 *   district, subdistrict   codes offered by the configuration ('' for the whole jurisdiction)
 *   hours, weekdays         hour-of-day 0-23 and weekday 0 (Monday)-6 filters (raw readers)
 *   type        facility type of the coverage and gap layers
 *   cell        grid cell in metres of the grid layers
 *   community   a community to show (zoomed to and outlined; '' for none)
 * The URL holds exactly the state (parse(serialise(s)) equals s), so a link restores it.
 */
(function (root) {
  'use strict';

  var DAY_MS = 86400000;
  var ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

  function toDate(text) {
    var m = ISO_DAY.exec(text || '');
    if (!m) { return null; }
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return d.getUTCDate() === +m[3] && d.getUTCMonth() === +m[2] - 1 ? d : null;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function toText(d) {
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
  }

  function addDays(text, n) { return toText(new Date(toDate(text).getTime() + n * DAY_MS)); }

  function monthsOf(step) { return { month: 1, quarter: 3, year: 12 }[step] || 0; }

  /* The first day of the step holding a day (weeks start on Monday). */
  function stepStart(text, step) {
    var d = toDate(text);
    if (step === 'day') { return text; }
    if (step === 'week') { return addDays(text, -((d.getUTCDay() + 6) % 7)); }
    var months = monthsOf(step);
    var month = Math.floor(d.getUTCMonth() / months) * months;
    return toText(new Date(Date.UTC(d.getUTCFullYear(), month, 1)));
  }

  /* The day n steps after a step's first day. */
  function addSteps(text, step, n) {
    if (step === 'day') { return addDays(text, n); }
    if (step === 'week') { return addDays(text, 7 * n); }
    var d = toDate(text);
    return toText(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n * monthsOf(step),
                                    d.getUTCDate())));
  }

  function stepEnd(text, step) { return addDays(addSteps(stepStart(text, step), step, 1), -1); }

  function intList(text, lo, hi) {
    var out = [];
    (text || '').split(',').forEach(function (v) {
      if (!/^\d{1,2}$/.test(v)) { return; }
      var n = parseInt(v, 10);
      if (n >= lo && n <= hi && out.indexOf(n) < 0) { out.push(n); }
    });
    return out.sort(function (a, b) { return a - b; });
  }

  function codes(list) { return list.map(function (p) { return p.code; }); }

  function defaults(config) {
    var step = config.time.default_step;
    var from = stepStart(config.time.last, step);
    return {
      layers: config.layers.indexOf('rates') >= 0 ? ['rates'] : config.layers.slice(0, 1),
      from: from, to: stepEnd(from, step), step: step, categories: [], district: '',
      subdistrict: '', hours: [], weekdays: [],
      type: config.facility_types.length ? config.facility_types[0] : '',
      cell: config.cell_sizes_m.length ? config.cell_sizes_m[0] : 250, community: ''
    };
  }

  /* Bring a state inside what the configuration offers (the release rules' closed space for a
   * protected caller: one whole step, no hours, one category group). */
  function normalise(state, config) {
    var s = JSON.parse(JSON.stringify(state));
    var base = defaults(config);
    s.layers = s.layers.filter(function (l) { return config.layers.indexOf(l) >= 0; });
    if (config.time.steps.indexOf(s.step) < 0) { s.step = base.step; }
    if (!toDate(s.from)) { s.from = base.from; }
    if (!toDate(s.to) || s.to < s.from) { s.to = stepEnd(s.from, s.step); }
    s.categories = s.categories.filter(function (c) {
      return config.categories.names.indexOf(c) >= 0;
    });
    if (!config.categories.multiple) { s.categories = s.categories.slice(0, 1); }
    if (codes(config.districts).indexOf(s.district) < 0) { s.district = ''; }
    if (codes(config.subdistricts).indexOf(s.subdistrict) < 0) { s.subdistrict = ''; }
    if (config.facility_types.indexOf(s.type) < 0) { s.type = base.type; }
    s.community = /^[^\s,]{1,64}$/.test(s.community || '') ? s.community : '';
    if (config.cell_sizes_m.indexOf(s.cell) < 0) { s.cell = base.cell; }
    if (config.protected) {
      s.from = stepStart(s.from, s.step);
      s.to = stepEnd(s.from, s.step);
    }
    if (!config.time.hours) { s.hours = []; s.weekdays = []; }
    return s;
  }

  /* The days and step of a period label as the API writes it (2025, 2025-Q2, 2025-06,
   * 2025-W22, 2025-03-01..2025-03-31): landing-page links name periods so. */
  function periodRange(label, config) {
    var m;
    var fine = function (step) { return config.time.steps.indexOf(step) >= 0 ? step : 'month'; };
    if (/^\d{4}$/.test(label)) {
      return { from: label + '-01-01', to: label + '-12-31', step: fine('year') };
    }
    if ((m = /^(\d{4})-Q([1-4])$/.exec(label))) {
      var first = label.slice(0, 4) + '-' + pad(3 * m[2] - 2) + '-01';
      return { from: first, to: stepEnd(first, 'quarter'), step: fine('quarter') };
    }
    if (/^\d{4}-\d{2}$/.test(label) && toDate(label + '-01')) {
      return { from: label + '-01', to: stepEnd(label + '-01', 'month'), step: 'month' };
    }
    if ((m = /^(\d{4})-W(\d{2})$/.exec(label))) {
      var jan4 = m[1] + '-01-04';
      var monday = addDays(stepStart(jan4, 'week'), 7 * (parseInt(m[2], 10) - 1));
      return { from: monday, to: addDays(monday, 6), step: fine('week') };
    }
    if ((m = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(label))) {
      return { from: m[1], to: m[2], step: 'day' };
    }
    return null;
  }

  function parse(search, config) {
    var q = new URLSearchParams(search);
    var base = defaults(config);
    var s = {
      layers: q.has('layers') ? q.get('layers').split(',').filter(Boolean) : base.layers,
      from: q.get('from') || base.from, to: q.get('to') || '',
      step: q.get('step') || base.step, categories: q.getAll('category'),
      district: q.get('district') || '', subdistrict: q.get('subdistrict') || '',
      hours: intList(q.get('hours'), 0, 23), weekdays: intList(q.get('weekdays'), 0, 6),
      type: q.get('type') || base.type,
      cell: q.has('cell') ? parseFloat(q.get('cell')) : base.cell,
      community: q.get('community') || ''
    };
    var named = !q.has('from') && q.has('period') ? periodRange(q.get('period'), config) : null;
    if (named) {
      s.from = named.from;
      s.to = named.to;
      s.step = q.get('step') || named.step;
    } else if (!q.has('from') && !q.has('to')) {
      s.to = base.to;
    }
    return normalise(s, config);
  }

  function serialise(state, config) {
    var s = normalise(state, config);
    var q = new URLSearchParams();
    q.set('layers', s.layers.join(','));
    q.set('from', s.from);
    q.set('to', s.to);
    q.set('step', s.step);
    s.categories.forEach(function (c) { q.append('category', c); });
    if (s.district) { q.set('district', s.district); }
    if (s.subdistrict) { q.set('subdistrict', s.subdistrict); }
    if (s.hours.length) { q.set('hours', s.hours.join(',')); }
    if (s.weekdays.length) { q.set('weekdays', s.weekdays.join(',')); }
    if (s.type) { q.set('type', s.type); }
    q.set('cell', String(s.cell));
    if (s.community) { q.set('community', s.community); }
    return '?' + q.toString();
  }

  /* The API's period of the selection: a day range, or a protected caller's whole step. */
  function period(state, config) {
    var s = normalise(state, config);
    if (!config.protected) { return s.from + '..' + s.to; }
    var year = s.from.slice(0, 4);
    if (s.step === 'year') { return year; }
    if (s.step === 'quarter') { return year + '-Q' + (Math.floor((+s.from.slice(5, 7) - 1) / 3) + 1); }
    return s.from.slice(0, 7);
  }

  /* The slider: positions are the steps from the first data day's step to the last's. */
  function sliderMax(state, config) {
    var n = 0;
    var day = stepStart(config.time.first, state.step);
    while (day <= config.time.last && n < 5000) { day = addSteps(day, state.step, 1); n += 1; }
    return Math.max(n - 1, 0);
  }

  function sliderIndex(state, config) {
    var n = 0;
    var day = stepStart(config.time.first, state.step);
    var target = stepStart(state.from, state.step);
    while (day < target && n < 5000) { day = addSteps(day, state.step, 1); n += 1; }
    return n;
  }

  /* The state whose window is the slider's position i: one whole step. */
  function atSlider(state, i, config) {
    var s = JSON.parse(JSON.stringify(state));
    s.from = addSteps(stepStart(config.time.first, state.step), state.step, i);
    s.to = stepEnd(s.from, s.step);
    return normalise(s, config);
  }

  function placeParams(s, q) {
    if (s.subdistrict) { q.set('subdistrict', s.subdistrict); } else if (s.district) {
      q.set('district', s.district);
    }
  }

  var ROUTES = {
    incidents: ['/api/v1/incidents', { limit: '10000' }],
    rates: ['/api/v1/rates', {}],
    hotspots: ['/api/v1/hotspots', { on: 'rate' }],
    hotspots_grid: ['/api/v1/hotspots', { on: 'grid' }],
    emerging: ['/api/v1/emerging', {}],
    kde: ['/api/v1/kde', {}],
    alerts: ['/api/v1/alerts', {}],
    zones: ['/api/v1/near-repeat/zones', {}],
    protection: ['/api/v1/protection', {}],
    coverage: ['/api/v1/coverage', {}],
    gaps: ['/api/v1/gaps', {}],
    standard: ['/api/v1/standard', {}]
  };
  var NO_CATEGORY = ['protection', 'coverage', 'gaps', 'standard'];
  var YEARLY = ['emerging', 'standard'];  // a space-time cube and the yearly assessment
  var AS_OF = ['alerts', 'zones'];

  /* The JSON API request of one layer for a selection (GeoJSON). */
  function layerUrl(layer, state, config) {
    var s = normalise(state, config);
    var route = ROUTES[layer];
    var q = new URLSearchParams({ format: 'geojson' });
    Object.keys(route[1]).forEach(function (k) { q.set(k, route[1][k]); });
    if (YEARLY.indexOf(layer) >= 0) {
      q.set('period', s.to.slice(0, 4));
    } else if (layer !== 'alerts') {
      q.set('period', period(s, config));
    }
    if (AS_OF.indexOf(layer) >= 0) {
      q.set('as_of', s.to < config.time.last ? s.to : config.time.last);
    }
    if (layer === 'hotspots_grid' || layer === 'emerging') { q.set('cell_m', String(s.cell)); }
    if (layer === 'coverage' || layer === 'gaps') { q.set('type', s.type); }
    if (NO_CATEGORY.indexOf(layer) < 0) {
      s.categories.forEach(function (c) { q.append('category', c); });
    }
    placeParams(s, q);
    return route[0] + '?' + q.toString();
  }

  /* A layer's export: the same request in another format (csv, geojson). */
  function exportUrl(layer, state, config, format) {
    var url = layerUrl(layer, state, config);
    var q = new URLSearchParams(url.slice(url.indexOf('?') + 1));
    q.set('format', format);
    return url.slice(0, url.indexOf('?')) + '?' + q.toString();
  }

  var MAP_KINDS = { incidents: ['incidents', {}], rates: ['rates', {}],
                    hotspots: ['hotspots', { on: 'rate' }], hotspots_grid: ['hotspots', { on: 'grid' }],
                    emerging: ['emerging', {}], kde: ['kde', {}], alerts: ['alerts', {}],
                    zones: ['near-repeat', {}], protection: ['protection', {}],
                    coverage: ['coverage', {}], gaps: ['coverage', {}], standard: ['standard', {}] };

  /* The picture of a layer's map page (/maps/{kind}?format=png), drawn on the server. */
  function pngUrl(layer, state, config, lang) {
    var s = normalise(state, config);
    var kind = MAP_KINDS[layer];
    var q = new URLSearchParams({ format: 'png' });
    Object.keys(kind[1]).forEach(function (k) { q.set(k, kind[1][k]); });
    q.set('period', YEARLY.indexOf(layer) >= 0 ? s.to.slice(0, 4) : period(s, config));
    if (layer === 'coverage' || layer === 'gaps') { q.set('type', s.type); }
    if (NO_CATEGORY.indexOf(layer) < 0) {
      s.categories.forEach(function (c) { q.append('category', c); });
    }
    placeParams(s, q);
    if (lang) { q.set('lang', lang); }
    return '/maps/' + kind[0] + '?' + q.toString();
  }

  /* The ISO week label (2025-W09) of a Monday. */
  function isoWeek(monday) {
    var thursday = addDays(monday, 3);
    var jan1 = toDate(thursday.slice(0, 4) + '-01-01');
    var n = Math.floor((toDate(thursday).getTime() - jan1.getTime()) / (7 * DAY_MS)) + 1;
    return thursday.slice(0, 4) + '-W' + pad(n);
  }

  /* The briefing's period of a selection (a whole year, quarter, month or ISO week), or null. */
  function briefingPeriod(state, config) {
    var s = normalise(state, config);
    var whole = function (step) {
      return s.from === stepStart(s.from, step) && s.to === stepEnd(s.from, step);
    };
    if (whole('year')) { return s.from.slice(0, 4); }
    if (whole('quarter')) { return s.from.slice(0, 4) + '-Q' + ((+s.from.slice(5, 7) + 2) / 3); }
    if (whole('month')) { return s.from.slice(0, 7); }
    if (whole('week') && !config.protected) { return isoWeek(s.from); }
    return null;
  }

  /* The briefing (PDF) of a selection's period and place, or null when the period is none of
   * a briefing's. */
  function briefingUrl(state, config, lang) {
    var label = briefingPeriod(state, config);
    if (!label) { return null; }
    var s = normalise(state, config);
    var q = new URLSearchParams({ period: label });
    placeParams(s, q);
    q.set('format', 'pdf');
    if (lang) { q.set('lang', lang); }
    return '/api/v1/briefings?' + q.toString();
  }

  /* Whether an incident (GeoJSON properties) passes the hour and weekday filters; its
   * occurred_at carries the configured zone's offset, so its clock time is the local one. */
  function keepIncident(props, state) {
    var t = props.occurred_at || '';
    if (state.hours.length && state.hours.indexOf(parseInt(t.slice(11, 13), 10)) < 0) {
      return false;
    }
    if (state.weekdays.length) {
      var d = toDate(t.slice(0, 10));
      if (!d || state.weekdays.indexOf((d.getUTCDay() + 6) % 7) < 0) { return false; }
    }
    return true;
  }

  root.PinganState = {
    defaults: defaults, normalise: normalise, parse: parse, serialise: serialise,
    period: period, periodRange: periodRange, sliderMax: sliderMax, sliderIndex: sliderIndex,
    atSlider: atSlider,
    layerUrl: layerUrl, exportUrl: exportUrl, pngUrl: pngUrl, briefingPeriod: briefingPeriod,
    briefingUrl: briefingUrl, keepIncident: keepIncident, stepStart: stepStart, stepEnd: stepEnd,
    addSteps: addSteps
  };
})(window);
