// How the CLI writes: one JSON document with --json; otherwise human text, aligned and coloured
// on a terminal, the same text without colour when piped. Also the CLI's error type and exit codes.

/** Exit codes: 0 ok, 1 operational failure (missing cache, problems found), 2 usage. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure the CLI reports as one line (or {"error"} with --json) and exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Where and how a command writes. */
export interface Output {
  readonly json: boolean;
  /** stdout is a terminal: short keys, colour (unless NO_COLOR). */
  readonly tty: boolean;
  /** Writes a line of human text (nothing in --json mode). */
  line(text?: string): void;
  /** Writes the command's single JSON document. */
  data(value: unknown): void;
  /** Styles text when colour is on; returns it unchanged otherwise. */
  style(kind: Style, text: string): string;
}

export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow';

const SGR: Record<Style, [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39] };

export function createOutput(opts: { json?: boolean }, stream: NodeJS.WriteStream = process.stdout): Output {
  const json = Boolean(opts.json);
  const tty = Boolean(stream.isTTY);
  const color = tty && !json && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
  return {
    json,
    tty,
    line(text = '') {
      if (!json) stream.write(text + '\n');
    },
    data(value) {
      stream.write(JSON.stringify(value, null, tty ? 2 : undefined) + '\n');
    },
    style(kind, text) {
      if (!color) return text;
      const [on, off] = SGR[kind];
      return `\x1b[${on}m${text}\x1b[${off}m`;
    },
  };
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** Rows aligned under their headers, two spaces between columns, no trailing spaces. */
export function table(out: Output, columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => r[i].length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (columns[i].align === 'right' ? cell.padStart(widths[i]) : i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [out.style('bold', render(columns.map((c) => c.header))), ...rows.map(render)];
}

/** "just now", "42s ago", "3m ago", "5h ago", "2d ago", "4mo ago", "1y ago". */
export function relativeTime(ms: number, now = Date.now()): string {
  const s = Math.floor((now - ms) / 1000);
  if (s < 1) return 'just now';
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ago`;
  const d = Math.floor(h / 24);
  if (d < 60) return `${d}d ago`;
  if (d < 730) return `${Math.floor(d / 30)}mo ago`;
  return `${Math.floor(d / 365)}y ago`;
}

/** Local "YYYY-MM-DD HH:MM". */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "1 entry" / "3 entries". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
