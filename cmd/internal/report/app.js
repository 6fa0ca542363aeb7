// Draws the report's charts from the JSON in #report-data with Apache
// ECharts, inline in the same page. Every number comes from that JSON;
// this code only says how to draw it. Names reach ECharts as data, which
// it draws as SVG text and escapes in its tooltips.
(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const full = new Intl.NumberFormat('en-US');
  const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  const count = (v) => (typeof v === 'number' ? full.format(v) : '–');
  const charts = [];

  const draw = (id, option) => {
    const c = echarts.init(document.getElementById(id), null, { renderer: 'svg' });
    c.setOption(option);
    charts.push(c);
  };

  const axes = () => ({
    animation: false,
    aria: { enabled: true },
    grid: { left: 56, right: 56, top: 40, bottom: 28 },
    legend: { type: 'scroll', top: 0 },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: count },
    xAxis: { type: 'category', data: data.days },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => compact.format(v) } },
  });

  const bars = (list, stack) => list.map((s) => ({
    name: s.name, type: 'bar', stack, data: s.data, barMaxWidth: 28,
    itemStyle: { color: s.color }, emphasis: { focus: 'series' },
  }));

  for (const s of data.sections) {
    draw(s.id + '-requests', { ...axes(), series: bars(s.requests, 'requests') });

    const t = axes();
    t.yAxis = [t.yAxis, {
      type: 'value', min: 0, splitLine: { show: false },
      axisLabel: { formatter: (v) => v + ' %' },
    }];
    t.series = bars(s.throttled, '429s').concat([{
      name: '429 share', type: 'line', yAxisIndex: 1, symbol: 'none', data: s.share,
      lineStyle: { width: 2, color: '#111827' }, itemStyle: { color: '#111827' },
      tooltip: { valueFormatter: (v) => v.toFixed(2) + ' %' },
    }]);
    draw(s.id + '-throttled', t);

    draw(s.id + '-errors', { ...axes(), series: bars(s.errors, 'errors') });

    s.sparks.forEach((d, i) => draw(s.id + '-spark-' + i, {
      animation: false,
      grid: { left: 1, right: 1, top: 2, bottom: 2 },
      tooltip: { trigger: 'axis', valueFormatter: count, confine: true },
      xAxis: { type: 'category', show: false, boundaryGap: false, data: data.days },
      yAxis: { type: 'value', show: false, min: 0 },
      series: [{
        name: 'requests', type: 'line', data: d, symbol: 'none',
        lineStyle: { width: 1.2, color: '#5470c6' }, areaStyle: { color: '#5470c6', opacity: 0.15 },
      }],
    }));
  }

  window.addEventListener('resize', () => charts.forEach((c) => c.resize()));
  document.documentElement.dataset.ready = 'true';
})();
