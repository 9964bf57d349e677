// Number formatting shared by the console tables and the HTML report.

/** 3 significant digits, without exponent notation for the sizes we print. */
export function num(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.01) return v.toFixed(3);
  return v.toPrecision(2);
}

/** "1.23x" */
export function ratio(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  return v >= 100 ? `${Math.round(v).toLocaleString('en-US')}x` : `${v.toFixed(2)}x`;
}
