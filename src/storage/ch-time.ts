/** A millisecond timestamp as ClickHouse reads a DateTime64(3) in UTC: 'YYYY-MM-DD hh:mm:ss.sss'. */
export const chTime = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
