/**
 * uPlot formats numbers with `Intl.NumberFormat(navigator.language)` when it loads, which throws where the browser
 * reports a language tag Intl does not accept (Chromium started under LANG=C reports "en-US@posix"): the page would
 * not start. Imported first by main.ts, before uPlot, so that such a tag reads as "en-US".
 */
try {
  new Intl.NumberFormat(navigator.language);
} catch {
  Object.defineProperty(navigator, 'language', { get: () => 'en-US' });
}

export {};
