// The chart page: candles (or a line for quote-only series) with volume, the anomaly events the
// API returns marked on their peak candle, and the per-candle score as a band underneath.
// Everything it shows comes from the public JSON API; the links in the header are the same
// requests. The page records what it drew in data- attributes of #chart, which the browser
// tests compare with the API's answers.
(function () {
  "use strict";
  var LWC = window.LightweightCharts;
  var RANGES = { "1d": 1, "7d": 7, "30d": 30, "90d": 90, "365d": 365 };
  var DEFAULT_RANGE = "7d";
  var MAX_CANDLES = 5000;
  var PAGE = 1000;
  var SEVERITY_COLOURS = { low: "#d4a72c", medium: "#e16f24", high: "#cf222e", critical: "#8250df" };
  var SEVERITY_RANK = { low: 1, medium: 2, high: 3, critical: 4 };

  var el = function (id) { return document.getElementById(id); };
  var chartEl = el("chart");
  var tooltip = el("tooltip");
  var chart = null;
  var view = { symbol: null, range: DEFAULT_RANGE, events: [], scores: new Map(), loadId: 0 };

  function setStatus(state, text) {
    document.body.dataset.state = state;
    el("status").textContent = text;
  }

  function fromLocation() {
    var match = /^\/chart\/([^/]+)\/?$/.exec(location.pathname);
    // Case-insensitive, as the buttons read "7D"; only RANGES' own keys (not "toString").
    var range = (new URLSearchParams(location.search).get("range") || "").toLowerCase();
    return {
      symbol: match ? decodeURIComponent(match[1]).toUpperCase() : null,
      range: Object.prototype.hasOwnProperty.call(RANGES, range) ? range : DEFAULT_RANGE,
    };
  }

  async function getJson(url) {
    var response = await fetch(url, { headers: { accept: "application/json" } });
    var body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      var reason = body && body.error ? body.error.message : "HTTP " + response.status;
      throw new Error(reason);
    }
    return body;
  }

  // Follows next_cursor until `max` items or the last page.
  async function pages(url, key, max) {
    var items = [];
    var cursor = null;
    do {
      var page = await getJson(url + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      items = items.concat(page[key]);
      cursor = page.next_cursor;
    } while (cursor && items.length < max);
    return items.slice(0, max);
  }

  function seconds(time) { return Math.floor(Date.parse(time) / 1000); }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function updateLinks(symbol, range) {
    var days = RANGES[range];
    var s = encodeURIComponent(symbol);
    var history = "/v1/prices/" + s + "/history?days=" + days + "&limit=" + PAGE;
    el("link-json").href = history;
    el("link-csv").href = history + "&format=csv";
    el("link-scores").href = "/v1/prices/" + s + "/scores?days=" + days + "&limit=" + PAGE;
    el("link-anomalies").href = "/v1/anomalies?symbol=" + s + "&days=" + days + "&limit=" + PAGE;
    document.querySelectorAll("#ranges button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.range === range));
    });
    document.title = symbol + " · tickwatch";
  }

  function newChart() {
    if (chart) { chart.remove(); }
    chart = LWC.createChart(chartEl, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#1f2328", attributionLogo: true },
      grid: { vertLines: { color: "#f0f2f4" }, horzLines: { color: "#f0f2f4" } },
      timeScale: { timeVisible: true, secondsVisible: false },
      rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.25 } },
    });
    chart.subscribeCrosshairMove(showEvidence);
    return chart;
  }

  function draw(candles, events, scores) {
    var ascending = candles.slice().reverse();
    var quoteOnly = ascending.every(function (c) { return c.volume === null; });
    newChart();
    var price;
    if (quoteOnly) {
      price = chart.addSeries(LWC.LineSeries, { color: "#0969da", lineWidth: 2 });
      price.setData(ascending.map(function (c) { return { time: seconds(c.open_time), value: Number(c.close) }; }));
    } else {
      price = chart.addSeries(LWC.CandlestickSeries, {
        upColor: "#1a7f37", downColor: "#cf222e", borderVisible: false,
        wickUpColor: "#1a7f37", wickDownColor: "#cf222e",
      });
      price.setData(ascending.map(function (c) {
        return { time: seconds(c.open_time), open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
      }));
      var volume = chart.addSeries(LWC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "volume" });
      chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
      volume.setData(ascending.filter(function (c) { return c.volume !== null; }).map(function (c) {
        var up = Number(c.close) >= Number(c.open);
        return { time: seconds(c.open_time), value: Number(c.volume), color: up ? "rgba(26,127,55,0.35)" : "rgba(207,34,46,0.35)" };
      }));
    }

    var times = new Set(ascending.map(function (c) { return seconds(c.open_time); }));
    var markers = events
      .filter(function (e) { return times.has(seconds(e.peak_time)); })
      .sort(function (a, b) { return seconds(a.peak_time) - seconds(b.peak_time); })
      .map(function (e) {
        return {
          time: seconds(e.peak_time), position: "aboveBar", shape: "arrowDown",
          color: SEVERITY_COLOURS[e.severity] || "#57606a", text: e.severity, id: String(e.id),
        };
      });
    LWC.createSeriesMarkers(price, markers);

    var band = chart.addSeries(LWC.HistogramSeries, {
      priceFormat: { type: "price", precision: 2, minMove: 0.01 }, lastValueVisible: false, priceLineVisible: false,
    }, 1);
    band.setData(scores.filter(function (s) { return s.score !== null && times.has(seconds(s.open_time)); })
      .map(function (s) {
        return { time: seconds(s.open_time), value: s.score, color: s.severity ? SEVERITY_COLOURS[s.severity] : "rgba(87,96,106,0.45)" };
      })
      .sort(function (a, b) { return a.time - b.time; }));
    var panes = chart.panes();
    if (panes.length > 1) { panes[0].setStretchFactor(4); panes[1].setStretchFactor(1); }
    chart.timeScale().fitContent();

    chartEl.dataset.candles = String(ascending.length);
    chartEl.dataset.markers = String(markers.length);
    chartEl.dataset.markerIds = markers.map(function (m) { return m.id; }).join(",");
    chartEl.dataset.scores = String(band.data().length);
    chartEl.dataset.series = quoteOnly ? "line" : "candlestick";
    chartEl.dataset.symbol = view.symbol;
  }

  function eventAt(time) {
    var best = null;
    view.events.forEach(function (e) {
      if (time >= seconds(e.start_time) && time <= seconds(e.end_time)) {
        if (!best || SEVERITY_RANK[e.severity] > SEVERITY_RANK[best.severity]) { best = e; }
      }
    });
    return best;
  }

  function evidenceRows(object) {
    return Object.keys(object || {}).map(function (key) {
      var value = object[key];
      var shown = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
      if (shown.length > 120) { shown = shown.slice(0, 117) + "…"; }
      return "<tr><td>" + escapeHtml(key) + "</td><td>" + escapeHtml(shown) + "</td></tr>";
    }).join("");
  }

  function showEvidence(param) {
    if (!param || param.time === undefined || !param.point) { tooltip.hidden = true; return; }
    var event = eventAt(param.time);
    var score = view.scores.get(param.time);
    if (!event && !(score && score.severity)) { tooltip.hidden = true; return; }
    var html = "";
    if (event) {
      html += "<h4>" + escapeHtml(event.severity) + " " + escapeHtml(event.kind) + " · score " + event.score.toFixed(3) + "</h4>" +
        "<div>" + escapeHtml(event.start_time) + " → " + escapeHtml(event.end_time) + " (" + event.candles + " candles)</div>" +
        "<div>methods: " + escapeHtml(event.methods.join(", ")) + "</div>" +
        "<table>" + evidenceRows(event.details) + "</table>";
    }
    if (score) {
      var readings = {};
      Object.keys(score.readings).forEach(function (m) {
        var r = score.readings[m];
        readings[m] = "statistic " + r.statistic.toFixed(2) + ", p " + r.p.toPrecision(2);
      });
      html += "<h4>this candle · score " + (score.score === null ? "–" : score.score.toFixed(3)) + "</h4><table>" + evidenceRows(readings) + "</table>";
    }
    tooltip.innerHTML = html;
    tooltip.hidden = false;
    var x = Math.min(param.point.x + 24, chartEl.clientWidth - 390);
    tooltip.style.left = Math.max(0, x) + "px";
    tooltip.style.top = (param.point.y + 40) + "px";
  }

  async function load(symbol, range) {
    var id = ++view.loadId;
    view.symbol = symbol;
    view.range = range;
    el("symbol").value = symbol;
    updateLinks(symbol, range);
    setStatus("loading", "Loading " + symbol + "…");
    var days = RANGES[range];
    var s = encodeURIComponent(symbol);
    try {
      var results = await Promise.all([
        pages("/v1/prices/" + s + "/history?days=" + days + "&limit=" + PAGE, "candles", MAX_CANDLES),
        pages("/v1/anomalies?symbol=" + s + "&days=" + (days + 1) + "&limit=" + PAGE, "anomalies", 5000),
        pages("/v1/prices/" + s + "/scores?days=" + days + "&limit=" + PAGE, "scores", MAX_CANDLES),
      ]);
      if (id !== view.loadId) { return; }
      var candles = results[0];
      view.events = results[1];
      view.scores = new Map(results[2].map(function (sc) { return [seconds(sc.open_time), sc]; }));
      draw(candles, view.events, results[2]);
      var note = candles.length >= MAX_CANDLES ? " (the newest " + MAX_CANDLES + ")" : "";
      setStatus("ready", symbol + ": " + candles.length + " candles" + note + ", " + chartEl.dataset.markers + " anomaly events");
    } catch (error) {
      if (id !== view.loadId) { return; }
      setStatus("error", symbol + ": " + error.message);
    }
  }

  function navigate(symbol, range) {
    var url = "/chart/" + encodeURIComponent(symbol) + (range === DEFAULT_RANGE ? "" : "?range=" + range);
    history.pushState(null, "", url);
    load(symbol, range);
  }

  async function start() {
    var wanted = fromLocation();
    var symbols;
    try {
      symbols = (await getJson("/v1/symbols")).symbols;
    } catch (error) {
      setStatus("error", "The watch list could not be read: " + error.message);
      return;
    }
    var select = el("symbol");
    symbols.forEach(function (w) {
      var option = document.createElement("option");
      option.value = w.symbol;
      option.textContent = w.symbol + " (" + w.interval + ")";
      select.appendChild(option);
    });
    var symbol = wanted.symbol || (symbols[0] && symbols[0].symbol);
    if (!symbol) { setStatus("error", "The watch list is empty: add a symbol with PUT /v1/symbols/{symbol}."); return; }
    if (!symbols.some(function (w) { return w.symbol === symbol; })) {
      var extra = document.createElement("option");
      extra.value = symbol;
      extra.textContent = symbol;
      select.appendChild(extra);
    }
    select.addEventListener("change", function () { navigate(select.value, view.range); });
    document.querySelectorAll("#ranges button").forEach(function (b) {
      b.addEventListener("click", function () { navigate(view.symbol, b.dataset.range); });
    });
    window.addEventListener("popstate", function () {
      var next = fromLocation();
      load(next.symbol || symbol, next.range);
    });
    load(symbol, wanted.range);
  }

  start();
})();
