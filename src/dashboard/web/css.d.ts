/** CSS files are bundled as text (build.mjs: loader '.css': 'text') and put into a <style> element. */
declare module '*.css' {
  const text: string;
  export default text;
}
