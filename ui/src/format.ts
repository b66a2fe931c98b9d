// Money is integer fen everywhere; yuan appear only here, for people.

export function yuan(fen: number): string {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

/** "12.3" or "12.30" or "12" → 1230 fen; null when it is not an amount. */
export function parseYuan(text: string): number | null {
  const match = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!match) return null;
  const fraction = (match[2] ?? "").padEnd(2, "0");
  return Number(match[1]) * 100 + Number(fraction);
}

/** Shops are in China: times are shown in China Standard Time. */
export function dateTime(unix: number, locale: string): string {
  return new Date(unix * 1000).toLocaleString(locale, {
    timeZone: "Asia/Shanghai",
    hour12: false,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export const DAY = 24 * 3600;

export function nowUnix(): number {
  return Math.floor(Date.now() / 1000);
}
