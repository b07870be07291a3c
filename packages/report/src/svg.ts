import { esc, compact, formatNumber } from './text.js';

export interface Series {
  name: string;
  color: string;
  values: number[];
  /** As lines: the first series is a filled area, later ones are lines over it, a dashed one on top of a solid one it may cover. */
  dashed?: boolean;
}

/** A step of 1, 2 or 5 times a power of ten that cuts [0, max] into about `count` parts. */
export function niceStep(max: number, count = 5): number {
  if (max <= 0) return 1;
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  return Math.max(1, step);
}

const W = 960;
const H = 280;
const M = { top: 16, right: 16, bottom: 44, left: 64 };

/**
 * Events over time with labelled axes: grouped bars while there are few enough slots to read one
 * by one, lines beyond that. Each slot keeps a `<title>` so hovering names its figures.
 */
export function timeChart(labels: readonly string[], series: readonly Series[], caption: string): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const n = Math.max(1, labels.length);
  const slot = plotW / n;
  const parts: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${M.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(compact(v))}</text>`);
  }
  const every = Math.max(1, Math.ceil(n / 8));
  for (let i = 0; i < labels.length; i += every) {
    const x = M.left + slot * (i + 0.5);
    parts.push(`<text class="tick" x="${x.toFixed(1)}" y="${H - M.bottom + 18}" text-anchor="middle">${esc(labels[i]!)}</text>`);
  }
  if (labels.length <= 62) {
    // Bars no wider than 48 px: a chart of three days still reads as a chart.
    const group = Math.min(slot * 0.8, 48 * series.length);
    const inner = group / Math.max(1, series.length);
    labels.forEach((label, i) => {
      const x0 = M.left + slot * i + (slot - group) / 2;
      const title = `${label}: ${series.map((s) => `${s.name} ${formatNumber(s.values[i] ?? 0)}`).join(', ')}`;
      parts.push(`<g><title>${esc(title)}</title>`);
      series.forEach((s, k) => {
        const v = s.values[i] ?? 0;
        const h = Math.max(0, y(0) - y(v));
        parts.push(`<rect x="${(x0 + inner * k).toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(1, inner - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color}"/>`);
      });
      parts.push('</g>');
    });
  } else {
    series.forEach((s, k) => {
      const pts = s.values.map((v, i) => `${(M.left + slot * (i + 0.5)).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      if (k === 0) {
        const base = `${(M.left + slot * 0.5).toFixed(1)},${y(0)} ${pts} ${(M.left + slot * (s.values.length - 0.5)).toFixed(1)},${y(0)}`;
        parts.push(`<polygon fill="${s.color}" fill-opacity="0.18" stroke="none" points="${base}"/>`);
      }
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="${k === 0 ? 1.2 : 2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts}"><title>${esc(s.name)}</title></polyline>`);
    });
  }
  parts.push(`<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${y(0)}" y2="${y(0)}"/>`);
  parts.push(`<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${y(0)}"/>`);
  parts.push(`<text class="axis-label" x="${M.left - 52}" y="${M.top + plotH / 2}" transform="rotate(-90 ${M.left - 52} ${M.top + plotH / 2})" text-anchor="middle">events</text>`);
  return `<figure class="chart"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(caption)}">${parts.join('')}</svg>${legend(series)}<figcaption>${esc(caption)}</figcaption></figure>`;
}

/** One horizontal bar per row, cut into coloured segments, with a legend. */
export function stackedBars(rows: ReadonlyArray<{ label: string; values: number[] }>, keys: ReadonlyArray<{ name: string; color: string }>, caption: string): string {
  const rowH = 28;
  const left = 92;
  const right = 16;
  const width = 960;
  const height = rows.length * (rowH + 12) + 8;
  const parts: string[] = [];
  rows.forEach((row, r) => {
    const total = row.values.reduce((a, b) => a + b, 0);
    const y = 4 + r * (rowH + 12);
    parts.push(`<text class="tick" x="${left - 10}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(row.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y}" width="${width - left - right}" height="${rowH}" fill="#f1f5f9"/>`);
    let x = left;
    row.values.forEach((v, k) => {
      if (v <= 0 || total <= 0) return;
      const w = ((width - left - right) * v) / total;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH}" fill="${keys[k]!.color}"><title>${esc(`${row.label}: ${formatNumber(v)} ${keys[k]!.name}`)}</title></rect>`);
      if (w > 36) parts.push(`<text class="in-bar" x="${(x + w / 2).toFixed(1)}" y="${y + rowH / 2 + 4}" text-anchor="middle">${esc(formatNumber(v))}</text>`);
      x += w;
    });
  });
  return `<figure class="chart"><svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(caption)}">${parts.join('')}</svg>${legend(keys)}<figcaption>${esc(caption)}</figcaption></figure>`;
}

function legend(keys: ReadonlyArray<{ name: string; color: string }>): string {
  return `<div class="legend">${keys.map((k) => `<span><i style="background:${k.color}"></i>${esc(k.name)}</span>`).join('')}</div>`;
}
