/** The rejection of a library call whose signal was aborted before it wrote anything. */
export function abortedBeforeStart(what: string): DOMException {
  return new DOMException(`${what} was aborted before it started; nothing was written`, 'AbortError');
}
