// Text report for `inspect`.
import type { InspectReport } from '../analysis/inspect.js';
import { bytes, int, shape, table } from './format.js';

/**
 * Render an inspect report as text.
 *
 * @example process.stdout.write(inspectText(inspectModel(model), 'mlp.onnx'));
 */
export function inspectText(r: InspectReport, source: string): string {
  const out: string[] = [];
  const opsets = r.opsets.map((o) => `${o.domain} ${o.version}`).join(', ');
  out.push(`${source}: ONNX IR ${r.irVersion}, opset ${opsets}${r.producer ? `, produced by ${r.producer}` : ''}`);
  out.push(`graph '${r.graphName}': ${int(r.nodes)} nodes, ${int(r.parameters.total)} parameters\n`);

  const values = (list: InspectReport['inputs']) =>
    table(
      [{ header: 'name' }, { header: 'type' }, { header: 'shape' }],
      list.map((v) => [v.name, v.dtype, shape(v.shape)]),
    );
  out.push('Inputs');
  out.push(r.inputs.length ? values(r.inputs) : '  (none)\n');
  out.push('Outputs');
  out.push(values(r.outputs));

  const p = r.parameters;
  out.push(`Parameters: ${int(p.total)} in ${int(p.tensors)} tensors (${bytes(p.bytes)}), ${int(p.trainable)} trainable\n`);
  if (p.tensors > 0) {
    const groups = (title: string, list: InspectReport['byLayer']) => {
      out.push(title);
      out.push(
        table(
          [
            { header: title === 'By layer' ? 'layer' : 'op type' },
            { header: 'params', right: true },
            { header: 'trainable', right: true },
            { header: 'tensors', right: true },
          ],
          list.map((g) => [g.name, int(g.count), int(g.trainable), String(g.tensors)]),
        ),
      );
    };
    groups('By layer', r.byLayer);
    groups('By op type', r.byOpType);
    out.push('By tensor');
    out.push(
      table(
        [
          { header: 'name' },
          { header: 'shape' },
          { header: 'type' },
          { header: 'params', right: true },
          { header: 'trainable' },
          { header: 'kind' },
          { header: 'layer' },
          { header: 'read by' },
        ],
        r.byTensor.map((t) => [t.name, shape(t.shape), t.dtype, int(t.count), t.trainable ? 'yes' : 'no', t.kind, t.layer, t.opType]),
      ),
    );
  }

  out.push(`Ops (${int(r.nodes)} nodes)`);
  out.push(
    table(
      [{ header: 'op type' }, { header: 'nodes', right: true }, { header: 'gradient' }],
      r.ops.map((o) => [o.opType, String(o.nodes), o.gradient]),
    ),
  );
  if (r.notes?.length) out.push(`Notes\n${r.notes.map((n) => `  - ${n}`).join('\n')}\n`);
  if (r.conversion && !r.conversion.ok) {
    out.push(
      `Differentiable: no, the conversion from opset ${r.conversion.from} to ${r.conversion.to} was not confirmed by onnxruntime (${r.conversion.reason}).\n`,
    );
  } else if (r.differentiable) {
    out.push('Differentiable: yes, every op has a gradient rule or carries no gradient.\n');
  } else {
    out.push(`Differentiable: no, ${r.unsupportedOps.length} op type${r.unsupportedOps.length > 1 ? 's have' : ' has'} no gradient rule:`);
    for (const u of r.unsupportedOps) {
      const shown =
        u.nodes
          .slice(0, 5)
          .map((n) => `'${n}'`)
          .join(', ') + (u.nodes.length > 5 ? `, … (${u.nodes.length} nodes)` : '');
      out.push(`  ${u.opType}: ${shown}`);
    }
    out.push('');
  }
  return out.join('\n');
}
