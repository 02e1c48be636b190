// Goal: tell whether a generated SVG is well-formed XML without an XML dependency: balanced and
// properly nested tags, quoted and unique attributes, only the five predefined entities, one root.
// Enough for documents we generate ourselves (no comments, CDATA, DOCTYPE or processing
// instructions other than the XML declaration).
/** Null when `xml` is a well-formed document with one root element, else the first problem. */
export function xmlProblem(xml: string): string | null {
  let rest = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const entity = /&(?:amp|lt|gt|quot|apos);/y;
  const checkText = (body: string, where: string): string | null => {
    for (let i = body.indexOf('&'); i !== -1; i = body.indexOf('&', i + 1)) {
      entity.lastIndex = i;
      if (!entity.test(body)) return `bad entity in ${where}: ${JSON.stringify(body.slice(i, i + 10))}`;
    }
    return null;
  };
  while (rest.length > 0) {
    const lt = rest.indexOf('<');
    const body = lt === -1 ? rest : rest.slice(0, lt);
    if (stack.length === 0 && body.trim() !== '') return `text outside the root: ${JSON.stringify(body.slice(0, 20))}`;
    const textProblem = checkText(body, 'text');
    if (textProblem !== null) return textProblem;
    if (lt === -1) break;
    rest = rest.slice(lt);
    const close = /^<\/([A-Za-z][\w:.-]*)\s*>/.exec(rest);
    if (close !== null) {
      if (stack.pop() !== close[1]) return `</${close[1]}> does not close the open element`;
      rest = rest.slice(close[0].length);
      continue;
    }
    const open = /^<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z][\w:.-]*="[^"<]*")*)\s*(\/?)>/.exec(rest);
    if (open === null) return `malformed tag at ${JSON.stringify(rest.slice(0, 40))}`;
    const names = [...open[2]!.matchAll(/([A-Za-z][\w:.-]*)="([^"<]*)"/g)];
    if (new Set(names.map((m) => m[1])).size !== names.length) return `duplicate attribute in <${open[1]}>`;
    for (const m of names) {
      const problem = checkText(m[2]!, `attribute ${m[1]}`);
      if (problem !== null) return problem;
    }
    if (stack.length === 0) roots++;
    if (open[3] !== '/') stack.push(open[1]!);
    rest = rest.slice(open[0].length);
  }
  if (stack.length > 0) return `unclosed <${stack[stack.length - 1]}>`;
  return roots === 1 ? null : `${roots} root elements`;
}
