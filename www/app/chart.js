// A small hand-drawn time chart on a canvas: lines (solid or dashed, step or
// straight), shaded time bands and tick marks, a linear or log y axis. No
// library, no build step; redrawn whole from the data it is given.
//
// Invariants: drawing reads its inputs and never keeps them; the canvas is
// sized to its box × devicePixelRatio on every draw (sharp on any screen);
// NaN values are gaps, not zeros.

const FONT = '11px system-ui, -apple-system, "Segoe UI", sans-serif';
const AXIS = '#8a94a6';
const GRID = '#e8ecf2';
const TEXT = '#4a5568';

/** 1, 2, 5 × 10^k at or above x. */
function niceCeil(x) {
  if (!(x > 0)) return 1;
  const k = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * k >= x) return m * k;
  return 10 * k;
}

function niceStep(range, count) {
  const raw = range / Math.max(1, count);
  const k = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * k >= raw) return m * k;
  return 10 * k;
}

function fmt(v) {
  if (v >= 10_000) return `${Math.round(v / 1000)}k`;
  if (v >= 1000) return `${(v / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  if (v >= 10 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

export class TimeChart {
  /**
   * @param {HTMLElement} box  receives a canvas and a legend
   * @param {{ log?: boolean, height?: number, unit?: string }} [opts]
   */
  constructor(box, opts = {}) {
    this.log = opts.log ?? false;
    this.height = opts.height ?? 130;
    this.unit = opts.unit ?? '';
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', box.closest('figure')?.querySelector('figcaption')?.textContent ?? 'time chart');
    this.canvas.style.height = `${this.height}px`;
    this.legend = document.createElement('div');
    this.legend.className = 'legend';
    box.append(this.canvas, this.legend);
    this.legendKey = '';
  }

  /**
   * @param {{ t: ArrayLike<number>, n: number, tMax?: number,
   *   lines: { label: string, color: string, values: ArrayLike<number>, dash?: number[],
   *            width?: number, fill?: boolean, step?: boolean, legend?: boolean }[],
   *   bands?: { from: number, to: number, color: string }[],
   *   marks?: { t: number, color: string }[],
   *   yMax?: number }} data   times in seconds
   */
  draw(data) {
    const dpr = window.devicePixelRatio || 1;
    const cssW = this.canvas.clientWidth || 300;
    const cssH = this.height;
    if (this.canvas.width !== Math.round(cssW * dpr) || this.canvas.height !== Math.round(cssH * dpr)) {
      this.canvas.width = Math.round(cssW * dpr);
      this.canvas.height = Math.round(cssH * dpr);
    }
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    ctx.font = FONT;

    const { t, n } = data;
    const tEnd = Math.max(data.tMax ?? 0, n > 0 ? t[n - 1] : 0, 5);
    let yTop = data.yMax ?? 0;
    let yLow = Infinity;
    for (const line of data.lines) {
      for (let i = 0; i < n; i++) {
        const v = line.values[i];
        if (v > yTop) yTop = v;
        if (v > 0 && v < yLow) yLow = v;
      }
    }
    const left = 40;
    const right = 8;
    const top = 8;
    const bottom = 18;
    const w = cssW - left - right;
    const h = cssH - top - bottom;
    const x = (s) => left + (s / tEnd) * w;
    let y;
    let yTicks = [];
    if (this.log) {
      const lo = 10 ** Math.floor(Math.log10(Number.isFinite(yLow) ? Math.max(yLow, 0.1) : 1));
      const hi = Math.max(lo * 10, 10 ** Math.ceil(Math.log10(Math.max(yTop, 1))));
      const a = Math.log10(lo);
      const b = Math.log10(hi);
      y = (v) => top + h - ((Math.log10(Math.max(v, lo)) - a) / (b - a)) * h;
      for (let p = lo; p <= hi * 1.0001; p *= 10) yTicks.push(p);
    } else {
      const hi = niceCeil(yTop * 1.08);
      y = (v) => top + h - (v / hi) * h;
      const step = niceStep(hi, 4);
      for (let v = 0; v <= hi + step / 1000; v += step) yTicks.push(v);
    }

    // Bands (behind everything), then grid and axes.
    for (const band of data.bands ?? []) {
      const a = Math.max(left, x(band.from));
      const b = Math.min(left + w, x(band.to));
      if (b <= a) continue;
      ctx.fillStyle = band.color;
      ctx.fillRect(a, top, Math.max(1, b - a), h);
    }
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.fillStyle = TEXT;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of yTicks) {
      const py = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, py);
      ctx.lineTo(left + w, py);
      ctx.stroke();
      ctx.fillText(fmt(v) + this.unit, left - 4, py);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xStep = niceStep(tEnd, Math.max(2, Math.floor(w / 70)));
    for (let s = 0; s <= tEnd + 1e-9; s += xStep) {
      const px = Math.round(x(s)) + 0.5;
      ctx.strokeStyle = GRID;
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + h);
      ctx.stroke();
      ctx.fillText(`${fmt(s)}s`, px, top + h + 4);
    }
    ctx.strokeStyle = AXIS;
    ctx.beginPath();
    ctx.moveTo(left + 0.5, top);
    ctx.lineTo(left + 0.5, top + h + 0.5);
    ctx.lineTo(left + w, top + h + 0.5);
    ctx.stroke();

    // Lines.
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top - 2, w, h + 4);
    ctx.clip();
    for (const line of data.lines) {
      ctx.strokeStyle = line.color;
      ctx.lineWidth = line.width ?? 1.5;
      ctx.setLineDash(line.dash ?? []);
      ctx.beginPath();
      let pen = false;
      let lastY = 0;
      let firstX = 0;
      for (let i = 0; i < n; i++) {
        const v = line.values[i];
        if (!Number.isFinite(v)) {
          pen = false;
          continue;
        }
        const px = x(t[i]);
        const py = y(v);
        if (!pen) {
          ctx.moveTo(px, py);
          firstX = px;
          pen = true;
        } else {
          if (line.step) ctx.lineTo(px, lastY);
          ctx.lineTo(px, py);
        }
        lastY = py;
      }
      ctx.stroke();
      if (line.fill && n > 1) {
        ctx.lineTo(x(t[n - 1]), top + h);
        ctx.lineTo(firstX, top + h);
        ctx.closePath();
        ctx.globalAlpha = 0.12;
        ctx.fillStyle = line.color;
        ctx.fill();
        ctx.globalAlpha = 1;
      }
    }
    ctx.setLineDash([]);
    // Marks: short ticks along the top edge.
    for (const mark of data.marks ?? []) {
      const px = x(mark.t);
      ctx.strokeStyle = mark.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + 7);
      ctx.stroke();
    }
    ctx.restore();

    // Legend (rebuilt only when its labels change).
    const shown = data.lines.filter((l) => l.legend !== false);
    const key = shown.map((l) => `${l.label}|${l.color}|${l.dash ? 1 : 0}`).join(';');
    if (key !== this.legendKey) {
      this.legendKey = key;
      this.legend.replaceChildren(
        ...shown.map((l) => {
          const item = document.createElement('span');
          const swatch = document.createElement('i');
          swatch.style.borderColor = l.color;
          if (l.dash) swatch.style.borderTopStyle = 'dashed';
          item.append(swatch, l.label);
          return item;
        }),
      );
    }
  }
}
