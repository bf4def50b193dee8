/** 10^l, exact for whole l (10 ** -5 is 0.000009999999999999999 in floating point; this gives 1e-5). */
export const pow10 = (l: number): number => (Number.isInteger(l) ? Number(`1e${l}`) : 10 ** l);
