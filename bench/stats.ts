/** The median of a non-empty list (the mean of the middle two for an even count). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((p, q) => p - q);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};
