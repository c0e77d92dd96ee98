/** Field path → line:column in the YAML source, using the parsed document's node ranges. */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { YamlPath } from './interpolate.js';

export interface Position {
  line: number;
  column: number;
}

export type Locate = (path: YamlPath, which?: 'key' | 'value') => Position;

export function makeLocator(doc: Document, lc: LineCounter): Locate {
  const pos = (offset: number): Position => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  return (path, which = 'value') => {
    let node = doc.contents as Node | null;
    let keyNode: Node | null = null;
    let best = node?.range?.[0] ?? 0;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
        if (!pair) return pos(keyNode?.range?.[0] ?? best);
        keyNode = pair.key as Node;
        node = pair.value as Node | null;
        // `key:` with no value has no value node; the key is the best place to point at.
        best = node?.range?.[0] ?? keyNode?.range?.[0] ?? best;
        if (!node) return pos(keyNode?.range?.[0] ?? best);
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) return pos(best);
        keyNode = null;
        node = item;
        best = item.range?.[0] ?? best;
      } else {
        return pos(best);
      }
    }
    if (which === 'key' && keyNode?.range) return pos(keyNode.range[0]);
    return pos(node?.range?.[0] ?? best);
  };
}
