// The kinds of task a user's model can serve. Each kind has its own opening, data and metrics in this folder; the
// method folders see only what a kind gives them.

/**
 * Image classification (float images in, logits [batch, classes] out), sequence classification (int64 token ids
 * [batch, sequence] and their companions in, logits [batch, classes] out) and language modelling (token ids in,
 * logits [batch, sequence, vocabulary] out).
 */
export type TaskKind = 'image-classification' | 'sequence-classification' | 'language-modelling';
