import type { GradRule } from '../grad-context.js';

// Y = scatter_elements(D, I, U; axis).  dU = gather_elements(dY, I),  dD = dY (add) or dY with written elements zeroed (none)
export const ScatterElements: GradRule = (g) => {
  const red = g.attrString('reduction', 'none');
  if (red !== 'none' && red !== 'add') {
    throw new Error(`ScatterElements node '${g.node.name}': no gradient for reduction '${red}' (only 'none' and 'add')`);
  }
  const axis = g.attrInt('axis', 0);
  const dy = g.GO(0);
  if (g.needs(0)) {
    const zeros = g.op('Expand', g.scalar(0, dy), g.op('Shape', g.I(2)));
    g.setGI(0, red === 'add' ? dy : g.op('ScatterElements', dy, g.I(1), zeros, { axis }));
  }
  if (g.needs(2)) g.setGI(2, g.op('GatherElements', dy, g.I(1), { axis }));
};
