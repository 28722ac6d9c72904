// Typeset an HTML page's TeX maths as SVG with a local copy of MathJax 3, once, so that the page needs no
// script and no network to show its maths (grader/feedback.py: the learners' feedback pages).
//   node typeset_maths.js MATHJAX_ES5_DIR < page.html > typeset.html
// Delimiters as on the website (MyST dollarmath): $...$, $$...$$, \(...\), \[...\]; text in <pre>, <code>,
// <script>, <style> and <textarea> is left alone. On stderr: how many formulas, how many TeX errors.
const fs = require('fs');
const path = require('path');

const dir = path.resolve(process.argv[2]);
const page = fs.readFileSync(0, 'utf8');

require(path.join(dir, 'node-main.js')).init({
  loader: {paths: {mathjax: dir}, load: ['input/tex', 'output/svg', 'adaptors/liteDOM', 'a11y/assistive-mml']},
  tex: {
    inlineMath: [['$', '$'], ['\\(', '\\)']],
    displayMath: [['$$', '$$'], ['\\[', '\\]']],
    processEscapes: true,
    processEnvironments: true,
  },
  svg: {fontCache: 'global'},
  startup: {typeset: false, document: page},
}).then(async (MathJax) => {
  await MathJax.typesetPromise();
  const adaptor = MathJax.startup.adaptor;
  const doc = MathJax.startup.document;
  const html = adaptor.outerHTML(adaptor.root(doc.document));
  const errors = (html.match(/<g [^>]*data-mml-node="merror"/g) || []).length;
  process.stdout.write(adaptor.doctype(doc.document) + '\n' + html);
  process.stderr.write(`typeset ${Array.from(doc.math).length} formulas, ${errors} TeX errors\n`);
}).catch((error) => {
  process.stderr.write(String((error && error.stack) || error) + '\n');
  process.exit(1);
});
