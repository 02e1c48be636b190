// The body parser as it was before issue 11 (src/remoting/fastjson.ts at 4c9d13e), kept only so
// `npm run bench -- json` can measure old against new in the same run. Not used by src/.

/** JSON.parse that also accepts fastjson's bare integer object keys ({0:"a"} → {"0":"a"}). */
export function parseRocketMqJsonOld(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    out += ch;
    if (inString) {
      if (ch === '\\') out += text[++i] ?? '';
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === ',') {
      const bare = /^(\s*)(-?[0-9]+)(\s*):/.exec(text.slice(i + 1, i + 64));
      if (bare !== null) {
        out += `${bare[1]}"${bare[2]}"${bare[3]}:`;
        i += bare[0].length;
      }
    }
  }
  return JSON.parse(out);
}
