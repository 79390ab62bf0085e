/** A line chart as a hand-written SVG: a few series over a shared x axis, no dependency. */
export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

export interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
}

const WIDTH = 900;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 70, right: 170, top: 30, bottom: 40 };

/** Panels stacked vertically, each with its own y scale, sharing the x range. */
export function lineChart(title: string, panels: readonly Panel[], xLabel: string): string {
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.points));
  const xMax = Math.max(...all.map(([x]) => x));
  const height = panels.length * PANEL_HEIGHT;
  const body = panels.map((panel, i) => drawPanel(panel, i * PANEL_HEIGHT, xMax, xLabel));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function drawPanel(panel: Panel, top: number, xMax: number, xLabel: string): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const yMax = niceCeiling(Math.max(1, ...panel.series.flatMap((s) => s.points.map(([, y]) => y))));
  const x = (v: number): number => MARGIN.left + (v / xMax) * plotW;
  const y = (v: number): number => top + MARGIN.top + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const parts = [
    `<text x="${MARGIN.left}" y="${top + 18}" font-weight="bold">${escapeXml(panel.title)}</text>`,
    `<rect x="${MARGIN.left}" y="${top + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = (yMax * i) / 4;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(value)}" y2="${y(value)}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end">${Math.round(value)}</text>`,
    );
  }
  for (let i = 0; i <= 6; i++) {
    const value = (xMax * i) / 6;
    parts.push(
      `<text x="${x(value)}" y="${top + MARGIN.top + plotH + 16}" text-anchor="middle">${Math.round(value)}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${top + PANEL_HEIGHT - 6}" text-anchor="middle">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(16 ${top + MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.yLabel)}</text>`,
  );
  panel.series.forEach((series, i) => {
    const path = series.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    const dash = series.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(
      `<polyline points="${path.join(' ')}" fill="none" stroke="${series.color}" stroke-width="1.5"${dash}/>`,
      `<line x1="${WIDTH - MARGIN.right + 12}" x2="${WIDTH - MARGIN.right + 32}" y1="${top + MARGIN.top + 10 + i * 18}" y2="${top + MARGIN.top + 10 + i * 18}" stroke="${series.color}" stroke-width="2"${dash}/>`,
      `<text x="${WIDTH - MARGIN.right + 38}" y="${top + MARGIN.top + 14 + i * 18}">${escapeXml(series.label)}</text>`,
    );
  });
  return parts.join('\n');
}

/** 1, 2 or 5 times a power of ten, at or above `value`. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((m) => m * power >= value) ?? 10) * power;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
