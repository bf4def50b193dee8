/**
 * Triangular cyclical learning rate (Smith 2015): over each cycle of 2·ns steps, eta rises linearly
 * from etaMin to etaMax during the first ns steps and falls back during the next ns.
 */
export interface CyclicalSchedule {
  etaMin: number;
  etaMax: number;
  ns: number;
}

export function cyclicalEta({ etaMin, etaMax, ns }: CyclicalSchedule, step: number): number {
  const t = step % (2 * ns);
  const rising = t <= ns;
  const frac = rising ? t / ns : (2 * ns - t) / ns;
  return etaMin + frac * (etaMax - etaMin);
}
