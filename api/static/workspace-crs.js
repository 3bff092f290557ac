/* pingan map workspace: the basemap and the coordinates the map is drawn in.
 *
 * Every layer pingan serves is WGS84 (EPSG:4326). An operator's tiles (config.basemap.tile_url)
 * may be drawn in GCJ-02 (maps.tiles_crs = "gcj02", as most Chinese web tiles are); raster
 * tiles cannot be shifted, so every vector layer is shifted to GCJ-02 for display instead.
 * That happens in one place: install() makes wgsToGcj the default coordsToLatLng of every
 * L.geoJSON layer the page draws (API layers, outlines, communities, roads, plan sites), and
 * toDisplay() is the same shift for a single point (markers). Without GCJ-02 tiles (no tiles,
 * or WGS84 tiles) nothing is shifted. BD-09 (Baidu) tiling is out of scope: the server refuses
 * maps.tiles_crs = "bd09" at start-up.
 *
 * Anything sent back to the server (a clicked point, a candidate site, a drawn area, a bbox)
 * must be WGS84 again: toServer(latlng) undoes the shift (gcjToWgs when it is on), or read the
 * feature's own GeoJSON coordinates, which are never shifted.
 *
 * wgsToGcj is the published GCJ-02 forward formula as geo/china.py computes it (identity
 * outside China's rectangle); gcjToWgs inverts it by fixed-point iteration to under a
 * millimetre, as geo.china.gcj02_to_wgs84 does. Pure functions; tested in headless Chromium
 * against geo.china through window.PinganCrs.
 */
(function (root) {
  'use strict';

  var A = 6378245.0;
  var EE = 0.00669342162296594323;
  var WEST = 72.004;
  var SOUTH = 0.8293;
  var EAST = 137.8347;
  var NORTH = 55.8271;
  var shift = false;

  function outOfChina(lon, lat) {
    return !(lon >= WEST && lon <= EAST && lat >= SOUTH && lat <= NORTH);
  }

  /* The GCJ-02 offset in degrees at a WGS84 point (geo.china._gcj_offset). */
  function offset(lon, lat) {
    var x = lon - 105.0;
    var y = lat - 35.0;
    var pi = Math.PI;
    var common = (20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0 / 3.0;
    var northM = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
      + 0.2 * Math.sqrt(Math.abs(x)) + common
      + (20.0 * Math.sin(y * pi) + 40.0 * Math.sin(y / 3.0 * pi)) * 2.0 / 3.0
      + (160.0 * Math.sin(y / 12.0 * pi) + 320.0 * Math.sin(y * pi / 30.0)) * 2.0 / 3.0;
    var eastM = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y
      + 0.1 * Math.sqrt(Math.abs(x)) + common
      + (20.0 * Math.sin(x * pi) + 40.0 * Math.sin(x / 3.0 * pi)) * 2.0 / 3.0
      + (150.0 * Math.sin(x / 12.0 * pi) + 300.0 * Math.sin(x / 30.0 * pi)) * 2.0 / 3.0;
    var phi = lat * pi / 180.0;
    var w = 1.0 - EE * Math.sin(phi) * Math.sin(phi);
    var sqrtW = Math.sqrt(w);
    return [eastM * 180.0 / (A / sqrtW * Math.cos(phi) * pi),
            northM * 180.0 / ((A * (1.0 - EE)) / (w * sqrtW) * pi)];
  }

  /* WGS84 [lon, lat] to GCJ-02 [lon, lat]. */
  function wgsToGcj(lon, lat) {
    if (outOfChina(lon, lat)) { return [lon, lat]; }
    var d = offset(lon, lat);
    return [lon + d[0], lat + d[1]];
  }

  /* GCJ-02 [lon, lat] to WGS84 [lon, lat]: iterate until the forward formula meets the point
   * (1e-9 degrees is about 0.1 mm). */
  function gcjToWgs(lon, lat) {
    if (outOfChina(lon, lat)) { return [lon, lat]; }
    var g = wgsToGcj(lon, lat);
    var x = 2 * lon - g[0];
    var y = 2 * lat - g[1];
    for (var i = 0; i < 30; i += 1) {
      g = wgsToGcj(x, y);
      var dx = lon - g[0];
      var dy = lat - g[1];
      x += dx;
      y += dy;
      if (Math.abs(dx) < 1e-9 && Math.abs(dy) < 1e-9) { break; }
    }
    return [x, y];
  }

  /* A WGS84 [lon, lat] as the map draws it (a Leaflet LatLng). */
  function toDisplay(lon, lat) {
    var p = shift ? wgsToGcj(lon, lat) : [lon, lat];
    return root.L.latLng(p[1], p[0]);
  }

  /* A point on the map (a Leaflet LatLng) as WGS84 {lon, lat}, for the server. */
  function toServer(latlng) {
    var p = shift ? gcjToWgs(latlng.lng, latlng.lat) : [latlng.lng, latlng.lat];
    return { lon: p[0], lat: p[1] };
  }

  /* Shift every GeoJSON layer drawn from now on when the tiles are GCJ-02. */
  function install(basemap) {
    shift = Boolean(basemap && basemap.shift_gcj02);
    if (shift) {
      root.L.GeoJSON.mergeOptions({
        coordsToLatLng: function (c) { return toDisplay(c[0], c[1]); }
      });
    }
    return shift;
  }

  /* The operator's tiles, when configured, under every layer. */
  function addBasemap(map, basemap) {
    if (!basemap || !basemap.tile_url) { return null; }
    map.getContainer().classList.add('ws-tiles');
    return root.L.tileLayer(basemap.tile_url, {
      attribution: basemap.attribution || '', maxZoom: 19
    }).addTo(map);
  }

  var config = document.getElementById('ws-config');
  var basemap = config ? JSON.parse(config.textContent).basemap : null;
  install(basemap);

  root.PinganCrs = {
    wgsToGcj: wgsToGcj, gcjToWgs: gcjToWgs, toDisplay: toDisplay, toServer: toServer,
    addBasemap: addBasemap, shifted: function () { return shift; }
  };
})(window);
