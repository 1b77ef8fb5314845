import type { GradRule } from '../grad-context.js';

// Y = scatter_nd(D, I, U).  dU = gather_nd(dY, I),  dD = dY (add) or dY with the written slices zeroed (none)
export const ScatterND: GradRule = (g) => {
  const red = g.attrString('reduction', 'none');
  if (red !== 'none' && red !== 'add') {
    throw new Error(`ScatterND node '${g.node.name}': no gradient for reduction '${red}' (only 'none' and 'add')`);
  }
  const dy = g.GO(0);
  if (g.needs(0)) {
    const u = g.I(2);
    g.setGI(0, red === 'add' ? dy : g.op('ScatterND', dy, g.I(1), g.op('Expand', g.scalar(0, dy), g.op('Shape', u))));
  }
  if (g.needs(2)) g.setGI(2, g.op('GatherND', dy, g.I(1)));
};
