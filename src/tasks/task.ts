// The kinds of task a user's model can serve. Each kind has its own opening, data and metrics in this folder; the
// method folders see only what a kind gives them.

/** Image classification today; text classification and language modelling slot in beside it. */
export type TaskKind = 'image-classification';
